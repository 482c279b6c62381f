/* SPDX-License-Identifier: MIT */
/*
 * ctl_lambda: functions and Lambda's REST API (see ctl_lambda.h). This file holds the
 * functions: their storage (one JSON document per function in lambda_functions), their code
 * (a ZIP unpacked with checked paths), the REST routing, and Invoke. Mappings and the stream
 * built-ins are in ctl_lambda_stream.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/evp.h>
#include <zip.h>

#include "ctl_b64.h"
#include "ctl_lambda_internal.h"
#include "ctl_log.h"
#include "ctl_uuid.h"

#define JSON_TYPE "application/json"
#define API_PREFIX "/2015-03-31/"
/* Lambda's limit on a function's unpacked code. */
#define L_UNZIPPED_MAX (262144000ull)
#define L_ZIP_ENTRIES_MAX 20000
#define L_LOG_TAIL 4096

/* ---- small helpers --------------------------------------------------------------------------- */

int64_t l_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* snprintf for paths: -ENAMETOOLONG instead of a silently cut path. */
static int pathf(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pathf(char *out, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(out, n, fmt, ap);
	va_end(ap);
	return r < 0 || (size_t)r >= n ? -ENAMETOOLONG : 0;
}

/* Lambda's LastModified: "2024-05-01T10:00:00.000+0000". */
static void lambda_time(int64_t ms, char *out, size_t n)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	char base[24];
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	pathf(out, n, "%s.%03d+0000", base, (int)(ms % 1000));
}

void l_reply_json(struct ctl_aws_call *c, unsigned status, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!text) {
		l_err(c, 500, "ServiceException", "out of memory");
		return;
	}
	ctl_aws_reply(c, status, JSON_TYPE, text, strlen(text), NULL);
}

void l_err(struct ctl_aws_call *c, unsigned status, const char *type, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* A message quoting the request may carry bytes that are not UTF-8: shown as '?'. */
	json_t *m = json_string(msg);
	if (!m) {
		for (char *p = msg; *p; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
		m = json_string(msg);
	}
	json_t *j = json_pack("{s:s, s:o}", "Type", status >= 500 ? "Service" : "User", "message",
			      m);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	const char *hdrs[] = { "X-Amzn-ErrorType", type, NULL };
	ctl_aws_reply(c, status, JSON_TYPE, text, text ? strlen(text) : 0, hdrs);
}

int l_query(struct ctl_aws_call *c, const char *name, char *out, size_t n)
{
	const char *q = ctl_aws_query(c);
	size_t nl = strlen(name);
	while (q && *q) {
		const char *amp = strchr(q, '&');
		size_t len = amp ? (size_t)(amp - q) : strlen(q);
		if (len > nl && strncmp(q, name, nl) == 0 && q[nl] == '=') {
			size_t vl = len - nl - 1;
			if (vl >= n)
				vl = n - 1;
			memcpy(out, q + nl + 1, vl);
			out[vl] = '\0';
			for (char *p = out; *p; p++)
				if (*p == '+')
					*p = ' ';
			MHD_http_unescape(out);
			return 1;
		}
		q = amp ? amp + 1 : NULL;
	}
	return 0;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > L_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return false;
	return true;
}

/* A FunctionName as Lambda takes it: a name, "name:qualifier", "123456789012:function:name" or
 * the full ARN. Writes the bare name; returns false when it is not one. */
static bool resolve_name(const char *in, char *out, size_t n)
{
	const char *s = in;
	const char *f = strstr(in, "function:");
	if (f)
		s = f + strlen("function:");
	const char *colon = strchr(s, ':');
	size_t len = colon ? (size_t)(colon - s) : strlen(s);
	if (len >= n)
		return false;
	memcpy(out, s, len);
	out[len] = '\0';
	return name_ok(out);
}

void l_fn_arn(const struct ctl_lambda *l, const char *name, char *out, size_t n)
{
	snprintf(out, n, "arn:aws:lambda:%s:%s:function:%s", l->region, l->account, name);
}

struct l_fn *l_fn_find(struct ctl_lambda *l, const char *name)
{
	char bare[L_NAME_MAX + 1];
	if (!resolve_name(name, bare, sizeof(bare)))
		return NULL;
	unsigned lo = 0, hi = l->n_fns;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		int cmp = strcmp(l->fns[mid]->name, bare);
		if (cmp == 0)
			return l->fns[mid];
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int fn_insert(struct ctl_lambda *l, struct l_fn *f)
{
	struct l_fn **a = realloc(l->fns, (l->n_fns + 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	l->fns = a;
	unsigned i = 0;
	while (i < l->n_fns && strcmp(l->fns[i]->name, f->name) < 0)
		i++;
	memmove(&l->fns[i + 1], &l->fns[i], (l->n_fns - i) * sizeof(*a));
	l->fns[i] = f;
	l->n_fns++;
	return 0;
}

static void fn_remove(struct ctl_lambda *l, struct l_fn *f)
{
	for (unsigned i = 0; i < l->n_fns; i++)
		if (l->fns[i] == f) {
			memmove(&l->fns[i], &l->fns[i + 1], (l->n_fns - i - 1) * sizeof(f));
			l->n_fns--;
			return;
		}
}

static void fn_free(struct l_fn *f)
{
	if (!f)
		return;
	json_decref(f->vars);
	free(f);
}

const char *l_def_var(const struct wf_fn_def *d, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; d->env && d->env[i]; i++)
		if (strncmp(d->env[i], name, n) == 0 && d->env[i][n] == '=')
			return d->env[i] + n + 1;
	return NULL;
}

void l_fn_def(struct ctl_lambda *l, const struct l_fn *f, struct wf_fn_def *d, char **envbuf,
	      size_t n, char *logpath, size_t logn)
{
	pathf(logpath, logn, "%s/functions/%s/log", l->data_dir, f->name);
	size_t k = 0;
	const char *key;
	json_t *v;
	json_object_foreach(f->vars, key, v) {
		if (k + 1 >= n)
			break;
		size_t len = strlen(key) + 1 + strlen(json_string_value(v)) + 1;
		char *e = malloc(len);
		if (!e)
			break;
		snprintf(e, len, "%s=%s", key, json_string_value(v));
		envbuf[k++] = e;
	}
	envbuf[k] = NULL;
	*d = (struct wf_fn_def){
		.name = f->name, .kind = f->kind, .handler = f->program,
		.task_root = f->code_dir[0] ? f->code_dir : NULL, .log_path = logpath,
		.env = (const char *const *)envbuf, .timeout_s = f->timeout_s,
		.memory_mb = f->memory_mb, .region = l->region,
	};
}

static void env_free(char **envbuf)
{
	for (char **e = envbuf; *e; e++)
		free(*e);
}

/* ---- storage --------------------------------------------------------------------------------- */

static const char *const schema_steps[] = {
	"CREATE TABLE lambda_functions (name TEXT PRIMARY KEY, doc TEXT NOT NULL);"
	"CREATE TABLE lambda_mappings (uuid TEXT PRIMARY KEY, doc TEXT NOT NULL);"
	"CREATE TABLE lambda_checkpoints (uuid TEXT NOT NULL, shard TEXT NOT NULL, "
	"seq TEXT NOT NULL, PRIMARY KEY (uuid, shard));",
};

static json_t *fn_doc(const struct l_fn *f)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:i, s:i, s:O, s:s, s:I, s:I, "
			 "s:I, s:s}",
			 "name", f->name, "runtime", f->runtime, "role", f->role, "handler",
			 f->handler, "description", f->description, "kind", (int)f->kind,
			 "program", f->program, "code_dir", f->code_dir, "timeout",
			 (int)f->timeout_s, "memory", (int)f->memory_mb, "vars", f->vars, "sha256",
			 f->sha256, "code_size", (json_int_t)f->code_size, "modified_ms",
			 (json_int_t)f->modified_ms, "revision", (json_int_t)f->revision,
			 "revision_id", f->revision_id);
}

static void copy_str(json_t *doc, const char *key, char *out, size_t n)
{
	snprintf(out, n, "%s", json_string_value(json_object_get(doc, key)) ?
		 json_string_value(json_object_get(doc, key)) : "");
}

static struct l_fn *fn_from_doc(json_t *doc)
{
	struct l_fn *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	copy_str(doc, "name", f->name, sizeof(f->name));
	copy_str(doc, "runtime", f->runtime, sizeof(f->runtime));
	copy_str(doc, "role", f->role, sizeof(f->role));
	copy_str(doc, "handler", f->handler, sizeof(f->handler));
	copy_str(doc, "description", f->description, sizeof(f->description));
	copy_str(doc, "program", f->program, sizeof(f->program));
	copy_str(doc, "code_dir", f->code_dir, sizeof(f->code_dir));
	copy_str(doc, "sha256", f->sha256, sizeof(f->sha256));
	copy_str(doc, "revision_id", f->revision_id, sizeof(f->revision_id));
	f->kind = json_integer_value(json_object_get(doc, "kind")) == WF_FN_PROGRAM
		  ? WF_FN_PROGRAM : WF_FN_BUILTIN;
	f->timeout_s = (unsigned)json_integer_value(json_object_get(doc, "timeout"));
	f->memory_mb = (unsigned)json_integer_value(json_object_get(doc, "memory"));
	f->code_size = json_integer_value(json_object_get(doc, "code_size"));
	f->modified_ms = json_integer_value(json_object_get(doc, "modified_ms"));
	f->revision = json_integer_value(json_object_get(doc, "revision"));
	json_t *vars = json_object_get(doc, "vars");
	f->vars = json_is_object(vars) ? json_incref(vars) : json_object();
	if (!f->vars || !name_ok(f->name)) {
		fn_free(f);
		return NULL;
	}
	return f;
}

static int fn_store(struct ctl_lambda *l, const struct l_fn *f)
{
	json_t *doc = fn_doc(f);
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!text)
		return -ENOMEM;
	sqlite3 *db = ctl_meta_db(l->meta);
	sqlite3_stmt *st = NULL;
	int rc = -EIO;
	if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO lambda_functions (name, doc) VALUES "
			       "(?, ?)", -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, f->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_DONE)
		rc = 0;
