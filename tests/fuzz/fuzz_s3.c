/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the S3 view's request decoding and the service behind it. The input is
 * four lines: method, raw path, raw query, Range header (missing lines are empty).
 *
 * The decoders are checked against what they promise: a key ctl_s3_key_check accepts has no
 * "." or ".." segment, no leading '/', no empty or dot segment and is UTF-8; an accepted Range
 * lies inside the object; a continuation token decodes to what was encoded. Then the request
 * runs through ctl_aws_invoke over a scratch tree whose bucket holds a symlink and a hard-to-
 * reach directory pointing at a file outside the root: every request is answered exactly once,
 * never with a 500, and no answer ever carries the outside file's bytes (unless the request
 * itself quoted them: error documents repeat the method and path). A violated property
 * calls abort(), which libFuzzer reports with the input.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl_s3.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PROPERTY(cond) do { if (!(cond)) abort(); } while (0)
#define SECRET "SECRET-OUTSIDE-THE-ROOT"

static struct {
	char dir[64];
	char root[96];
	struct ctl_aws *aws;
	struct ctl_s3 *s3;
} F;

static void cleanup(void)
{
	ctl_s3_free(F.s3);
	ctl_aws_free(F.aws);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", F.dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_s3: could not remove %s\n", F.dir);
}

static void write_file(const char *rel, const char *text)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", F.dir, rel);
	FILE *f = fopen(p, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
}

static void setup(void)
{
	if (F.aws)
		return;
	snprintf(F.dir, sizeof(F.dir), "/tmp/fuzz_s3_XXXXXX");
	if (!mkdtemp(F.dir))
		abort();
	snprintf(F.root, sizeof(F.root), "%s/root", F.dir);
	char p[256], t[256];
	const char *dirs[] = { "root", "root/logs", "root/logs/2026", "root/logs/.tmp", "outside" };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", F.dir, dirs[i]);
		mkdir(p, 0755);
	}
	write_file("outside/secret", SECRET);
	write_file("root/logs/a.txt", "alpha");
	write_file("root/logs/2026/b.bin", "0123456789");
	write_file("root/logs/.tmp/c", SECRET);
	snprintf(p, sizeof(p), "%s/outside/secret", F.dir);
	snprintf(t, sizeof(t), "%s/logs/link", F.root);
	if (symlink(p, t) < 0)
		abort();
	snprintf(p, sizeof(p), "%s/outside", F.dir);
	snprintf(t, sizeof(t), "%s/logs/2026/up", F.root);
	if (symlink(p, t) < 0)
		abort();
	struct ctl_aws_config cfg = { 0 };
	if (ctl_aws_new(&cfg, &F.aws) < 0 || ctl_s3_new(F.root, &F.s3) < 0 ||
	    ctl_s3_register(F.s3, F.aws) < 0)
		abort();
	atexit(cleanup);
}

struct answer {
	int count;
	unsigned status;
	bool s3;  /* the S3 service took the request: errors are its XML */
	bool echo_ok;  /* the input itself holds the secret's text (answers may quote it) */
};

static void collect(void *arg, unsigned status, const char *ctype, char *body, size_t len,
		    const char *rid, const char *const *headers)
{
	struct answer *a = arg;
	(void)ctype;
	(void)rid;
	(void)headers;
	a->count++;
	a->status = status;
	PROPERTY(a->echo_ok || !body || !memmem(body, len, SECRET, strlen(SECRET)));
	if (a->s3 && status >= 300 && status != 304 && len)
		PROPERTY(len > 5 && memcmp(body, "<?xml", 5) == 0);
	free(body);
}

static void check_decoders(const char *path, const char *query, const char *range,
			   const uint8_t *data, size_t size)
{
	struct ctl_s3_target t;
	int r = ctl_s3_target_parse(path, &t);
	PROPERTY(r == 0 || r == -EINVAL || r == -EBADR || r == -ENAMETOOLONG);
	if (r == 0) {
		PROPERTY(t.key_len <= CTL_S3_MAX_KEY && strlen(t.key) == t.key_len);
		PROPERTY(!t.bucket[0] || ctl_s3_bucket_valid(t.bucket, strlen(t.bucket)));
		int k = ctl_s3_key_check(t.key, t.key_len);
		PROPERTY(k == 0 || k == -EPERM || k == -ENOENT);
		if (k == 0) {
			PROPERTY(t.key[0] != '/' && ctl_s3_utf8_valid(t.key, t.key_len));
			for (const char *s = t.key; s;) {
				const char *e = strchr(s, '/');
				size_t sl = e ? (size_t)(e - s) : strlen(s);
				PROPERTY(sl > 0 && s[0] != '.');
				s = e ? e + 1 : NULL;
			}
			/* A servable key round-trips through a continuation token. */
			char tok[2 * CTL_S3_MAX_KEY], back[CTL_S3_MAX_KEY + 1];
			bool pfx;
			PROPERTY(ctl_s3_token_encode(t.key, t.key_len, true, tok, sizeof(tok)) == 0);
			PROPERTY(ctl_s3_token_decode(tok, back, sizeof(back), &pfx) == 0);
			PROPERTY(pfx && strcmp(back, t.key) == 0);
		}
	}
	char v[CTL_S3_MAX_KEY + 1];
	const char *names[] = { "prefix", "delimiter", "max-keys", "continuation-token", "marker" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int q = ctl_s3_query_get(query, names[i], v, sizeof(v));
		PROPERTY(q == 0 || q == 1 || q == -EINVAL || q == -ENAMETOOLONG);
		if (q == 1)
			PROPERTY(strlen(v) <= strlen(query));
	}
	bool pfx;
	(void)ctl_s3_token_decode(query, v, sizeof(v), &pfx);
	uint64_t osize = size ? data[0] : 0, first = 0, last = 0;
	r = ctl_s3_range_parse(range, osize, &first, &last);
	PROPERTY(r == 0 || r == 1 || r == -ERANGE);
	if (r == 1)
		PROPERTY(first <= last && last < osize);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	if (size > 4096)
		return 0;
	char buf[4097];
	memcpy(buf, data, size);
	buf[size] = '\0';
	char *line[4] = { buf, "", "", "" };
	for (int i = 1; i < 4; i++) {
		char *nl = strchr(line[i - 1], '\n');
		if (!nl)
			break;
		*nl = '\0';
		line[i] = nl + 1;
	}
	char *nl = strchr(line[3], '\n');
	if (nl)
		*nl = '\0';
	const char *method = line[0][0] ? line[0] : "GET";
	const char *path = line[1][0] ? line[1] : "/";
	check_decoders(path, line[2], line[3][0] ? line[3] : NULL, data, size);

	struct ctl_sigv4_header h[] = { { "Range", line[3] } };
	struct ctl_aws_request r = { .method = method, .path = path, .query = line[2], .hdrs = h,
				     .n_hdrs = line[3][0] ? 1 : 0, .body = "", .len = 0 };
	struct answer a = { 0, 0, path[0] == '/' && (path[1] || strcmp(method, "GET") == 0 ||
						    strcmp(method, "HEAD") == 0) };
	a.echo_ok = memmem(data, size, SECRET, strlen(SECRET)) != NULL;
	ctl_aws_call_free(ctl_aws_invoke(F.aws, &r, collect, &a));
	PROPERTY(a.count == 1);
	PROPERTY(a.status != 500);
	return 0;
}
