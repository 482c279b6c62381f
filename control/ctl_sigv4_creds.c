/* SPDX-License-Identifier: MIT */
/*
 * ctl_sigv4 credentials: the AWS shared credentials file (see ctl_sigv4.h), read once at start.
 * The grammar is the subset of Python's configparser that the AWS CLI and SDKs write and read:
 * "[name]" or "[profile name]" sections, "key = value" or "key: value" options with
 * case-insensitive keys, whole-line '#' and ';' comments, indented continuation lines. Anything
 * else is an error naming its line, so that a typo is found at start rather than as a wall of
 * InvalidSignatureException later.
 */
#include "ctl_sigv4.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

/* A credentials file is a few hundred bytes per profile; a bigger file is not one. */
#define CREDS_MAX_FILE (1u << 20)
/* AWS access key ids are 16 to 128 characters; secrets are 40, allow room. */
#define CREDS_MAX_KEY_ID 127
#define CREDS_MAX_SECRET 1024

struct ctl_sigv4_key {
	char *id, *secret;
};

struct ctl_sigv4_creds {
	struct ctl_sigv4_key *keys;
	size_t n, cap;
};

__attribute__((format(printf, 4, 5)))
static int creds_err(char *err, size_t errlen, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int w = 0;

	if (!err || !errlen)
		return -EINVAL;
	if (line)
		w = snprintf(err, errlen, "line %u: ", line);
	if (w < 0 || (size_t)w >= errlen)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(err + w, errlen - (size_t)w, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static void key_wipe(struct ctl_sigv4_key *k)
{
	if (k->secret)
		OPENSSL_cleanse(k->secret, strlen(k->secret));
	free(k->secret);
	free(k->id);
	k->id = k->secret = NULL;
}

void ctl_sigv4_creds_free(struct ctl_sigv4_creds *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		key_wipe(&c->keys[i]);
	free(c->keys);
	free(c);
}

size_t ctl_sigv4_creds_count(const struct ctl_sigv4_creds *c)
{
	return c ? c->n : 0;
}

const char *ctl_sigv4_creds_secret(void *creds, const char *access_key)
{
	const struct ctl_sigv4_creds *c = creds;

	if (!c || !access_key)
		return NULL;
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->keys[i].id, access_key) == 0)
			return c->keys[i].secret;
	return NULL;
}

/* The section being read: its name and the two options that matter, with their lines. */
struct section {
	char name[64];
	unsigned line;
	char *id, *secret;
	unsigned id_line, secret_line;
};

static void section_reset(struct section *s)
{
	if (s->secret)
		OPENSSL_cleanse(s->secret, strlen(s->secret));
	free(s->id);
	free(s->secret);
	memset(s, 0, sizeof(*s));
}