out:
	if (rc < 0)
		ctl_meta_fail(l->meta, "storing a function");
	sqlite3_finalize(st);
	free(text);
	return rc;
}

static int fn_unstore(struct ctl_lambda *l, const char *name)
{
	sqlite3_stmt *st = NULL;
	int rc = -EIO;
	if (sqlite3_prepare_v2(ctl_meta_db(l->meta), "DELETE FROM lambda_functions WHERE name = ?",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_DONE)
			rc = 0;
	}
	if (rc < 0)
		ctl_meta_fail(l->meta, "deleting a function");
	sqlite3_finalize(st);
	return rc;
}

static int fns_load(struct ctl_lambda *l)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(ctl_meta_db(l->meta), "SELECT doc FROM lambda_functions ORDER BY "
			       "name", -1, &st, NULL) != SQLITE_OK)
		return ctl_meta_fail(l->meta, "loading functions");
	int rc = 0, s;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 0);
		json_t *doc = text ? json_loads(text, 0, NULL) : NULL;
		struct l_fn *f = doc ? fn_from_doc(doc) : NULL;
		json_decref(doc);
		if (!f) {
			ctl_log(CTL_LOG_WARN, "lambda: a stored function could not be read; it is "
				"skipped (delete it and create it again)");
			continue;
		}
		if ((rc = fn_insert(l, f)) < 0) {
			fn_free(f);
			break;
		}
	}
	if (s != SQLITE_DONE && rc == 0)
		rc = ctl_meta_fail(l->meta, "loading functions");
	sqlite3_finalize(st);
	return rc;
}

/* ---- code ------------------------------------------------------------------------------------ */

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? 0 : 0;
}

static void rm_tree(const char *dir)
{
	if (dir && dir[0])
		nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* A ZIP entry's name is safe when it stays below the code directory: relative, no "." or ".."
 * components, no empty ones but a directory's trailing slash, printable, bounded. */
static bool entry_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 1024 || name[0] == '/')
		return false;
	const char *p = name;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)p[i] < 0x20 || p[i] == '\\' || p[i] == 0x7f)
				return false;
		if (!slash)
			break;
		p = slash + 1;
	}
	return true;
}

static int mkdirs(const char *base, const char *rel)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s", base, rel);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	for (char *p = path + strlen(base) + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

/*
 * Unpack a ZIP into dir (created). Returns 0, or -EINVAL with why written (a bad archive or
 * entry), or another negative errno.
 */
