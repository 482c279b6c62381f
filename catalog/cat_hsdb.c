/* SPDX-License-Identifier: MIT */
/*
 * cat_hsdb: see cat_hsdb.h.
 *
 * Cache file format (host byte order; the file never leaves the machine that wrote it, and the
 * key covers the CPU features anyway):
 *   char     magic[8]   "CATHSDB1"
 *   uint8_t  key[32]    SHA-256 of the pattern set (as the file name says)
 *   uint32_t n          number of patterns
 *   uint32_t reserved   0
 *   uint64_t db_len     bytes of the serialized database
 *   uint8_t  prefilter[n]  1 where the pattern was compiled with HS_FLAG_PREFILTER
 *   char     db[db_len]    hs_serialize_database() output
 */
#include "cat_hsdb.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <fcntl.h>
#include <hs/hs.h>
#include <openssl/evp.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HSDB_FLAGS (HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY)
/* Deepest PCRE2 backtracking recursion, in KiB of heap: bounds a hostile pattern's memory. */
#define HSDB_HEAP_LIMIT_KIB 4096

static const char g_magic[8] = { 'C', 'A', 'T', 'H', 'S', 'D', 'B', '1' };

struct hsdb_hdr {
	char magic[8];
	uint8_t key[32];
	uint32_t n;
	uint32_t reserved;
	uint64_t db_len;
};

struct cat_hsdb {
	hs_database_t *db;         /* NULL when n == 0 */
	hs_scratch_t *proto;       /* allocated once; threads clone it */
	unsigned n;
	uint8_t *prefilter;        /* [n] */
	pcre2_code **code;         /* [n], JIT-compiled */
	uint32_t max_groups;
	struct cat_hsdb_info info;
};

struct cat_hsdb_scratch {
	hs_scratch_t *hs;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	unsigned *hits;            /* [n] */
	unsigned n_hits;
	unsigned long limited;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (!errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static pcre2_code *pcre_compile(const char *re, size_t len, char *err, size_t errlen,
				const char *what)
{
	int code;
	PCRE2_SIZE off;
	pcre2_code *c = pcre2_compile((PCRE2_SPTR)re, len, PCRE2_DUPNAMES, &code, &off, NULL);
	if (!c) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(code, msg, sizeof(msg));
		set_err(err, errlen, "%s: %s at offset %zu", what, (const char *)msg, (size_t)off);
		return NULL;
	}
	/* JIT is an optimisation: where it is unavailable the interpreter gives the same answer. */
	(void)pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);
	return c;
}

/*
 * The regex as Hyperscan gets it: named groups (?<name>...) / (?P<name>...) become (?:...).
 * Hyperscan reports no groups anyway and refuses a name used twice, which Grok does on purpose
 * (alternatives that fill the same field). Escapes and character classes are copied as they are.
 */
static char *hs_form(const char *re)
{
	size_t n = strlen(re), o = 0;
	char *out = malloc(n + 1);
	bool cls = false;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n;) {
		if (re[i] == '\\' && i + 1 < n) {
			out[o++] = re[i++];
			out[o++] = re[i++];
			continue;
		}
		if (cls) {
			if (re[i] == ']')
				cls = false;
			out[o++] = re[i++];
			continue;
		}
		if (re[i] == '[') {
			cls = true;
			out[o++] = re[i++];
			/* A ']' right after '[' or '[^' is a literal member. */
			if (i < n && re[i] == '^')
				out[o++] = re[i++];
			if (i < n && re[i] == ']')
				out[o++] = re[i++];
			continue;
		}
		if (re[i] == '(' && i + 2 < n && re[i + 1] == '?') {
			size_t k = i + 2;
			if (re[k] == 'P' && k + 1 < n && re[k + 1] == '<')
				k++;
			if (re[k] == '<' && k + 1 < n && re[k + 1] != '=' && re[k + 1] != '!') {
				size_t e = k + 1;
				while (e < n && re[e] != '>')
					e++;
				if (e < n) {
					memcpy(out + o, "(?:", 3);
					o += 3;
					i = e + 1;
					continue;
				}
			}
		}
		out[o++] = re[i++];
	}
	out[o] = '\0';
	return out;
}

/* Hyperscan's parser reports some constructs it lacks only as "unrecognised character": name
 * the construct for the user instead, with its offset. NULL when none of them is present. */