/* Close section s: add its key pair to c, or say why it cannot be added. */
static int section_end(struct section *s, struct ctl_sigv4_creds *c, char *err, size_t errlen)
{
	int rc = 0;

	if (!s->line || (!s->id && !s->secret))
		goto out;
	if (!s->id || !s->secret) {
		rc = creds_err(err, errlen, s->id ? s->id_line : s->secret_line,
			       "profile [%s] has %s without %s", s->name,
			       s->id ? "aws_access_key_id" : "aws_secret_access_key",
			       s->id ? "aws_secret_access_key" : "aws_access_key_id");
		goto out;
	}
	const char *have = ctl_sigv4_creds_secret(c, s->id);
	if (have) {
		if (strcmp(have, s->secret) != 0)
			rc = creds_err(err, errlen, s->id_line,
				       "access key %s is given again with a different secret", s->id);
		goto out;
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		struct ctl_sigv4_key *k = realloc(c->keys, cap * sizeof(*k));
		if (!k) {
			rc = -ENOMEM;
			creds_err(err, errlen, 0, "out of memory");
			goto out;
		}
		c->keys = k;
		c->cap = cap;
	}
	c->keys[c->n].id = s->id;
	c->keys[c->n++].secret = s->secret;
	s->id = s->secret = NULL;
out:
	section_reset(s);
	return rc;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Trim s[0..*n) in place: returns the new start, *n the new length. */
static const char *trim(const char *s, size_t *n)
{
	while (*n && blank(*s)) {
		s++;
		(*n)--;
	}
	while (*n && blank(s[*n - 1]))
		(*n)--;
	return s;
}

/* One "key = value" line inside section s. */
static int option_line(struct section *s, const char *p, size_t n, unsigned line, char *err,
		       size_t errlen)
{
	const char *eq = NULL;

	for (size_t i = 0; i < n && !eq; i++)
		if (p[i] == '=' || p[i] == ':')
			eq = p + i;
	if (!eq)
		return creds_err(err, errlen, line, "expected 'key = value', '[profile]' or a comment");
	size_t klen = (size_t)(eq - p), vlen = n - klen - 1;
	const char *key = trim(p, &klen), *val = trim(eq + 1, &vlen);
	if (!klen)
		return creds_err(err, errlen, line, "option without a name");
	if (!s->line)
		return creds_err(err, errlen, line, "option before the first [profile] line");

	char **slot = NULL;
	unsigned *slot_line = NULL;
	size_t max = 0;
	if (klen == 17 && strncasecmp(key, "aws_access_key_id", 17) == 0) {
		slot = &s->id;
		slot_line = &s->id_line;
		max = CREDS_MAX_KEY_ID;
	} else if (klen == 21 && strncasecmp(key, "aws_secret_access_key", 21) == 0) {
		slot = &s->secret;
		slot_line = &s->secret_line;
		max = CREDS_MAX_SECRET;
	}
	if (!slot)
		return 0;
	if (*slot)
		return creds_err(err, errlen, line, "%.*s is given twice in profile [%s]", (int)klen,
				 key, s->name);
	if (!vlen || vlen > max)
		return creds_err(err, errlen, line, "%.*s must have 1 to %zu characters", (int)klen,
				 key, max);
	for (size_t i = 0; i < vlen; i++)
		if ((unsigned char)val[i] <= ' ' || (unsigned char)val[i] == 0x7f)
			return creds_err(err, errlen, line,
					 "%.*s has a space or control character", (int)klen, key);
	*slot = strndup(val, vlen);
	if (!*slot) {
		creds_err(err, errlen, line, "out of memory");
		return -ENOMEM;
	}
	*slot_line = line;
	return 0;
}

int ctl_sigv4_creds_parse(const char *text, size_t len, struct ctl_sigv4_creds **ret, char *err,
			  size_t errlen)
{
	struct ctl_sigv4_creds *c = calloc(1, sizeof(*c));
	struct section s = { 0 };
	bool after_option = false;
	unsigned line = 0;
	int rc = 0;

	if (!c) {
		creds_err(err, errlen, 0, "out of memory");
		return -ENOMEM;
	}
	if (memchr(text, '\0', len)) {
		rc = creds_err(err, errlen, 0, "the file has a NUL byte: not a credentials file");
		goto fail;
	}
	for (size_t pos = 0; pos < len;) {
		const char *p = text + pos, *nl = memchr(p, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - p) : len - pos;
		pos += n + (nl ? 1 : 0);
		line++;
		if (n && p[n - 1] == '\r')
			n--;
		size_t tn = n;
		const char *t = trim(p, &tn);
		if (!tn || t[0] == '#' || t[0] == ';')
			continue;
		if (blank(p[0])) {
			/* configparser folds an indented line into the option above it. */
			if (!after_option) {
				rc = creds_err(err, errlen, line, "indented line without an option above it");
				goto fail;
			}
			continue;
		}
		if (t[0] == '[') {
			if (t[tn - 1] != ']') {
				rc = creds_err(err, errlen, line, "section line without a closing ']'");
				goto fail;
			}
			if ((rc = section_end(&s, c, err, errlen)) != 0)
				goto fail;
			size_t nn = tn - 2;
			const char *name = trim(t + 1, &nn);
			if (nn > 8 && strncmp(name, "profile ", 8) == 0) {
				name += 8;
				nn -= 8;
				name = trim(name, &nn);
			}
			if (!nn || nn >= sizeof(s.name) || memchr(name, '[', nn) || memchr(name, ']', nn)) {
				rc = creds_err(err, errlen, line,
					       "profile name must have 1 to %zu characters, no brackets",
					       sizeof(s.name) - 1);
				goto fail;
			}
			memcpy(s.name, name, nn);
			s.name[nn] = '\0';
			s.line = line;
			after_option = false;
			continue;
		}
		if ((rc = option_line(&s, t, tn, line, err, errlen)) != 0)
			goto fail;
		after_option = true;
	}
	if ((rc = section_end(&s, c, err, errlen)) != 0)
		goto fail;
	if (!c->n) {
		rc = creds_err(err, errlen, 0,
			       "no profile has both aws_access_key_id and aws_secret_access_key");
		goto fail;
	}
	*ret = c;
	return 0;
fail:
	section_reset(&s);
	ctl_sigv4_creds_free(c);
	return rc;
}

int ctl_sigv4_creds_load(const char *path, struct ctl_sigv4_creds **ret, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL, sub[256];
	size_t got = 0;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > CREDS_MAX_FILE) {
		rc = S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
		snprintf(err, errlen, "%s: %s", path,
			 rc == -EFBIG ? "over 1 MiB, not a credentials file" : "not a regular file");
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			snprintf(err, errlen, "%s: %s", path, strerror(-rc));
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	rc = ctl_sigv4_creds_parse(buf, got, ret, sub, sizeof(sub));
	if (rc)
		snprintf(err, errlen, "%s: %s", path, sub);
out:
	if (buf) {
		OPENSSL_cleanse(buf, got);
		free(buf);
	}
	close(fd);
	return rc;
}