static int unzip_to(const void *data, size_t len, const char *dir, char *why, size_t wn)
{
	zip_error_t ze;
	zip_error_init(&ze);
	zip_source_t *src = zip_source_buffer_create(data, len, 0, &ze);
	zip_t *za = NULL;
	int rc = -EINVAL;
	char *buf = NULL;
	if (!src) {
		snprintf(why, wn, "Could not unzip uploaded file. Please check your file, then try "
			 "to upload again.");
		goto out;
	}
	za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
	if (!za) {
		zip_source_free(src);
		snprintf(why, wn, "Could not unzip uploaded file. Please check your file, then try "
			 "to upload again. (%s)", zip_error_strerror(&ze));
		goto out;
	}
	if (mkdir(dir, 0755) < 0) {
		rc = -errno;
		snprintf(why, wn, "cannot create %s: %s", dir, strerror(errno));
		goto out;
	}
	zip_int64_t n = zip_get_num_entries(za, 0);
	if (n < 0 || n > L_ZIP_ENTRIES_MAX) {
		snprintf(why, wn, "The ZIP holds more than %d entries", L_ZIP_ENTRIES_MAX);
		goto out;
	}
	buf = malloc(65536);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	uint64_t total = 0;
	for (zip_int64_t i = 0; i < n; i++) {
		const char *name = zip_get_name(za, (zip_uint64_t)i, 0);
		if (!name || !entry_name_ok(name)) {
			snprintf(why, wn, "The ZIP entry '%.200s' has a name that leaves the "
				 "function's directory or is not valid", name ? name : "?");
			goto out;
		}
		zip_uint8_t opsys;
		zip_uint32_t attr = 0;
		mode_t mode = 0644;
		if (zip_file_get_external_attributes(za, (zip_uint64_t)i, 0, &opsys, &attr) == 0 &&
		    opsys == ZIP_OPSYS_UNIX) {
			mode_t m = (mode_t)(attr >> 16);
			if (S_ISLNK(m) || ((m & S_IFMT) && !S_ISREG(m) && !S_ISDIR(m))) {
				snprintf(why, wn, "The ZIP entry '%.200s' is a link or a special "
					 "file: only files and directories are unpacked", name);
				goto out;
			}
			if (m & 0111)
				mode = 0755;
		}
		int r = mkdirs(dir, name);
		if (r < 0) {
			rc = r;
			snprintf(why, wn, "cannot create the directories of '%.200s': %s", name,
				 strerror(-r));
			goto out;
		}
		if (name[strlen(name) - 1] == '/')
			continue;
		if (strcmp(name, "bootstrap") == 0)
			mode = 0755;  /* Lambda runs it; ZIP tools often drop the bit */
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd < 0) {
			rc = errno == EEXIST ? -EINVAL : -errno;
			snprintf(why, wn, "cannot write '%.200s': %s", name,
				 errno == EEXIST ? "the ZIP names it twice" : strerror(errno));
			goto out;
		}
		zip_file_t *zf = zip_fopen_index(za, (zip_uint64_t)i, 0);
		zip_int64_t got = 0;
		bool bad = !zf;
		while (zf && (got = zip_fread(zf, buf, 65536)) > 0) {
			total += (uint64_t)got;
			if (total > L_UNZIPPED_MAX) {
				bad = true;
				break;
			}
			if (write(fd, buf, (size_t)got) != (ssize_t)got) {
				bad = true;
				break;
			}
		}
		if (got < 0)
			bad = true;
		if (zf)
			zip_fclose(zf);
		fchmod(fd, mode);
		close(fd);
		if (bad) {
			if (total > L_UNZIPPED_MAX)
				snprintf(why, wn, "Unzipped size must be smaller than %llu bytes",
					 L_UNZIPPED_MAX);
			else
				snprintf(why, wn, "Could not unzip uploaded file: entry '%.200s' is "
					 "damaged", name);
			goto out;
		}
	}
	rc = 0;
out:
	free(buf);
	if (za)
		zip_discard(za);
	if (rc < 0 && rc != -EEXIST)
		rm_tree(dir);
	return rc;
}

static void sha256_b64(const void *data, size_t len, char out[48])
{
	unsigned char md[32];
	unsigned int mdn = 0;
	EVP_Digest(data, len, md, &mdn, EVP_sha256(), NULL);
	ctl_b64_encode(md, 32, out);
}

static bool runtime_provided(const char *rt)
{
	return strcmp(rt, "provided") == 0 || strncmp(rt, "provided.", 9) == 0;
}

/*
 * Apply Code (ZipFile base64, or nothing) with Runtime and Handler to f: unpack, pick the program.
 * Returns 0, or -1 after answering the error.
 */
static int apply_code(struct ctl_lambda *l, struct ctl_aws_call *c, struct l_fn *f, json_t *code,
		      bool require_code)
{
	json_t *zipv = json_object_get(code, "ZipFile");
	if (json_object_get(code, "S3Bucket") || json_object_get(code, "S3Key")) {
		l_err(c, 400, "InvalidParameterValueException", "Code.S3Bucket and Code.S3Key are "
		      "not supported by this appliance: upload the package with ZipFile "
		      "(--zip-file fileb://function.zip)");
		return -1;
	}
	if (json_object_get(code, "ImageUri")) {
		l_err(c, 400, "InvalidParameterValueException", "Code.ImageUri (container images) "
		      "is not supported by this appliance: package a bootstrap program in a ZIP, or "
		      "use Runtime provided.al2023 with Handler set to a program's absolute path");
		return -1;
	}
	if (strcmp(f->runtime, "builtin") == 0) {
		const char *b = f->handler[0] ? f->handler : f->name;
		if (!wf_fn_builtin_exists(l->rt, b)) {
			l_err(c, 400, "InvalidParameterValueException", "Runtime builtin: there is no "
			      "built-in function named %s (flatten_json, generate_record, put_record, "
			      "flatten_data)", b);
			return -1;
		}
		f->kind = WF_FN_BUILTIN;
		snprintf(f->program, sizeof(f->program), "%s", b);
		f->code_dir[0] = '\0';
		f->sha256[0] = '\0';
		f->code_size = 0;
		return 0;
	}
	if (!runtime_provided(f->runtime)) {
		l_err(c, 400, "InvalidParameterValueException", "The runtime parameter of %s is not "
		      "supported by this appliance: use provided.al2023 (a bootstrap program in the "
		      "ZIP, or Handler = a program's absolute path) or builtin", f->runtime);
		return -1;
	}
	if (!json_is_string(zipv)) {
		if (f->handler[0] == '/') {
			struct stat st;
			if (stat(f->handler, &st) < 0 || !S_ISREG(st.st_mode) ||
			    access(f->handler, X_OK) < 0) {
				l_err(c, 400, "InvalidParameterValueException", "Handler %s is not "
				      "an executable file on this appliance", f->handler);
				return -1;
			}
			f->kind = WF_FN_PROGRAM;
			snprintf(f->program, sizeof(f->program), "%s", f->handler);
			f->code_dir[0] = '\0';
			sha256_b64(f->handler, strlen(f->handler), f->sha256);
			f->code_size = st.st_size;
			return 0;
		}
		if (!require_code)
			return 0;
		l_err(c, 400, "InvalidParameterValueException", "Please provide a source for "
		      "function code: Code.ZipFile holding a bootstrap program, or Handler set to a "
		      "program's absolute path");
		return -1;
	}
	const char *b64 = json_string_value(zipv);
	size_t blen = strlen(b64);
	uint8_t *zip = malloc(ctl_b64_dec_max(blen) + 3);
	if (!zip) {
		l_err(c, 500, "ServiceException", "out of memory");
		return -1;
	}
	long zlen = ctl_b64_decode(b64, blen, zip);
	if (zlen <= 0) {
		free(zip);
		l_err(c, 400, "InvalidParameterValueException", "Could not unzip uploaded file. "
		      "Please check your file, then try to upload again.");
		return -1;
	}
	char fdir[PATH_MAX], dir[PATH_MAX], why[400] = "";
	if (pathf(fdir, sizeof(fdir), "%s/functions/%s", l->data_dir, f->name) < 0 ||
	    pathf(dir, sizeof(dir), "%s/code.%" PRId64, fdir, f->revision + 1) < 0) {
		free(zip);
		l_err(c, 500, "ServiceException", "the data directory's path is too long");
		return -1;
	}
	mkdir(fdir, 0750);
	rm_tree(dir);  /* a leftover of an update that did not commit */
	int r = unzip_to(zip, (size_t)zlen, dir, why, sizeof(why));
	if (r < 0) {
		free(zip);
		if (r == -EINVAL)
			l_err(c, 400, "InvalidParameterValueException", "%s", why);
		else
			l_err(c, 500, "ServiceException", "%s", why[0] ? why : strerror(-r));
		return -1;
	}
	char boot[PATH_MAX];
	if ((size_t)snprintf(boot, sizeof(boot), "%s/bootstrap", dir) >= sizeof(boot)) {
		free(zip);
		rm_tree(dir);
		l_err(c, 500, "ServiceException", "the function's directory path is too long");
		return -1;
	}
	struct stat st;
	if (stat(boot, &st) < 0 || !S_ISREG(st.st_mode)) {
		free(zip);
		rm_tree(dir);
		l_err(c, 400, "InvalidParameterValueException", "The ZIP holds no bootstrap file "
		      "at its root: a %s function runs the program named bootstrap", f->runtime);
		return -1;
	}
	sha256_b64(zip, (size_t)zlen, f->sha256);
	f->code_size = zlen;
	free(zip);
	f->kind = WF_FN_PROGRAM;
	snprintf(f->program, sizeof(f->program), "%s", boot);
	snprintf(f->code_dir, sizeof(f->code_dir), "%s", dir);
	return 0;
}

