/* SPDX-License-Identifier: MIT */
/*
 * ingestctl: the administrator's command line for a running ingestd, over its admin unix socket.
 *
 * Every command is one or a few requests on the socket: GET /status and GET /stats, and the
 * Kinesis and Glue operations as `POST /` with X-Amz-Target: Kinesis_20131202.<Op> (or
 * AWSGlue.<Op> for the catalog commands, AWSStepFunctions.<Op> for the workflow commands) and a
 * JSON body, the
 * same handlers the AWS listener serves (the daemon has one action function per operation; this
 * is one more front-end). Output is an aligned table for people, or with --json the server's
 * JSON for scripts (paged answers merged into one document; get and tail print one JSON record
 * per line so that they can stream).
 *
 * Exit codes (also in --help and docs/ingestctl.md): 0 ok, 1 the server answered an error,
 * 2 usage error, 3 the daemon cannot be reached, 4 some records of a put failed.
 *
 * Single-threaded; the only process-wide state is the SIGINT/SIGTERM flag that stops `tail`.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "ctl_b64.h"
#include "dp_hash.h"
#include "ic_apply.h"
#include "dp_seqno.h"

enum {
	RC_OK = 0,
	RC_SERVER = 1,       /* the server answered an error */
	RC_USAGE = 2,        /* bad command line or input */
	RC_UNREACHABLE = 3,  /* no answer from the socket */
	RC_PARTIAL = 4,      /* some records of a put failed */
};

#define DEFAULT_SOCKET "/var/lib/ingestd/ingestd.sock"
#define TARGET_PREFIX "Kinesis_20131202."
/* PutRecords accepts at most 500 records and 5 MiB of data; 4 MiB of base64 keeps a batch
 * below the data limit whatever the per-record overhead. */
#define PUT_BATCH_RECORDS 500
#define PUT_BATCH_B64 (4u << 20)
#define KEY_MAX 256
/* GetRecords answers at most 10000 records per call. */
#define GET_LIMIT_MAX 10000
/* tail polls each shard this often: GetRecords is cheap, and 200 ms keeps the lag small. */
#define TAIL_POLL_NS (200 * 1000 * 1000L)
/* A put waits for fdatasync; a slow disk may take a while, a dead daemon should not hang us. */
#define REQUEST_TIMEOUT_S 60L

static volatile sig_atomic_t g_stop;

struct buf {
	char *p;
	size_t n, cap;
};

struct cli {
	CURL *curl;
	const char *socket;
	bool json;
	struct buf resp;
	char errbuf[CURL_ERROR_SIZE];
};

/* Options of the subcommands; each command names the ones it takes. */
struct opts {
	long shards;
	bool on_demand;
	const char *key;
	bool quiet;
	const char *shard;
	const char *from;
	long limit;
	long count;
	const char *file;
	const char *expression;
	/* delivery create */
	const char *bucket, *prefix, *compression, *source, *url;
	long size_mb, interval_s;
	const char *type;       /* workflow create --type */
	const char *input;      /* workflow start --input */
	const char *exec_name;  /* workflow start --name */
	/* crawler create */
	const char *database;
	const char *path;
	const char *schedule;
	const char *classifiers[16];
	unsigned n_classifiers;
	bool wait;
};

struct cmd {
	const char *name;     /* "stream put" */
	const char *args;     /* usage after the name */
	const char *allowed;  /* option names, comma separated */
	unsigned min_args, max_args;
	int (*fn)(struct cli *c, const struct cmd *cmd, const struct opts *o, int argc,
		  char **argv);
	const char *help;
};

/* Commands named by two words: the group, and the subcommands its usage error lists. */
struct cmd_group {
	const char *name;
	const char *subcommands;
};

/* ---- output helpers -------------------------------------------------------------------------- */

static void verrmsg(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static void verrmsg(const char *fmt, va_list ap)
{
	fputs("ingestctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static void errmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void errmsg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verrmsg(fmt, ap);
	va_end(ap);
}

static int usage_err(const struct cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int usage_err(const struct cmd *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verrmsg(fmt, ap);
	va_end(ap);
	if (cmd)
		fprintf(stderr, "usage: ingestctl [--socket PATH | --data-dir DIR] [--json] %s %s\n",
			cmd->name, cmd->args);
	else
		fputs("usage: ingestctl [--socket PATH | --data-dir DIR] [--json] COMMAND ...; "
		      "ingestctl --help lists the commands\n", stderr);
	return RC_USAGE;
}

static void print_json(const json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	if (s)
		puts(s);
	free(s);
}

/*
 * How a command that answers with one line ends: the answer itself with --json, else the line
 * (fmt, without its newline). Consumes out; returns RC_OK.
 */
static int answered(const struct cli *c, json_t *out, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int answered(const struct cli *c, json_t *out, const char *fmt, ...)
{
	if (c->json) {
		print_json(out);
	} else {
		va_list ap;
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		putchar('\n');
	}
	json_decref(out);
	return RC_OK;
}

static void print_json_line(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	if (s)
		puts(s);
	free(s);
}

/* A field as text: strings as they are, numbers in decimal, "-" when absent. */
static const char *jstr(const json_t *o, const char *key, char *tmp, size_t n)
{
	json_t *v = json_object_get(o, key);
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(tmp, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return tmp;
	}
	if (json_is_real(v)) {
		snprintf(tmp, n, "%.3f", json_real_value(v));
		return tmp;
	}
	if (json_is_boolean(v))
		return json_is_true(v) ? "true" : "false";
	return "-";
}

/* An aligned table, printed once every row is known. */
struct table {
	unsigned ncol;
	const char *const *head;
	const bool *right;  /* right-align (numbers); NULL: all left */
	char **cells;
	size_t rows, cap;
};

static int table_add(struct table *t, ...)
{
	if (t->rows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		char **v = realloc(t->cells, cap * t->ncol * sizeof(*v));
		if (!v)
			return -ENOMEM;
		t->cells = v;
		t->cap = cap;
	}
	va_list ap;
	va_start(ap, t);
	for (unsigned i = 0; i < t->ncol; i++) {
		const char *s = va_arg(ap, const char *);
		t->cells[t->rows * t->ncol + i] = strdup(s ? s : "-");
	}
	va_end(ap);
	t->rows++;
	return 0;
}

static void table_print(const struct table *t)
{
	size_t w[16] = { 0 };
	for (unsigned i = 0; i < t->ncol; i++)
		w[i] = strlen(t->head[i]);
	for (size_t r = 0; r < t->rows; r++)
		for (unsigned i = 0; i < t->ncol; i++) {
			const char *s = t->cells[r * t->ncol + i];
			size_t l = s ? strlen(s) : 0;
			if (l > w[i])
				w[i] = l;
		}
	for (size_t r = 0; r <= t->rows; r++) {
		for (unsigned i = 0; i < t->ncol; i++) {
			const char *s = r == 0 ? t->head[i] : t->cells[(r - 1) * t->ncol + i];
			bool last = i + 1 == t->ncol;
			if (!s)
				s = "";
			if (t->right && t->right[i])
				printf("%*s", (int)w[i], s);
			else if (last)
				fputs(s, stdout);
			else
				printf("%-*s", (int)w[i], s);
			fputs(last ? "\n" : "  ", stdout);
		}
	}
}

static void table_free(struct table *t)
{
	for (size_t i = 0; i < t->rows * t->ncol; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->rows = t->cap = 0;
}

static void fmt_time(const json_t *ts, char *out, size_t n)
{
	if (!json_is_number(ts)) {
		snprintf(out, n, "-");
		return;
	}
	time_t s = (time_t)json_number_value(ts);
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(out, n, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* ---- transport ------------------------------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct buf *b = arg;
	size_t n = size * nmemb;
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (!np)
			return 0; /* curl fails the transfer with CURLE_WRITE_ERROR */
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
	b->p[b->n] = '\0';
	return n;
}

static int unreachable(struct cli *c, CURLcode cr)
{
	struct stat st;
	char why[256 + CURL_ERROR_SIZE];
	if (stat(c->socket, &st) < 0)
		snprintf(why, sizeof(why), "%s", errno == ENOENT ? "no such socket" : strerror(errno));
	else if (!S_ISSOCK(st.st_mode))
		snprintf(why, sizeof(why), "not a socket");
	else if (access(c->socket, R_OK | W_OK) < 0)
		snprintf(why, sizeof(why), "%s (the socket is mode 0600: run as the user that runs "
			 "ingestd)", strerror(errno));
	else
		snprintf(why, sizeof(why), "%s", c->errbuf[0] ? c->errbuf : curl_easy_strerror(cr));
	errmsg("cannot reach ingestd on %s: %s; is ingestd running? start it with tools/run or "
	       "pass --socket PATH (or --data-dir DIR)", c->socket, why);
	return RC_UNREACHABLE;
}

/*
 * Resets the handle for one request over the daemon's socket: method, path, a limit of
 * timeout_s seconds, the answer's body into c->resp and curl's error text into c->errbuf.
 */
static void request_begin(struct cli *c, const char *method, const char *path, long timeout_s)
{
	char url[4200];
	/* curl keeps its own copy of the URL. */
	snprintf(url, sizeof(url), "http://localhost%s", path);
	c->resp.n = 0;
	c->errbuf[0] = '\0';
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_UNIX_SOCKET_PATH, c->socket);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &c->resp);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
}

/*
 * One request of any kind: method and path, with body (may be NULL) sent as JSON, and
 * X-Amz-Target when target (the full "Prefix.Operation") is set. Returns the HTTP status with
 * *out the parsed answer (NULL when empty or not JSON), or -1 when the daemon could not be
 * reached (printed).
 */
static int request(struct cli *c, const char *method, const char *path, const char *target,
		   const json_t *body, json_t **out)
{
	char th[160];
	char *text = NULL;
	struct curl_slist *hdr = NULL;
	*out = NULL;
	request_begin(c, method, path, REQUEST_TIMEOUT_S);
	if (target) {
		snprintf(th, sizeof(th), "X-Amz-Target: %s", target);
		hdr = curl_slist_append(hdr, th);
	}
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (!text) {
			errmsg("out of memory");
			return -1;
		}
		hdr = curl_slist_append(hdr, target ? "Content-Type: application/x-amz-json-1.1"
						    : "Content-Type: application/json");
		/* No 100-continue round trip on a local socket. */
		hdr = curl_slist_append(hdr, "Expect:");
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(text));
	}
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdr);
	CURLcode cr = curl_easy_perform(c->curl);
	curl_slist_free_all(hdr);
	free(text);
	if (cr != CURLE_OK) {
		if (!g_stop)
			unreachable(c, cr);
		return -1;
	}
	long status = 0;
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	*out = c->resp.n ? json_loadb(c->resp.p, c->resp.n, 0, NULL) : NULL;
	return (int)status;
}

/*
 * One request to a JSON service. body (may be NULL) is sent as application/x-amz-json-1.1 with
 * X-Amz-Target when target is set. On success *out is the parsed JSON answer (a new reference).
 * Errors are printed here; returns RC_OK, RC_SERVER or RC_UNREACHABLE.
 */
static int http(struct cli *c, const char *path, const char *target, const json_t *body,
		json_t **out)
{
	/* A bare operation is Kinesis's; "Service.Op" names its service. */
	char full[128];
	if (target)
		snprintf(full, sizeof(full), "%s%s", strchr(target, '.') ? "" : TARGET_PREFIX, target);
	json_t *j = NULL;
	int status = request(c, body ? "POST" : "GET", path, target ? full : NULL, body, &j);
	if (status < 0)
		return g_stop ? RC_OK : RC_UNREACHABLE;
	if (status < 200 || status > 299) {
		const char *type = json_string_value(json_object_get(j, "__type"));
		const char *msg = json_string_value(json_object_get(j, "message"));
		char t[32];
		snprintf(t, sizeof(t), "HTTP %d", status);
		errmsg("%s: %s", type ? type : t,
		       msg ? msg : (c->resp.n ? c->resp.p : "(no message)"));
		json_decref(j);
		return RC_SERVER;
	}
	if (!j && c->resp.n) {
		errmsg("ingestd answered %s%s with something that is not JSON", target ? "" : "GET ",
		       target ? target : path);
		return RC_SERVER;
	}
	*out = j ? j : json_object();
	return RC_OK;
}

/* A Kinesis operation; in is consumed. */
static int kin(struct cli *c, const char *op, json_t *in, json_t **out)
{
	if (!in) {
		errmsg("out of memory");
		return RC_SERVER;
	}
	int rc = http(c, "/", op, in, out);
	json_decref(in);
	return rc;
}

/* An operation of one service (kin, glue, sfn, ...): in is consumed. */
typedef int service_call(struct cli *c, const char *op, json_t *in, json_t **out);

/*
 * Every page of a listing: the items of list_name merged into *items (a new array). in
 * (consumed) holds the request's other members; token_key (NextToken, nextToken) carries the
 * token an answer ends with into the next request, until an answer has none.
 */
static int all_pages(struct cli *c, service_call *call, const char *op, json_t *in,
		     const char *token_key, const char *list_name, json_t **items)
{
	json_t *all = json_array();
	char *tok = NULL;
	int rc = RC_OK;
	for (;;) {
		json_t *req = json_deep_copy(in), *out;
		if (req && tok)
			json_object_set_new(req, token_key, json_string(tok));
		free(tok);
		tok = NULL;
		if ((rc = call(c, op, req, &out)))
			break;
		json_array_extend(all, json_object_get(out, list_name));
		const char *nt = json_string_value(json_object_get(out, token_key));
		if (nt)
			tok = strdup(nt);
		json_decref(out);
		if (!tok)
			break;
	}
	json_decref(in);
	if (rc) {
		json_decref(all);
		return rc;
	}
	*items = all;
	return RC_OK;
}

/* ---- shared pieces --------------------------------------------------------------------------- */

static bool parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* Normalize a shard argument ("shardId-000000000001", "shardId-1", "1"); false if malformed. */
static bool shard_arg(const char *s, char out[DP_SHARD_ID_LEN + 1])
{
	uint32_t idx;
	if (dp_shard_id_parse(s, &idx) < 0)
		return false;
	dp_shard_id_format(idx, out);
	return true;
}

/* The stream's description with every shard (DescribeStream pages merged). */
static int describe_all(struct cli *c, const char *name, json_t **desc)
{
	json_t *all = NULL;
	char last[DP_SHARD_ID_LEN + 1] = "";
	for (;;) {
		json_t *in = json_pack("{s:s}", "StreamName", name), *out;
		if (in && last[0])
			json_object_set_new(in, "ExclusiveStartShardId", json_string(last));
		int rc = kin(c, "DescribeStream", in, &out);
		if (rc) {
			json_decref(all);
			return rc;
		}
		json_t *d = json_object_get(out, "StreamDescription");
		json_t *sh = json_object_get(d, "Shards");
		if (!all) {
			all = json_incref(d);
		} else {
			json_array_extend(json_object_get(all, "Shards"), sh);
		}
		size_t n = json_array_size(sh);
		bool more = json_is_true(json_object_get(d, "HasMoreShards")) && n > 0;
		if (more)
			snprintf(last, sizeof(last), "%s", json_string_value(json_object_get(
				json_array_get(sh, n - 1), "ShardId")));
		json_decref(out);
		if (!more)
			break;
	}
	if (!json_is_object(all)) {
		errmsg("ingestd answered DescribeStream without a StreamDescription");
		json_decref(all);
		return RC_SERVER;
	}
	json_object_set_new(all, "HasMoreShards", json_false());
	*desc = all;
	return RC_OK;
}

static json_t *find_shard(json_t *desc, const char *id)
{
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(desc, "Shards"), i, s) {
		const char *sid = json_string_value(json_object_get(s, "ShardId"));
		if (sid && strcmp(sid, id) == 0)
			return s;
	}
	return NULL;
}