static const char *unsupported_construct(const char *re, size_t *at)
{
	static const struct { const char *text; const char *what; } c[] = {
		{ "(?R", "recursion (?R)" }, { "(?&", "a subroutine call (?&name)" },
		{ "(?P>", "a subroutine call (?P>name)" }, { "(?(", "a conditional group (?(...)" },
		{ "(?C", "a callout (?C)" }, { "(*", "a backtracking verb or option (*...)" },
		{ "\\g", "a backreference or subroutine call \\g" }, { "\\K", "\\K (reset match start)" },
		{ "\\C", "\\C (one code unit)" }, { "\\R", "\\R (any newline sequence)" },
		{ "(?+", "a relative subroutine call (?+n)" }, { "(?-", NULL },
	};
	for (size_t i = 0; re[i]; i++) {
		if (re[i] == '\\' && re[i + 1] && !strchr("gKCR", re[i + 1])) {
			i++;
			continue;
		}
		for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++)
			if (c[k].what && strncmp(re + i, c[k].text, strlen(c[k].text)) == 0) {
				*at = i;
				return c[k].what;
			}
		if (re[i] == '(' && re[i + 1] == '?' && re[i + 2] >= '0' && re[i + 2] <= '9') {
			*at = i;
			return "a subroutine call (?n)";
		}
	}
	return NULL;
}

/* Which way Hyperscan takes re: 0 as written, 1 as a prefilter, -1 neither (err says why). */
static int hs_mode(const char *re, char *err, size_t errlen, const char *what)
{
	hs_expr_info_t *info = NULL;
	hs_compile_error_t *ce = NULL;
	if (hs_expression_info(re, HSDB_FLAGS, &info, &ce) == HS_SUCCESS) {
		free(info);
		return 0;
	}
	hs_free_compile_error(ce);
	ce = NULL;
	if (hs_expression_info(re, HSDB_FLAGS | HS_FLAG_PREFILTER, &info, &ce) == HS_SUCCESS) {
		free(info);
		return 1;
	}
	size_t at = 0;
	const char *construct = unsupported_construct(re, &at);
	if (construct)
		set_err(err, errlen, "%s: %s at offset %zu is not supported by the classifier "
			"engine", what, construct, at);
	else
		set_err(err, errlen, "%s: Hyperscan cannot use this pattern: %s", what,
			ce && ce->message ? ce->message : "unknown reason");
	hs_free_compile_error(ce);
	return -1;
}

int cat_hsdb_check(const char *regex, size_t len, char *err, size_t errlen)
{
	if (memchr(regex, '\0', len)) {
		set_err(err, errlen, "a pattern must not contain NUL bytes");
		return -EINVAL;
	}
	char *re = strndup(regex, len);
	if (!re)
		return -ENOMEM;
	int r = -EINVAL;
	pcre2_code *c = pcre_compile(re, len, err, errlen, "regex");
	if (!c)
		goto out;
	pcre2_code_free(c);
	char *hre = hs_form(re);
	if (!hre) {
		r = -ENOMEM;
		goto out;
	}
	free(re);
	re = hre;
	int mode = hs_mode(re, err, errlen, "regex");
	if (mode < 0)
		goto out;
	/* Parsing passed; a full compile also catches "Pattern too large" and friends. */
	hs_database_t *db = NULL;
	hs_compile_error_t *ce = NULL;
	if (hs_compile(re, HSDB_FLAGS | (mode ? HS_FLAG_PREFILTER : 0), HS_MODE_BLOCK, NULL, &db,
		       &ce) != HS_SUCCESS) {
		set_err(err, errlen, "Hyperscan cannot use this pattern: %s",
			ce && ce->message ? ce->message : "unknown reason");
		hs_free_compile_error(ce);
		goto out;
	}
	hs_free_database(db);
	r = 0;
out:
	free(re);
	return r;
}

/* ---- cache ---------------------------------------------------------------------------------- */

