/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for ctl_sigv4: AWS's SigV4 test suite (canonical requests and signatures, header
 * and presigned forms), requests signed by botocore, the error for every one-byte change and
 * for each malformed Authorization, clock skew, and the credentials file parser.
 */
#include "ctl_sigv4.h"
#include "ctl_sigv4_internal.h"

#include <errno.h>
#include <ctype.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "dp_test.h"
#include "sigv4_vectors.h"

#define AKID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define T_2015 INT64_C(1440938160) /* 2015-08-30T12:36:00Z */

static const char *secret_fn(void *arg, const char *ak)
{
	(void)arg;
	if (strcmp(ak, AKID) == 0)
		return SECRET;
	if (strcmp(ak, "AKIAIOSFODNN7EXAMPLE") == 0)
		return "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
	return NULL;
}

/* A request parsed from the suite's text form, with storage it owns. */
#define MAX_HDRS 16
struct treq {
	char buf[4096];
	struct ctl_sigv4_header hdrs[MAX_HDRS];
	struct ctl_sigv4_req r;
};

/*
 * "METHOD target HTTP/1.1\nName:value\n  continuation\n...\n\nbody". The target may hold a
 * space (the suite's get-space cases), so the version is the last word of the line.
 */
static int treq_parse(struct treq *t, const char *text)
{
	memset(t, 0, sizeof(*t));
	if (strlen(text) >= sizeof(t->buf))
		return -1;
	strcpy(t->buf, text);
	char *line_end = strchr(t->buf, '\n');
	if (!line_end)
		return -1;
	*line_end = '\0';
	char *sp1 = strchr(t->buf, ' '), *sp2 = strrchr(t->buf, ' ');
	if (!sp1 || sp1 == sp2)
		return -1;
	*sp1 = *sp2 = '\0';
	t->r.method = t->buf;
	t->r.path = sp1 + 1;
	char *q = strchr(sp1 + 1, '?');
	if (q) {
		*q = '\0';
		t->r.query = q + 1;
	}
	char *p = line_end + 1;
	while (*p && *p != '\n') {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		if (*p == ' ' || *p == '\t') {
			/* Continuation: joined to the value above with the line break kept. */
			if (!t->r.n_hdrs)
				return -1;
			char *prev_end = (char *)t->hdrs[t->r.n_hdrs - 1].value;
			prev_end += strlen(prev_end);
			*prev_end = '\n';
		} else {
			char *colon = strchr(p, ':');
			if (!colon || t->r.n_hdrs == MAX_HDRS)
				return -1;
			*colon = '\0';
			t->hdrs[t->r.n_hdrs].name = p;
			t->hdrs[t->r.n_hdrs++].value = colon + 1;
		}
		if (!nl)
			return -1;
		p = nl + 1;
	}
	if (*p == '\n')
		p++;
	t->r.body = p;
	t->r.body_len = strlen(p);
	t->r.hdrs = t->hdrs;
	return 0;
}