static bool shard_open(const json_t *s)
{
	return !json_object_get(json_object_get(s, "SequenceNumberRange"), "EndingSequenceNumber");
}

/* The data of a record for people: the text when it is printable UTF-8, else base64:... */
static char *data_text(const uint8_t *d, size_t n)
{
	bool printable = true;
	for (size_t i = 0; i < n && printable; i++)
		printable = d[i] >= 0x20 && d[i] != 0x7f;
	json_t *u = printable ? json_stringn((const char *)d, n) : NULL; /* validates UTF-8 */
	char *s;
	if (u) {
		s = strdup(json_string_value(u));
		json_decref(u);
		return s;
	}
	s = malloc(7 + ctl_b64_enc_len(n) + 1);
	if (s) {
		memcpy(s, "base64:", 7);
		ctl_b64_encode(d, n, s + 7);
	}
	return s;
}

/* Decode a record's Data; returns malloc'd text for people, or NULL. */
static char *record_data(const json_t *rec)
{
	const char *b = json_string_value(json_object_get(rec, "Data"));
	if (!b)
		return NULL;
	size_t bl = strlen(b);
	uint8_t *raw = malloc(ctl_b64_dec_max(bl) + 1);
	if (!raw)
		return NULL;
	long n = ctl_b64_decode(b, bl, raw);
	char *s = n >= 0 ? data_text(raw, (size_t)n) : strdup(b);
	free(raw);
	return s;
}

/* ---- status, stats --------------------------------------------------------------------------- */

/*
 * GET one of the daemon's own documents (/status, /stats) into *j. With --json it is printed
 * as it came and *j is NULL: the command has nothing more to do.
 */
static int admin_get(struct cli *c, const char *path, json_t **j)
{
	int rc = http(c, path, NULL, NULL, j);
	if (rc || !c->json)
		return rc;
	print_json(*j);
	json_decref(*j);
	*j = NULL;
	return RC_OK;
}

static int cmd_status(struct cli *c, const struct cmd *cmd, const struct opts *o, int argc,
		      char **argv)
{
	(void)cmd, (void)o, (void)argc, (void)argv;
	json_t *j;
	int rc = admin_get(c, "/status", &j);
	if (rc || !j)
		return rc;
	char t[64], up[64];
	json_int_t ms = json_integer_value(json_object_get(j, "uptime_ms"));
	long long s = ms / 1000;
	snprintf(up, sizeof(up), "%lldd %02lld:%02lld:%02lld", s / 86400, s / 3600 % 24, s / 60 % 60,
		 s % 60);
	const char *api = jstr(j, "api_listen", t, sizeof(t));
	printf("version      %s\n", jstr(j, "version", t, sizeof(t)));
	printf("data dir     %s\n", jstr(j, "data_dir", t, sizeof(t)));
	printf("AWS API      %s\n", strcmp(api, "-") == 0 ? "disabled" : api);
	printf("socket       %s\n", c->socket);
	printf("uptime       %s\n", up);
	printf("streams      %s\n", jstr(j, "streams", t, sizeof(t)));
	printf("open shards  %s\n", jstr(j, "open_shards", t, sizeof(t)));
	json_decref(j);
	return RC_OK;
}

/* "reason count, ..." of a {reason: count} object; "none" when empty. */
static void print_drops(const char *what, const json_t *o)
{
	const char *k;
	json_t *v;
	printf("%s", what);
	if (!json_object_size(o))
		fputs(" none", stdout);
	json_object_foreach((json_t *)o, k, v)
		printf(" %s %" JSON_INTEGER_FORMAT, k, json_integer_value(v));
	putchar('\n');
}

static void print_dataplane(const json_t *dp)
{
	char a[12][32];
	/* Without NICs (--nic none) there is nothing to say beyond the shard table. */
	if (!dp || strcmp(jstr(dp, "mode", a[0], 32), "dpdk") != 0)
		return;
	printf("\ndataplane %s, %s worker(s)\n", jstr(dp, "mode", a[0], 32),
	       jstr(dp, "workers", a[1], 32));
	size_t i;
	json_t *n;
	json_array_foreach(json_object_get(dp, "nics"), i, n)
		printf("NIC %s (%s%s%s): rx %s packets %s bytes, missed %s, errors %s, no mbuf %s; "
		       "tx %s packets\n", jstr(n, "name", a[0], 32), jstr(n, "driver", a[1], 32),
		       *jstr(n, "interface", a[2], 32) ? " " : "", jstr(n, "interface", a[2], 32),
		       jstr(n, "rx_packets", a[3], 32), jstr(n, "rx_bytes", a[4], 32),
		       jstr(n, "rx_missed", a[5], 32), jstr(n, "rx_errors", a[6], 32),
		       jstr(n, "rx_no_mbuf", a[7], 32), jstr(n, "tx_packets", a[8], 32));
	static const char *const head[] = { "WORKER", "RX PKTS", "RX BYTES", "FRAMES", "RECORDS",
		"ACKS SENT", "RETRIES ANSWERED", "HTTP RECORDS", "ACK MS SUM" };
	static const bool right[] = { false, true, true, true, true, true, true, true, true };
	struct table t = { 9, head, right, NULL, 0, 0 };
	json_t *w;
	json_array_foreach(json_object_get(dp, "per_worker"), i, w) {
		const json_t *ing = json_object_get(w, "ingest"), *nic = json_object_get(w, "nic");
		table_add(&t, jstr(w, "worker", a[0], 32), jstr(w, "rx_packets", a[1], 32),
			  jstr(w, "rx_bytes", a[2], 32), jstr(ing, "frames", a[3], 32),
			  jstr(ing, "records", a[4], 32), jstr(nic, "acks-sent", a[5], 32),
			  jstr(ing, "dedup-hits", a[6], 32), jstr(ing, "control-records", a[7], 32),
			  jstr(ing, "ack-ms-sum", a[8], 32));
	}
	if (t.rows)
		table_print(&t);
	table_free(&t);
	const json_t *tot = json_object_get(dp, "totals");
	print_drops("packet drops:", json_object_get(tot, "packet_drops"));
	print_drops("frame drops:", json_object_get(tot, "frame_drops"));
	print_drops("records acked:", json_object_get(tot, "records_acked"));
	printf("commit latency: frames %s ms mean, %s ms max; HTTP puts %s ms mean\n",
	       jstr(tot, "ack_ms_mean", a[0], 32), jstr(tot, "ack-ms-max", a[1], 32),
	       jstr(tot, "control_put_ms_mean", a[2], 32));
}

static int cmd_stats(struct cli *c, const struct cmd *cmd, const struct opts *o, int argc,
		     char **argv)
{
	(void)cmd, (void)o, (void)argc, (void)argv;
	json_t *j;
	int rc = admin_get(c, "/stats", &j);
	if (rc || !j)
		return rc;
	static const char *const head[] = { "SHARD", "STATE", "RECORDS", "BYTES", "FLUSHES",
		"FSYNCS", "FLUSH P99 US", "NEXT SEQ", "TRIM SEQ", "SEGMENTS" };
	static const bool right[] = { false, false, true, true, true, true, true, true, true, true };
	struct table t = { 10, head, right, NULL, 0, 0 };
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(j, "shards"), i, s) {
		char a[10][32];
		table_add(&t, jstr(s, "shard", a[0], 32), jstr(s, "state", a[1], 32),
			  jstr(s, "records", a[2], 32), jstr(s, "bytes", a[3], 32),
			  jstr(s, "flushes", a[4], 32), jstr(s, "fsyncs", a[5], 32),
			  jstr(s, "flush_us_p99", a[6], 32), jstr(s, "next_seq", a[7], 32),
			  jstr(s, "trim_seq", a[8], 32), jstr(s, "segments_live", a[9], 32));
	}
	if (t.rows)
		table_print(&t);
	else
		puts("no shard logs");
	table_free(&t);
	print_dataplane(json_object_get(j, "dataplane"));
	json_decref(j);
	return RC_OK;
}

/* ---- stream create, list, describe, delete --------------------------------------------------- */

static int cmd_create(struct cli *c, const struct cmd *cmd, const struct opts *o, int argc,
		      char **argv)
{
	(void)argc;
	if (o->on_demand && o->shards > 0)
		return usage_err(cmd, "--shards and --on-demand exclude each other (an on-demand "
				 "stream starts with 4 shards)");
	json_t *in = json_pack("{s:s}", "StreamName", argv[0]), *out;
	if (in && o->on_demand)
		json_object_set_new(in, "StreamModeDetails", json_pack("{s:s}", "StreamMode",
								       "ON_DEMAND"));
	else if (in)
		json_object_set_new(in, "ShardCount", json_integer(o->shards > 0 ? o->shards : 1));
	int rc = kin(c, "CreateStream", in, &out);
	if (rc)
		return rc;
	if (o->on_demand)
		return answered(c, out, "created on-demand stream %s", argv[0]);
	return answered(c, out, "created stream %s with %ld shard(s)", argv[0],
			o->shards > 0 ? o->shards : 1);
}

static int cmd_list(struct cli *c, const struct cmd *cmd, const struct opts *o, int argc,
		    char **argv)
{
	(void)cmd, (void)o, (void)argc, (void)argv;
	json_t *names = json_array(), *sums = json_array();
	char *tok = NULL;
	int rc;
	for (;;) {
		json_t *in = tok ? json_pack("{s:s}", "NextToken", tok) : json_object(), *out;
		free(tok);
		tok = NULL;
		if ((rc = kin(c, "ListStreams", in, &out)))
			goto out;
		json_array_extend(names, json_object_get(out, "StreamNames"));
		json_array_extend(sums, json_object_get(out, "StreamSummaries"));
		const char *nt = json_string_value(json_object_get(out, "NextToken"));
		bool more = json_is_true(json_object_get(out, "HasMoreStreams")) && nt;
		if (more)
			tok = strdup(nt);
		json_decref(out);
		if (!more)
			break;
	}
	if (c->json) {
		json_t *all = json_pack("{s:O, s:b, s:O}", "StreamNames", names, "HasMoreStreams", 0,
					"StreamSummaries", sums);
		print_json(all);
		json_decref(all);
		goto out;
	}
	if (!json_array_size(sums)) {
		puts("no streams");
		goto out;
	}
	static const char *const head[] = { "NAME", "STATUS", "MODE", "OPEN SHARDS", "RETENTION",
		"CREATED" };
	static const bool right[] = { false, false, false, true, true, false };
	struct table t = { 6, head, right, NULL, 0, 0 };
	size_t i;
	json_t *s;
	json_array_foreach(sums, i, s) {
		char a[3][64], created[64];
		const char *name = jstr(s, "StreamName", a[0], 64);
		json_t *sum;
		const char *open = "-", *ret = "-";
		char retb[32];
		/* Open shards and retention come from the summary of each stream. */
		if (kin(c, "DescribeStreamSummary", json_pack("{s:s}", "StreamName", name), &sum))
			sum = NULL;
		json_t *d = json_object_get(sum, "StreamDescriptionSummary");
		if (d) {
			open = jstr(d, "OpenShardCount", a[1], 64);
			snprintf(retb, sizeof(retb), "%s h", jstr(d, "RetentionPeriodHours", a[2], 64));
			ret = retb;
		}
		fmt_time(json_object_get(s, "StreamCreationTimestamp"), created, sizeof(created));
		table_add(&t, name, json_string_value(json_object_get(s, "StreamStatus")),
			  json_string_value(json_object_get(json_object_get(s, "StreamModeDetails"),
							    "StreamMode")), open, ret, created);
		json_decref(sum);
	}
	table_print(&t);
	table_free(&t);
out:
	free(tok);
	json_decref(names);
	json_decref(sums);
	return rc;
}

static void shard_parent(const json_t *s, const char *field, char *out, size_t n)
{
	const char *p = json_string_value(json_object_get(s, field));
	snprintf(out, n, "%s", p ? p : "-");
}