static int set_key(const char *const *regexes, unsigned n, uint8_t key[32])
{
	hs_platform_info_t plat;
	memset(&plat, 0, sizeof(plat));
	(void)hs_populate_platform(&plat);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned kl = 32;
	int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
		 EVP_DigestUpdate(md, g_magic, sizeof(g_magic)) &&
		 EVP_DigestUpdate(md, hs_version(), strlen(hs_version())) &&
		 EVP_DigestUpdate(md, &plat, sizeof(plat)) && EVP_DigestUpdate(md, &n, sizeof(n));
	for (unsigned i = 0; ok && i < n; i++) {
		uint64_t len = strlen(regexes[i]);
		ok = EVP_DigestUpdate(md, &len, sizeof(len)) && EVP_DigestUpdate(md, regexes[i], len);
	}
	ok = ok && EVP_DigestFinal_ex(md, key, &kl);
	EVP_MD_CTX_free(md);
	return ok ? 0 : -ENOMEM;
}

static void cache_path(const char *dir, const uint8_t key[32], char *out, size_t n)
{
	char hex[65];
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	snprintf(out, n, "%s/hsdb-%s.bin", dir, hex);
}

static int read_all(const char *path, char **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	int r = -EIO;
	if (fstat(fd, &st) < 0 || st.st_size <= 0)
		goto out;
	*buf = malloc((size_t)st.st_size);
	if (!*buf) {
		r = -ENOMEM;
		goto out;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t k = read(fd, *buf + got, (size_t)st.st_size - got);
		if (k <= 0) {
			free(*buf);
			*buf = NULL;
			goto out;
		}
		got += (size_t)k;
	}
	*len = got;
	r = 0;
out:
	close(fd);
	return r;
}

/* Load db->db and db->prefilter from the cache file; 0 or negative (then compile). */
static int cache_load(struct cat_hsdb *db, const char *path, const uint8_t key[32])
{
	char *buf = NULL;
	size_t len = 0;
	int r = read_all(path, &buf, &len);
	if (r < 0)
		return r;
	struct hsdb_hdr h;
	r = -EINVAL;
	if (len < sizeof(h))
		goto out;
	memcpy(&h, buf, sizeof(h));
	if (memcmp(h.magic, g_magic, 8) != 0 || memcmp(h.key, key, 32) != 0 || h.n != db->n ||
	    h.db_len != len - sizeof(h) - h.n)
		goto out;
	memcpy(db->prefilter, buf + sizeof(h), db->n);
	if (hs_deserialize_database(buf + sizeof(h) + db->n, h.db_len, &db->db) != HS_SUCCESS) {
		db->db = NULL;
		goto out;
	}
	r = 0;
out:
	free(buf);
	return r;
}

static bool cache_store(const struct cat_hsdb *db, const char *path, const uint8_t key[32])
{
	char *bytes = NULL;
	size_t blen = 0;
	if (hs_serialize_database(db->db, &bytes, &blen) != HS_SUCCESS)
		return false;
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	struct hsdb_hdr h = { .n = db->n, .db_len = blen };
	memcpy(h.magic, g_magic, 8);
	memcpy(h.key, key, 32);
	bool ok = false;
	FILE *f = fopen(tmp, "wbe");
	if (f) {
		ok = fwrite(&h, sizeof(h), 1, f) == 1 &&
		     fwrite(db->prefilter, 1, db->n, f) == db->n &&
		     fwrite(bytes, 1, blen, f) == blen;
		ok = (fflush(f) == 0) && ok && fsync(fileno(f)) == 0;
		ok = (fclose(f) == 0) && ok;
		ok = ok && rename(tmp, path) == 0;
		if (!ok)
			unlink(tmp);
	}
	free(bytes);
	return ok;
}

/* ---- build ---------------------------------------------------------------------------------- */

