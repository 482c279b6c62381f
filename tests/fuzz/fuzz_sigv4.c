/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for ctl_sigv4's request side: the Authorization and presigned-query parsers,
 * date parsing and every canonicalisation step, all of which see client bytes unchecked.
 *
 * The input is a request in text form: the first line "METHOD path[?query]", then "Name: value"
 * header lines up to an empty line, then the body. It goes to ctl_sigv4_verify (with a key
 * source that knows every key, so that parsing reaches the signature compare), to
 * ctl_sigv4_scope_req, and each header value to ctl_sigv4_scope. Properties: the result agrees
 * with the return code (an error name, a 400/403 status and a message on -EACCES; nothing on
 * success), the scope fields are NUL-terminated within their arrays, and verify and scope agree
 * on the credential scope of an Authorization header they both accept.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PROPERTY(cond) do { if (!(cond)) abort(); } while (0)
#define MAX_HDRS 32

static const char *any_key(void *arg, const char *ak)
{
	(void)arg;
	return ak[0] == 'X' ? NULL : "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
}

static void check_result(int rc, const struct ctl_sigv4_result *res)
{
	PROPERTY(memchr(res->access_key, 0, sizeof(res->access_key)));
	PROPERTY(memchr(res->date, 0, sizeof(res->date)));
	PROPERTY(memchr(res->region, 0, sizeof(res->region)));
	PROPERTY(memchr(res->service, 0, sizeof(res->service)));
	PROPERTY(memchr(res->message, 0, sizeof(res->message)));
	if (rc == 0) {
		PROPERTY(res->code == CTL_SIGV4_OK && !res->error && res->http_status == 0);
		PROPERTY(res->access_key[0] && strlen(res->date) == 8 && res->region[0] &&
			 res->service[0]);
	} else if (rc == -EACCES || rc == -EINVAL) {
		PROPERTY(res->code != CTL_SIGV4_OK && res->error && res->message[0]);
		PROPERTY(res->http_status == 400 || res->http_status == 403);
	} else {
		PROPERTY(rc == -ENOMEM);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_sigv4_header hdrs[MAX_HDRS];
	struct ctl_sigv4_req r = { .hdrs = hdrs };
	struct ctl_sigv4_result res, scope;

	if (size > 16384)
		return 0;
	char *buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';

	/* Request line. */
	char *p = buf, *nl = strchr(p, '\n');
	if (nl)
		*nl = '\0';
	char *sp = strchr(p, ' ');
	r.method = p;
	r.path = "/";
	if (sp) {
		*sp = '\0';
		r.path = sp + 1;
		char *q = strchr(sp + 1, '?');
		if (q) {
			*q = '\0';
			r.query = q + 1;
		}
	}
	r.uri = (enum ctl_sigv4_uri)(size % 3);
	/* Headers up to an empty line; the rest (as bytes, NULs included) is the body. */
	p = nl ? nl + 1 : buf + size;
	while (p < buf + size && *p != '\n' && r.n_hdrs < MAX_HDRS) {
		nl = memchr(p, '\n', (size_t)(buf + size - p));
		if (nl)
			*nl = '\0';
		char *colon = strchr(p, ':');
		if (colon) {
			*colon = '\0';
			hdrs[r.n_hdrs].name = p;
			hdrs[r.n_hdrs++].value = colon + 1 + (colon[1] == ' ');
		}
		p = nl ? nl + 1 : buf + size;
	}
	if (p < buf + size && *p == '\n')
		p++;
	r.body = p;
	r.body_len = (size_t)(buf + size - p);

	int rc = ctl_sigv4_verify(&r, any_key, NULL, 1440938160, &res);
	PROPERTY(rc == 0 || rc == -EACCES || rc == -ENOMEM);
	check_result(rc, &res);
	int src = ctl_sigv4_scope_req(&r, &scope);
	PROPERTY(src == 0 || src == -EINVAL || src == -ENOMEM);
	check_result(src, &scope);
	/* A request that verified has a scope, and the same one. */
	if (rc == 0) {
		PROPERTY(src == 0);
		PROPERTY(strcmp(res.access_key, scope.access_key) == 0 &&
			 strcmp(res.region, scope.region) == 0 &&
			 strcmp(res.service, scope.service) == 0 && strcmp(res.date, scope.date) == 0);
	}
	for (size_t i = 0; i < r.n_hdrs; i++) {
		int hrc = ctl_sigv4_scope(hdrs[i].value, &scope);
		PROPERTY(hrc == 0 || hrc == -EINVAL || hrc == -ENOMEM);
		check_result(hrc, &scope);
	}
	free(buf);
	return 0;
}