static int cmd_describe(struct cli *c, const struct cmd *cmd, const struct opts *o, int argc,
			char **argv)
{
	(void)cmd, (void)o, (void)argc;
	json_t *d;
	int rc = describe_all(c, argv[0], &d);
	if (rc)
		return rc;
	if (c->json) {
		json_t *all = json_pack("{s:O}", "StreamDescription", d);
		print_json(all);
		json_decref(all);
		json_decref(d);
		return RC_OK;
	}
	static const char *const head[] = { "SHARD", "PARENT", "ADJACENT PARENT",
		"STARTING HASH KEY", "ENDING HASH KEY", "STATE" };
	static const bool right[] = { false, false, false, true, true, false };
	struct table t = { 6, head, right, NULL, 0, 0 };
	size_t i;
	json_t *s;
	unsigned open = 0, closed = 0;
	json_array_foreach(json_object_get(d, "Shards"), i, s) {
		char p[64], a[64];
		json_t *r = json_object_get(s, "HashKeyRange");
		shard_parent(s, "ParentShardId", p, sizeof(p));
		shard_parent(s, "AdjacentParentShardId", a, sizeof(a));
		bool is_open = shard_open(s);
		open += is_open;
		closed += !is_open;
		table_add(&t, json_string_value(json_object_get(s, "ShardId")), p, a,
			  json_string_value(json_object_get(r, "StartingHashKey")),
			  json_string_value(json_object_get(r, "EndingHashKey")),
			  is_open ? "open" : "closed");
	}
	char tmp[64], created[64];
	fmt_time(json_object_get(d, "StreamCreationTimestamp"), created, sizeof(created));
	printf("stream      %s\n", jstr(d, "StreamName", tmp, sizeof(tmp)));
	printf("arn         %s\n", jstr(d, "StreamARN", tmp, sizeof(tmp)));
	printf("status      %s\n", jstr(d, "StreamStatus", tmp, sizeof(tmp)));
	printf("mode        %s\n", jstr(json_object_get(d, "StreamModeDetails"), "StreamMode", tmp,
				       sizeof(tmp)));
	printf("retention   %s h\n", jstr(d, "RetentionPeriodHours", tmp, sizeof(tmp)));
	printf("created     %s\n", created);
	printf("shards      %u open, %u closed\n\n", open, closed);
	table_print(&t);
	table_free(&t);
	json_decref(d);
	return RC_OK;
}

static int cmd_delete(struct cli *c, const struct cmd *cmd, const struct opts *o, int argc,
		      char **argv)
{
	(void)cmd, (void)o, (void)argc;
	json_t *out;
	int rc = kin(c, "DeleteStream", json_pack("{s:s}", "StreamName", argv[0]), &out);
	if (rc)
		return rc;
	return answered(c, out, "deleted stream %s", argv[0]);
}

/* ---- stream put ------------------------------------------------------------------------------ */

struct put {
	struct cli *c;
	const struct opts *o;
	const char *stream;
	json_t *batch;            /* Records of the next PutRecords */
	size_t *lines;            /* input line of each record in the batch */
	size_t b64;               /* base64 bytes in the batch */
	size_t ok, failed;
};

/* Send the batch; prints per-record results. Returns RC_OK or the request's error. */
static int put_flush(struct put *p)
{
	size_t n = json_array_size(p->batch);
	if (!n)
		return RC_OK;
	json_t *out;
	int rc = kin(p->c, "PutRecords", json_pack("{s:s, s:O}", "StreamName", p->stream, "Records",
						   p->batch), &out);
	json_array_clear(p->batch);
	p->b64 = 0;
	if (rc) {
		if (p->ok || p->failed)
			errmsg("%zu record(s) were put and %zu failed before this error", p->ok,
			       p->failed);
		return rc;
	}
	if (p->c->json)
		print_json_line(out);
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(out, "Records"), i, r) {
		const char *seq = json_string_value(json_object_get(r, "SequenceNumber"));
		if (seq) {
			p->ok++;
			if (!p->o->quiet && !p->c->json)
				printf("%s %s\n", json_string_value(json_object_get(r, "ShardId")), seq);
			continue;
		}
		p->failed++;
		char a[64], b[256];
		errmsg("record on line %zu failed: %s: %s", i < n ? p->lines[i] : 0,
		       jstr(r, "ErrorCode", a, sizeof(a)), jstr(r, "ErrorMessage", b, sizeof(b)));
	}
	json_decref(out);
	return RC_OK;
}

/* Add one record (data[0..n)) to the batch, sending first when it is full. */
static int put_add(struct put *p, size_t line, const char *key, size_t key_len, const char *data,
		   size_t n)
{
	if (key_len < 1 || key_len > KEY_MAX) {
		errmsg("line %zu: the partition key must be 1 to %d bytes (it is %zu); record not put",
		       line, KEY_MAX, key_len);
		p->failed++;
		return RC_OK;
	}
	size_t el = ctl_b64_enc_len(n);
	int rc;
	if (json_array_size(p->batch) == PUT_BATCH_RECORDS ||
	    (json_array_size(p->batch) && p->b64 + el > PUT_BATCH_B64))
		if ((rc = put_flush(p)))
			return rc;
	char *enc = malloc(el + 1);
	if (!enc) {
		errmsg("out of memory");
		return RC_SERVER;
	}
	ctl_b64_encode(data, n, enc);
	json_t *rec = json_pack("{s:s, s:s%}", "Data", enc, "PartitionKey", key, key_len);
	free(enc);
	if (!rec || json_array_append_new(p->batch, rec) < 0) {
		errmsg("line %zu: the partition key is not valid UTF-8; record not put", line);
		p->failed++;
		return RC_OK;
	}
	p->lines[json_array_size(p->batch) - 1] = line;
	p->b64 += el;
	return RC_OK;
}

static int cmd_put(struct cli *c, const struct cmd *cmd, const struct opts *o, int argc,
		   char **argv)
{
	(void)cmd;
	struct put p = { .c = c, .o = o, .stream = argv[0], .batch = json_array(),
			 .lines = calloc(PUT_BATCH_RECORDS, sizeof(size_t)) };
	int rc = RC_OK;
	char gen[32];
	char *line = NULL;
	size_t cap = 0;
	if (!p.batch || !p.lines) {
		errmsg("out of memory");
		rc = RC_SERVER;
		goto out;
	}
	if (argc == 2) {
		const char *key = o->key;
		if (!key) {
			snprintf(gen, sizeof(gen), "%ld-1", (long)getpid());
			key = gen;
		}
		rc = put_add(&p, 1, key, strlen(key), argv[1], strlen(argv[1]));
	} else {
		ssize_t len;
		size_t no = 0;
		while (rc == RC_OK && (len = getline(&line, &cap, stdin)) >= 0) {
			no++;
			if (len > 0 && line[len - 1] == '\n')
				line[--len] = '\0';
			const char *key, *data = line;
			size_t kl, dl = (size_t)len;
			char *tab = o->key ? NULL : memchr(line, '\t', (size_t)len);
			if (o->key) {
				key = o->key;
				kl = strlen(key);
			} else if (tab) {
				key = line;
				kl = (size_t)(tab - line);
				data = tab + 1;
				dl = (size_t)len - kl - 1;
			} else {
				/* Distinct keys spread the records over the shards by their MD5. */
				snprintf(gen, sizeof(gen), "%ld-%zu", (long)getpid(), no);
				key = gen;
				kl = strlen(gen);
			}
			rc = put_add(&p, no, key, kl, data, dl);
		}
		if (rc == RC_OK && ferror(stdin)) {
			errmsg("reading stdin: %s", strerror(errno));
			rc = RC_USAGE;
		}
	}
	if (rc == RC_OK)
		rc = put_flush(&p);
	if (rc)
		goto out;
	if (o->quiet && !c->json)
		printf("%zu record(s) put, %zu failed\n", p.ok, p.failed);
	else if (p.failed)
		errmsg("%zu record(s) put, %zu failed", p.ok, p.failed);
	rc = p.failed ? RC_PARTIAL : RC_OK;
out:
	free(line);
	free(p.lines);
	json_decref(p.batch);
	return rc;
}

/* ---- stream get, tail ------------------------------------------------------------------------ */

struct reader {
	struct cli *c;
	struct table t;
	long printed;
};

/* Print the records of one GetRecords answer (as JSON lines with --json). */
static void records_out(struct reader *r, const char *shard, json_t *recs, bool stream)
{
	size_t i;
	json_t *rec;
	json_array_foreach(recs, i, rec) {
		r->printed++;
		if (r->c->json) {
			json_t *j = json_deep_copy(rec);
			json_object_set_new(j, "ShardId", json_string(shard));
			print_json_line(j);
			json_decref(j);
			continue;
		}
		char *d = record_data(rec);
		const char *seq = json_string_value(json_object_get(rec, "SequenceNumber"));
		const char *key = json_string_value(json_object_get(rec, "PartitionKey"));
		if (stream)
			printf("%s  %s  %s  %s\n", shard, seq, key, d ? d : "-");
		else
			table_add(&r->t, shard, seq, key, d ? d : "-");
		free(d);
	}
}

static int iterator(struct cli *c, const char *stream, const char *shard, const char *type,
		    const char *seq, char **out)
{
	json_t *in = json_pack("{s:s, s:s, s:s}", "StreamName", stream, "ShardId", shard,
			       "ShardIteratorType", type), *res;
	if (in && seq)
		json_object_set_new(in, "StartingSequenceNumber", json_string(seq));
	int rc = kin(c, "GetShardIterator", in, &res);
	if (rc)
		return rc;
	const char *it = json_string_value(json_object_get(res, "ShardIterator"));
	*out = it ? strdup(it) : NULL;
	json_decref(res);
	if (!*out) {
		errmsg("ingestd answered GetShardIterator without a ShardIterator");
		return RC_SERVER;
	}
	return RC_OK;
}

static int cmd_get(struct cli *c, const struct cmd *cmd, const struct opts *o, int argc,
		   char **argv)
{
	(void)argc;
	static const char *const head[] = { "SHARD", "SEQUENCE NUMBER", "KEY", "DATA" };
	struct reader r = { .c = c, .t = { 4, head, NULL, NULL, 0, 0 } };
	const char *type = "TRIM_HORIZON", *seq = NULL;
	char only[DP_SHARD_ID_LEN + 1] = "";
	json_t *d = NULL;
	if (o->shard && !shard_arg(o->shard, only))
		return usage_err(cmd, "--shard %s: expected a shard id such as shardId-000000000001 "
				 "or 1", o->shard);
	if (o->from && strcmp(o->from, "trim") == 0) {
		type = "TRIM_HORIZON";
	} else if (o->from && strcmp(o->from, "latest") == 0) {
		type = "LATEST";
	} else if (o->from) {
		struct dp_seqno q;
		if (dp_seqno_parse(o->from, strlen(o->from), &q) < 0)
			return usage_err(cmd, "--from %s: expected trim, latest or a sequence number "
					 "(%d digits)", o->from, DP_SEQNO_LEN);
		char of[DP_SHARD_ID_LEN + 1];
		dp_shard_id_format(q.shard_index, of);
		if (only[0] && strcmp(of, only) != 0)
			return usage_err(cmd, "--from %s is a sequence number of %s, not of --shard %s",
					 o->from, of, only);
		snprintf(only, sizeof(only), "%s", of);
		type = "AT_SEQUENCE_NUMBER";
		seq = o->from;
	}
	int rc = describe_all(c, argv[0], &d);
	if (rc)
		return rc;
	if (only[0] && !find_shard(d, only)) {
		errmsg("ResourceNotFoundException: stream %s has no shard %s", argv[0], only);
		rc = RC_SERVER;
		goto out;
	}
	long limit = o->limit > 0 ? o->limit : LONG_MAX;
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(d, "Shards"), i, s) {
		const char *id = json_string_value(json_object_get(s, "ShardId"));
		if (only[0] && strcmp(id, only) != 0)
			continue;
		char *it = NULL;
		if ((rc = iterator(c, argv[0], id, type, seq, &it)))
			goto out;
		while (it && r.printed < limit) {
			long want = limit - r.printed;
			json_t *res;
			rc = kin(c, "GetRecords", json_pack("{s:s, s:I}", "ShardIterator", it, "Limit",
							    (json_int_t)(want < GET_LIMIT_MAX ?
									 want : GET_LIMIT_MAX)), &res);
			free(it);
			it = NULL;
			if (rc)
				goto out;
			json_t *recs = json_object_get(res, "Records");
			records_out(&r, id, recs, false);
			const char *nx = json_string_value(json_object_get(res, "NextShardIterator"));
			/* An empty page means the reader caught up with what is readable now. */
			if (nx && json_array_size(recs))
				it = strdup(nx);
			json_decref(res);
		}
		free(it);
		if (r.printed >= limit)
			break;
	}
	if (!c->json) {
		if (r.t.rows)
			table_print(&r.t);
		else
			fputs("no records\n", stderr);
	}
out:
	table_free(&r.t);
	json_decref(d);
	return rc;
}

enum tail_state { TAIL_WAITING, TAIL_READING, TAIL_DONE };

struct tail_shard {
	char id[DP_SHARD_ID_LEN + 1];
	char parents[2][DP_SHARD_ID_LEN + 1];
	unsigned n_parents;
	enum tail_state state;
	char *iter;
};

struct tail {
	struct tail_shard *v;
	size_t n, cap;
};

static struct tail_shard *tail_find(struct tail *t, const char *id)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->v[i].id, id) == 0)
			return &t->v[i];
	return NULL;
}

static struct tail_shard *tail_add(struct tail *t, const char *id)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct tail_shard *v = realloc(t->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		t->v = v;
		t->cap = cap;
	}
	struct tail_shard *s = &t->v[t->n++];
	memset(s, 0, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "%s", id);
	return s;
}

/* Record the children a closed shard names; each is read once all its parents are read. */
static int tail_children(struct tail *t, json_t *children)
{
	size_t i, j;
	json_t *ch, *p;
	json_array_foreach(children, i, ch) {
		const char *id = json_string_value(json_object_get(ch, "ShardId"));
		if (!id || tail_find(t, id))
			continue;
		struct tail_shard *s = tail_add(t, id);
		if (!s)
			return -ENOMEM;
		s->state = TAIL_WAITING;
		json_array_foreach(json_object_get(ch, "ParentShards"), j, p)
			if (s->n_parents < 2 && json_is_string(p))
				snprintf(s->parents[s->n_parents++], sizeof(s->parents[0]), "%s",
					 json_string_value(p));
	}
	return 0;
}

static bool tail_ready(struct tail *t, const struct tail_shard *s)
{
	for (unsigned i = 0; i < s->n_parents; i++) {
		/* A parent this tail does not follow (--shard) cannot hold the child back. */
		const struct tail_shard *p = tail_find(t, s->parents[i]);
		if (p && p->state != TAIL_DONE)
			return false;
	}
	return true;
}

static void on_stop(int sig)
{
	(void)sig;
	g_stop = 1;
}