static int compile_all(struct cat_hsdb *db, const char *const *orig, char *err, size_t errlen)
{
	unsigned *flags = malloc(db->n * sizeof(*flags));
	unsigned *ids = malloc(db->n * sizeof(*ids));
	char **regexes = calloc(db->n, sizeof(*regexes));
	int r = -ENOMEM;
	if (!flags || !ids || !regexes)
		goto out;
	for (unsigned i = 0; i < db->n; i++)
		if (!(regexes[i] = hs_form(orig[i])))
			goto out;
	r = -EINVAL;
	for (unsigned i = 0; i < db->n; i++) {
		char what[32];
		snprintf(what, sizeof(what), "pattern %u", i);
		int mode = hs_mode(regexes[i], err, errlen, what);
		if (mode < 0)
			goto out;
		db->prefilter[i] = (uint8_t)mode;
		ids[i] = i;
	}
	/* Parsing can pass where the full compile refuses ("Pattern too large"): such a pattern
	 * is retried as a prefilter once, then reported. */
	for (;;) {
		hs_compile_error_t *ce = NULL;
		for (unsigned i = 0; i < db->n; i++)
			flags[i] = HSDB_FLAGS | (db->prefilter[i] ? HS_FLAG_PREFILTER : 0);
		if (hs_compile_multi((const char *const *)regexes, flags, ids, db->n, HS_MODE_BLOCK,
				     NULL, &db->db, &ce) == HS_SUCCESS)
			break;
		db->db = NULL;
		int bad = ce ? ce->expression : -1;
		if (bad >= 0 && (unsigned)bad < db->n && !db->prefilter[bad]) {
			db->prefilter[bad] = 1;
			hs_free_compile_error(ce);
			continue;
		}
		if (bad >= 0)
			set_err(err, errlen, "pattern %d: Hyperscan cannot use this pattern: %s", bad,
				ce->message);
		else
			set_err(err, errlen, "Hyperscan cannot build the database: %s",
				ce && ce->message ? ce->message : "unknown reason");
		hs_free_compile_error(ce);
		goto out;
	}
	r = 0;
out:
	if (regexes)
		for (unsigned i = 0; i < db->n; i++)
			free(regexes[i]);
	free(regexes);
	free(flags);
	free(ids);
	return r;
}

int cat_hsdb_new(const char *const *regexes, unsigned n, const char *cache_dir,
		 struct cat_hsdb **ret, char *err, size_t errlen)
{
	double t0 = now_s();
	struct cat_hsdb *db = calloc(1, sizeof(*db));
	int r = -ENOMEM;
	if (errlen)
		err[0] = '\0';
	if (!db)
		goto fail;
	db->n = n;
	db->info.n_patterns = n;
	db->prefilter = calloc(n ? n : 1, 1);
	db->code = calloc(n ? n : 1, sizeof(*db->code));
	if (!db->prefilter || !db->code)
		goto fail;
	r = -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		char what[32];
		uint32_t groups = 0;
		snprintf(what, sizeof(what), "pattern %u", i);
		if (!(db->code[i] = pcre_compile(regexes[i], strlen(regexes[i]), err, errlen, what)))
			goto fail;
		pcre2_pattern_info(db->code[i], PCRE2_INFO_CAPTURECOUNT, &groups);
		if (groups > db->max_groups)
			db->max_groups = groups;
	}
	if (n) {
		uint8_t key[32];
		char path[4096];
		double t1 = now_s();
		if ((r = set_key(regexes, n, key)) < 0)
			goto fail;
		if (cache_dir) {
			cache_path(cache_dir, key, path, sizeof(path));
			db->info.from_cache = cache_load(db, path, key) == 0;
		}
		if (!db->info.from_cache) {
			if ((r = compile_all(db, regexes, err, errlen)) < 0)
				goto fail;
			if (cache_dir)
				db->info.cache_written = cache_store(db, path, key);
		}
		db->info.hs_s = now_s() - t1;
		if (hs_alloc_scratch(db->db, &db->proto) != HS_SUCCESS) {
			r = -ENOMEM;
			goto fail;
		}
		hs_database_size(db->db, &db->info.db_bytes);
		for (unsigned i = 0; i < n; i++)
			db->info.n_prefilter += db->prefilter[i];
	}
	db->info.build_s = now_s() - t0;
	*ret = db;
	return 0;
fail:
	if (r == -ENOMEM && errlen && !err[0])
		set_err(err, errlen, "out of memory");
	cat_hsdb_free(db);
	return r;
}

void cat_hsdb_free(struct cat_hsdb *db)
{
	if (!db)
		return;
	if (db->code)
		for (unsigned i = 0; i < db->n; i++)
			pcre2_code_free(db->code[i]);
	free(db->code);
	free(db->prefilter);
	hs_free_scratch(db->proto);
	hs_free_database(db->db);
	free(db);
}

void cat_hsdb_get_info(const struct cat_hsdb *db, struct cat_hsdb_info *out)
{
	*out = db->info;
}

/* ---- matching ------------------------------------------------------------------------------- */