/* ---- configuration in Lambda's shape --------------------------------------------------------- */

static json_t *fn_config(const struct ctl_lambda *l, const struct l_fn *f)
{
	char arn[L_ARN_MAX], when[40], group[120];
	l_fn_arn(l, f->name, arn, sizeof(arn));
	lambda_time(f->modified_ms, when, sizeof(when));
	snprintf(group, sizeof(group), "/aws/lambda/%s", f->name);
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:i, s:i, s:s, s:s, s:s, "
			      "s:{s:s}, s:s, s:s, s:s, s:s, s:[s], s:{s:i}, s:{s:s, s:s}}",
			      "FunctionName", f->name, "FunctionArn", arn, "Runtime", f->runtime,
			      "Role", f->role, "Handler", f->handler, "CodeSize",
			      (json_int_t)f->code_size, "Description", f->description, "Timeout",
			      (int)f->timeout_s, "MemorySize", (int)f->memory_mb, "LastModified",
			      when, "CodeSha256", f->sha256, "Version", "$LATEST", "TracingConfig",
			      "Mode", "PassThrough", "RevisionId", f->revision_id, "State", "Active",
			      "LastUpdateStatus", "Successful", "PackageType", "Zip",
			      "Architectures", "x86_64", "EphemeralStorage", "Size", 512,
			      "LoggingConfig", "LogFormat", "Text", "LogGroup", group);
	if (j && json_object_size(f->vars))
		json_object_set_new(j, "Environment", json_pack("{s:O}", "Variables", f->vars));
	return j;
}

/* Lambda's reserved variable names (the API refuses them in Environment.Variables). */
static const char *const reserved_vars[] = {
	"_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION",
	"AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
	"AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
	"AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY",
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
};

/* Read Timeout, MemorySize, Environment, Description, Role, Handler, Runtime from in into f.
 * Returns 0 or -1 after answering. */
/*
 * The integer member key of in, when present and not null, into *out: min..max, else answered
 * as Lambda's ValidationException on field. 0 or -1.
 */
static int range_member(struct ctl_aws_call *c, const json_t *in, const char *key,
			const char *field, unsigned min, unsigned max, unsigned *out)
{
	json_t *v = json_object_get(in, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		l_err(c, 400, "ValidationException", "1 validation error detected: Value at '%s' "
		      "failed to satisfy constraint: Member must have value less than or equal to %u "
		      "and greater than or equal to %u", field, max, min);
		return -1;
	}
	*out = (unsigned)json_integer_value(v);
	return 0;
}

static int read_config(struct ctl_aws_call *c, json_t *in, struct l_fn *f)
{
	json_t *v;
	if (range_member(c, in, "Timeout", "timeout", 1, WF_FN_TIMEOUT_MAX_S, &f->timeout_s) < 0 ||
	    range_member(c, in, "MemorySize", "memorySize", WF_FN_MEMORY_MIN_MB, WF_FN_MEMORY_MAX_MB,
			 &f->memory_mb) < 0)
		return -1;
	static const struct { const char *key; size_t off, n; } strs[] = {
		{ "Runtime", offsetof(struct l_fn, runtime), sizeof(((struct l_fn *)0)->runtime) },
		{ "Role", offsetof(struct l_fn, role), sizeof(((struct l_fn *)0)->role) },
		{ "Handler", offsetof(struct l_fn, handler), sizeof(((struct l_fn *)0)->handler) },
		{ "Description", offsetof(struct l_fn, description),
		  sizeof(((struct l_fn *)0)->description) },
	};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		v = json_object_get(in, strs[i].key);
		if (!v || json_is_null(v))
			continue;
		if (!json_is_string(v) || strlen(json_string_value(v)) >= strs[i].n) {
			l_err(c, 400, "ValidationException", "1 validation error detected: Value at "
			      "'%s' failed to satisfy constraint: Member must be a string of at most "
			      "%zu characters", strs[i].key, strs[i].n - 1);
			return -1;
		}
		snprintf((char *)f + strs[i].off, strs[i].n, "%s", json_string_value(v));
	}
	json_t *env = json_object_get(in, "Environment");
	if (env && !json_is_null(env)) {
		json_t *vars = json_object_get(env, "Variables");
		if (!json_is_object(env) || (vars && !json_is_null(vars) && !json_is_object(vars))) {
			l_err(c, 400, "InvalidParameterValueException", "Environment.Variables must "
			      "be a map of strings");
			return -1;
		}
		const char *k;
		json_t *x;
		size_t total = 0;
		json_object_foreach(vars, k, x) {
			if (!json_is_string(x) || !k[0] || strchr(k, '=')) {
				l_err(c, 400, "InvalidParameterValueException", "Environment variable "
				      "%s must be a string with a name without '='", k);
				return -1;
			}
			for (size_t r = 0; r < sizeof(reserved_vars) / sizeof(reserved_vars[0]); r++)
				if (strcmp(k, reserved_vars[r]) == 0) {
					l_err(c, 400, "InvalidParameterValueException", "Lambda was "
					      "unable to configure your environment variables because "
					      "the environment variables you have provided contains "
					      "reserved keys that are currently not supported for "
					      "modification. Reserved keys used in this request: %s", k);
					return -1;
				}
			total += strlen(k) + strlen(json_string_value(x));
		}
		if (total > 4096) {
			l_err(c, 400, "InvalidParameterValueException", "Lambda was unable to "
			      "configure your environment variables because the environment variables "
			      "you have provided exceeded the 4KB limit");
			return -1;
		}
		json_decref(f->vars);
		f->vars = json_is_object(vars) ? json_deep_copy(vars) : json_object();
	}
	return 0;
}