static int cmd_tail(struct cli *c, const struct cmd *cmd, const struct opts *o, int argc,
		    char **argv)
{
	(void)argc;
	struct reader r = { .c = c };
	struct tail t = { 0 };
	char only[DP_SHARD_ID_LEN + 1] = "";
	json_t *d = NULL;
	if (o->shard && !shard_arg(o->shard, only))
		return usage_err(cmd, "--shard %s: expected a shard id such as shardId-000000000001 "
				 "or 1", o->shard);
	struct sigaction sa = { .sa_handler = on_stop };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	int rc = describe_all(c, argv[0], &d);
	if (rc)
		return rc;
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(d, "Shards"), i, s) {
		const char *id = json_string_value(json_object_get(s, "ShardId"));
		if (only[0] ? strcmp(id, only) != 0 : !shard_open(s))
			continue;
		struct tail_shard *ts = tail_add(&t, id);
		if (!ts) {
			errmsg("out of memory");
			rc = RC_SERVER;
			goto out;
		}
		ts->state = TAIL_READING;
		if ((rc = iterator(c, argv[0], id, "LATEST", NULL, &ts->iter)))
			goto out;
	}
	if (!t.n) {
		if (only[0])
			errmsg("ResourceNotFoundException: stream %s has no shard %s", argv[0], only);
		else
			errmsg("stream %s has no open shard to follow", argv[0]);
		rc = RC_SERVER;
		goto out;
	}
	fprintf(stderr, "ingestctl: tailing %zu shard(s) of stream %s from LATEST; Ctrl-C stops\n",
		t.n, argv[0]);
	while (!g_stop) {
		bool active = false, behind = false;
		for (i = 0; i < t.n && !g_stop; i++) {
			struct tail_shard *ts = &t.v[i];
			if (ts->state == TAIL_WAITING && tail_ready(&t, ts)) {
				if ((rc = iterator(c, argv[0], ts->id, "TRIM_HORIZON", NULL,
						   &ts->iter)))
					goto out;
				ts->state = TAIL_READING;
			}
			if (ts->state != TAIL_READING) {
				active |= ts->state == TAIL_WAITING;
				continue;
			}
			active = true;
			json_t *res;
			long want = o->count > 0 ? o->count - r.printed : GET_LIMIT_MAX;
			rc = kin(c, "GetRecords", json_pack("{s:s, s:I}", "ShardIterator", ts->iter,
							    "Limit", (json_int_t)(want < GET_LIMIT_MAX ?
										  want : GET_LIMIT_MAX)),
				 &res);
			if (rc || g_stop)
				goto out;
			records_out(&r, ts->id, json_object_get(res, "Records"), true);
			/* A backlog (or a shard that just ended) is read again without the pause. */
			behind |= json_integer_value(json_object_get(res, "MillisBehindLatest")) > 0;
			free(ts->iter);
			ts->iter = NULL;
			const char *nx = json_string_value(json_object_get(res, "NextShardIterator"));
			if (nx) {
				ts->iter = strdup(nx);
			} else {
				ts->state = TAIL_DONE;
				behind = true;
				if (tail_children(&t, json_object_get(res, "ChildShards")) < 0) {
					json_decref(res);
					errmsg("out of memory");
					rc = RC_SERVER;
					goto out;
				}
			}
			json_decref(res);
			if (o->count > 0 && r.printed >= o->count)
				goto out;
		}
		fflush(stdout);
		if (!active && !g_stop) {
			errmsg("every followed shard of stream %s is closed and has no children to "
			       "follow", argv[0]);
			break;
		}
		if (behind)
			continue;
		struct timespec ts = { 0, TAIL_POLL_NS };
		while (!g_stop && nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
out:
	fflush(stdout);
	for (i = 0; i < t.n; i++)
		free(t.v[i].iter);
	free(t.v);
	json_decref(d);
	return g_stop ? RC_OK : rc;
}

/* ---- stream split, merge, scale -------------------------------------------------------------- */

/* The shards of stream whose parent (or adjacent parent) is id, as "a and b" text; "" when
 * the stream cannot be described. */
static void children_of(struct cli *c, const char *stream, const char *id, char *out, size_t n)
{
	size_t i, w = 0;
	json_t *d, *s;
	out[0] = '\0';
	if (describe_all(c, stream, &d) != RC_OK)
		return;
	json_array_foreach(json_object_get(d, "Shards"), i, s) {
		const char *p = json_string_value(json_object_get(s, "ParentShardId"));
		const char *a = json_string_value(json_object_get(s, "AdjacentParentShardId"));
		if ((p && strcmp(p, id) == 0) || (a && strcmp(a, id) == 0)) {
			int k = snprintf(out + w, n - w, "%s%s", w ? " and " : "",
					 json_string_value(json_object_get(s, "ShardId")));
			if (k < 0 || (size_t)k >= n - w)
				break;
			w += (size_t)k;
		}
	}
	json_decref(d);
}

static int cmd_split(struct cli *c, const struct cmd *cmd, const struct opts *o, int argc,
		     char **argv)
{
	(void)o;
	char id[DP_SHARD_ID_LEN + 1], key[DP_U128_DIGITS + 1];
	dp_u128 at;
	if (!shard_arg(argv[1], id))
		return usage_err(cmd, "%s: expected a shard id such as shardId-000000000001 or 1",
				 argv[1]);
	if (argc == 3 && dp_u128_parse(argv[2], strlen(argv[2]), &at) < 0)
		return usage_err(cmd, "%s: expected a hash key, a decimal number in 0..2^128-1",
				 argv[2]);
	json_t *d = NULL, *out;
	int rc;
	if (argc == 3) {
		snprintf(key, sizeof(key), "%s", argv[2]);
	} else {
		/* The middle of the shard's range: start + floor((end - start) / 2) + 1 keeps the
		 * split point above start + 1 and at most end, as SplitShard requires, without the
		 * 2^128 overflow of (end - start + 1). */
		if ((rc = describe_all(c, argv[0], &d)))
			return rc;
		json_t *s = find_shard(d, id);
		json_t *r = json_object_get(s, "HashKeyRange");
		const char *sk = json_string_value(json_object_get(r, "StartingHashKey"));
		const char *ek = json_string_value(json_object_get(r, "EndingHashKey"));
		dp_u128 lo, hi;
		if (!s) {
			errmsg("ResourceNotFoundException: stream %s has no shard %s", argv[0], id);
			json_decref(d);
			return RC_SERVER;
		}
		if (!sk || !ek || dp_u128_parse(sk, strlen(sk), &lo) < 0 ||
		    dp_u128_parse(ek, strlen(ek), &hi) < 0 || hi < lo) {
			errmsg("ingestd described shard %s with a bad hash key range", id);
			json_decref(d);
			return RC_SERVER;
		}
		dp_u128_format(lo + (hi - lo) / 2 + 1, key);
		json_decref(d);
	}
	rc = kin(c, "SplitShard", json_pack("{s:s, s:s, s:s}", "StreamName", argv[0], "ShardToSplit",
					    id, "NewStartingHashKey", key), &out);
	if (rc)
		return rc;
	if (c->json) {
		print_json(out);
	} else {
		char ch[128];
		children_of(c, argv[0], id, ch, sizeof(ch));
		printf("split %s of stream %s at hash key %s%s%s\n", id, argv[0], key,
		       ch[0] ? " into " : "", ch);
	}
	json_decref(out);
	return RC_OK;
}

static int cmd_merge(struct cli *c, const struct cmd *cmd, const struct opts *o, int argc,
		     char **argv)
{
	(void)o, (void)argc;
	char a[DP_SHARD_ID_LEN + 1], b[DP_SHARD_ID_LEN + 1];
	if (!shard_arg(argv[1], a))
		return usage_err(cmd, "%s: expected a shard id such as shardId-000000000001 or 1",
				 argv[1]);
	if (!shard_arg(argv[2], b))
		return usage_err(cmd, "%s: expected a shard id such as shardId-000000000001 or 1",
				 argv[2]);
	json_t *out;
	int rc = kin(c, "MergeShards", json_pack("{s:s, s:s, s:s}", "StreamName", argv[0],
						 "ShardToMerge", a, "AdjacentShardToMerge", b), &out);
	if (rc)
		return rc;
	if (c->json) {
		print_json(out);
	} else {
		char ch[128];
		children_of(c, argv[0], a, ch, sizeof(ch));
		printf("merged %s and %s of stream %s%s%s\n", a, b, argv[0], ch[0] ? " into " : "",
		       ch);
	}
	json_decref(out);
	return RC_OK;
}

static int cmd_scale(struct cli *c, const struct cmd *cmd, const struct opts *o, int argc,
		     char **argv)
{
	(void)o, (void)argc;
	long n;
	if (!parse_long(argv[1], 1, 10000, &n))
		return usage_err(cmd, "%s: expected a shard count, 1..10000", argv[1]);
	json_t *out;
	int rc = kin(c, "UpdateShardCount", json_pack("{s:s, s:I, s:s}", "StreamName", argv[0],
						      "TargetShardCount", (json_int_t)n,
						      "ScalingType", "UNIFORM_SCALING"), &out);
	if (rc)
		return rc;
	char t1[32], t2[32];
	return answered(c, out, "scaled stream %s from %s to %s open shard(s)", argv[0],
			jstr(out, "CurrentShardCount", t1, sizeof(t1)),
			jstr(out, "TargetShardCount", t2, sizeof(t2)));
}

/* ---- delivery streams (Firehose_20150804.*) ------------------------------------------------- */

#define FH_TARGET "Firehose_20150804."
/* PutRecordBatch: 500 records, 4 MiB of data. */
#define FH_BATCH_RECORDS 500
#define FH_BATCH_BYTES (4u << 20)

static int fh(struct cli *c, const char *op, json_t *in, json_t **out)
{
	char target[64];
	snprintf(target, sizeof(target), FH_TARGET "%s", op);
	return kin(c, target, in, out);
}

static int cmd_fh_create(struct cli *c, const struct cmd *cmd, const struct opts *o, int argc,
			 char **argv)
{
	(void)argc;
	if (!o->bucket)
		return usage_err(cmd, "--bucket is required (objects go to S3_ROOT/BUCKET/)");
	char arn[128];
	snprintf(arn, sizeof(arn), "arn:aws:s3:::%s", o->bucket);
	json_t *s3 = json_pack("{s:s, s:s, s:{s:I, s:I}, s:s}", "RoleARN",
			       "arn:aws:iam::000000000000:role/ingestd", "BucketARN", arn,
			       "BufferingHints", "SizeInMBs", (json_int_t)(o->size_mb ? o->size_mb : 5),
			       "IntervalInSeconds",
			       (json_int_t)(o->interval_s >= 0 ? o->interval_s : 300),
			       "CompressionFormat", o->compression ? o->compression : "UNCOMPRESSED");
	if (s3 && o->prefix)
		json_object_set_new(s3, "Prefix", json_string(o->prefix));
	json_t *in = json_pack("{s:s, s:s}", "DeliveryStreamName", argv[0], "DeliveryStreamType",
			       o->source ? "KinesisStreamAsSource" : "DirectPut");
	if (in && o->source)
		json_object_set_new(in, "KinesisStreamSourceConfiguration", json_pack(
			"{s:s+, s:s}", "KinesisStreamARN", "arn:aws:kinesis:us-east-1:000000000000:stream/",
			o->source, "RoleARN", "arn:aws:iam::000000000000:role/ingestd"));
	if (in && o->url) {
		json_t *h = json_pack("{s:{s:s}, s:O, s:O, s:s}", "EndpointConfiguration", "Url", o->url,
				      "BufferingHints", json_object_get(s3, "BufferingHints"),
				      "S3Configuration", s3, "RoleARN",
				      "arn:aws:iam::000000000000:role/ingestd");
		json_object_del(json_object_get(h, "S3Configuration"), "BufferingHints");
		json_object_set_new(in, "HttpEndpointDestinationConfiguration", h);
	} else if (in) {
		json_object_set(in, "ExtendedS3DestinationConfiguration", s3);
	}
	json_decref(s3);
	json_t *out;
	int rc = fh(c, "CreateDeliveryStream", in, &out);
	if (rc)
		return rc;
	return answered(c, out, "created delivery stream %s (%s)", argv[0],
			json_string_value(json_object_get(out, "DeliveryStreamARN")));
}

static int cmd_fh_list(struct cli *c, const struct cmd *cmd, const struct opts *o, int argc,
		       char **argv)
{
	(void)cmd, (void)o, (void)argc, (void)argv;
	json_t *names = json_array();
	int rc;
	for (;;) {
		json_t *in = json_pack("{s:i}", "Limit", 10000), *out;
		if (json_array_size(names))
			json_object_set_new(in, "ExclusiveStartDeliveryStreamName",
					    json_copy(json_array_get(names, json_array_size(names) - 1)));
		if ((rc = fh(c, "ListDeliveryStreams", in, &out)))
			goto out;
		json_array_extend(names, json_object_get(out, "DeliveryStreamNames"));
		bool more = json_is_true(json_object_get(out, "HasMoreDeliveryStreams"));
		json_decref(out);
		if (!more)
			break;
	}
	if (c->json) {
		json_t *all = json_pack("{s:O, s:b}", "DeliveryStreamNames", names,
					"HasMoreDeliveryStreams", 0);
		print_json(all);
		json_decref(all);
	} else if (!json_array_size(names)) {
		puts("no delivery streams");
	} else {
		size_t i;
		json_t *n;
		json_array_foreach(names, i, n)
			puts(json_string_value(n));
	}
out:
	json_decref(names);
	return rc;
}

static int cmd_fh_describe(struct cli *c, const struct cmd *cmd, const struct opts *o, int argc,
			   char **argv)
{
	(void)cmd, (void)o, (void)argc;
	json_t *out;
	int rc = fh(c, "DescribeDeliveryStream", json_pack("{s:s}", "DeliveryStreamName", argv[0]),
		    &out);
	if (rc)
		return rc;
	json_t *d = json_object_get(out, "DeliveryStreamDescription");
	if (c->json) {
		print_json(out);
		json_decref(out);
		return RC_OK;
	}
	json_t *dst = json_array_get(json_object_get(d, "Destinations"), 0);
	json_t *s3 = json_object_get(dst, "ExtendedS3DestinationDescription");
	json_t *http = json_object_get(dst, "HttpEndpointDestinationDescription");
	if (!s3)
		s3 = json_object_get(dst, "S3DestinationDescription");
	json_t *bh = json_object_get(http ? http : s3, "BufferingHints");
	json_t *m = json_object_get(d, "DeliveryMetrics");
	char tmp[256], created[64];
	fmt_time(json_object_get(d, "CreateTimestamp"), created, sizeof(created));
	printf("delivery stream  %s\n", jstr(d, "DeliveryStreamName", tmp, sizeof(tmp)));
	printf("arn              %s\n", jstr(d, "DeliveryStreamARN", tmp, sizeof(tmp)));
	printf("status           %s\n", jstr(d, "DeliveryStreamStatus", tmp, sizeof(tmp)));
	printf("type             %s\n", jstr(d, "DeliveryStreamType", tmp, sizeof(tmp)));
	printf("version          %s\n", jstr(d, "VersionId", tmp, sizeof(tmp)));
	printf("created          %s\n", created);
	if (http)
		printf("destination      %s\n", jstr(json_object_get(http, "EndpointConfiguration"),
						      "Url", tmp, sizeof(tmp)));
	else
		printf("destination      %s\n", jstr(s3, "BucketARN", tmp, sizeof(tmp)));
	printf("buffering        %s MiB or ", jstr(bh, "SizeInMBs", tmp, sizeof(tmp)));
	printf("%s s\n", jstr(bh, "IntervalInSeconds", tmp, sizeof(tmp)));
	if (s3)
		printf("compression      %s\n", jstr(s3, "CompressionFormat", tmp, sizeof(tmp)));
	static const char *const metrics[] = { "IncomingRecords", "IncomingBytes",
		"DeliveredRecords", "DeliveredBytes", "DeliveredObjects", "FailedRecords",
		"DroppedRecords", "DataFreshnessMs" };
	for (size_t i = 0; m && i < sizeof(metrics) / sizeof(metrics[0]); i++)
		printf("%-17s%s\n", metrics[i], jstr(m, metrics[i], tmp, sizeof(tmp)));
	json_decref(out);
	return RC_OK;
}

static int fh_flush(struct cli *c, const char *name, json_t *batch, unsigned *failed)
{
	json_t *out;
	int rc = fh(c, "PutRecordBatch", json_pack("{s:s, s:O}", "DeliveryStreamName", name,
						  "Records", batch), &out);
	json_array_clear(batch);
	if (rc)
		return rc;
	*failed += (unsigned)json_integer_value(json_object_get(out, "FailedPutCount"));
	json_decref(out);
	return RC_OK;
}

static int cmd_fh_put(struct cli *c, const struct cmd *cmd, const struct opts *o, int argc,
		      char **argv)
{
	(void)cmd;
	json_t *batch = json_array();
	unsigned failed = 0, n = 0;
	size_t bytes = 0;
	int rc = RC_OK;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	/* DATA as one record; else each stdin line (with its newline) is one record. */
	for (bool once = argc == 2;;) {
		const char *data;
		size_t dl;
		if (once) {
			data = argv[1];
			dl = strlen(argv[1]);
		} else {
			if ((len = getline(&line, &cap, stdin)) < 0)
				break;
			data = line;
			dl = (size_t)len;
		}
		char *b64 = malloc(ctl_b64_enc_len(dl) + 1);
		if (!b64) {
			rc = RC_SERVER;
			break;
		}
		b64[ctl_b64_encode(data, dl, b64)] = 0;
		if (json_array_size(batch) == FH_BATCH_RECORDS || bytes + dl > FH_BATCH_BYTES) {
			if ((rc = fh_flush(c, argv[0], batch, &failed)))
				break;
			bytes = 0;
		}
		json_array_append_new(batch, json_pack("{s:s}", "Data", b64));
		free(b64);
		bytes += dl;
		n++;
		if (once)
			break;
	}
	if (rc == RC_OK && json_array_size(batch))
		rc = fh_flush(c, argv[0], batch, &failed);
	free(line);
	json_decref(batch);
	if (rc)
		return rc;
	if (!o->quiet)
		printf("put %u record(s), %u failed\n", n, failed);
	return failed ? RC_PARTIAL : RC_OK;
}

static int cmd_fh_delete(struct cli *c, const struct cmd *cmd, const struct opts *o, int argc,
			 char **argv)
{
	(void)cmd, (void)o, (void)argc;
	json_t *out;
	int rc = fh(c, "DeleteDeliveryStream", json_pack("{s:s}", "DeliveryStreamName", argv[0]),
		    &out);
	if (rc)
		return rc;
	return answered(c, out, "deleted delivery stream %s", argv[0]);
}

/* ---- functions (Lambda's REST paths on the admin socket) ------------------------------------- */

static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	size_t n = size * nmemb;
	static const char h[] = "x-amz-function-error:";
	if (n >= sizeof(h) - 1 && strncasecmp(p, h, sizeof(h) - 1) == 0)
		*(bool *)arg = true;
	return n;
}