/* Header i's value, replaceable: tests point hdrs[i].value at their own strings. */
static int treq_find(const struct treq *t, const char *name)
{
	for (size_t i = 0; i < t->r.n_hdrs; i++)
		if (strcasecmp(t->hdrs[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int verify(const struct treq *t, int64_t now, struct ctl_sigv4_result *res)
{
	return ctl_sigv4_verify(&t->r, secret_fn, NULL, now, res);
}

/*
 * Sign t's request with its current Authorization's scope and signed headers and write the
 * signature into sig_out: the test's own signer, for requests the suite has no case for. It
 * uses the module's canonical request (checked against AWS's above) and libcrypto's HMAC.
 */
static int sign_hex(const struct treq *t, const char *secret, const char *ts, char sig_out[65])
{
	struct ctl_sigv4_result res;
	char *creq = NULL, sts[512], key[128];
	uint8_t h[32], k[32];
	unsigned int len;

	if (ctl_sigv4_canonical_request(&t->r, false, &creq, &res) != 0)
		return -1;
	EVP_Digest(creq, strlen(creq), h, &len, EVP_sha256(), NULL);
	free(creq);
	char hh[65];
	for (int i = 0; i < 32; i++)
		sprintf(hh + 2 * i, "%02x", h[i]);
	snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", ts, res.date,
		 res.region, res.service, hh);
	snprintf(key, sizeof(key), "AWS4%s", secret);
	HMAC(EVP_sha256(), key, (int)strlen(key), (const uint8_t *)res.date, strlen(res.date), k, &len);
	HMAC(EVP_sha256(), k, 32, (const uint8_t *)res.region, strlen(res.region), k, &len);
	HMAC(EVP_sha256(), k, 32, (const uint8_t *)res.service, strlen(res.service), k, &len);
	HMAC(EVP_sha256(), k, 32, (const uint8_t *)"aws4_request", 12, k, &len);
	HMAC(EVP_sha256(), k, 32, (const uint8_t *)sts, strlen(sts), h, &len);
	for (int i = 0; i < 32; i++)
		sprintf(sig_out + 2 * i, "%02x", h[i]);
	return 0;
}

/* Build "AWS4-HMAC-SHA256 Credential=<cred>, SignedHeaders=<sh>, Signature=<sig>". */
static void make_auth(char *out, size_t n, const char *cred, const char *sh, const char *sig)
{
	snprintf(out, n, "AWS4-HMAC-SHA256 Credential=%s, SignedHeaders=%s, Signature=%s", cred, sh,
		 sig);
}

/* Re-sign t (header form) in place: its Authorization header then points at auth (256+ bytes). */
static int resign(struct treq *t, const char *cred, const char *sh, const char *ts, char *auth,
		  size_t authlen)
{
	char sig[65];
	int ai = treq_find(t, "authorization");

	if (ai < 0)
		return -1;
	make_auth(auth, authlen, cred, sh, "0000000000000000000000000000000000000000000000000000000000000000");
	t->hdrs[ai].value = auth;
	if (sign_hex(t, SECRET, ts, sig) != 0)
		return -1;
	make_auth(auth, authlen, cred, sh, sig);
	return 0;
}

static void test_sigv4_suite_header_form(void)
{
	size_t n = sizeof(sigv4_vectors) / sizeof(sigv4_vectors[0]);
	struct treq t;
	struct ctl_sigv4_result res;

	CHECK(n >= 37);
	for (size_t i = 0; i < n; i++) {
		const struct sigv4_vector *v = &sigv4_vectors[i];
		REQUIRE(treq_parse(&t, v->header_req) == 0);
		t.r.uri = v->normalize ? CTL_SIGV4_URI_AUTO : CTL_SIGV4_URI_RAW;
		char *creq = NULL;
		int rc = ctl_sigv4_canonical_request(&t.r, false, &creq, &res);
		CHECK_EQ(rc, 0);
		if (rc == 0) {
			if (strcmp(creq, v->header_creq) != 0)
				printf("# %s: canonical request\n%s\n# expected\n%s\n", v->name, creq,
				       v->header_creq);
			CHECK_STR(creq, v->header_creq);
		}
		free(creq);
		rc = verify(&t, T_2015, &res);
		if (rc)
			printf("# %s: %s %s\n", v->name, res.error, res.message);
		CHECK_EQ(rc, 0);
		CHECK_EQ(res.code, CTL_SIGV4_OK);
		CHECK(res.error == NULL);
		CHECK_STR(res.access_key, AKID);
		CHECK_STR(res.date, "20150830");
		CHECK_STR(res.region, "us-east-1");
		CHECK_STR(res.service, "service");
		CHECK_EQ(res.presigned, 0);
	}
}

static void test_sigv4_suite_query_form(void)
{
	size_t n = sizeof(sigv4_vectors) / sizeof(sigv4_vectors[0]);
	struct treq t;
	struct ctl_sigv4_result res;

	for (size_t i = 0; i < n; i++) {
		const struct sigv4_vector *v = &sigv4_vectors[i];
		REQUIRE(treq_parse(&t, v->query_req) == 0);
		t.r.uri = v->normalize ? CTL_SIGV4_URI_AUTO : CTL_SIGV4_URI_RAW;
		char *creq = NULL;
		int rc = ctl_sigv4_canonical_request(&t.r, false, &creq, &res);
		CHECK_EQ(rc, 0);
		if (rc == 0 && v->query_creq && strcmp(creq, v->query_creq) != 0) {
			/* post-sts-header-after: the token was added to the URL after signing. */
			char *alt = NULL;
			if (ctl_sigv4_canonical_request(&t.r, true, &alt, &res) == 0) {
				free(creq);
				creq = alt;
			}
		}
		if (rc == 0 && v->query_creq) {
			if (strcmp(creq, v->query_creq) != 0)
				printf("# %s: canonical request\n%s\n# expected\n%s\n", v->name, creq,
				       v->query_creq);
			CHECK_STR(creq, v->query_creq);
		}
		free(creq);
		rc = verify(&t, T_2015 + 3600, &res);
		if (rc)
			printf("# %s: %s %s\n", v->name, res.error, res.message);
		CHECK_EQ(rc, 0);
		CHECK_EQ(res.presigned, 1);
		CHECK_STR(res.region, "us-east-1");
		/* Any other signature, even one hex digit off, fails. */
		char q[2048];
		snprintf(q, sizeof(q), "%s", t.r.query);
		char *sig = strstr(q, "X-Amz-Signature=") + 16;
		for (size_t k = 0; k < 64; k += 7) {
			sig[k] = sig[k] == '0' ? '1' : '0';
			const char *orig = t.r.query;
			t.r.query = q;
			CHECK_EQ(verify(&t, T_2015, &res), -EACCES);
			CHECK_EQ(res.code, CTL_SIGV4_ERR_MISMATCH);
			t.r.query = orig;
			sig[k] = sig[k] == '0' ? '1' : '0';
		}
		/* One second past X-Amz-Expires=3600 the link is dead. */
		CHECK_EQ(verify(&t, T_2015 + 3601, &res), -EACCES);
		CHECK_EQ(res.code, CTL_SIGV4_ERR_EXPIRED);
		CHECK_STR(res.message, "Request has expired");
	}
}

/* Every one-byte change of the signature, a signed header, the path, query or method fails. */
static void test_sigv4_one_byte_changes_fail(void)
{
	size_t n = sizeof(sigv4_vectors) / sizeof(sigv4_vectors[0]);
	struct treq t;
	struct ctl_sigv4_result res;
	char buf[1024];

	for (size_t i = 0; i < n; i++) {
		const struct sigv4_vector *v = &sigv4_vectors[i];
		REQUIRE(treq_parse(&t, v->header_req) == 0);
		t.r.uri = v->normalize ? CTL_SIGV4_URI_AUTO : CTL_SIGV4_URI_RAW;
		int ai = treq_find(&t, "authorization");
		REQUIRE(ai >= 0);
		const char *auth = t.hdrs[ai].value;
		const char *sig = strstr(auth, "Signature=") + 10;
		/* Signature: every position, each replaced by another hex digit. */
		for (size_t k = 0; k < 64; k++) {
			snprintf(buf, sizeof(buf), "%s", auth);
			char *c = buf + (sig - auth) + k;
			*c = *c == '0' ? '1' : '0';
			t.hdrs[ai].value = buf;
			CHECK_EQ(verify(&t, T_2015, &res), -EACCES);
			CHECK_EQ(res.code, CTL_SIGV4_ERR_MISMATCH);
			CHECK_STR(res.error, "InvalidSignatureException");
			CHECK_EQ(res.http_status, 400);
		}
		t.hdrs[ai].value = auth;
		/* Each signed header but the date: one byte of its value changed. */
		for (size_t h = 0; h < t.r.n_hdrs; h++) {
			const char *name = t.hdrs[h].name, *val = t.hdrs[h].value;
			char lname[64];
			snprintf(lname, sizeof(lname), ";%s;", name);
			for (char *c = lname; *c; c++)
				*c = (char)tolower((unsigned char)*c);
			char sh[256];
			const char *shp = strstr(auth, "SignedHeaders=") + 14;
			snprintf(sh, sizeof(sh), ";%.*s;", (int)strcspn(shp, ","), shp);
			if (!strstr(sh, lname) || strcasecmp(name, "x-amz-date") == 0)
				continue;
			if (strcasecmp(name, "x-amz-content-sha256") == 0)
				continue; /* checked against the body: its own test below */
			snprintf(buf, sizeof(buf), "%s", val);
			size_t pos = strspn(buf, " ");
			buf[pos] = buf[pos] == 'x' ? 'y' : 'x';
			t.hdrs[h].value = buf;
			CHECK_EQ(verify(&t, T_2015, &res), -EACCES);
			CHECK_EQ(res.code, CTL_SIGV4_ERR_MISMATCH);
			t.hdrs[h].value = val;
		}
		/* Method, path and query. */
		const char *m = t.r.method, *path = t.r.path, *q = t.r.query;
		t.r.method = strcmp(m, "GET") == 0 ? "PUT" : "GET";
		CHECK_EQ(verify(&t, T_2015, &res), -EACCES);
		CHECK_EQ(res.code, CTL_SIGV4_ERR_MISMATCH);
		t.r.method = m;
		snprintf(buf, sizeof(buf), "%sx", path);
		t.r.path = buf;
		CHECK_EQ(verify(&t, T_2015, &res), -EACCES);
		CHECK_EQ(res.code, CTL_SIGV4_ERR_MISMATCH);
		t.r.path = path;
		snprintf(buf, sizeof(buf), "%s%sx=1", q ? q : "", q ? "&" : "");
		t.r.query = buf;
		CHECK_EQ(verify(&t, T_2015, &res), -EACCES);
		CHECK_EQ(res.code, CTL_SIGV4_ERR_MISMATCH);
		t.r.query = q;
		/* The date one second later, same day: still within the skew, signature wrong. */
		int di = treq_find(&t, "x-amz-date");
		REQUIRE(di >= 0);
		t.hdrs[di].value = "20150830T123601Z";
		CHECK_EQ(verify(&t, T_2015, &res), -EACCES);
		CHECK_EQ(res.code, CTL_SIGV4_ERR_MISMATCH);
		/* And back: the untouched request still verifies. */
		REQUIRE(treq_parse(&t, v->header_req) == 0);
		t.r.uri = v->normalize ? CTL_SIGV4_URI_AUTO : CTL_SIGV4_URI_RAW;
		CHECK_EQ(verify(&t, T_2015, &res), 0);
	}
}

static const struct sigv4_vector *vector(const char *name)
{
	for (size_t i = 0; i < sizeof(sigv4_vectors) / sizeof(sigv4_vectors[0]); i++)
		if (strcmp(sigv4_vectors[i].name, name) == 0)
			return &sigv4_vectors[i];
	return NULL;
}

static void test_sigv4_body_changes_fail(void)
{
	struct treq t;
	struct ctl_sigv4_result res;
	char body[64];

	/* post-x-www-form-urlencoded sends x-amz-content-sha256: a changed body contradicts it. */
	REQUIRE(treq_parse(&t, vector("post-x-www-form-urlencoded")->header_req) == 0);
	CHECK_EQ(verify(&t, T_2015, &res), 0);
	for (size_t k = 0; k < t.r.body_len; k++) {
		memcpy(body, t.r.body, t.r.body_len);
		body[k] ^= 1;
		const void *old = t.r.body;
		t.r.body = body;
		CHECK_EQ(verify(&t, T_2015, &res), -EACCES);
		CHECK_EQ(res.code, CTL_SIGV4_ERR_PAYLOAD_MISMATCH);
		t.r.body = old;
	}
	/* A changed x-amz-content-sha256 (matching the body or not) breaks the signature. */
	int hi = treq_find(&t, "x-amz-content-sha256");
	REQUIRE(hi >= 0);
	t.hdrs[hi].value = "UNSIGNED-PAYLOAD";
	CHECK_EQ(verify(&t, T_2015, &res), -EACCES);
	CHECK_EQ(res.code, CTL_SIGV4_ERR_MISMATCH);
	t.hdrs[hi].value = "not-a-hash";
	CHECK_EQ(verify(&t, T_2015, &res), -EACCES);
	CHECK_EQ(res.code, CTL_SIGV4_ERR_INCOMPLETE);

	/* post-vanilla has no such header: the body itself is hashed, so any body fails. */
	REQUIRE(treq_parse(&t, vector("post-vanilla")->header_req) == 0);
	CHECK_EQ(verify(&t, T_2015, &res), 0);
	t.r.body = "x";
	t.r.body_len = 1;
	CHECK_EQ(verify(&t, T_2015, &res), -EACCES);
	CHECK_EQ(res.code, CTL_SIGV4_ERR_MISMATCH);
}

/* Headers outside SignedHeaders may change; the suite's post-sts-header-after relies on it. */
static void test_sigv4_unsigned_headers_free(void)
{
	struct treq t;
	struct ctl_sigv4_result res;

	REQUIRE(treq_parse(&t, vector("get-vanilla")->header_req) == 0);
	t.hdrs[t.r.n_hdrs].name = "User-Agent";
	t.hdrs[t.r.n_hdrs++].value = "anything at all";
	CHECK_EQ(verify(&t, T_2015, &res), 0);
}

static void test_sigv4_clock_skew(void)
{
	struct treq t;
	struct ctl_sigv4_result res;

	REQUIRE(treq_parse(&t, vector("get-vanilla")->header_req) == 0);
	CHECK_EQ(verify(&t, T_2015 + 900, &res), 0);
	CHECK_EQ(verify(&t, T_2015 - 900, &res), 0);
	CHECK_EQ(verify(&t, T_2015 + 901, &res), -EACCES);
	CHECK_EQ(res.code, CTL_SIGV4_ERR_EXPIRED);
	CHECK_STR(res.error, "InvalidSignatureException");
	CHECK_EQ(res.http_status, 400);
	CHECK_STR(res.message, "Signature expired: 20150830T123600Z is now earlier than "
			       "20150830T123601Z (20150830T125101Z - 15 min.)");
	CHECK_EQ(verify(&t, T_2015 - 901, &res), -EACCES);
	CHECK_EQ(res.code, CTL_SIGV4_ERR_EXPIRED);
	CHECK_STR(res.message, "Signature not yet current: 20150830T123600Z is still later than "
			       "20150830T123559Z (20150830T122059Z + 15 min.)");
	CHECK_STR(res.region, "us-east-1");

	/* Presigned: valid from 15 minutes before X-Amz-Date to X-Amz-Expires after it. */
	REQUIRE(treq_parse(&t, vector("get-vanilla")->query_req) == 0);
	CHECK_EQ(verify(&t, T_2015 - 900, &res), 0);
	CHECK_EQ(verify(&t, T_2015 - 901, &res), -EACCES);
	CHECK_STR(res.message, "Request is not valid yet");
}

static void test_sigv4_unknown_key(void)
{
	struct treq t;
	struct ctl_sigv4_result res;
	char auth[512];

	REQUIRE(treq_parse(&t, vector("get-vanilla")->header_req) == 0);
	int ai = treq_find(&t, "authorization");
	snprintf(auth, sizeof(auth), "%s", t.hdrs[ai].value);
	memcpy(strstr(auth, "AKIDEXAMPLE"), "AKIDEXAMPLF", 11);
	t.hdrs[ai].value = auth;
	CHECK_EQ(verify(&t, T_2015, &res), -EACCES);
	CHECK_EQ(res.code, CTL_SIGV4_ERR_UNKNOWN_KEY);
	CHECK_STR(res.error, "UnrecognizedClientException");
	CHECK_STR(res.message, "The security token included in the request is invalid.");
	CHECK_STR(res.access_key, "AKIDEXAMPLF");
	/* No key source at all: every key is unknown. */
	REQUIRE(treq_parse(&t, vector("get-vanilla")->header_req) == 0);
	CHECK_EQ(ctl_sigv4_verify(&t.r, NULL, NULL, T_2015, &res), -EACCES);
	CHECK_EQ(res.code, CTL_SIGV4_ERR_UNKNOWN_KEY);
	/* A scope in another region signs a different key: the signature no longer matches. */
	memcpy(strstr(auth, "AKIDEXAMPLF"), "AKIDEXAMPLE", 11);
	memcpy(strstr(auth, "us-east-1"), "us-east-2", 9);
	t.hdrs[treq_find(&t, "authorization")].value = auth;
	CHECK_EQ(verify(&t, T_2015, &res), -EACCES);
	CHECK_EQ(res.code, CTL_SIGV4_ERR_MISMATCH);
	CHECK_STR(res.region, "us-east-2");
}

/* Malformed Authorization headers: each gets IncompleteSignatureException and says why. */
static void test_sigv4_malformed_authorization(void)
{
	static const struct {
		const char *auth, *msg;
	} bad[] = {
		{ "", "Unsupported AWS 'algorithm': ''" },
		{ "AWS4-HMAC-SHA512 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
		  "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		  "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'" },
		{ "AWS AKIDEXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=", "Unsupported AWS 'algorithm': 'AWS'" },
		{ "AWS4-HMAC-SHA256", "Authorization header requires 'Credential' parameter. "
		  "Authorization header requires 'SignedHeaders' parameter. "
		  "Authorization header requires 'Signature' parameter." },
		{ "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
		  "SignedHeaders=host;x-amz-date",
		  "Authorization header requires 'Signature' parameter." },
		{ "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
		  "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		  "Authorization header requires 'SignedHeaders' parameter." },
		{ "AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, "
		  "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		  "Authorization header requires 'Credential' parameter." },
		{ "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
		  "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf3",
		  "Signature should be 64 hexadecimal digits" },
		{ "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
		  "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf3g",
		  "Signature should be 64 hexadecimal digits" },
		{ "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
		  "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf3100",
		  "Signature should be 64 hexadecimal digits" },
		{ "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service, "
		  "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		  "Credential should be of the form" },
		{ "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request/x, "
		  "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		  "Credential should be of the form" },
		{ "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_requests, "
		  "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		  "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws4_requests'." },
		{ "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2015083/us-east-1/service/aws4_request, "
		  "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		  "Credential should be scoped to a valid date (YYYYMMDD), not '2015083'." },
		{ "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830//service/aws4_request, "
		  "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		  "Credential should be scoped to a valid region, not ''." },
		{ "AWS4-HMAC-SHA256 Credential=/20150830/us-east-1/service/aws4_request, "
		  "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		  "Credential has an empty or too long access key id." },
		{ "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
		  "SignedHeaders=x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		  "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization." },
		{ "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
		  "SignedHeaders=host;;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		  "SignedHeaders has an empty header name" },
		{ "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
		  "SignedHeaders=, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		  "SignedHeaders has an empty header name" },
		{ "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
		  "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
		  "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		  "Authorization header has 'Credential' more than once." },
		{ "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
		  "SignedHeaders, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		  "Authorization header requires each component to be of the form key=value" },
		{ "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
		  "Foo=bar, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		  "Authorization header has an unknown component 'Foo'." },
		{ "AWS4-HMAC-SHA256 ,,,,", "Authorization header requires 'Credential' parameter." },
	};
	struct treq t;
	struct ctl_sigv4_result res;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		REQUIRE(treq_parse(&t, vector("get-vanilla")->header_req) == 0);
		t.hdrs[treq_find(&t, "authorization")].value = bad[i].auth;
		int rc = verify(&t, T_2015, &res);
		CHECK_EQ(rc, -EACCES);
		CHECK_EQ(res.code, CTL_SIGV4_ERR_INCOMPLETE);
		CHECK_STR(res.error, "IncompleteSignatureException");
		CHECK_EQ(res.http_status, 400);
		if (strncmp(res.message, bad[i].msg, strlen(bad[i].msg)) != 0)
			printf("# case %zu: message \"%s\"\n", i, res.message);
		CHECK(strncmp(res.message, bad[i].msg, strlen(bad[i].msg)) == 0);
		/* The scope parser agrees with the verifier on what is malformed. */
		CHECK_EQ(ctl_sigv4_scope(bad[i].auth, &res), -EINVAL);
		CHECK_EQ(res.code, CTL_SIGV4_ERR_INCOMPLETE);
	}
}

/* SignedHeaders is capped: 64 names are fine (the signature then decides), 65 are not. */
static void test_sigv4_signed_headers_cap(void)
{
	struct treq t;
	struct ctl_sigv4_result res;
	char sh[1024] = "host", auth[1400];

	for (int i = 1; i < CTL_SIGV4_MAX_SIGNED_HEADERS; i++)
		snprintf(sh + strlen(sh), sizeof(sh) - strlen(sh), ";x-h%02d", i);
	REQUIRE(treq_parse(&t, vector("get-vanilla")->header_req) == 0);
	REQUIRE(resign(&t, AKID "/20150830/us-east-1/service/aws4_request", sh, "20150830T123600Z",
		       auth, sizeof(auth)) == 0);
	CHECK_EQ(verify(&t, T_2015, &res), 0);
	strcat(sh, ";x-last");
	make_auth(auth, sizeof(auth), AKID "/20150830/us-east-1/service/aws4_request", sh,
		  "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	CHECK_EQ(verify(&t, T_2015, &res), -EACCES);
	CHECK_EQ(res.code, CTL_SIGV4_ERR_INCOMPLETE);
	CHECK_STR(res.message, "SignedHeaders lists more than 64 headers.");
}

static void test_sigv4_missing_and_bad_dates(void)
{
	struct treq t;
	struct ctl_sigv4_result res;

	/* No Authorization and no presigned query: MissingAuthenticationTokenException. */
	REQUIRE(treq_parse(&t, "POST /?Action=x HTTP/1.1\nHost:example.amazonaws.com\n\n") == 0);
	CHECK_EQ(verify(&t, T_2015, &res), -EACCES);
	CHECK_EQ(res.code, CTL_SIGV4_ERR_MISSING);
	CHECK_STR(res.error, "MissingAuthenticationTokenException");
	CHECK_EQ(res.http_status, 403);
	CHECK_STR(res.message, "Missing Authentication Token");
	CHECK_EQ(ctl_sigv4_scope_req(&t.r, &res), -EINVAL);
	CHECK_EQ(res.code, CTL_SIGV4_ERR_MISSING);
	CHECK_EQ(ctl_sigv4_scope(NULL, &res), -EINVAL);
	CHECK_EQ(res.code, CTL_SIGV4_ERR_MISSING);

	static const struct {
		const char *date;
		enum ctl_sigv4_err code;
	} dates[] = {
		{ "20150830T123600", CTL_SIGV4_ERR_INCOMPLETE },
		{ "2015-08-30T12:36:00Z", CTL_SIGV4_ERR_INCOMPLETE },
		{ "20150830T126000Z", CTL_SIGV4_ERR_INCOMPLETE },
		{ "20150230T123600Z", CTL_SIGV4_ERR_INCOMPLETE },
		{ "2015083OT123600Z", CTL_SIGV4_ERR_INCOMPLETE },
		{ "", CTL_SIGV4_ERR_INCOMPLETE },
		/* A valid date on another day than the credential scope's. */
		{ "20150831T003600Z", CTL_SIGV4_ERR_MISMATCH },
	};
	for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
		REQUIRE(treq_parse(&t, vector("get-vanilla")->header_req) == 0);
		t.hdrs[treq_find(&t, "x-amz-date")].value = dates[i].date;
		CHECK_EQ(verify(&t, T_2015, &res), -EACCES);
		CHECK_EQ(res.code, dates[i].code);
	}
	CHECK_STR(res.message, "Date in Credential scope does not match YYYYMMDD from ISO-8601 "
			       "version of date from HTTP: '20150830' != '20150831', from "
			       "'20150831T003600Z'.");
	/* No date header at all. */
	REQUIRE(treq_parse(&t, vector("get-vanilla")->header_req) == 0);
	t.hdrs[treq_find(&t, "x-amz-date")].name = "X-Other";
	CHECK_EQ(verify(&t, T_2015, &res), -EACCES);
	CHECK_EQ(res.code, CTL_SIGV4_ERR_INCOMPLETE);
	CHECK_STR(res.message, "Authorization header requires existence of either a 'X-Amz-Date' "
			       "or a 'Date' header.");
	/* Two Authorization headers. */
	REQUIRE(treq_parse(&t, vector("get-vanilla")->header_req) == 0);
	t.hdrs[t.r.n_hdrs] = t.hdrs[treq_find(&t, "authorization")];
	t.r.n_hdrs++;
	CHECK_EQ(verify(&t, T_2015, &res), -EACCES);
	CHECK_EQ(res.code, CTL_SIGV4_ERR_INCOMPLETE);
}

/* The HTTP Date header stands in for X-Amz-Date, as AWS allows. */
static void test_sigv4_date_header(void)
{
	struct treq t;
	struct ctl_sigv4_result res;
	char auth[512];

	REQUIRE(treq_parse(&t, "GET / HTTP/1.1\nHost:example.amazonaws.com\n"
			   "Date:Sun, 30 Aug 2015 12:36:00 GMT\nAuthorization:x\n\n") == 0);
	REQUIRE(resign(&t, AKID "/20150830/us-east-1/service/aws4_request", "date;host",
		       "20150830T123600Z", auth, sizeof(auth)) == 0);
	CHECK_EQ(verify(&t, T_2015, &res), 0);
	CHECK_EQ(verify(&t, T_2015 + 901, &res), -EACCES);
	CHECK_EQ(res.code, CTL_SIGV4_ERR_EXPIRED);
	t.hdrs[treq_find(&t, "date")].value = "Sun, 30 Aug 2015 12:36:01 GMT";
	CHECK_EQ(verify(&t, T_2015, &res), -EACCES);
	CHECK_EQ(res.code, CTL_SIGV4_ERR_MISMATCH);
	t.hdrs[treq_find(&t, "date")].value = "Sunday, 30-Aug-15 12:36:00 GMT";
	CHECK_EQ(verify(&t, T_2015, &res), -EACCES);
	CHECK_EQ(res.code, CTL_SIGV4_ERR_INCOMPLETE);
	t.hdrs[treq_find(&t, "date")].value = "Sun, 30 Auh 2015 12:36:00 GMT";
	CHECK_EQ(verify(&t, T_2015, &res), -EACCES);
	CHECK_EQ(res.code, CTL_SIGV4_ERR_INCOMPLETE);
}

/*
 * Requests as botocore 1.29 signs them (SigV4Auth, S3SigV4Auth, S3SigV4QueryAuth at
 * 2026-11-27T20:00:00Z for http://127.0.0.1:4566), as they arrive at the listener.
 */
#define T_2026 INT64_C(1795809600)
static void test_sigv4_botocore_requests(void)
{
	static const char body[] = "{\"StreamName\":\"orders\",\"Data\":\"aGVsbG8=\",\"PartitionKey\":\"k1\"}";
	static const struct ctl_sigv4_header kin_h[] = {
		{ "Host", "127.0.0.1:4566" },
		{ "X-Amz-Target", "Kinesis_20131202.PutRecord" },
		{ "Content-Type", "application/x-amz-json-1.1" },
		{ "X-Amz-Date", "20261127T200000Z" },
		{ "X-Amz-Security-Token", "FwoGZXIvYXdzEXAMPLETOKEN/+=" },
		{ "Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261127/"
		  "eu-west-1/kinesis/aws4_request, SignedHeaders=content-type;host;x-amz-date;"
		  "x-amz-security-token;x-amz-target, Signature=7b17bc94d678bbd2a0d6f2d60155c457c7"
		  "19ba2e9257f0a6fdf806a2230ad650" },
	};
	struct ctl_sigv4_req kin = { "POST", "/", NULL, kin_h, 6, body, sizeof(body) - 1, 0 };
	struct ctl_sigv4_result res;

	CHECK_EQ(ctl_sigv4_verify(&kin, secret_fn, NULL, T_2026, &res), 0);
	CHECK_STR(res.region, "eu-west-1");
	CHECK_STR(res.service, "kinesis");
	CHECK_EQ(ctl_sigv4_scope(kin_h[5].value, &res), 0);
	CHECK_STR(res.access_key, "AKIAIOSFODNN7EXAMPLE");
	CHECK_STR(res.region, "eu-west-1");
	CHECK_EQ(ctl_sigv4_scope_req(&kin, &res), 0);
	CHECK_STR(res.region, "eu-west-1");
	kin.body_len--;
	CHECK_EQ(ctl_sigv4_verify(&kin, secret_fn, NULL, T_2026, &res), -EACCES);
	CHECK_EQ(res.code, CTL_SIGV4_ERR_MISMATCH);

	/* A REST path with an escaped space: non-S3 services encode the path once more. */
	static const struct ctl_sigv4_header rest_h[] = {
		{ "Host", "127.0.0.1:4566" },
		{ "X-Amz-Date", "20261127T200000Z" },
		{ "Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261127/"
		  "us-west-2/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=8675341"
		  "6e11bd9d1a8e9e1956fb305e979b770843e1d0ca1505705963b782425" },
	};
	struct ctl_sigv4_req rest = { "GET", "/2015-03-31/functions/my%20fn/invocations",
				      "Qualifier=%24LATEST&b=2&a=1", rest_h, 3, NULL, 0, 0 };
	CHECK_EQ(ctl_sigv4_verify(&rest, secret_fn, NULL, T_2026, &res), 0);
	rest.path = "/2015-03-31/functions/my fn/invocations";
	CHECK_EQ(ctl_sigv4_verify(&rest, secret_fn, NULL, T_2026, &res), -EACCES);

	/* S3: the path signed as sent, the payload hash from x-amz-content-sha256. */
	static const struct ctl_sigv4_header s3_h[] = {
		{ "Host", "127.0.0.1:4566" },
		{ "X-Amz-Date", "20261127T200000Z" },
		{ "X-Amz-Content-SHA256", "f2ff189a4ef686231302becc266e6c8d5eee814b868d11631f7660073fc9b613" },
		{ "Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261127/"
		  "us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
		  "Signature=f2b18a8ae7beb7314c9b7c9b9e54e67052dcf3443ca277566b46a765e0e3b7e6" },
	};
	struct ctl_sigv4_req s3 = { "PUT", "/bucket/dir/key%20with%20space.txt", NULL, s3_h, 4,
				    "hello s3", 8, 0 };
	CHECK_EQ(ctl_sigv4_verify(&s3, secret_fn, NULL, T_2026, &res), 0);
	s3.body = "hello S3";
	CHECK_EQ(ctl_sigv4_verify(&s3, secret_fn, NULL, T_2026, &res), -EACCES);
	CHECK_EQ(res.code, CTL_SIGV4_ERR_PAYLOAD_MISMATCH);
	CHECK_STR(res.error, "XAmzContentSHA256Mismatch");
	s3.body = "hello s3";
	s3.uri = CTL_SIGV4_URI_NORMALIZE;
	CHECK_EQ(ctl_sigv4_verify(&s3, secret_fn, NULL, T_2026, &res), -EACCES);
	CHECK_STR(res.error, "SignatureDoesNotMatch");
	CHECK_EQ(res.http_status, 403);

	/* S3 presigned GET: UNSIGNED-PAYLOAD, valid for X-Amz-Expires=900. */
	static const struct ctl_sigv4_header ps_h[] = { { "Host", "127.0.0.1:4566" } };
	struct ctl_sigv4_req ps = { "GET", "/bucket/dir/key%20with%20space.txt",
		"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261127"
		"%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261127T200000Z&X-Amz-Expires=900&"
		"X-Amz-SignedHeaders=host&X-Amz-Signature=40767d4e23d560720d80eaa336b9700bdad53db1"
		"191d69400d7ce221930ca041", ps_h, 1, NULL, 0, 0 };
	CHECK_EQ(ctl_sigv4_verify(&ps, secret_fn, NULL, T_2026 + 900, &res), 0);
	CHECK_EQ(res.presigned, 1);
	CHECK_EQ(ctl_sigv4_scope_req(&ps, &res), 0);
	CHECK_STR(res.region, "us-east-1");
	CHECK_STR(res.service, "s3");
	CHECK_EQ(ctl_sigv4_verify(&ps, secret_fn, NULL, T_2026 + 901, &res), -EACCES);
	CHECK_STR(res.error, "AccessDenied");
	CHECK_STR(res.message, "Request has expired");
	ps.path = "/bucket/dir/key%20with%20space.txu";
	CHECK_EQ(ctl_sigv4_verify(&ps, secret_fn, NULL, T_2026, &res), -EACCES);
	CHECK_STR(res.error, "SignatureDoesNotMatch");
}

static void test_sigv4_presigned_malformed(void)
{
	static const char *bad[] = {
		/* each lacks or spoils one parameter of get-vanilla's presigned query */
		"X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=ab",
		"X-Amz-Algorithm=AWS4-HMAC-SHA1&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=ab",
		"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=ab",
		"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=2015&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=ab",
		"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=604801&X-Amz-Signature=ab",
		"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=-1&X-Amz-Signature=ab",
		"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=ab",
		"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=date&X-Amz-Expires=3600&X-Amz-Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
	};
	static const struct ctl_sigv4_header h[] = { { "Host", "example.amazonaws.com" } };
	struct ctl_sigv4_result res;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ctl_sigv4_req r = { "GET", "/", bad[i], h, 1, NULL, 0, 0 };
		CHECK_EQ(ctl_sigv4_verify(&r, secret_fn, NULL, T_2015, &res), -EACCES);
		if (res.code != CTL_SIGV4_ERR_INCOMPLETE)
			printf("# case %zu: %s\n", i, res.message);
		CHECK_EQ(res.code, CTL_SIGV4_ERR_INCOMPLETE);
		CHECK_EQ(res.presigned, 1);
	}
}

/* The canonical URI and query rules on their own, through the canonical request. */
static void test_sigv4_canonical_parts(void)
{
	static const struct {
		const char *path, *query;
		enum ctl_sigv4_uri uri;
		const char *want;  /* second and third line of the canonical request */
	} cases[] = {
		{ "/a/./b/../c//d/", NULL, CTL_SIGV4_URI_NORMALIZE, "/a/c/d/\n" },
		{ "/../..", NULL, CTL_SIGV4_URI_NORMALIZE, "/\n" },
		{ "", NULL, CTL_SIGV4_URI_NORMALIZE, "/\n" },
		{ NULL, NULL, CTL_SIGV4_URI_RAW, "/\n" },
		{ "/a%2Fb", NULL, CTL_SIGV4_URI_NORMALIZE, "/a%252Fb\n" },
		{ "/a%2Fb", NULL, CTL_SIGV4_URI_RAW, "/a%2Fb\n" },
		{ "/a%2fb%zz%/%7e", NULL, CTL_SIGV4_URI_RAW, "/a%2Fb%25zz%25/~\n" },
		{ "/~user/!$&'()*+,;=:@", NULL, CTL_SIGV4_URI_NORMALIZE,
		  "/~user/%21%24%26%27%28%29%2A%2B%2C%3B%3D%3A%40\n" },
		{ "/", "b=2&a=1&a=0&c", CTL_SIGV4_URI_AUTO, "/\na=0&a=1&b=2&c=\n" },
		{ "/", "&&x=1&&", CTL_SIGV4_URI_AUTO, "/\nx=1\n" },
		{ "/", "a+b=c%20d&%7e=%7E&sp ace=%2", CTL_SIGV4_URI_AUTO,
		  "/\na%2Bb=c%20d&sp%20ace=%252&~=~\n" },
		{ "/", "k==v", CTL_SIGV4_URI_AUTO, "/\nk=%3Dv\n" },
		/* The key sorts before the value: "a-b" < "a=..." must not decide by '=' vs '-'. */
		{ "/", "a=z&a-b=1", CTL_SIGV4_URI_AUTO, "/\na=z&a-b=1\n" },
	};
	struct treq t;
	struct ctl_sigv4_result res;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		REQUIRE(treq_parse(&t, vector("get-vanilla")->header_req) == 0);
		t.r.path = cases[i].path;
		t.r.query = cases[i].query;
		t.r.uri = cases[i].uri;
		char *creq = NULL;
		REQUIRE(ctl_sigv4_canonical_request(&t.r, false, &creq, &res) == 0);
		const char *l2 = strchr(creq, '\n') + 1;
		const char *l3end = strchr(strchr(l2, '\n') + 1, '\n') + 1;
		char got[256];
		snprintf(got, sizeof(got), "%.*s", (int)(l3end - l2), l2);
		char want[256];
		snprintf(want, sizeof(want), "%s%s", cases[i].want,
			 strchr(cases[i].want, '\n')[1] ? "" : "\n");
		CHECK_STR(got, want);
		free(creq);
	}
}

/* ---- credentials file ---- */

static void test_creds_parse_good(void)
{
	static const char text[] =
		"# AWS credentials\r\n"
		"[default]\r\n"
		"aws_access_key_id = AKIAAAAAAAAAAAAAAAAA\r\n"
		"aws_secret_access_key=secret/one+A\r\n"
		"\n"
		"; another comment\n"
		"[profile ci]\n"
		"region = eu-west-1\n"
		"s3 =\n"
		"    max_concurrent_requests = 20\n"
		"AWS_Secret_Access_Key: secret-two\n"
		"aws_access_key_id:AKIBBBBBBBBBBBBBBBBB\n"
		"aws_session_token = FQoGZXIvYXdz\n"
		"[region-only]\n"
		"region = us-east-1\n"
		"[dup]\n"
		"aws_access_key_id = AKIAAAAAAAAAAAAAAAAA\n"
		"aws_secret_access_key = secret/one+A\n"
		"[  spaced  ]\n"
		"region = x\n";
	struct ctl_sigv4_creds *c = NULL;
	char err[256] = "";

	int rc = ctl_sigv4_creds_parse(text, strlen(text), &c, err, sizeof(err));
	CHECK_EQ(rc, 0);
	if (rc)
		printf("# %s\n", err);
	REQUIRE(c);
	CHECK_EQ(ctl_sigv4_creds_count(c), 2);
	CHECK_STR(ctl_sigv4_creds_secret(c, "AKIAAAAAAAAAAAAAAAAA"), "secret/one+A");
	CHECK_STR(ctl_sigv4_creds_secret(c, "AKIBBBBBBBBBBBBBBBBB"), "secret-two");
	CHECK(ctl_sigv4_creds_secret(c, "AKIAAAAAAAAAAAAAAAAB") == NULL);
	CHECK(ctl_sigv4_creds_secret(c, "") == NULL);
	CHECK(ctl_sigv4_creds_secret(NULL, "AKIAAAAAAAAAAAAAAAAA") == NULL);
	ctl_sigv4_creds_free(c);
	ctl_sigv4_creds_free(NULL);
}

static void test_creds_parse_bad(void)
{
	static const struct {
		const char *text, *err;
	} bad[] = {
		{ "", "no profile has both" },
		{ "# only a comment\n[default]\nregion = x\n", "no profile has both" },
		{ "aws_access_key_id = A\n", "line 1: option before the first [profile] line" },
		{ "[default]\naws_access_key_id = A\n", "line 2: profile [default] has aws_access_key_id without" },
		{ "[default]\naws_secret_access_key = s\n[b]\n", "line 2: profile [default] has aws_secret_access_key without" },
		{ "[a]\naws_access_key_id = A\naws_secret_access_key = s\n"
		  "[b]\naws_access_key_id = A\naws_secret_access_key = t\n",
		  "line 5: access key A is given again with a different secret" },
		{ "[a]\naws_access_key_id = A\naws_access_key_id = B\n", "line 3: aws_access_key_id is given twice" },
		{ "[a]\naws_access_key_id =\naws_secret_access_key = s\n", "line 2: aws_access_key_id must have 1 to" },
		{ "[a]\naws_access_key_id = A B\naws_secret_access_key = s\n", "line 2: aws_access_key_id has a space" },
		{ "[a]\njust words\n", "line 2: expected 'key = value'" },
		{ "[a\naws_access_key_id = A\n", "line 1: section line without a closing ']'" },
		{ "[]\n", "line 1: profile name must have" },
		{ "[ ]\n", "line 1: profile name must have" },
		{ "  indented = 1\n", "line 1: indented line without an option above it" },
		{ "[a]\n = v\n", "line 2: indented line" },
		{ "[a]\n= v\n", "line 2: option without a name" },
		{ "[a]\naws_access_key_id = A\n\0aws_secret_access_key = s\n", "the file has a NUL byte" },
		{ "[a]\naws_access_key_id = "
		  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
		  "aws_secret_access_key = s\n", "line 2: aws_access_key_id must have 1 to 127" },
	};
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ctl_sigv4_creds *c = NULL;
		size_t len = strlen(bad[i].text);
		if (strstr(bad[i].err, "NUL"))
			len += 1 + strlen(bad[i].text + len + 1);
		err[0] = '\0';
		CHECK_EQ(ctl_sigv4_creds_parse(bad[i].text, len, &c, err, sizeof(err)), -EINVAL);
		CHECK(c == NULL);
		if (strncmp(err, bad[i].err, strlen(bad[i].err)) != 0)
			printf("# case %zu: \"%s\"\n", i, err);
		CHECK(strncmp(err, bad[i].err, strlen(bad[i].err)) == 0);
	}
}

static void test_creds_load_file(void)
{
	char dir[] = "/tmp/test_sigv4_XXXXXX", path[128];
	struct ctl_sigv4_creds *c = NULL;
	struct treq t;
	struct ctl_sigv4_result res;
	char err[256];

	REQUIRE(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/credentials", dir);
	FILE *f = fopen(path, "w");
	REQUIRE(f);
	fprintf(f, "[default]\naws_access_key_id = " AKID "\naws_secret_access_key = " SECRET "\n");
	fclose(f);
	CHECK_EQ(ctl_sigv4_creds_load(path, &c, err, sizeof(err)), 0);
	REQUIRE(c);
	/* Loaded keys verify the suite's requests through ctl_sigv4_creds_secret. */
	REQUIRE(treq_parse(&t, vector("post-vanilla")->header_req) == 0);
	CHECK_EQ(ctl_sigv4_verify(&t.r, ctl_sigv4_creds_secret, c, T_2015, &res), 0);
	ctl_sigv4_creds_free(c);

	c = NULL;
	snprintf(path, sizeof(path), "%s/missing", dir);
	CHECK_EQ(ctl_sigv4_creds_load(path, &c, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "missing: No such file or directory") != NULL);
	CHECK_EQ(ctl_sigv4_creds_load(dir, &c, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "not a regular file") != NULL);
	snprintf(path, sizeof(path), "%s/big", dir);
	f = fopen(path, "w");
	REQUIRE(f);
	for (int i = 0; i < 120000; i++)
		fputs("# padding\n", f);
	fclose(f);
	CHECK_EQ(ctl_sigv4_creds_load(path, &c, err, sizeof(err)), -EFBIG);
	snprintf(path, sizeof(path), "%s/bad", dir);
	f = fopen(path, "w");
	REQUIRE(f);
	fputs("[a]\nnonsense\n", f);
	fclose(f);
	CHECK_EQ(ctl_sigv4_creds_load(path, &c, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "/bad: line 2: expected") != NULL);
	CHECK(c == NULL);
	dp_test_rm_tree(dir);
}

int main(void)
{
	DP_TEST_RUN(test_sigv4_suite_header_form);
	DP_TEST_RUN(test_sigv4_suite_query_form);
	DP_TEST_RUN(test_sigv4_one_byte_changes_fail);
	DP_TEST_RUN(test_sigv4_body_changes_fail);
	DP_TEST_RUN(test_sigv4_unsigned_headers_free);
	DP_TEST_RUN(test_sigv4_clock_skew);
	DP_TEST_RUN(test_sigv4_unknown_key);
	DP_TEST_RUN(test_sigv4_malformed_authorization);
	DP_TEST_RUN(test_sigv4_signed_headers_cap);
	DP_TEST_RUN(test_sigv4_missing_and_bad_dates);
	DP_TEST_RUN(test_sigv4_date_header);
	DP_TEST_RUN(test_sigv4_botocore_requests);
	DP_TEST_RUN(test_sigv4_presigned_malformed);
	DP_TEST_RUN(test_sigv4_canonical_parts);
	DP_TEST_RUN(test_creds_parse_good);
	DP_TEST_RUN(test_creds_parse_bad);
	DP_TEST_RUN(test_creds_load_file);
	return dp_test_done();
}