int cat_hsdb_scratch_new(const struct cat_hsdb *db, struct cat_hsdb_scratch **ret)
{
	struct cat_hsdb_scratch *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if ((db->proto && hs_clone_scratch(db->proto, &s->hs) != HS_SUCCESS) ||
	    !(s->md = pcre2_match_data_create(db->max_groups + 1, NULL)) ||
	    !(s->mctx = pcre2_match_context_create(NULL)) ||
	    !(s->hits = calloc(db->n ? db->n : 1, sizeof(*s->hits)))) {
		cat_hsdb_scratch_free(s);
		return -ENOMEM;
	}
	pcre2_set_match_limit(s->mctx, CAT_HSDB_MATCH_LIMIT);
	pcre2_set_heap_limit(s->mctx, HSDB_HEAP_LIMIT_KIB);
	*ret = s;
	return 0;
}

void cat_hsdb_scratch_free(struct cat_hsdb_scratch *s)
{
	if (!s)
		return;
	hs_free_scratch(s->hs);
	pcre2_match_data_free(s->md);
	pcre2_match_context_free(s->mctx);
	free(s->hits);
	free(s);
}

unsigned long cat_hsdb_scratch_limited(const struct cat_hsdb_scratch *s)
{
	return s->limited;
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
		    void *ctx)
{
	(void)from;
	(void)to;
	(void)flags;
	struct cat_hsdb_scratch *s = ctx;
	s->hits[s->n_hits++] = id;  /* SINGLEMATCH: each id at most once, so n_hits <= n */
	return 0;
}

/* PCRE2 on one line: 1 matched, 0 not (limit hits counted). */
static int pcre_run(const struct cat_hsdb *db, struct cat_hsdb_scratch *s, unsigned id,
		    const char *line, size_t len)
{
	int rc = pcre2_match(db->code[id], (PCRE2_SPTR)line, len, 0, 0, s->md, s->mctx);
	if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT ||
	    rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT)
		s->limited++;
	return rc > 0 ? 1 : 0;
}

int cat_hsdb_match(const struct cat_hsdb *db, struct cat_hsdb_scratch *s, const char *line,
		   size_t len, unsigned *ids, unsigned max)
{
	if (!db->db || max == 0)
		return 0;
	s->n_hits = 0;
	if (len > UINT32_MAX)
		return -EINVAL;
	if (hs_scan(db->db, line, (unsigned)len, 0, s->hs, on_match, s) != HS_SUCCESS)
		return -EIO;
	/* Ascending id order is Glue's order; the list is short (usually 0..3 hits). */
	for (unsigned i = 1; i < s->n_hits; i++) {
		unsigned v = s->hits[i], j = i;
		for (; j > 0 && s->hits[j - 1] > v; j--)
			s->hits[j] = s->hits[j - 1];
		s->hits[j] = v;
	}
	unsigned out = 0;
	for (unsigned i = 0; i < s->n_hits && out < max; i++) {
		unsigned id = s->hits[i];
		if (!db->prefilter[id] || pcre_run(db, s, id, line, len))
			ids[out++] = id;
	}
	return (int)out;
}

int cat_hsdb_extract(const struct cat_hsdb *db, struct cat_hsdb_scratch *s, unsigned id,
		     const char *line, size_t len, cat_hsdb_field_fn fn, void *arg)
{
	if (id >= db->n)
		return -EINVAL;
	if (!pcre_run(db, s, id, line, len))
		return 0;
	uint32_t count = 0, size = 0;
	PCRE2_SPTR table;
	pcre2_pattern_info(db->code[id], PCRE2_INFO_NAMECOUNT, &count);
	pcre2_pattern_info(db->code[id], PCRE2_INFO_NAMEENTRYSIZE, &size);
	pcre2_pattern_info(db->code[id], PCRE2_INFO_NAMETABLE, &table);
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
	uint32_t pairs = pcre2_get_ovector_count(s->md);
	/* Duplicate names sit next to each other in the table: the first that took part wins. */
	const char *prev = NULL;
	bool prev_set = false;
	for (uint32_t i = 0; i < count; i++) {
		PCRE2_SPTR e = table + (size_t)i * size;
		unsigned g = ((unsigned)e[0] << 8) | e[1];
		const char *name = (const char *)e + 2;
		if (prev && strcmp(prev, name) == 0 && prev_set)
			continue;
		if (!prev || strcmp(prev, name) != 0)
			prev_set = false;
		prev = name;
		if (g >= pairs || ov[2 * g] == PCRE2_UNSET)
			continue;
		prev_set = true;
		fn(arg, name, line + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
	}
	return 1;
}