/*
 * One REST request: method, path, optional body. The answer's body is left in c->resp
 * (NUL-terminated), its status in *status, and whether it carried X-Amz-Function-Error in
 * *fn_error. Returns RC_OK or RC_UNREACHABLE (printed).
 */
static int rest(struct cli *c, const char *method, const char *path, const char *body,
		size_t len, long *status, bool *fn_error)
{
	struct curl_slist *hdr = NULL;
	*fn_error = false;
	/* An invocation may run up to Lambda's 900 s limit. */
	request_begin(c, method, path, 960L);
	curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, fn_error);
	if (body) {
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
		hdr = curl_slist_append(hdr, "Expect:");
		curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	CURLcode cr = curl_easy_perform(c->curl);
	curl_slist_free_all(hdr);
	if (cr != CURLE_OK)
		return unreachable(c, cr);
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
	if (!c->resp.p || !c->resp.n) {
		c->resp.n = 0;
		if (!c->resp.p && !(c->resp.p = calloc(1, 1)))
			return RC_SERVER;
	}
	c->resp.p[c->resp.n] = '\0';
	return RC_OK;
}

/* Print a Lambda error answer; returns RC_SERVER. */
static int rest_err(struct cli *c, long status)
{
	json_t *j = json_loadb(c->resp.p, c->resp.n, 0, NULL);
	const char *msg = json_string_value(json_object_get(j, "message"));
	errmsg("HTTP %ld: %s", status, msg ? msg : c->resp.n ? c->resp.p : "(no message)");
	json_decref(j);
	return RC_SERVER;
}

static int cmd_fn_list(struct cli *c, const struct cmd *cmd, const struct opts *o, int argc,
		       char **argv)
{
	(void)cmd, (void)o, (void)argc, (void)argv;
	long status;
	bool fe;
	int rc = rest(c, "GET", "/2015-03-31/functions/?MaxItems=10000", NULL, 0, &status, &fe);
	if (rc)
		return rc;
	if (status != 200)
		return rest_err(c, status);
	json_t *j = json_loadb(c->resp.p, c->resp.n, 0, NULL);
	if (!j) {
		errmsg("ingestd answered the function list with something that is not JSON");
		return RC_SERVER;
	}
	if (c->json) {
		print_json(j);
		json_decref(j);
		return RC_OK;
	}
	printf("%-32s %-16s %8s %8s  %s\n", "NAME", "RUNTIME", "TIMEOUT", "MEMORY", "HANDLER");
	size_t i;
	json_t *f;
	json_array_foreach(json_object_get(j, "Functions"), i, f) {
		char t[4][64];
		printf("%-32s %-16s %7ss %6sMB  %s\n", jstr(f, "FunctionName", t[0], 64),
		       jstr(f, "Runtime", t[1], 64), jstr(f, "Timeout", t[2], 64),
		       jstr(f, "MemorySize", t[3], 64),
		       json_string_value(json_object_get(f, "Handler")) ?
		       json_string_value(json_object_get(f, "Handler")) : "-");
	}
	json_decref(j);
	return RC_OK;
}

static int cmd_fn_invoke(struct cli *c, const struct cmd *cmd, const struct opts *o, int argc,
			 char **argv)
{
	(void)cmd, (void)o;
	char path[256];
	char *esc = curl_easy_escape(c->curl, argv[0], 0);
	if (!esc)
		return RC_SERVER;
	snprintf(path, sizeof(path), "/2015-03-31/functions/%s/invocations", esc);
	curl_free(esc);
	const char *payload = argc > 1 ? argv[1] : "";
	long status;
	bool fn_error;
	int rc = rest(c, "POST", path, payload, strlen(payload), &status, &fn_error);
	if (rc)
		return rc;
	if (status != 200)
		return rest_err(c, status);
	fwrite(c->resp.p, 1, c->resp.n, stdout);
	if (c->resp.n && c->resp.p[c->resp.n - 1] != '\n')
		putchar('\n');
	if (fn_error) {
		errmsg("%s failed (the error is above)", argv[0]);
		return RC_SERVER;
	}
	return RC_OK;
}

static int cmd_fn_logs(struct cli *c, const struct cmd *cmd, const struct opts *o, int argc,
		       char **argv)
{
	(void)cmd, (void)argc;
	char path[256];
	char *esc = curl_easy_escape(c->curl, argv[0], 0);
	if (!esc)
		return RC_SERVER;
	snprintf(path, sizeof(path), "/functions/%s/logs?bytes=%ld", esc,
		 o->limit > 0 ? o->limit : 65536);
	curl_free(esc);
	long status;
	bool fe;
	int rc = rest(c, "GET", path, NULL, 0, &status, &fe);
	if (rc)
		return rc;
	if (status != 200) {
		errmsg("no function named %s", argv[0]);
		return RC_SERVER;
	}
	fwrite(c->resp.p, 1, c->resp.n, stdout);
	return RC_OK;
}

/* ---- command table and main ------------------------------------------------------------------ */

/* ---- plan and apply ------------------------------------------------------------------------ */

static int api_call(void *arg, const char *target, const char *method, const char *path,
		    const json_t *in, json_t **out)
{
	return request(arg, method, path, target, in, out);
}

static int plan_or_apply(struct cli *c, const struct cmd *cmd, const struct opts *o, bool apply)
{
	if (!o->file)
		return usage_err(cmd, "%s needs -f FILE (the declarations, YAML or JSON)", cmd->name);
	struct ic_api api = { .call = api_call, .arg = c };
	struct ic_apply_opts ao = { .apply = apply, .json = c->json, .out = stdout, .err = stderr };
	int r = ic_apply_file(&api, o->file, &ao);
	return r == IC_APPLY_ERR_FILE ? RC_USAGE : r == IC_APPLY_ERR_UNREACHABLE ? RC_UNREACHABLE
					  : r ? RC_SERVER : RC_OK;
}

static int cmd_plan(struct cli *c, const struct cmd *cmd, const struct opts *o, int argc,
		    char **argv)
{
	(void)argc;
	(void)argv;
	return plan_or_apply(c, cmd, o, false);
}

static int cmd_apply(struct cli *c, const struct cmd *cmd, const struct opts *o, int argc,
		     char **argv)
{
	(void)argc;
	(void)argv;
	return plan_or_apply(c, cmd, o, true);
}

/* ---- catalog --------------------------------------------------------------------------------- */

/* A Glue operation (AWSGlue.<op>); in is consumed. */
static int glue(struct cli *c, const char *op, json_t *in, json_t **out)
{
	char target[64];
	snprintf(target, sizeof(target), "AWSGlue.%s", op);
	return kin(c, target, in, out);
}

/* Print {list_name: items} for --json. */
static void print_list_json(const char *list_name, json_t *items)
{
	json_t *all = json_pack("{s:O}", list_name, items);
	print_json(all);
	json_decref(all);
}

/* Adds the row of one item of a listing to t; arg: what the command passes along. */
typedef void listing_row(struct table *t, const json_t *item, void *arg);

/* A listing command: what it asks for and how it prints the answer. */
struct listing {
	const char *op;         /* the operation, paged with all_pages */
	const char *list_name;  /* the answer's array; the one member of the --json object */
	const char *empty;      /* the line (before the command's tail) when there are no items */
	unsigned ncol;
	const char *const *head;
	const bool *right;      /* as in struct table */
	listing_row *row;
};

/*
 * Every page of l->op (in consumed; token_key as in all_pages), then {list_name: items} with
 * --json; else the line empty + empty_tail when there are no items, or a table, a row per item.
 */
static int run_listing(struct cli *c, service_call *call, const char *token_key,
		       const struct listing *l, json_t *in, const char *empty_tail, void *arg)
{
	json_t *items, *item;
	size_t i;
	int rc = all_pages(c, call, l->op, in, token_key, l->list_name, &items);
	if (rc)
		return rc;
	if (c->json) {
		print_list_json(l->list_name, items);
	} else if (!json_array_size(items)) {
		printf("%s%s\n", l->empty, empty_tail);
	} else {
		struct table t = { l->ncol, l->head, l->right, NULL, 0, 0 };
		json_array_foreach(items, i, item)
			l->row(&t, item, arg);
		table_print(&t);
		table_free(&t);
	}
	json_decref(items);
	return RC_OK;
}

/* A Glue listing (NextToken); see run_listing. */
static int glue_listing(struct cli *c, const struct listing *l, json_t *in,
			const char *empty_tail, void *arg)
{
	return run_listing(c, glue, "NextToken", l, in, empty_tail, arg);
}

static void database_row(struct table *t, const json_t *d, void *arg)
{
	(void)arg;
	char a[2][64], created[64];
	fmt_time(json_object_get(d, "CreateTime"), created, sizeof(created));
	table_add(t, jstr(d, "Name", a[0], 64), jstr(d, "LocationUri", a[1], 64), created,
		  json_string_value(json_object_get(d, "Description")));
}

static int cmd_cat_databases(struct cli *c, const struct cmd *cmd, const struct opts *o,
			     int argc, char **argv)
{
	(void)cmd, (void)o, (void)argc, (void)argv;
	static const char *const head[] = { "NAME", "LOCATION", "CREATED", "DESCRIPTION" };
	static const struct listing l = { "GetDatabases", "DatabaseList", "no databases", 4, head,
					  NULL, database_row };
	return glue_listing(c, &l, json_object(), "", NULL);
}

/* A JSON string's text, or "" for anything else. */
static const char *jtext(const json_t *v)
{
	const char *s = json_string_value(v);
	return s ? s : "";
}

/* The names of a Column list joined by ", " ("-" when empty); malloc'd. */
static char *column_names(const json_t *cols)
{
	size_t i, n = 1;
	json_t *col;
	json_array_foreach(cols, i, col)
		n += strlen(jtext(json_object_get(col, "Name"))) + 2;
	char *s = calloc(1, n + 1);
	if (!s)
		return NULL;
	json_array_foreach(cols, i, col) {
		if (i)
			strcat(s, ", ");
		strcat(s, jtext(json_object_get(col, "Name")));
	}
	if (!*s)
		strcpy(s, "-");
	return s;
}