/* ---- operations ------------------------------------------------------------------------------ */

static json_t *body_json(struct ctl_aws_call *c)
{
	size_t len;
	const char *b = ctl_aws_body(c, &len);
	json_error_t je;
	json_t *j = len ? json_loadb(b, len, 0, &je) : json_object();
	if (!j || !json_is_object(j)) {
		json_decref(j);
		l_err(c, 400, "InvalidRequestContentException", "Could not parse request body into "
		      "json: %s", len ? je.text : "empty body");
		return NULL;
	}
	return j;
}

static void touch(struct l_fn *f)
{
	f->modified_ms = l_now_ms();
	f->revision++;
	ctl_uuid4(f->revision_id);
}

/* A copy of f to change (sharing its vars); NULL after answering when out of memory. */
static struct l_fn *fn_draft(struct ctl_aws_call *c, const struct l_fn *f)
{
	struct l_fn *n = malloc(sizeof(*n));
	if (!n) {
		l_err(c, 500, "ServiceException", "out of memory");
		return NULL;
	}
	*n = *f;
	json_incref(n->vars);
	return n;
}

/*
 * Make the draft n (fn_draft) the function f: touched, stored, copied over f (whose vars it
 * drops) and freed. When it cannot be stored the request is answered, n stays the caller's and
 * the return is negative.
 */
static int fn_commit(struct ctl_lambda *l, struct ctl_aws_call *c, struct l_fn *f, struct l_fn *n)
{
	touch(n);
	if (fn_store(l, n) < 0) {
		l_err(c, 500, "ServiceException", "cannot store the function (see the daemon's log)");
		return -EIO;
	}
	json_decref(f->vars);
	*f = *n;
	free(n);
	return 0;
}

static void op_create(struct ctl_lambda *l, struct ctl_aws_call *c)
{
	json_t *in = body_json(c);
	if (!in)
		return;
	struct l_fn *f = calloc(1, sizeof(*f));
	if (!f) {
		l_err(c, 500, "ServiceException", "out of memory");
		goto out;
	}
	f->timeout_s = 3;
	f->memory_mb = 128;
	f->vars = json_object();
	const char *name = json_string_value(json_object_get(in, "FunctionName"));
	if (!name || !resolve_name(name, f->name, sizeof(f->name))) {
		l_err(c, 400, "ValidationException", "1 validation error detected: Value '%s' at "
		      "'functionName' failed to satisfy constraint: Member must satisfy regular "
		      "expression pattern: [a-zA-Z0-9-_]+ (1 to 64 characters)", name ? name : "");
		goto out;
	}
	if (!json_is_string(json_object_get(in, "Role"))) {
		l_err(c, 400, "ValidationException", "1 validation error detected: Value null at "
		      "'role' failed to satisfy constraint: Member must not be null");
		goto out;
	}
	if (l_fn_find(l, f->name)) {
		char arn[L_ARN_MAX];
		l_fn_arn(l, f->name, arn, sizeof(arn));
		l_err(c, 409, "ResourceConflictException", "Function already exist: %s", f->name);
		goto out;
	}
	if (read_config(c, in, f) < 0)
		goto out;
	if (!f->runtime[0]) {
		l_err(c, 400, "InvalidParameterValueException", "The runtime parameter is required "
		      "for a ZIP package: provided.al2023, or builtin");
		goto out;
	}
	json_t *code = json_object_get(in, "Code");
	if (!json_is_object(code)) {
		l_err(c, 400, "ValidationException", "1 validation error detected: Value null at "
		      "'code' failed to satisfy constraint: Member must not be null");
		goto out;
	}
	char fdir[PATH_MAX];
	pathf(fdir, sizeof(fdir), "%s/functions", l->data_dir);
	mkdir(fdir, 0750);
	if (apply_code(l, c, f, code, true) < 0)
		goto out;
	touch(f);
	/* Every kind has a directory: its log lives there. */
	char own[PATH_MAX];
	if (pathf(own, sizeof(own), "%s/functions/%s", l->data_dir, f->name) == 0)
		mkdir(own, 0750);
	if (fn_store(l, f) < 0 || fn_insert(l, f) < 0) {
		rm_tree(f->code_dir);
		l_err(c, 500, "ServiceException", "cannot store the function (see the daemon's log)");
		goto out;
	}
	ctl_log(CTL_LOG_INFO, "lambda: function %s created (%s %s)", f->name, f->runtime,
		f->program);
	l_reply_json(c, 201, fn_config(l, f));
	f = NULL;
out:
	fn_free(f);
	json_decref(in);
}

static struct l_fn *fn_arg(struct ctl_lambda *l, struct ctl_aws_call *c, const char *name)
{
	struct l_fn *f = l_fn_find(l, name);
	if (!f) {
		char bare[L_NAME_MAX + 1], arn[L_ARN_MAX];
		if (!resolve_name(name, bare, sizeof(bare)))
			snprintf(bare, sizeof(bare), "%.64s", name);
		l_fn_arn(l, bare, arn, sizeof(arn));
		l_err(c, 404, "ResourceNotFoundException", "Function not found: %s", arn);
	}
	return f;
}

static void op_get(struct ctl_lambda *l, struct ctl_aws_call *c, const char *name, bool config)
{
	struct l_fn *f = fn_arg(l, c, name);
	if (!f)
		return;
	json_t *cfg = fn_config(l, f);
	if (config) {
		l_reply_json(c, 200, cfg);
		return;
	}
	char loc[PATH_MAX + 16];
	if (f->kind == WF_FN_BUILTIN)
		snprintf(loc, sizeof(loc), "builtin:%s", f->program);
	else
		snprintf(loc, sizeof(loc), "file://%s", f->code_dir[0] ? f->code_dir : f->program);
	l_reply_json(c, 200, json_pack("{s:o, s:{s:s, s:s}, s:{}}", "Configuration", cfg, "Code",
				       "RepositoryType", "S3", "Location", loc, "Tags"));
}