static void table_row(struct table *t, const json_t *tb, void *arg)
{
	(void)arg;
	char a[4][64], ncol[24], updated[64];
	json_t *sd = json_object_get(tb, "StorageDescriptor");
	char *keys = column_names(json_object_get(tb, "PartitionKeys"));
	snprintf(ncol, sizeof(ncol), "%zu", json_array_size(json_object_get(sd, "Columns")));
	fmt_time(json_object_get(tb, "UpdateTime"), updated, sizeof(updated));
	table_add(t, jstr(tb, "Name", a[0], 64), jstr(tb, "TableType", a[1], 64), ncol, keys,
		  jstr(tb, "VersionId", a[2], 64), updated, jstr(sd, "Location", a[3], 64));
	free(keys);
}

static int cmd_cat_tables(struct cli *c, const struct cmd *cmd, const struct opts *o, int argc,
			  char **argv)
{
	(void)cmd, (void)o, (void)argc;
	static const char *const head[] = { "NAME", "TYPE", "COLUMNS", "PARTITION KEYS", "VERSION",
					    "UPDATED", "LOCATION" };
	static const bool right[] = { false, false, true, false, true, false, false };
	static const struct listing l = { "GetTables", "TableList", "no tables in ", 7, head, right,
					  table_row };
	return glue_listing(c, &l, json_pack("{s:s}", "DatabaseName", argv[0]), argv[0], NULL);
}

static int cmd_cat_table(struct cli *c, const struct cmd *cmd, const struct opts *o, int argc,
			 char **argv)
{
	(void)cmd, (void)o, (void)argc;
	json_t *out;
	int rc = glue(c, "GetTable", json_pack("{s:s,s:s}", "DatabaseName", argv[0], "Name",
					       argv[1]), &out);
	if (rc)
		return rc;
	json_t *tb = json_object_get(out, "Table");
	if (c->json) {
		print_json(out);
		json_decref(out);
		return RC_OK;
	}
	json_t *sd = json_object_get(tb, "StorageDescriptor");
	char a[8][64], created[64], updated[64];
	fmt_time(json_object_get(tb, "CreateTime"), created, sizeof(created));
	fmt_time(json_object_get(tb, "UpdateTime"), updated, sizeof(updated));
	printf("table:          %s.%s\n", jstr(tb, "DatabaseName", a[0], 64),
	       jstr(tb, "Name", a[1], 64));
	printf("type:           %s\n", jstr(tb, "TableType", a[2], 64));
	printf("version:        %s\n", jstr(tb, "VersionId", a[3], 64));
	printf("created:        %s\n", created);
	printf("updated:        %s\n", updated);
	printf("location:       %s\n", jstr(sd, "Location", a[4], 64));
	printf("input format:   %s\n", jstr(sd, "InputFormat", a[5], 64));
	printf("serde:          %s\n", jstr(json_object_get(sd, "SerdeInfo"),
					    "SerializationLibrary", a[6], 64));
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(tb, "Parameters"), k, v)
		printf("parameter:      %s = %s\n", k, jstr(json_object_get(tb, "Parameters"), k,
							    a[7], 64));
	putchar('\n');
	static const char *const head[] = { "COLUMN", "TYPE", "PARTITION KEY", "COMMENT" };
	struct table t = { 4, head, NULL, NULL, 0, 0 };
	size_t i;
	json_t *col;
	json_array_foreach(json_object_get(sd, "Columns"), i, col)
		table_add(&t, jstr(col, "Name", a[0], 64), jstr(col, "Type", a[1], 64), "",
			  json_string_value(json_object_get(col, "Comment")));
	json_array_foreach(json_object_get(tb, "PartitionKeys"), i, col)
		table_add(&t, jstr(col, "Name", a[0], 64), jstr(col, "Type", a[1], 64), "yes",
			  json_string_value(json_object_get(col, "Comment")));
	table_print(&t);
	table_free(&t);
	json_decref(out);
	return RC_OK;
}

/* arg: the table's PartitionKeys, which label the values (key=value) for people. */
static void partition_row(struct table *t, const json_t *p, void *arg)
{
	const json_t *keys = arg;
	char a[64], created[64], vals[2048] = "";
	size_t j, n = 0;
	json_t *v;
	json_array_foreach(json_object_get(p, "Values"), j, v) {
		const char *kn = json_string_value(json_object_get(json_array_get(keys, j), "Name"));
		int w = snprintf(vals + n, sizeof(vals) - n, "%s%s=%s", j ? "/" : "", kn ? kn : "?",
				 jtext(v));
		if (w < 0 || (size_t)w >= sizeof(vals) - n)
			break;
		n += (size_t)w;
	}
	fmt_time(json_object_get(p, "CreationTime"), created, sizeof(created));
	table_add(t, vals, jstr(json_object_get(p, "StorageDescriptor"), "Location", a, 64),
		  created);
}

static int cmd_cat_partitions(struct cli *c, const struct cmd *cmd, const struct opts *o,
			      int argc, char **argv)
{
	(void)cmd, (void)argc;
	static const char *const head[] = { "VALUES", "LOCATION", "CREATED" };
	static const struct listing l = { "GetPartitions", "Partitions", "no partitions", 3, head,
					  NULL, partition_row };
	json_t *tout;
	/* The table's keys label the values (key=value) for people. */
	int rc = glue(c, "GetTable", json_pack("{s:s,s:s}", "DatabaseName", argv[0], "Name",
					       argv[1]), &tout);
	if (rc)
		return rc;
	json_t *in = json_pack("{s:s,s:s}", "DatabaseName", argv[0], "TableName", argv[1]);
	if (in && o->expression)
		json_object_set_new(in, "Expression", json_string(o->expression));
	json_t *keys = json_object_get(json_object_get(tout, "Table"), "PartitionKeys");
	rc = glue_listing(c, &l, in, o->expression ? " match" : "", keys);
	json_decref(tout);
	return rc;
}

/* ---- workflows (Step Functions) ---------------------------------------------------------------- */

#define SFN_ARN_PREFIX "arn:aws:states:us-east-1:000000000000:stateMachine:"

/* An AWSStepFunctions operation; in is consumed. */
static int sfn(struct cli *c, const char *op, json_t *in, json_t **out)
{
	char target[64];
	snprintf(target, sizeof(target), "AWSStepFunctions.%s", op);
	return kin(c, target, in, out);
}

/* A Step Functions listing (nextToken); see run_listing. */
static int sfn_listing(struct cli *c, const struct listing *l, json_t *in)
{
	return run_listing(c, sfn, "nextToken", l, in, "", NULL);
}

/* NAME or a full state machine ARN. */
static void machine_arn(const char *name, char *out, size_t n)
{
	if (strncmp(name, "arn:", 4) == 0)
		snprintf(out, n, "%s", name);
	else
		snprintf(out, n, SFN_ARN_PREFIX "%s", name);
}

/* The whole of a file (or stdin for "-"), NUL-terminated; NULL after printing why. */
static char *slurp(const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (!f) {
		errmsg("cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	size_t n = 0, cap = 4096;
	char *p = malloc(cap);
	while (p) {
		size_t r = fread(p + n, 1, cap - n - 1, f);
		n += r;
		if (n + 1 < cap)
			break;
		char *np = realloc(p, cap *= 2);
		if (!np) {
			free(p);
			p = NULL;
		}
		p = np;
	}
	if (f != stdin)
		fclose(f);
	if (!p)
		errmsg("out of memory reading %s", path);
	else
		p[n] = '\0';
	return p;
}

static int cmd_wf_create(struct cli *c, const struct cmd *cmd, const struct opts *o, int argc,
			 char **argv)
{
	(void)argc;
	if (!o->file)
		return usage_err(cmd, "the definition is needed: -f DEF.json");
	if (o->type && strcmp(o->type, "STANDARD") != 0 && strcmp(o->type, "EXPRESS") != 0)
		return usage_err(cmd, "--type %s: expected STANDARD or EXPRESS", o->type);
	char *def = slurp(o->file);
	if (!def)
		return RC_USAGE;
	json_t *out;
	int rc = sfn(c, "CreateStateMachine",
		     json_pack("{s:s, s:s, s:s, s:s}", "name", argv[0], "definition", def, "type",
			       o->type ? o->type : "STANDARD", "roleArn",
			       "arn:aws:iam::000000000000:role/ingestd"), &out);
	free(def);
	if (rc)
		return rc;
	return answered(c, out, "%s", json_string_value(json_object_get(out, "stateMachineArn")));
}

static void machine_row(struct table *t, const json_t *m, void *arg)
{
	(void)arg;
	char a[3][64], created[64];
	fmt_time(json_object_get(m, "creationDate"), created, sizeof(created));
	table_add(t, jstr(m, "name", a[0], 64), jstr(m, "type", a[1], 64), created,
		  jstr(m, "stateMachineArn", a[2], 64));
}

static int cmd_wf_list(struct cli *c, const struct cmd *cmd, const struct opts *o, int argc,
		       char **argv)
{
	(void)cmd, (void)o, (void)argc, (void)argv;
	static const char *const head[] = { "NAME", "TYPE", "CREATED", "ARN" };
	static const struct listing l = { "ListStateMachines", "stateMachines", "no workflows", 4,
					  head, NULL, machine_row };
	return sfn_listing(c, &l, json_object());
}

static int cmd_wf_describe(struct cli *c, const struct cmd *cmd, const struct opts *o, int argc,
			   char **argv)
{
	(void)cmd, (void)o, (void)argc;
	char arn[512];
	json_t *out;
	machine_arn(argv[0], arn, sizeof(arn));
	int rc = sfn(c, "DescribeStateMachine", json_pack("{s:s}", "stateMachineArn", arn), &out);
	if (rc)
		return rc;
	if (c->json) {
		print_json(out);
	} else {
		char created[64], a[4][64];
		fmt_time(json_object_get(out, "creationDate"), created, sizeof(created));
		printf("name:     %s\ntype:     %s\nstatus:   %s\ncreated:  %s\narn:      %s\n",
		       jstr(out, "name", a[0], 64), jstr(out, "type", a[1], 64),
		       jstr(out, "status", a[2], 64), created, jstr(out, "stateMachineArn", a[3], 64));
		json_t *d = json_loads(jtext(json_object_get(out, "definition")), 0, NULL);
		puts("definition:");
		if (d)
			print_json(d);
		else
			puts(jtext(json_object_get(out, "definition")));
		json_decref(d);
	}
	json_decref(out);
	return RC_OK;
}

static int cmd_wf_start(struct cli *c, const struct cmd *cmd, const struct opts *o, int argc,
			char **argv)
{
	(void)cmd, (void)argc;
	char arn[512];
	json_t *out;
	machine_arn(argv[0], arn, sizeof(arn));
	json_t *in = json_pack("{s:s, s:s}", "stateMachineArn", arn, "input",
			       o->input ? o->input : "{}");
	if (in && o->exec_name)
		json_object_set_new(in, "name", json_string(o->exec_name));
	int rc = sfn(c, "StartExecution", in, &out);
	if (rc)
		return rc;
	return answered(c, out, "%s", json_string_value(json_object_get(out, "executionArn")));
}

static void execution_row(struct table *t, const json_t *e, void *arg)
{
	(void)arg;
	char a[3][64], st[64], sp[64];
	fmt_time(json_object_get(e, "startDate"), st, sizeof(st));
	fmt_time(json_object_get(e, "stopDate"), sp, sizeof(sp));
	table_add(t, jstr(e, "name", a[0], 64), jstr(e, "status", a[1], 64), st, sp,
		  jstr(e, "executionArn", a[2], 64));
}

static int cmd_wf_executions(struct cli *c, const struct cmd *cmd, const struct opts *o,
			     int argc, char **argv)
{
	(void)cmd, (void)o, (void)argc;
	char arn[512];
	machine_arn(argv[0], arn, sizeof(arn));
	static const char *const head[] = { "NAME", "STATUS", "STARTED", "STOPPED", "ARN" };
	static const struct listing l = { "ListExecutions", "executions", "no executions", 5, head,
					  NULL, execution_row };
	return sfn_listing(c, &l, json_pack("{s:s}", "stateMachineArn", arn));
}

/* "PassStateEntered" -> "Pass"; NULL unless the type is a state's entry or exit. */
static bool state_event(const char *type, const char *what, char *kind, size_t n)
{
	size_t tl = strlen(type), wl = strlen(what);
	if (tl <= wl || strcmp(type + tl - wl, what) != 0)
		return false;
	snprintf(kind, n, "%.*s", (int)(tl - wl), type);
	return true;
}

static void fmt_clock(const json_t *ts, char *out, size_t n)
{
	if (!json_is_number(ts)) {
		snprintf(out, n, "-");
		return;
	}
	double v = json_number_value(ts);
	time_t s = (time_t)v;
	struct tm tm;
	gmtime_r(&s, &tm);
	size_t l = strftime(out, n, "%H:%M:%S", &tm);
	snprintf(out + l, n - l, ".%03d", (int)((v - (double)s) * 1000.0 + 0.5) % 1000);
}

/* The path an execution took through its states: one row per state entered. */
static void render_path(json_t *events)
{
	static const char *const head[] = { "STATE", "TYPE", "ENTERED", "EXITED", "DURATION",
					    "ERROR" };
	static const bool right[] = { false, false, false, false, true, false };
	struct row {
		char name[96], kind[32], entered[32], exited[32], dur[32], error[160];
		double t0;
		bool open;
	} *rows = calloc(json_array_size(events) + 1, sizeof(*rows));
	size_t nrows = 0, i;
	json_t *ev;
	char final[256] = "";
	if (!rows) {
		errmsg("out of memory");
		return;
	}
	json_array_foreach(events, i, ev) {
		const char *type = jtext(json_object_get(ev, "type"));
		json_t *ts = json_object_get(ev, "timestamp");
		char kind[32];
		const char *k;
		json_t *v, *det = NULL;
		json_object_foreach(ev, k, v)
			if (strstr(k, "EventDetails"))
				det = v;
		if (state_event(type, "StateEntered", kind, sizeof(kind))) {
			struct row *r = &rows[nrows++];
			snprintf(r->name, sizeof(r->name), "%s", jtext(json_object_get(det, "name")));
			snprintf(r->kind, sizeof(r->kind), "%s", kind);
			fmt_clock(ts, r->entered, sizeof(r->entered));
			snprintf(r->exited, sizeof(r->exited), "-");
			snprintf(r->dur, sizeof(r->dur), "-");
			r->t0 = json_number_value(ts);
			r->open = true;
		} else if (state_event(type, "StateExited", kind, sizeof(kind))) {
			const char *name = jtext(json_object_get(det, "name"));
			for (size_t j = nrows; j-- > 0;)
				if (rows[j].open && strcmp(rows[j].name, name) == 0) {
					fmt_clock(ts, rows[j].exited, sizeof(rows[j].exited));
					snprintf(rows[j].dur, sizeof(rows[j].dur), "%.3f s",
						 json_number_value(ts) - rows[j].t0);
					rows[j].open = false;
					break;
				}
		} else if (strstr(type, "Failed") || strstr(type, "TimedOut") ||
			   strstr(type, "Aborted")) {
			const char *error = jtext(json_object_get(det, "error"));
			const char *cause = jtext(json_object_get(det, "cause"));
			if (strncmp(type, "Execution", 9) == 0) {
				snprintf(final, sizeof(final), "%s%s%s%s%s", type + 9,
					 *error ? ": " : "", error, *cause ? " - " : "", cause);
			}
			/* The error lands on the innermost state still open. */
			for (size_t j = nrows; j-- > 0;)
				if (rows[j].open) {
					if (*error)
						snprintf(rows[j].error, sizeof(rows[j].error), "%s",
							 error);
					break;
				}
		} else if (strcmp(type, "ExecutionSucceeded") == 0) {
			snprintf(final, sizeof(final), "Succeeded");
		}
	}
	struct table t = { 6, head, right, NULL, 0, 0 };
	for (i = 0; i < nrows; i++)
		table_add(&t, rows[i].name, rows[i].kind, rows[i].entered, rows[i].exited,
			  rows[i].dur, rows[i].error[0] ? rows[i].error : "");
	table_print(&t);
	table_free(&t);
	printf("execution: %s\n", final[0] ? final : "Running");
	free(rows);
}

static int cmd_wf_history(struct cli *c, const struct cmd *cmd, const struct opts *o, int argc,
			  char **argv)
{
	(void)cmd, (void)o, (void)argc;
	json_t *all;
	int rc = all_pages(c, sfn, "GetExecutionHistory",
			   json_pack("{s:s, s:i}", "executionArn", argv[0], "maxResults", 1000),
			   "nextToken", "events", &all);
	if (rc)
		return rc;
	if (c->json)
		print_list_json("events", all);
	else
		render_path(all);
	json_decref(all);
	return RC_OK;
}

static int cmd_wf_stop(struct cli *c, const struct cmd *cmd, const struct opts *o, int argc,
		       char **argv)
{
	(void)cmd, (void)o, (void)argc;
	json_t *out;
	int rc = sfn(c, "StopExecution", json_pack("{s:s}", "executionArn", argv[0]), &out);
	if (rc)
		return rc;
	return answered(c, out, "stopped");
}

/* ---- crawlers -------------------------------------------------------------------------------- */

/* The role a crawler made here names: nothing checks it, Glue requires one. */
#define CRAWLER_ROLE "arn:aws:iam::000000000000:role/ingestd-crawler"

static int cmd_crawler_create(struct cli *c, const struct cmd *cmd, const struct opts *o,
			      int argc, char **argv)
{
	(void)argc;
	if (!o->database || !o->path)
		return usage_err(cmd, "crawler create needs --database and --path");
	json_t *in = json_pack("{s:s,s:s,s:s,s:{s:[{s:s}]}}", "Name", argv[0], "Role",
			       CRAWLER_ROLE, "DatabaseName", o->database, "Targets", "S3Targets",
			       "Path", o->path);
	if (in && o->n_classifiers) {
		json_t *cl = json_array();
		for (unsigned i = 0; i < o->n_classifiers; i++)
			json_array_append_new(cl, json_string(o->classifiers[i]));
		json_object_set_new(in, "Classifiers", cl);
	}
	if (in && o->schedule)
		json_object_set_new(in, "Schedule", json_string(o->schedule));
	json_t *out;
	int rc = glue(c, "CreateCrawler", in, &out);
	if (rc)
		return rc;
	json_decref(out);
	if (!c->json)
		printf("crawler %s created over %s, tables in %s\n", argv[0], o->path, o->database);
	return RC_OK;
}

static void print_last_crawl(const char *name, const json_t *cr)
{
	const json_t *lc = json_object_get(cr, "LastCrawl");
	char started[64], a[2][64];
	if (!lc) {
		printf("crawler %s: %s, never ran\n", name, jstr(cr, "State", a[0], 64));
		return;
	}
	fmt_time(json_object_get(lc, "StartTime"), started, sizeof(started));
	const char *msg = json_string_value(json_object_get(lc, "ErrorMessage"));
	printf("crawler %s: %s; last crawl %s (started %s)%s%s\n", name,
	       jstr(cr, "State", a[0], 64), jstr(lc, "Status", a[1], 64), started, msg ? ": " : "",
	       msg ? msg : "");
}

static int crawler_metrics(struct cli *c, const char *name, json_t **m)
{
	json_t *out;
	int rc = glue(c, "GetCrawlerMetrics", json_pack("{s:[s]}", "CrawlerNameList", name), &out);
	if (rc)
		return rc;
	*m = json_incref(json_array_get(json_object_get(out, "CrawlerMetricsList"), 0));
	json_decref(out);
	return RC_OK;
}

static int cmd_crawler_start(struct cli *c, const struct cmd *cmd, const struct opts *o,
			     int argc, char **argv)
{
	(void)cmd, (void)argc;
	json_t *out, *cr = NULL;
	char before[64] = "", a[64];
	int rc = glue(c, "GetCrawler", json_pack("{s:s}", "Name", argv[0]), &out);
	if (rc)
		return rc;
	snprintf(before, sizeof(before), "%s", jstr(json_object_get(json_object_get(out, "Crawler"),
								    "LastCrawl"), "MessagePrefix",
						    a, sizeof(a)));
	json_decref(out);
	if ((rc = glue(c, "StartCrawler", json_pack("{s:s}", "Name", argv[0]), &out)))
		return rc;
	json_decref(out);
	if (!o->wait) {
		if (!c->json)
			printf("crawler %s started\n", argv[0]);
		return RC_OK;
	}
	/* Poll until the run ends: its LastCrawl is a new one and the state READY. */
	for (unsigned tick = 0; !g_stop; tick++) {
		if ((rc = glue(c, "GetCrawler", json_pack("{s:s}", "Name", argv[0]), &out)))
			return rc;
		cr = json_incref(json_object_get(out, "Crawler"));
		json_decref(out);
		const char *state = json_string_value(json_object_get(cr, "State"));
		const char *mp = json_string_value(json_object_get(json_object_get(cr, "LastCrawl"),
								   "MessagePrefix"));
		if (state && strcmp(state, "READY") == 0 && mp && strcmp(mp, before) != 0)
			break;
		if (tick % 5 == 0 && !c->json) {
			/* The estimate is the median of earlier runs less the time elapsed. */
			json_t *m = NULL;
			char left[64] = "";
			if (crawler_metrics(c, argv[0], &m) == RC_OK && m &&
			    json_is_false(json_object_get(m, "StillEstimating")))
				snprintf(left, sizeof(left), ", about %.0f s left",
					 json_number_value(json_object_get(m, "TimeLeftSeconds")));
			json_decref(m);
			fprintf(stderr, "crawler %s: %s, %.1f s elapsed%s\n", argv[0],
				state ? state : "?",
				(double)json_integer_value(json_object_get(cr, "CrawlElapsedTime")) /
					1000.0, left);
		}
		json_decref(cr);
		cr = NULL;
		usleep(200 * 1000);
	}
	if (!cr)
		return RC_SERVER;
	json_t *m = NULL;
	if ((rc = crawler_metrics(c, argv[0], &m))) {
		json_decref(cr);
		return rc;
	}
	const char *status = jstr(json_object_get(cr, "LastCrawl"), "Status", a, sizeof(a));
	if (c->json) {
		json_t *all = json_pack("{s:O,s:O}", "Crawler", cr, "Metrics", m ? m : json_null());
		print_json(all);
		json_decref(all);
	} else {
		print_last_crawl(argv[0], cr);
		if (strcmp(status, "SUCCEEDED") == 0)
			printf("tables created %" JSON_INTEGER_FORMAT ", updated %" JSON_INTEGER_FORMAT
			       ", deleted %" JSON_INTEGER_FORMAT " in %.1f s\n",
			       json_integer_value(json_object_get(m, "TablesCreated")),
			       json_integer_value(json_object_get(m, "TablesUpdated")),
			       json_integer_value(json_object_get(m, "TablesDeleted")),
			       json_number_value(json_object_get(m, "LastRuntimeSeconds")));
	}
	rc = strcmp(status, "SUCCEEDED") == 0 ? RC_OK : RC_SERVER;
	json_decref(m);
	json_decref(cr);
	return rc;
}

static void targets_text(const json_t *cr, char *out, size_t n)
{
	size_t i, at = 0;
	json_t *t;
	out[0] = '\0';
	json_array_foreach(json_object_get(json_object_get(cr, "Targets"), "S3Targets"), i, t) {
		int w = snprintf(out + at, n - at, "%s%s", i ? " " : "", jtext(json_object_get(t,
											"Path")));
		if (w < 0 || (size_t)w >= n - at)
			break;
		at += (size_t)w;
	}
}

static int cmd_crawler_status(struct cli *c, const struct cmd *cmd, const struct opts *o,
			      int argc, char **argv)
{
	(void)cmd, (void)o, (void)argc;
	json_t *out, *m = NULL;
	int rc = glue(c, "GetCrawler", json_pack("{s:s}", "Name", argv[0]), &out);
	if (rc)
		return rc;
	if ((rc = crawler_metrics(c, argv[0], &m))) {
		json_decref(out);
		return rc;
	}
	json_t *cr = json_object_get(out, "Crawler");
	if (c->json) {
		json_object_set(out, "Metrics", m ? m : json_null());
		print_json(out);
	} else {
		char a[4][64], targets[1024];
		targets_text(cr, targets, sizeof(targets));
		print_last_crawl(argv[0], cr);
		printf("database:       %s\n", jstr(cr, "DatabaseName", a[0], 64));
		printf("targets:        %s\n", targets);
		printf("schedule:       %s\n", jstr(json_object_get(cr, "Schedule"),
						    "ScheduleExpression", a[1], 64));
		printf("version:        %s\n", jstr(cr, "Version", a[2], 64));
		if (json_is_true(json_object_get(m, "StillEstimating")) ||
		    strcmp(jstr(cr, "State", a[3], 64), "READY") != 0)
			printf("elapsed:        %.1f s\n",
			       (double)json_integer_value(json_object_get(cr, "CrawlElapsedTime")) /
				       1000.0);
		printf("last run:       %.1f s (median %.1f s)\n",
		       json_number_value(json_object_get(m, "LastRuntimeSeconds")),
		       json_number_value(json_object_get(m, "MedianRuntimeSeconds")));
		printf("tables:         created %" JSON_INTEGER_FORMAT ", updated %"
		       JSON_INTEGER_FORMAT ", deleted %" JSON_INTEGER_FORMAT "\n",
		       json_integer_value(json_object_get(m, "TablesCreated")),
		       json_integer_value(json_object_get(m, "TablesUpdated")),
		       json_integer_value(json_object_get(m, "TablesDeleted")));
	}
	json_decref(m);
	json_decref(out);
	return RC_OK;
}

static void crawler_row(struct table *t, const json_t *cr, void *arg)
{
	(void)arg;
	char a[5][64], targets[1024];
	targets_text(cr, targets, sizeof(targets));
	table_add(t, jstr(cr, "Name", a[0], 64), jstr(cr, "State", a[1], 64),
		  jstr(cr, "DatabaseName", a[2], 64),
		  jstr(json_object_get(cr, "LastCrawl"), "Status", a[3], 64),
		  jstr(json_object_get(cr, "Schedule"), "ScheduleExpression", a[4], 64), targets);
}

static int cmd_crawler_list(struct cli *c, const struct cmd *cmd, const struct opts *o, int argc,
			    char **argv)
{
	(void)cmd, (void)o, (void)argc, (void)argv;
	static const char *const head[] = { "NAME", "STATE", "DATABASE", "LAST CRAWL", "SCHEDULE",
					    "TARGETS" };
	static const struct listing l = { "GetCrawlers", "Crawlers", "no crawlers", 6, head, NULL,
					  crawler_row };
	return glue_listing(c, &l, json_object(), "", NULL);
}

static const struct cmd g_cmds[] = {
	{ "status", "", "", 0, 0, cmd_status,
	  "version, uptime, streams and open shards of the daemon" },
	{ "stats", "", "", 0, 0, cmd_stats,
	  "per-shard counters: records, bytes, flushes, fsyncs, state" },
	{ "stream create", "NAME [--shards N | --on-demand]", "shards,on-demand", 1, 1, cmd_create,
	  "create a stream (1 shard unless --shards; on-demand streams start with 4)" },
	{ "stream list", "", "", 0, 0, cmd_list, "list the streams" },
	{ "stream describe", "NAME", "", 1, 1, cmd_describe,
	  "the stream and its shards: id, parents, hash key range, open or closed" },
	{ "stream delete", "NAME", "", 1, 1, cmd_delete, "delete a stream and its data" },
	{ "stream put", "NAME [--key K] [--quiet] [DATA]", "key,quiet", 1, 2, cmd_put,
	  "put DATA, or one record per stdin line (KEY<TAB>DATA, or DATA with --key or a\n"
	  "                          generated key); prints shard and sequence number per record" },
	{ "stream get", "NAME [--shard ID] [--from trim|latest|SEQ] [--limit N]", "shard,from,limit",
	  1, 1, cmd_get, "print the records of every shard (or one): sequence number, key, data" },
	{ "stream tail", "NAME [--shard ID] [--count N]", "shard,count", 1, 1, cmd_tail,
	  "follow new records on every open shard (and their children) until Ctrl-C" },
	{ "stream split", "NAME SHARD [HASHKEY]", "", 2, 3, cmd_split,
	  "split a shard at HASHKEY (default: the middle of its range)" },
	{ "stream merge", "NAME SHARD1 SHARD2", "", 3, 3, cmd_merge, "merge two adjacent shards" },
	{ "stream scale", "NAME N", "", 2, 2, cmd_scale,
	  "UpdateShardCount to N open shards (uniform scaling)" },
	{ "plan", "-f FILE", "file", 0, 0, cmd_plan,
	  "show what applying FILE would create, update, replace or remove (docs/apply.md)" },
	{ "apply", "-f FILE", "file", 0, 0, cmd_apply,
	  "create, update and remove resources so the appliance matches FILE; idempotent" },
	{ "catalog databases", "", "", 0, 0, cmd_cat_databases,
	  "list the Data Catalog's databases" },
	{ "catalog tables", "DB", "", 1, 1, cmd_cat_tables,
	  "list the tables of database DB: type, columns, partition keys, version" },
	{ "catalog table", "DB TABLE", "", 2, 2, cmd_cat_table,
	  "a table's definition: storage, parameters, columns and partition keys" },
	{ "catalog partitions", "DB TABLE [--expression E]", "expression", 2, 2, cmd_cat_partitions,
	  "list a table's partitions (key=value, location), those E selects with\n"
	  "                          --expression (GetPartitions' syntax: year > 2023 AND ...)" },
	{ "delivery create", "NAME --bucket B [--prefix P] [--size MB] [--interval S] "
	  "[--compression C] [--source STREAM] [--url URL]",
	  "bucket,prefix,size,interval,compression,source,url", 1, 1, cmd_fh_create,
	  "create a delivery stream into S3_ROOT/B/ (or to the HTTP endpoint URL, backing up to\n"
	  "                          B), fed by PutRecord or by the Kinesis stream STREAM" },
	{ "delivery list", "", "", 0, 0, cmd_fh_list, "list the delivery streams" },
	{ "delivery describe", "NAME", "", 1, 1, cmd_fh_describe,
	  "the delivery stream: destination, buffering, compression, delivery metrics" },
	{ "delivery put", "NAME [--quiet] [DATA]", "quiet", 1, 2, cmd_fh_put,
	  "put DATA as one record, or each stdin line (with its newline) as a record" },
	{ "delivery delete", "NAME", "", 1, 1, cmd_fh_delete,
	  "delete a delivery stream (its undelivered records are discarded)" },
	{ "function list", "", "", 0, 0, cmd_fn_list,
	  "the functions: name, runtime, timeout, memory, handler" },
	{ "function invoke", "NAME [PAYLOAD]", "", 1, 2, cmd_fn_invoke,
	  "invoke a function (RequestResponse) with PAYLOAD (JSON, default {}); prints the\n"
	  "                          result, or the error object with exit code 1" },
	{ "function logs", "NAME [--limit BYTES]", "limit", 1, 1, cmd_fn_logs,
	  "the end of a function's log (START/END/REPORT lines and its stderr)" },
	{ "workflow create", "NAME -f DEF.json [--type STANDARD|EXPRESS]", "file,type", 1, 1,
	  cmd_wf_create, "create a state machine from an Amazon States Language definition" },
	{ "workflow list", "", "", 0, 0, cmd_wf_list, "list the state machines" },
	{ "workflow describe", "NAME", "", 1, 1, cmd_wf_describe,
	  "a state machine: type, status, creation time and its definition" },
	{ "workflow start", "NAME [--input JSON] [--name N]", "input,name", 1, 1, cmd_wf_start,
	  "start an execution (input {} unless --input); prints its ARN" },
	{ "workflow executions", "NAME", "", 1, 1, cmd_wf_executions,
	  "list a state machine's executions, newest first" },
	{ "workflow history", "EXEC_ARN", "", 1, 1, cmd_wf_history,
	  "the path an execution took: each state entered, its type, entry and exit times,\n"
	  "                          duration and error" },
	{ "workflow stop", "EXEC_ARN", "", 1, 1, cmd_wf_stop, "stop (abort) a running execution" },
	{ "crawler create", "NAME --database DB --path s3://B/PREFIX|DIR [--classifier C ...] "
	  "[--schedule EXPR]", "database,path,classifier,schedule", 1, 1, cmd_crawler_create,
	  "create a crawler over a path (s3:// under the S3 root, or a local folder) writing\n"
	  "                          tables in DB; custom classifiers are tried first, in order" },
	{ "crawler start", "NAME [--wait]", "wait", 1, 1, cmd_crawler_start,
	  "start a crawl; --wait shows its progress and ends with its result" },
	{ "crawler status", "NAME", "", 1, 1, cmd_crawler_status,
	  "state, last crawl (status, error), targets, schedule and metrics of a crawler" },
	{ "crawler list", "", "", 0, 0, cmd_crawler_list,
	  "list the crawlers: state, database, last crawl, schedule, targets" },
};
#define N_CMDS (sizeof(g_cmds) / sizeof(g_cmds[0]))

static void help(FILE *f)
{
	fputs("usage: ingestctl [--socket PATH | --data-dir DIR] [--json] COMMAND [ARGS]\n"
	      "\n"
	      "Administers a running ingestd over its admin unix socket.\n"
	      "\n"
	      "  --socket PATH      the admin socket (default $INGESTD_SOCKET, else\n"
	      "                     " DEFAULT_SOCKET ")\n"
	      "  --data-dir DIR     the daemon's data directory: the socket is DIR/ingestd.sock\n"
	      "  --json             print the server's JSON instead of tables (get and tail: one\n"
	      "                     record per line)\n"
	      "  -h, --help         this text; COMMAND --help shows that command's usage\n"
	      "\n"
	      "commands:\n", f);
	for (size_t i = 0; i < N_CMDS; i++) {
		char head[128];
		snprintf(head, sizeof(head), "%s %s", g_cmds[i].name, g_cmds[i].args);
		fprintf(f, "  %s\n                          %s\n", head, g_cmds[i].help);
	}
	fputs("\n"
	      "exit codes:\n"
	      "  0  success\n"
	      "  1  the server answered an error (printed as 'ingestctl: <type>: <message>')\n"
	      "  2  usage error\n"
	      "  3  cannot reach the daemon on the socket\n"
	      "  4  partial failure: some records of a put failed\n", f);
}

static bool allowed(const char *list, const char *opt)
{
	size_t n = strlen(opt);
	for (const char *p = list; (p = strstr(p, opt)); p += n)
		if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

/* Parse a command's options and run it; argv[0] is the command's last word. */
static int run_cmd(struct cli *c, const struct cmd *cmd, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "shards", required_argument, NULL, 's' },
		{ "on-demand", no_argument, NULL, 'D' },
		{ "key", required_argument, NULL, 'k' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "shard", required_argument, NULL, 'S' },
		{ "from", required_argument, NULL, 'r' },
		{ "file", required_argument, NULL, 'f' },
		{ "limit", required_argument, NULL, 'l' },
		{ "count", required_argument, NULL, 'n' },
		{ "expression", required_argument, NULL, 'e' },
		{ "bucket", required_argument, NULL, 'B' },
		{ "prefix", required_argument, NULL, 'P' },
		{ "size", required_argument, NULL, 'Z' },
		{ "interval", required_argument, NULL, 'I' },
		{ "compression", required_argument, NULL, 'C' },
		{ "source", required_argument, NULL, 'R' },
		{ "url", required_argument, NULL, 'U' },
		{ "type", required_argument, NULL, 'T' },
		{ "input", required_argument, NULL, 'J' },
		{ "name", required_argument, NULL, 'N' },
		{ "database", required_argument, NULL, 'a' },
		{ "path", required_argument, NULL, 'p' },
		{ "classifier", required_argument, NULL, 'c' },
		{ "schedule", required_argument, NULL, 'E' },
		{ "wait", no_argument, NULL, 'W' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .interval_s = -1 };
	int ch, li;
	optind = 0; /* GNU getopt: start over on this argument vector */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":hf:", lo, &li)) != -1) {
		const char *bad = argv[optind - 1];
		if (ch == '?')
			return usage_err(cmd, "unknown option %s", bad);
		if (ch == ':')
			return usage_err(cmd, "option %s needs a value", bad);
		if (ch == 'h') {
			printf("usage: ingestctl [--socket PATH | --data-dir DIR] [--json] %s %s\n",
			       cmd->name, cmd->args);
			return RC_OK;
		}
		if (ch == 'j') {
			c->json = true;
			continue;
		}
		/* -f is the one short option (--file); li is only set for long ones. */
		const char *oname = ch == 'f' ? "file" : lo[li].name;
		if (!allowed(cmd->allowed, oname))
			return usage_err(cmd, "option --%s does not apply to %s", oname, cmd->name);
		switch (ch) {
		case 's':
			if (!parse_long(optarg, 1, 100000, &o.shards))
				return usage_err(cmd, "--shards %s: expected 1..100000", optarg);
			break;
		case 'D':
			o.on_demand = true;
			break;
		case 'k':
			o.key = optarg;
			if (!*optarg || strlen(optarg) > KEY_MAX)
				return usage_err(cmd, "--key: a partition key is 1 to %d bytes", KEY_MAX);
			break;
		case 'q':
			o.quiet = true;
			break;
		case 'S':
			o.shard = optarg;
			break;
		case 'r':
			o.from = optarg;
			break;
		case 'f':
			o.file = optarg;
			break;
		case 'l':
			if (!parse_long(optarg, 1, LONG_MAX, &o.limit))
				return usage_err(cmd, "--limit %s: expected a positive number", optarg);
			break;
		case 'n':
			if (!parse_long(optarg, 1, LONG_MAX, &o.count))
				return usage_err(cmd, "--count %s: expected a positive number", optarg);
			break;
		case 'e':
			o.expression = optarg;
			break;
		case 'B':
			o.bucket = optarg;
			break;
		case 'P':
			o.prefix = optarg;
			break;
		case 'Z':
			if (!parse_long(optarg, 1, 128, &o.size_mb))
				return usage_err(cmd, "--size %s: expected 1..128 (MiB)", optarg);
			break;
		case 'I':
			if (!parse_long(optarg, 0, 900, &o.interval_s))
				return usage_err(cmd, "--interval %s: expected 0..900 (seconds)", optarg);
			break;
		case 'C':
			o.compression = optarg;
			break;
		case 'R':
			o.source = optarg;
			break;
		case 'U':
			o.url = optarg;
			break;
		case 'T':
			o.type = optarg;
			break;
		case 'J':
			o.input = optarg;
			break;
		case 'N':
			o.exec_name = optarg;
			break;
		case 'a':
			o.database = optarg;
			break;
		case 'p':
			o.path = optarg;
			break;
		case 'c':
			if (o.n_classifiers == sizeof(o.classifiers) / sizeof(o.classifiers[0]))
				return usage_err(cmd, "at most %zu --classifier options",
						 sizeof(o.classifiers) / sizeof(o.classifiers[0]));
			o.classifiers[o.n_classifiers++] = optarg;
			break;
		case 'E':
			o.schedule = optarg;
			break;
		case 'W':
			o.wait = true;
			break;
		}
	}
	unsigned n = (unsigned)(argc - optind);
	if (n < cmd->min_args)
		return usage_err(cmd, "%s needs %u argument(s), got %u", cmd->name, cmd->min_args, n);
	if (n > cmd->max_args)
		return usage_err(cmd, "%s takes at most %u argument(s), got %u (unexpected '%s')",
				 cmd->name, cmd->max_args, n, argv[optind + cmd->max_args]);
	return cmd->fn(c, cmd, &o, (int)n, argv + optind);
}