static void op_list(struct ctl_lambda *l, struct ctl_aws_call *c)
{
	char marker[32] = "", maxs[16] = "";
	l_query(c, "Marker", marker, sizeof(marker));
	l_query(c, "MaxItems", maxs, sizeof(maxs));
	unsigned start = (unsigned)strtoul(marker, NULL, 10);
	long max = maxs[0] ? strtol(maxs, NULL, 10) : 50;
	if (max < 1 || max > 10000) {
		l_err(c, 400, "InvalidParameterValueException", "MaxItems must be 1 to 10000");
		return;
	}
	json_t *arr = json_array();
	unsigned i = start;
	for (; i < l->n_fns && json_array_size(arr) < (size_t)max; i++)
		json_array_append_new(arr, fn_config(l, l->fns[i]));
	json_t *out = json_pack("{s:o}", "Functions", arr);
	if (out && i < l->n_fns) {
		char next[16];
		snprintf(next, sizeof(next), "%u", i);
		json_object_set_new(out, "NextMarker", json_string(next));
	}
	l_reply_json(c, 200, out);
}

/*
 * The start of an update of function name: the function (*f), the request's JSON body (*in, for
 * the caller to release) and a draft of *f to change. NULL after answering when one is missing.
 */
static struct l_fn *fn_update_begin(struct ctl_lambda *l, struct ctl_aws_call *c,
				    const char *name, struct l_fn **f, json_t **in)
{
	if (!(*f = fn_arg(l, c, name)) || !(*in = body_json(c)))
		return NULL;
	struct l_fn *n = fn_draft(c, *f);
	if (!n)
		json_decref(*in);
	return n;
}

static void op_update_code(struct ctl_lambda *l, struct ctl_aws_call *c, const char *name)
{
	struct l_fn *f;
	json_t *in;
	struct l_fn *n = fn_update_begin(l, c, name, &f, &in);
	if (!n)
		return;
	char old_dir[PATH_MAX];
	snprintf(old_dir, sizeof(old_dir), "%s", f->code_dir);
	if (apply_code(l, c, n, in, true) < 0) {
		fn_free(n);
		goto out;
	}
	if (fn_commit(l, c, f, n) < 0) {
		if (strcmp(n->code_dir, old_dir) != 0)
			rm_tree(n->code_dir);
		fn_free(n);
		goto out;
	}
	/* Running programs keep their (unlinked) directory until they end. */
	if (old_dir[0] && strcmp(old_dir, f->code_dir) != 0)
		rm_tree(old_dir);
	l_reply_json(c, 200, fn_config(l, f));
out:
	json_decref(in);
}

static void op_update_config(struct ctl_lambda *l, struct ctl_aws_call *c, const char *name)
{
	struct l_fn *f;
	json_t *in;
	struct l_fn *n = fn_update_begin(l, c, name, &f, &in);
	if (!n)
		return;
	bool code_changes = json_object_get(in, "Runtime") || json_object_get(in, "Handler");
	json_t *nocode = json_object();
	if (read_config(c, in, n) < 0 ||
	    (code_changes && !f->code_dir[0] && apply_code(l, c, n, nocode, false) < 0)) {
		json_decref(nocode);
		fn_free(n);
		goto out;
	}
	json_decref(nocode);
	if (fn_commit(l, c, f, n) < 0) {
		fn_free(n);
		goto out;
	}
	l_reply_json(c, 200, fn_config(l, f));
out:
	json_decref(in);
}

static void op_delete(struct ctl_lambda *l, struct ctl_aws_call *c, const char *name)
{
	struct l_fn *f = fn_arg(l, c, name);
	if (!f)
		return;
	if (fn_unstore(l, f->name) < 0) {
		l_err(c, 500, "ServiceException", "cannot delete the function (see the daemon's log)");
		return;
	}
	char dir[PATH_MAX];
	pathf(dir, sizeof(dir), "%s/functions/%s", l->data_dir, f->name);
	rm_tree(dir);
	ctl_log(CTL_LOG_INFO, "lambda: function %s deleted", f->name);
	fn_remove(l, f);
	fn_free(f);
	ctl_aws_reply(c, 204, JSON_TYPE, NULL, 0, NULL);
}

/* ---- Invoke ---------------------------------------------------------------------------------- */

/* One RequestResponse Invoke waiting for its result. Freed by whichever of the two ends
 * (the request's state release, the result) comes second. */
struct l_inv {
	struct ctl_aws_call *c;
	bool tail;
	bool call_gone;
	bool result_in;
};

static void inv_state_free(void *p)
{
	struct l_inv *inv = p;
	inv->c = NULL;
	inv->call_gone = true;
	if (inv->result_in)
		free(inv);
}

static void inv_done(void *arg, const struct wf_fn_result *r)
{
	struct l_inv *inv = arg;
	inv->result_in = true;
	if (inv->call_gone) {
		free(inv);
		return;
	}
	char *body = malloc(r->len + 1);
	const char *hdrs[8] = { "X-Amz-Executed-Version", "$LATEST" };
	int h = 2;
	if (!r->ok) {
		hdrs[h++] = "X-Amz-Function-Error";
		hdrs[h++] = "Unhandled";
	}
	char tail64[ctl_b64_enc_len(L_LOG_TAIL) + 1];
	if (inv->tail) {
		size_t n = r->log_len > L_LOG_TAIL ? L_LOG_TAIL : r->log_len;
		ctl_b64_encode(r->log + r->log_len - n, n, tail64);
		hdrs[h++] = "X-Amz-Log-Result";
		hdrs[h++] = tail64;
	}
	hdrs[h] = NULL;
	if (body)
		memcpy(body, r->text, r->len + 1);
	ctl_aws_reply(inv->c, 200, JSON_TYPE, body, body ? r->len : 0, hdrs);
	/* The request's state release frees inv. */
}

/* An Event invocation: Lambda retries a failed one twice, after a delay and after twice that. */
struct l_retry {
	struct l_retry *next;
	struct ctl_lambda *l;
	char name[L_NAME_MAX + 1];
	char *payload;
	size_t len;
	unsigned attempt;  /* 0 for the first call */
	int64_t due_ms;
};

static void retry_free(struct l_retry *r)
{
	if (r) {
		free(r->payload);
		free(r);
	}
}

static void event_done(void *arg, const struct wf_fn_result *res)
{
	struct l_retry *r = arg;
	struct ctl_lambda *l = r->l;
	if (res->ok) {
		retry_free(r);
		return;
	}
	if (r->attempt >= 2) {
		ctl_log(CTL_LOG_WARN, "lambda: asynchronous invocation of %s failed 3 times and is "
			"dropped; last error %s: %.300s", r->name, res->request_id, res->text);
		retry_free(r);
		return;
	}
	r->attempt++;
	r->due_ms = l_now_ms() + (int64_t)l->cfg.event_retry_ms * (r->attempt == 1 ? 1 : 2);
	ctl_log(CTL_LOG_INFO, "lambda: asynchronous invocation %s of %s failed (%.200s); retry %u "
		"in %u ms", res->request_id, r->name, res->text, r->attempt,
		l->cfg.event_retry_ms * r->attempt);
	r->next = l->retries;
	l->retries = r;
}

/* Start the retries that are due; returns the earliest still waiting (CTL_LOOP_NEVER: none). */
static int64_t retries_run(struct ctl_lambda *l, int64_t now_ms)
{
	int64_t next = CTL_LOOP_NEVER;
	struct l_retry *due = NULL;
	for (struct l_retry **pp = &l->retries; *pp;) {
		struct l_retry *r = *pp;
		if (r->due_ms <= now_ms) {
			*pp = r->next;
			r->next = due;
			due = r;
		} else {
			if (r->due_ms < next)
				next = r->due_ms;
			pp = &r->next;
		}
	}
	while (due) {
		struct l_retry *r = due;
		due = r->next;
		int rc = ctl_lambda_invoke(l, r->name, r->payload, r->len, event_done, r);
		if (rc == -EAGAIN) {
			r->due_ms = now_ms + 1000;
			r->next = l->retries;
			l->retries = r;
			if (r->due_ms < next)
				next = r->due_ms;
		} else if (rc < 0) {
			ctl_log(CTL_LOG_INFO, "lambda: retry of %s dropped: %s", r->name,
				strerror(-rc));
			retry_free(r);
		}
	}
	return next;
}

int ctl_lambda_invoke(struct ctl_lambda *l, const char *name, const char *payload, size_t len,
		      wf_fn_done_fn done, void *arg)
{
	struct l_fn *f = l_fn_find(l, name);
	if (!f)
		return -ENOENT;
	char *env[64], logp[PATH_MAX + 64];
	struct wf_fn_def d;
	l_fn_def(l, f, &d, env, 64, logp, sizeof(logp));
	int r = wf_fn_invoke(l->rt, &d, payload, len, done, arg);
	env_free(env);
	return r;
}

int ctl_lambda_invoke_by_name(void *arg, const char *name, const char *payload, size_t len,
			      wf_fn_done_fn done, void *done_arg)
{
	return ctl_lambda_invoke(arg, name, payload, len, done, done_arg);
}

static void op_invoke(struct ctl_lambda *l, struct ctl_aws_call *c, const char *name)
{
	struct l_fn *f = fn_arg(l, c, name);
	if (!f)
		return;
	const char *type = ctl_aws_header(c, "X-Amz-Invocation-Type");
	const char *logt = ctl_aws_header(c, "X-Amz-Log-Type");
	if (!type)
		type = "RequestResponse";
	bool event = strcmp(type, "Event") == 0, dry = strcmp(type, "DryRun") == 0;
	if (!event && !dry && strcmp(type, "RequestResponse") != 0) {
		l_err(c, 400, "InvalidParameterValueException", "X-Amz-Invocation-Type %.40s: "
		      "expected RequestResponse, Event or DryRun", type);
		return;
	}
	size_t len;
	const char *body = ctl_aws_body(c, &len);
	if (len > (event ? L_ASYNC_PAYLOAD_MAX : L_SYNC_PAYLOAD_MAX)) {
		l_err(c, 413, "RequestTooLargeException", "Request must be smaller than %u bytes "
		      "for the %s operation", event ? L_ASYNC_PAYLOAD_MAX : L_SYNC_PAYLOAD_MAX,
		      "Invoke");
		return;
	}
	if (len) {
		json_error_t je;
		json_t *j = json_loadb(body, len, JSON_DECODE_ANY, &je);
		if (!j) {
			l_err(c, 400, "InvalidRequestContentException", "Could not parse request "
			      "body into json: %s at position %d", je.text, je.position);
			return;
		}
		json_decref(j);
	}
	if (dry) {
		ctl_aws_reply(c, 204, JSON_TYPE, NULL, 0, NULL);
		return;
	}
	int r;
	if (event) {
		struct l_retry *arg = calloc(1, sizeof(*arg));
		if (arg) {
			arg->l = l;
			snprintf(arg->name, sizeof(arg->name), "%s", f->name);
			arg->len = len;
			if (len && !(arg->payload = malloc(len))) {
				free(arg);
				arg = NULL;
			} else if (len) {
				memcpy(arg->payload, body, len);
			}
		}
		r = arg ? ctl_lambda_invoke(l, f->name, body, len, event_done, arg) : -ENOMEM;
		if (r < 0)
			retry_free(arg);
		if (r == 0) {
			ctl_aws_reply(c, 202, JSON_TYPE, NULL, 0, NULL);
			return;
		}
	} else {
		struct l_inv *inv = calloc(1, sizeof(*inv));
		if (!inv) {
			l_err(c, 500, "ServiceException", "out of memory");
			return;
		}
		inv->c = c;
		inv->tail = logt && strcmp(logt, "Tail") == 0;
		r = ctl_lambda_invoke(l, f->name, body, len, inv_done, inv);
		if (r == 0) {
			ctl_aws_set_state(c, inv, inv_state_free);
			ctl_aws_defer(c);
			return;
		}
		free(inv);
	}
	if (r == -EAGAIN)
		l_err(c, 429, "TooManyRequestsException", "Rate Exceeded.");
	else
		l_err(c, 500, "ServiceException", "cannot invoke %s: %s", f->name, strerror(-r));
}

/* ---- routing --------------------------------------------------------------------------------- */

static bool rest_match(void *svc, const char *method, const char *path)
{
	(void)svc;
	(void)method;
	return strncmp(path, API_PREFIX "functions", strlen(API_PREFIX "functions")) == 0 ||
	       strncmp(path, API_PREFIX "event-source-mappings",
		       strlen(API_PREFIX "event-source-mappings")) == 0;
}

/* Split the path after the API prefix into at most 4 decoded segments. Returns the count, or
 * -1 when a segment is too long. */
static int split_path(const char *path, char seg[4][L_ARN_MAX])
{
	const char *p = path + strlen(API_PREFIX);
	int n = 0;
	while (*p && n < 4) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (len >= L_ARN_MAX)
			return -1;
		if (len) {
			memcpy(seg[n], p, len);
			seg[n][len] = '\0';
			MHD_http_unescape(seg[n]);
			n++;
		}
		if (!slash)
			break;
		p = slash + 1;
	}
	return *p && n == 4 && strchr(p, '/') ? -1 : n;
}