static const struct cmd *cmd_find(const char *group, const char *name)
{
	char full[64];
	if (group)
		snprintf(full, sizeof(full), "%s %s", group, name);
	else
		snprintf(full, sizeof(full), "%s", name);
	for (size_t i = 0; i < N_CMDS; i++)
		if (strcmp(g_cmds[i].name, full) == 0)
			return &g_cmds[i];
	return NULL;
}

static const struct cmd_group g_groups[] = {
	{ "stream", "create, list, describe, delete, put, get, tail, split, merge or scale" },
	{ "catalog", "databases, tables, table or partitions" },
	{ "delivery", "create, list, describe, put or delete" },
	{ "function", "list, invoke or logs" },
	{ "workflow", "create, list, describe, start, executions, history or stop" },
	{ "crawler", "create, start, status or list" },
};

static const struct cmd_group *group_find(const char *name)
{
	for (size_t i = 0; i < sizeof(g_groups) / sizeof(g_groups[0]); i++)
		if (strcmp(g_groups[i].name, name) == 0)
			return &g_groups[i];
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "data-dir", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli c = { 0 };
	const char *sock = NULL, *dir = NULL;
	char path[PATH_MAX];
	int ch, rc;
	opterr = 0;
	/* '+': stop at the command, whose own options follow it. */
	while ((ch = getopt_long(argc, argv, "+:h", lo, NULL)) != -1) {
		switch (ch) {
		case 's':
			sock = optarg;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'j':
			c.json = true;
			break;
		case 'h':
			help(stdout);
			return RC_OK;
		case ':':
			return usage_err(NULL, "option %s needs a value", argv[optind - 1]);
		default:
			return usage_err(NULL, "unknown option %s", argv[optind - 1]);
		}
	}
	if (sock && dir)
		return usage_err(NULL, "pass either --socket or --data-dir, not both");
	if (dir) {
		if ((size_t)snprintf(path, sizeof(path), "%s/ingestd.sock", dir) >= sizeof(path))
			return usage_err(NULL, "--data-dir %s: path too long", dir);
		sock = path;
	}
	if (!sock)
		sock = getenv("INGESTD_SOCKET");
	if (!sock || !*sock)
		sock = DEFAULT_SOCKET;
	c.socket = sock;

	if (optind >= argc)
		return usage_err(NULL, "no command given");
	const struct cmd *cmd;
	int at = optind;
	const struct cmd_group *grp = group_find(argv[at]);
	if (grp) {
		if (at + 1 >= argc)
			return usage_err(NULL, "%s needs a subcommand: %s", grp->name, grp->subcommands);
		at++;
		cmd = cmd_find(grp->name, argv[at]);
		if (!cmd)
			return usage_err(NULL, "unknown command '%s %s'", grp->name, argv[at]);
	} else {
		cmd = cmd_find(NULL, argv[at]);
		if (!cmd)
			return usage_err(NULL, "unknown command '%s'", argv[at]);
	}

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		errmsg("libcurl failed to initialize");
		return RC_UNREACHABLE;
	}
	c.curl = curl_easy_init();
	if (!c.curl) {
		errmsg("libcurl failed to initialize");
		curl_global_cleanup();
		return RC_UNREACHABLE;
	}
	rc = run_cmd(&c, cmd, argc - at, argv + at);
	curl_easy_cleanup(c.curl);
	free(c.resp.p);
	curl_global_cleanup();
	return rc;
}