static void rest_fn(void *svc, struct ctl_aws_call *c)
{
	struct ctl_lambda *l = svc;
	const char *m = ctl_aws_method(c);
	char seg[4][L_ARN_MAX];
	int n = split_path(ctl_aws_path(c), seg);
	bool get = strcmp(m, "GET") == 0, post = strcmp(m, "POST") == 0,
	     put = strcmp(m, "PUT") == 0, del = strcmp(m, "DELETE") == 0;
	if (n >= 1 && strcmp(seg[0], "functions") == 0) {
		if (n == 1 && post)
			return op_create(l, c);
		if (n == 1 && get)
			return op_list(l, c);
		if (n == 2 && get)
			return op_get(l, c, seg[1], false);
		if (n == 2 && del)
			return op_delete(l, c, seg[1]);
		if (n == 3 && get && strcmp(seg[2], "configuration") == 0)
			return op_get(l, c, seg[1], true);
		if (n == 3 && put && strcmp(seg[2], "configuration") == 0)
			return op_update_config(l, c, seg[1]);
		if (n == 3 && put && strcmp(seg[2], "code") == 0)
			return op_update_code(l, c, seg[1]);
		if (n == 3 && post && strcmp(seg[2], "invocations") == 0)
			return op_invoke(l, c, seg[1]);
	} else if (n >= 1 && strcmp(seg[0], "event-source-mappings") == 0) {
		if (n == 1 && post)
			return l_esm_op_create(l, c);
		if (n == 1 && get)
			return l_esm_op_list(l, c);
		if (n == 2 && get)
			return l_esm_op_get(l, c, seg[1]);
		if (n == 2 && del)
			return l_esm_op_delete(l, c, seg[1]);
	}
	l_err(c, 404, "UnknownOperationException", "Unknown operation %s %.200s", m,
	      ctl_aws_path(c));
}

/* The front-end's own refusals (a bad signature, an oversize body) in Lambda's shape. */
static void rest_error(void *svc, struct ctl_aws_call *c, unsigned status, const char *code,
		       const char *message)
{
	(void)svc;
	l_err(c, status, code, "%s", message);
}

int ctl_lambda_register(struct ctl_lambda *l, struct ctl_aws *aws)
{
	struct ctl_aws_rest r = { .name = "lambda", .match = rest_match, .fn = rest_fn, .svc = l,
				  .error = rest_error };
	return ctl_aws_register_rest(aws, &r);
}

/* ---- the module ------------------------------------------------------------------------------ */

static void wake(void *arg)
{
	ctl_loop_wake(arg);
}

static int64_t tick(void *arg, int64_t now_ms)
{
	struct ctl_lambda *l = arg;
	wf_fn_runtime_poll(l->rt);
	l_kin_reap(l);
	int64_t next = l_esm_tick(l, now_ms);
	/* Results may have come in while the mappings ran. */
	wf_fn_runtime_poll(l->rt);
	l_kin_reap(l);
	/* Last, so that a retry scheduled by a result above is counted in the next wake. */
	int64_t retry = retries_run(l, now_ms);
	return retry < next ? retry : next;
}

int ctl_lambda_new(const struct ctl_lambda_config *cfg, struct ctl_meta *meta, struct ctl_aws *aws,
		   struct ctl_loop *loop, struct ctl_lambda **ret)
{
	struct ctl_lambda *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->cfg = *cfg;
	if (!l->cfg.poll_ms)
		l->cfg.poll_ms = 250;
	if (!l->cfg.event_retry_ms)
		l->cfg.event_retry_ms = 60000;
	snprintf(l->data_dir, sizeof(l->data_dir), "%s", cfg->data_dir ? cfg->data_dir : ".");
	snprintf(l->account, sizeof(l->account), "%s", cfg->account_id ? cfg->account_id
								  : "000000000000");
	snprintf(l->region, sizeof(l->region), "%s", cfg->region ? cfg->region : "us-east-1");
	l->meta = meta;
	l->aws = aws;
	l->loop = loop;
	int r = ctl_meta_schema(meta, "lambda", 1, schema_steps);
	if (r < 0)
		goto fail;
	struct wf_fn_config fc = { .workers = cfg->workers, .wake = wake, .wake_arg = loop };
	r = wf_fn_runtime_new(&fc, &l->rt);
	if (r < 0) {
		ctl_log(CTL_LOG_ERR, "lambda: cannot start the function runtime: %s", strerror(-r));
		goto fail;
	}
	if ((r = l_builtins_register(l)) < 0 || (r = fns_load(l)) < 0 || (r = l_esm_load(l)) < 0)
		goto fail;
	if ((r = ctl_loop_add_tick(loop, "lambda", tick, l)) < 0) {
		ctl_log(CTL_LOG_ERR, "lambda: cannot register with the event loop: %s",
			strerror(-r));
		goto fail;
	}
	*ret = l;
	return 0;
fail:
	ctl_lambda_free(l);
	return r;
}

void ctl_lambda_free(struct ctl_lambda *l)
{
	if (!l)
		return;
	wf_fn_runtime_free(l->rt);
	l_kin_free_all(l);
	for (struct l_retry *r = l->retries, *n; r; r = n) {
		n = r->next;
		retry_free(r);
	}
	for (unsigned i = 0; i < l->n_fns; i++)
		fn_free(l->fns[i]);
	free(l->fns);
	for (struct l_esm *e = l->esms, *n; e; e = n) {
		n = e->next;
		l_esm_free(e);
	}
	for (struct l_esm *e = l->graveyard, *n; e; e = n) {
		n = e->next;
		l_esm_free(e);
	}
	free(l);
}

struct wf_fn_runtime *ctl_lambda_runtime(struct ctl_lambda *l)
{
	return l->rt;
}

int ctl_lambda_log_tail(struct ctl_lambda *l, const char *name, size_t max, char **out,
			size_t *len)
{
	struct l_fn *f = l_fn_find(l, name);
	if (!f)
		return -ENOENT;
	char path[PATH_MAX + 64];
	pathf(path, sizeof(path), "%s/functions/%s/log", l->data_dir, f->name);
	*out = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*out = strdup("");
		return *out ? 0 : -ENOMEM;
	}
	struct stat st;
	fstat(fd, &st);
	size_t size = (size_t)st.st_size, n = size > max ? max : size;
	char *buf = malloc(n + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	ssize_t got = pread(fd, buf, n, (off_t)(size - n));
	close(fd);
	buf[got > 0 ? got : 0] = '\0';
	*out = buf;
	*len = got > 0 ? (size_t)got : 0;
	return 0;
}

void ctl_lambda_counts(const struct ctl_lambda *l, unsigned *functions, unsigned *mappings,
		       uint64_t *mapped_records)
{
	*functions = l->n_fns;
	unsigned m = 0;
	uint64_t recs = 0;
	for (const struct l_esm *e = l->esms; e; e = e->next) {
		m++;
		recs += e->records_done;
	}
	*mappings = m;
	*mapped_records = recs;
}
