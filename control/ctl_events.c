/* SPDX-License-Identifier: MIT */
/*
 * ctl_events: see ctl_events.h. Rules live in SQLite; the schedules of the rules are kept parsed
 * in memory with their next run, and the tick runs whatever is due.
 */
#include "ctl_events.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "ctl_b64.h"
#include "ctl_log.h"
#include "ctl_sched.h"
#include "ctl_uuid.h"

#define EV_NAME_MAX 64
#define EV_TARGETS_PER_RULE 5
#define EV_TARGETS_PER_CALL 10
#define EV_PAGE_MAX 100
#define EV_INPUT_MAX 8192

static const char *const ev_schema[] = {
	"CREATE TABLE events_rule(name TEXT PRIMARY KEY, region TEXT NOT NULL, schedule TEXT, "
	"pattern TEXT, state TEXT NOT NULL, description TEXT, role_arn TEXT, tags TEXT, "
	"created_ms INTEGER NOT NULL, anchor_ms INTEGER NOT NULL, last_run_ms INTEGER NOT NULL);"
	"CREATE TABLE events_target(rule TEXT NOT NULL, id TEXT NOT NULL, arn TEXT NOT NULL, "
	"input TEXT, input_path TEXT, PRIMARY KEY(rule, id));",
};

struct ev_rule {
	char name[EV_NAME_MAX + 1];
	char region[32];
	struct ctl_sched sched;
	int64_t anchor_ms, last_run_ms, next_ms;  /* next_ms -1: none */
	bool enabled;
};

struct ctl_events {
	struct ctl_meta *meta;
	struct ctl_aws *aws;
	struct ctl_loop *loop;
	struct ev_rule *rules;   /* scheduled rules only */
	unsigned n_rules, cap_rules;
	bool started;            /* the first tick (downtime catch-up) ran */
	struct ctl_events_stats st;
};

static sqlite3_stmt *prep(struct ctl_events *e, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(ctl_meta_db(e->meta), sql, -1, &st, NULL) != SQLITE_OK) {
		ctl_meta_fail(e->meta, "prepare");
		return NULL;
	}
	return st;
}

static const char *col(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);
	return s ? s : "";
}

/* ---- the in-memory schedule ------------------------------------------------------------------ */

static struct ev_rule *rule_find(struct ctl_events *e, const char *name)
{
	for (unsigned i = 0; i < e->n_rules; i++)
		if (strcmp(e->rules[i].name, name) == 0)
			return &e->rules[i];
	return NULL;
}

static void rule_forget(struct ctl_events *e, const char *name)
{
	struct ev_rule *r = rule_find(e, name);
	if (!r)
		return;
	*r = e->rules[--e->n_rules];
}

static void rule_plan(struct ev_rule *r)
{
	int64_t from = r->last_run_ms > r->anchor_ms ? r->last_run_ms : r->anchor_ms;
	r->next_ms = r->enabled ? ctl_sched_next(&r->sched, r->anchor_ms, from) : -1;
}

/* Insert or replace the scheduled rule in memory. Returns 0 or -ENOMEM. */
static int rule_remember(struct ctl_events *e, const struct ev_rule *nr)
{
	struct ev_rule *r = rule_find(e, nr->name);
	if (!r) {
		if (e->n_rules == e->cap_rules) {
			unsigned cap = e->cap_rules ? 2 * e->cap_rules : 16;
			struct ev_rule *nrules = realloc(e->rules, cap * sizeof(*nrules));
			if (!nrules)
				return -ENOMEM;
			e->rules = nrules;
			e->cap_rules = cap;
		}
		r = &e->rules[e->n_rules++];
	}
	*r = *nr;
	rule_plan(r);
	/* The loop's next wake-up may be later than this rule's first run. */
	if (e->loop)
		ctl_loop_wake(e->loop);
	return 0;
}

static int load_rules(struct ctl_events *e)
{
	sqlite3_stmt *q = prep(e, "SELECT name, region, schedule, state, anchor_ms, last_run_ms "
				  "FROM events_rule WHERE schedule IS NOT NULL");
	if (!q)
		return -EIO;
	int rc = 0;
	while (sqlite3_step(q) == SQLITE_ROW) {
		struct ev_rule r = { 0 };
		char why[160];
		snprintf(r.name, sizeof(r.name), "%s", col(q, 0));
		snprintf(r.region, sizeof(r.region), "%s", col(q, 1));
		if (ctl_sched_parse(col(q, 2), &r.sched, why, sizeof(why)) < 0) {
			/* Stored by an older version with other rules: keep it, never run it. */
			ctl_log(CTL_LOG_WARN, "events: rule %s has an unusable schedule '%s' (%s); it "
				"will not run until PutRule replaces it", r.name, col(q, 2), why);
			continue;
		}
		r.enabled = strcmp(col(q, 3), "ENABLED") == 0;
		r.anchor_ms = sqlite3_column_int64(q, 4);
		r.last_run_ms = sqlite3_column_int64(q, 5);
		if ((rc = rule_remember(e, &r)) < 0)
			break;
	}
	sqlite3_finalize(q);
	return rc;
}

/* ---- running a rule -------------------------------------------------------------------------- */

struct ev_sink {
	char rule[EV_NAME_MAX + 1];
	char target[256];
	struct ctl_events *e;
};

static void sink(void *arg, unsigned status, const char *ctype, char *body, size_t len,
		 const char *rid, const char *const *headers)
{
	struct ev_sink *s = arg;
	(void)ctype;
	(void)rid;
	bool fn_error = false;
	for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2)
		if (strcasecmp(headers[i], "X-Amz-Function-Error") == 0)
			fn_error = true;
	if (status >= 300 || fn_error) {
		s->e->st.failures++;
		ctl_log(CTL_LOG_WARN, "events: rule %s could not deliver to %s: HTTP %u %.*s",
			s->rule, s->target, status, (int)(len > 300 ? 300 : len), body ? body : "");
	}
	free(body);
	free(s);
}

static void rule_arn(const char *region, const char *account, const char *name, char *out,
		     size_t n)
{
	snprintf(out, n, "arn:aws:events:%s:%s:rule/%s", region, account, name);
}

/* The "Scheduled Event" EventBridge sends for a rule run at ms. */
static json_t *scheduled_event(const struct ev_rule *r, const char *account, int64_t ms)
{
	char id[37], when[32], arn[256];
	ctl_uuid4(id);
	time_t tt = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	rule_arn(r->region, account, r->name, arn, sizeof(arn));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[s], s:{}}", "version", "0", "id",
			 id, "detail-type", "Scheduled Event", "source", "aws.events", "account",
			 account, "time", when, "region", r->region, "resources", arn, "detail");
}

/* InputPath: "$" or a dotted path of member names ($.detail.x). NULL when it selects nothing. */
static json_t *select_path(json_t *doc, const char *path)
{
	if (strcmp(path, "$") == 0)
		return doc;
	json_t *cur = doc;
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path + 2);
	for (char *save = NULL, *it = strtok_r(buf, ".", &save); it && cur;
	     it = strtok_r(NULL, ".", &save))
		cur = json_object_get(cur, it);
	return cur;
}

static bool input_path_ok(const char *p)
{
	if (strcmp(p, "$") == 0)
		return true;
	if (strncmp(p, "$.", 2) != 0 || !p[2])
		return false;
	for (const char *c = p + 2; *c; c++)
		if (*c == '.' ? (c[1] == '.' || !c[1]) : !(*c == '_' || *c == '-' ||
							   (*c >= '0' && *c <= '9') ||
							   (*c >= 'a' && *c <= 'z') ||
							   (*c >= 'A' && *c <= 'Z')))
			return false;
	return true;
}

/* The internal request a target ARN turns into. Returns 0 or -EINVAL for an unknown kind. */
static int target_request(const char *arn, const char *rule, const char *input,
			  struct ctl_aws_request *rq, char *path, size_t pathn, char **body)
{
	char svc[32], res[300];
	/* arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE */
	if (sscanf(arn, "arn:aws:%31[^:]:%*[^:]:%*[^:]:%299s", svc, res) != 2)
		return -EINVAL;
	*body = NULL;
	json_t *j = NULL;
	memset(rq, 0, sizeof(*rq));
	rq->method = "POST";
	rq->path = "/";
	rq->trusted = true;
	rq->content_type = "application/x-amz-json-1.1";
	if (strcmp(svc, "lambda") == 0 && strncmp(res, "function:", 9) == 0) {
		char fn[200];
		snprintf(fn, sizeof(fn), "%.*s", (int)strcspn(res + 9, ":"), res + 9);
		snprintf(path, pathn, "/2015-03-31/functions/%s/invocations", fn);
		rq->path = path;
		rq->content_type = "application/json";
		*body = strdup(input);
	} else if (strcmp(svc, "states") == 0 && strncmp(res, "stateMachine:", 13) == 0) {
		rq->target = "AWSStepFunctions.StartExecution";
		rq->content_type = "application/x-amz-json-1.0";
		j = json_pack("{s:s, s:s}", "stateMachineArn", arn, "input", input);
	} else if (strcmp(svc, "kinesis") == 0 && strncmp(res, "stream/", 7) == 0) {
		size_t n = strlen(input);
		char *b64 = malloc(ctl_b64_enc_len(n) + 1);
		if (b64) {
			ctl_b64_encode(input, n, b64);
			rq->target = "Kinesis_20131202.PutRecord";
			j = json_pack("{s:s, s:s, s:s}", "StreamName", res + 7, "Data", b64,
				      "PartitionKey", rule);
		}
		free(b64);
	} else if (strcmp(svc, "firehose") == 0 && strncmp(res, "deliverystream/", 15) == 0) {
		size_t n = strlen(input);
		char *b64 = malloc(ctl_b64_enc_len(n) + 1);
		if (b64) {
			ctl_b64_encode(input, n, b64);
			rq->target = "Firehose_20150804.PutRecord";
			j = json_pack("{s:s, s:{s:s}}", "DeliveryStreamName", res + 15, "Record",
				      "Data", b64);
		}
		free(b64);
	} else {
		return -EINVAL;
	}
	if (j) {
		*body = json_dumps(j, JSON_COMPACT);
		json_decref(j);
	}
	if (!*body)
		return -ENOMEM;
	rq->body = *body;
	rq->len = strlen(*body);
	return 0;
}

static bool target_kind_ok(const char *arn)
{
	struct ctl_aws_request rq;
	char path[300], *body = NULL;
	int r = target_request(arn, "r", "{}", &rq, path, sizeof(path), &body);
	free(body);
	return r == 0;
}

static void run_rule(struct ctl_events *e, struct ev_rule *r, int64_t scheduled_ms)
{
	const char *account = "000000000000";
	sqlite3_stmt *q = prep(e, "SELECT id, arn, input, input_path FROM events_target "
				  "WHERE rule = ?1 ORDER BY id");
	if (!q)
		return;
	sqlite3_bind_text(q, 1, r->name, -1, SQLITE_STATIC);
	json_t *event = scheduled_event(r, account, scheduled_ms);
	e->st.runs++;
	while (event && sqlite3_step(q) == SQLITE_ROW) {
		const char *arn = col(q, 1);
		char *text = NULL;
		if (sqlite3_column_type(q, 2) != SQLITE_NULL) {
			text = strdup(col(q, 2));
		} else {
			json_t *sel = sqlite3_column_type(q, 3) != SQLITE_NULL
					      ? select_path(event, col(q, 3)) : event;
			text = sel ? json_dumps(sel, JSON_COMPACT | JSON_ENCODE_ANY)
				   : strdup("{}");
		}
		struct ev_sink *s = calloc(1, sizeof(*s));
		struct ctl_aws_request rq;
		char path[300], *body = NULL;
		if (!text || !s || target_request(arn, r->name, text, &rq, path, sizeof(path),
						  &body) < 0) {
			e->st.failures++;
			ctl_log(CTL_LOG_WARN, "events: rule %s: target %s cannot be invoked (%s)",
				r->name, arn, !text || !s ? "out of memory" : "unsupported ARN");
			free(text);
			free(s);
			free(body);
			continue;
		}
		snprintf(s->rule, sizeof(s->rule), "%s", r->name);
		snprintf(s->target, sizeof(s->target), "%s", arn);
		s->e = e;
		struct ctl_sigv4_header h[] = { { "X-Amz-Invocation-Type", "Event" } };
		rq.hdrs = h;
		rq.n_hdrs = 1;
		e->st.deliveries++;
		ctl_aws_invoke_detached(e->aws, &rq, sink, s);
		free(body);
		free(text);
	}
	json_decref(event);
	sqlite3_finalize(q);
	r->last_run_ms = scheduled_ms;
	sqlite3_stmt *u = prep(e, "UPDATE events_rule SET last_run_ms = ?2 WHERE name = ?1");
	if (u) {
		sqlite3_bind_text(u, 1, r->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(u, 2, scheduled_ms);
		if (sqlite3_step(u) != SQLITE_DONE)
			ctl_meta_fail(e->meta, "events: record a run");
		sqlite3_finalize(u);
	}
}

static int64_t ev_tick(void *arg, int64_t now_ms)
{
	struct ctl_events *e = arg;
	int64_t next = CTL_LOOP_NEVER;
	for (unsigned i = 0; i < e->n_rules; i++) {
		struct ev_rule *r = &e->rules[i];
		if (r->next_ms < 0)
			continue;
		if (r->next_ms <= now_ms) {
			/* Runs that fell into a downtime (or a stall) are coalesced into one. */
			int64_t after = ctl_sched_next(&r->sched, r->anchor_ms, r->next_ms);
			if (after >= 0 && after <= now_ms) {
				e->st.missed++;
				ctl_log(CTL_LOG_INFO, "events: rule %s missed runs while the daemon "
					"was down; running it once now", r->name);
			}
			run_rule(e, r, now_ms);
			r->next_ms = ctl_sched_next(&r->sched, r->anchor_ms, now_ms);
		}
		if (r->next_ms >= 0 && r->next_ms < next)
			next = r->next_ms;
	}
	e->started = true;
	return next;
}

/* ---- the API --------------------------------------------------------------------------------- */

static bool name_ok(const char *s)
{
	for (; *s; s++)
		if (!(*s == '.' || *s == '-' || *s == '_' || (*s >= '0' && *s <= '9') ||
		      (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
			return false;
	return true;
}

static void validation(struct ctl_aws_call *c, const char *fmt, const char *arg)
{
	ctl_aws_err(c, 400, "ValidationException", fmt, arg);
}

/* EventBusName: only the default bus exists. Returns 0 or -1 after answering. */
static int check_bus(struct ctl_aws_call *c)
{
	const char *bus;
	int r = ctl_aws_str(c, NULL, "EventBusName", 1, 1600, false, &bus);
	if (r < 0)
		return -1;
	if (r > 0 && strcmp(bus, "default") != 0 && !strstr(bus, ":event-bus/default")) {
		ctl_aws_notfound(c, "Event bus %s does not exist.", bus);
		return -1;
	}
	return 0;
}

/* Name (required, 1..64, EventBridge's characters) and EventBusName (default only). */
static int get_rule_name(struct ctl_aws_call *c, const char *field, const char **name)
{
	if (ctl_aws_str(c, NULL, field, 1, EV_NAME_MAX, true, name) < 0)
		return -1;
	if (!name_ok(*name)) {
		ctl_aws_validation(c, *name, "name", "Member must satisfy regular expression "
				   "pattern: [\\.\\-_A-Za-z0-9]+");
		return -1;
	}
	return check_bus(c);
}

static void not_found(struct ctl_aws_call *c, const char *name)
{
	ctl_aws_notfound(c, "Rule %s does not exist on EventBus default.", name);
}

static json_t *rule_json(struct ctl_aws_call *c, sqlite3_stmt *q, bool full)
{
	char arn[256];
	rule_arn(col(q, 1), ctl_aws_account(c), col(q, 0), arn, sizeof(arn));
	json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "Name", col(q, 0), "Arn", arn, "State",
			      col(q, 4), "EventBusName", "default");
	if (!o)
		return NULL;
	if (sqlite3_column_type(q, 2) != SQLITE_NULL)
		json_object_set_new(o, "ScheduleExpression", json_string(col(q, 2)));
	if (sqlite3_column_type(q, 3) != SQLITE_NULL)
		json_object_set_new(o, "EventPattern", json_string(col(q, 3)));
	if (sqlite3_column_type(q, 5) != SQLITE_NULL)
		json_object_set_new(o, "Description", json_string(col(q, 5)));
	if (sqlite3_column_type(q, 6) != SQLITE_NULL)
		json_object_set_new(o, "RoleArn", json_string(col(q, 6)));
	if (full)
		json_object_set_new(o, "CreatedBy", json_string(ctl_aws_account(c)));
	return o;
}

#define RULE_COLS "name, region, schedule, pattern, state, description, role_arn"

static void op_put_rule(void *svc, struct ctl_aws_call *c)
{
	struct ctl_events *e = svc;
	const char *name, *sched = NULL, *pattern = NULL, *state = "ENABLED", *desc = NULL,
		   *role = NULL;
	json_t *tags = NULL;
	if (get_rule_name(c, "Name", &name) < 0 ||
	    ctl_aws_str(c, NULL, "ScheduleExpression", 0, CTL_SCHED_EXPR_MAX, false, &sched) < 0 ||
	    ctl_aws_str(c, NULL, "EventPattern", 0, 4096, false, &pattern) < 0 ||
	    ctl_aws_str(c, NULL, "State", 1, 32, false, &state) < 0 ||
	    ctl_aws_str(c, NULL, "Description", 0, 512, false, &desc) < 0 ||
	    ctl_aws_str(c, NULL, "RoleArn", 1, 1600, false, &role) < 0 ||
	    ctl_aws_array(c, NULL, "Tags", 0, 50, false, &tags) < 0)
		return;
	if (!state)
		state = "ENABLED";
	if (strcmp(state, "ENABLED") != 0 && strcmp(state, "DISABLED") != 0) {
		ctl_aws_validation(c, state, "state", "Member must satisfy enum value set: "
				   "[ENABLED, DISABLED]");
		return;
	}
	if ((!sched || !*sched) && (!pattern || !*pattern)) {
		validation(c, "%sParameter(s) EventPattern or ScheduleExpression must be specified.",
			   "");
		return;
	}
	struct ev_rule r = { 0 };
	if (sched && *sched) {
		char why[200];
		if (ctl_sched_parse(sched, &r.sched, why, sizeof(why)) < 0) {
			validation(c, "Parameter ScheduleExpression is not valid: %s.", why);
			return;
		}
	}
	if (pattern && *pattern) {
		json_error_t je;
		json_t *p = json_loads(pattern, 0, &je);
		bool ok = p && json_is_object(p);
		json_decref(p);
		if (!ok) {
			ctl_aws_err(c, 400, "InvalidEventPatternException", "Event pattern is not "
				    "valid. Reason: %s", p ? "it must be a JSON object" : je.text);
			return;
		}
	}
	int64_t now = ctl_aws_now_ms(c);
	char *tag_text = tags ? json_dumps(tags, JSON_COMPACT) : NULL;
	/* A replaced rule keeps its creation time, and its rate anchor while it stays enabled. */
	sqlite3_stmt *q = prep(e, "INSERT INTO events_rule(name, region, schedule, pattern, state, "
				  "description, role_arn, tags, created_ms, anchor_ms, last_run_ms) "
				  "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, 0) "
				  "ON CONFLICT(name) DO UPDATE SET schedule = ?3, pattern = ?4, "
				  "anchor_ms = CASE WHEN state = ?5 AND schedule IS ?3 THEN anchor_ms "
				  "ELSE ?9 END, state = ?5, description = ?6, role_arn = ?7, "
				  "tags = coalesce(?8, tags) RETURNING anchor_ms, last_run_ms");
	if (!q) {
		free(tag_text);
		ctl_aws_internal(c, "metadata database error");
		return;
	}
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, ctl_aws_region(c), -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, sched && *sched ? sched : NULL, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, pattern && *pattern ? pattern : NULL, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, state, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 6, desc, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 7, role, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 8, tag_text, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 9, now);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		r.anchor_ms = sqlite3_column_int64(q, 0);
		r.last_run_ms = sqlite3_column_int64(q, 1);
		rc = sqlite3_step(q);
	}
	sqlite3_finalize(q);
	free(tag_text);
	if (rc != SQLITE_DONE) {
		ctl_meta_fail(e->meta, "events: PutRule");
		ctl_aws_internal(c, "metadata database error");
		return;
	}
	if (sched && *sched) {
		snprintf(r.name, sizeof(r.name), "%s", name);
		snprintf(r.region, sizeof(r.region), "%s", ctl_aws_region(c));
		r.enabled = strcmp(state, "ENABLED") == 0;
		if (rule_remember(e, &r) < 0) {
			ctl_aws_internal(c, "out of memory");
			return;
		}
	} else {
		rule_forget(e, name);
	}
	char arn[256];
	rule_arn(ctl_aws_region(c), ctl_aws_account(c), name, arn, sizeof(arn));
	ctl_aws_ok(c, json_pack("{s:s}", "RuleArn", arn));
}

static sqlite3_stmt *select_rule(struct ctl_events *e, const char *name)
{
	sqlite3_stmt *q = prep(e, "SELECT " RULE_COLS " FROM events_rule WHERE name = ?1");
	if (q)
		sqlite3_bind_text(q, 1, name, -1, SQLITE_TRANSIENT);
	return q;
}

static void op_describe_rule(void *svc, struct ctl_aws_call *c)
{
	const char *name;
	if (get_rule_name(c, "Name", &name) < 0)
		return;
	sqlite3_stmt *q = select_rule(svc, name);
	if (!q) {
		ctl_aws_internal(c, "metadata database error");
		return;
	}
	if (sqlite3_step(q) == SQLITE_ROW)
		ctl_aws_ok(c, rule_json(c, q, true));
	else
		not_found(c, name);
	sqlite3_finalize(q);
}

/* A page token is the last name of the previous page, base64'd so callers treat it as opaque. */
static int page_token(struct ctl_aws_call *c, char *after, size_t n)
{
	const char *tok;
	after[0] = '\0';
	int r = ctl_aws_str(c, NULL, "NextToken", 1, 2048, false, &tok);
	if (r <= 0)
		return r;
	uint8_t buf[256];
	long l = strlen(tok) <= 340 ? ctl_b64_decode(tok, strlen(tok), buf) : -1;
	if (l <= 0 || (size_t)l >= n || memchr(buf, 0, (size_t)l)) {
		validation(c, "%sThe NextToken provided is not valid.", "");
		return -1;
	}
	memcpy(after, buf, (size_t)l);
	after[l] = '\0';
	return 1;
}

static void set_token(json_t *out, const char *last)
{
	char b64[400];
	ctl_b64_encode(last, strlen(last), b64);
	json_object_set_new(out, "NextToken", json_string(b64));
}

static void op_list_rules(void *svc, struct ctl_aws_call *c)
{
	const char *prefix = NULL;
	int64_t limit = EV_PAGE_MAX;
	char after[EV_NAME_MAX + 1];
	if (ctl_aws_str(c, NULL, "NamePrefix", 1, EV_NAME_MAX, false, &prefix) < 0 ||
	    ctl_aws_int(c, NULL, "Limit", 1, EV_PAGE_MAX, false, &limit) < 0 ||
	    check_bus(c) < 0 || page_token(c, after, sizeof(after)) < 0)
		return;
	sqlite3_stmt *q = prep(svc, "SELECT " RULE_COLS " FROM events_rule WHERE name > ?1 AND "
				    "substr(name, 1, length(?2)) = ?2 ORDER BY name LIMIT ?3");
	if (!q) {
		ctl_aws_internal(c, "metadata database error");
		return;
	}
	sqlite3_bind_text(q, 1, after, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, prefix ? prefix : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, limit + 1);
	json_t *out = json_object(), *rules = json_array();
	int64_t n = 0;
	char last[EV_NAME_MAX + 1] = "";
	while (sqlite3_step(q) == SQLITE_ROW) {
		if (n++ == limit) {
			set_token(out, last);
			break;
		}
		snprintf(last, sizeof(last), "%s", col(q, 0));
		json_array_append_new(rules, rule_json(c, q, false));
	}
	sqlite3_finalize(q);
	json_object_set_new(out, "Rules", rules);
	ctl_aws_ok(c, out);
}

static int rule_exists(struct ctl_events *e, const char *name)
{
	sqlite3_stmt *q = select_rule(e, name);
	if (!q)
		return -EIO;
	int r = sqlite3_step(q) == SQLITE_ROW;
	sqlite3_finalize(q);
	return r;
}

/* 0 when the rule exists; -1 after answering ResourceNotFound or an internal error. */
static int require_rule(struct ctl_events *e, struct ctl_aws_call *c, const char *rule)
{
	int have = rule_exists(e, rule);
	if (have > 0)
		return 0;
	if (have < 0)
		ctl_aws_internal(c, "metadata database error");
	else
		not_found(c, rule);
	return -1;
}

static int count_targets(struct ctl_events *e, const char *rule)
{
	sqlite3_stmt *q = prep(e, "SELECT count(*) FROM events_target WHERE rule = ?1");
	if (!q)
		return -EIO;
	sqlite3_bind_text(q, 1, rule, -1, SQLITE_STATIC);
	int n = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : -EIO;
	sqlite3_finalize(q);
	return n;
}

/* Run one statement with the rule name as ?1. Returns sqlite3_changes() or -EIO. */
static int exec_rule(struct ctl_events *e, const char *sql, const char *name)
{
	sqlite3_stmt *q = prep(e, sql);
	if (!q)
		return -EIO;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return ctl_meta_fail(e->meta, "events");
	return sqlite3_changes(ctl_meta_db(e->meta));
}

static void op_delete_rule(void *svc, struct ctl_aws_call *c)
{
	struct ctl_events *e = svc;
	const char *name;
	bool force = false;
	if (get_rule_name(c, "Name", &name) < 0 || ctl_aws_bool(c, NULL, "Force", false, &force) < 0)
		return;
	int n = count_targets(e, name);
	if (n < 0) {
		ctl_aws_internal(c, "metadata database error");
		return;
	}
	if (n > 0) {
		validation(c, "%sRule can't be deleted since it has targets.", "");
		return;
	}
	/* EventBridge answers a missing rule's deletion with success. */
	if (exec_rule(e, "DELETE FROM events_rule WHERE name = ?1", name) < 0) {
		ctl_aws_internal(c, "metadata database error");
		return;
	}
	rule_forget(e, name);
	ctl_aws_ok(c, NULL);
}

static void set_state(struct ctl_aws_call *c, struct ctl_events *e, bool enable)
{
	const char *name;
	if (get_rule_name(c, "Name", &name) < 0)
		return;
	int64_t now = ctl_aws_now_ms(c);
	sqlite3_stmt *q = prep(e, "UPDATE events_rule SET anchor_ms = CASE WHEN state = ?2 THEN "
				  "anchor_ms ELSE ?3 END, state = ?2 WHERE name = ?1 "
				  "RETURNING anchor_ms");
	if (!q) {
		ctl_aws_internal(c, "metadata database error");
		return;
	}
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, enable ? "ENABLED" : "DISABLED", -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, now);
	int rc = sqlite3_step(q);
	int64_t anchor = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
	if (rc == SQLITE_ROW)
		rc = sqlite3_step(q);
	bool found = sqlite3_changes(ctl_meta_db(e->meta)) > 0;
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		ctl_meta_fail(e->meta, "events: set state");
		ctl_aws_internal(c, "metadata database error");
		return;
	}
	if (!found) {
		not_found(c, name);
		return;
	}
	struct ev_rule *r = rule_find(e, name);
	if (r) {
		r->enabled = enable;
		r->anchor_ms = anchor;
		rule_plan(r);
		if (e->loop)
			ctl_loop_wake(e->loop);
	}
	ctl_aws_ok(c, NULL);
}

static void op_enable_rule(void *svc, struct ctl_aws_call *c)
{
	set_state(c, svc, true);
}

static void op_disable_rule(void *svc, struct ctl_aws_call *c)
{
	set_state(c, svc, false);
}

static json_t *failed_entry(const char *id, const char *code, const char *msg)
{
	return json_pack("{s:s, s:s, s:s}", "TargetId", id, "ErrorCode", code, "ErrorMessage", msg);
}

static void op_put_targets(void *svc, struct ctl_aws_call *c)
{
	struct ctl_events *e = svc;
	const char *rule;
	json_t *targets;
	if (get_rule_name(c, "Rule", &rule) < 0 ||
	    ctl_aws_array(c, NULL, "Targets", 1, EV_TARGETS_PER_CALL, true, &targets) < 0)
		return;
	/* Validate every entry first: a malformed member fails the whole call, as AWS does. */
	size_t i;
	json_t *t;
	json_array_foreach(targets, i, t) {
		const char *id, *arn, *input = NULL, *ipath = NULL;
		if (!json_is_object(t)) {
			ctl_aws_err(c, 400, "SerializationException", "Targets[%zu] must be an object",
				    i);
			return;
		}
		if (ctl_aws_str(c, t, "Id", 1, 64, true, &id) < 0 ||
		    ctl_aws_str(c, t, "Arn", 1, 1600, true, &arn) < 0 ||
		    ctl_aws_str(c, t, "Input", 0, EV_INPUT_MAX, false, &input) < 0 ||
		    ctl_aws_str(c, t, "InputPath", 0, 256, false, &ipath) < 0 ||
		    ctl_aws_str(c, t, "RoleArn", 1, 1600, false, &(const char *){ NULL }) < 0)
			return;
		if (!name_ok(id)) {
			ctl_aws_validation(c, id, "targets.member.id", "Member must satisfy regular "
					   "expression pattern: [\\.\\-_A-Za-z0-9]+");
			return;
		}
		if (input && ipath) {
			validation(c, "%sOnly one of Input, InputPath, or InputTransformer must be "
				   "provided.", "");
			return;
		}
		if (ipath && !input_path_ok(ipath)) {
			validation(c, "InputPath %s is not valid: use $ or a dotted path such as "
				   "$.detail.name.", ipath);
			return;
		}
		if (input) {
			json_error_t je;
			json_t *j = json_loads(input, JSON_DECODE_ANY, &je);
			json_decref(j);
			if (!j) {
				validation(c, "Input is not valid JSON text: %s.", je.text);
				return;
			}
		}
	}
	if (require_rule(e, c, rule) < 0)
		return;
	if (ctl_meta_begin(e->meta) < 0) {
		ctl_aws_internal(c, "metadata database error");
		return;
	}
	json_t *failed = json_array();
	json_array_foreach(targets, i, t) {
		const char *id = json_string_value(json_object_get(t, "Id"));
		const char *arn = json_string_value(json_object_get(t, "Arn"));
		json_t *in = json_object_get(t, "Input"), *ip = json_object_get(t, "InputPath");
		if (!target_kind_ok(arn)) {
			json_array_append_new(failed, failed_entry(id, "ValidationException",
				"Target ARN is not a Lambda function, state machine, Kinesis "
				"stream or Firehose delivery stream served by this appliance"));
			continue;
		}
		sqlite3_stmt *q = prep(e, "INSERT INTO events_target(rule, id, arn, input, "
					  "input_path) VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT DO "
					  "UPDATE SET arn = ?3, input = ?4, input_path = ?5");
		if (!q)
			goto db_fail;
		sqlite3_bind_text(q, 1, rule, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, arn, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 4, json_string_value(in), -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 5, json_string_value(ip), -1, SQLITE_STATIC);
		int rc = sqlite3_step(q);
		sqlite3_finalize(q);
		if (rc != SQLITE_DONE)
			goto db_fail;
		int n = count_targets(e, rule);
		if (n < 0)
			goto db_fail;
		if (n > EV_TARGETS_PER_RULE) {
			if (exec_rule(e, "DELETE FROM events_target WHERE rowid = "
					 "last_insert_rowid() AND rule = ?1", rule) < 0)
				goto db_fail;
			json_array_append_new(failed, failed_entry(id, "LimitExceededException",
				"The requested resource exceeds the maximum number allowed: 5 targets "
				"per rule"));
		}
	}
	if (ctl_meta_commit(e->meta) < 0) {
		json_decref(failed);
		ctl_aws_internal(c, "metadata database error");
		return;
	}
	ctl_aws_ok(c, json_pack("{s:I, s:o}", "FailedEntryCount", (json_int_t)json_array_size(failed),
				"FailedEntries", failed));
	return;
db_fail:
	ctl_meta_rollback(e->meta);
	json_decref(failed);
	ctl_aws_internal(c, "metadata database error");
}

static void op_remove_targets(void *svc, struct ctl_aws_call *c)
{
	struct ctl_events *e = svc;
	const char *rule;
	json_t *ids;
	if (get_rule_name(c, "Rule", &rule) < 0 ||
	    ctl_aws_array(c, NULL, "Ids", 1, 100, true, &ids) < 0)
		return;
	if (require_rule(e, c, rule) < 0)
		return;
	json_t *failed = json_array();
	size_t i;
	json_t *id;
	json_array_foreach(ids, i, id) {
		if (!json_is_string(id)) {
			json_decref(failed);
			ctl_aws_err(c, 400, "SerializationException", "Ids[%zu] must be a string", i);
			return;
		}
		sqlite3_stmt *q = prep(e, "DELETE FROM events_target WHERE rule = ?1 AND id = ?2");
		if (!q)
			break;
		sqlite3_bind_text(q, 1, rule, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, json_string_value(id), -1, SQLITE_STATIC);
		int rc = sqlite3_step(q);
		sqlite3_finalize(q);
		if (rc != SQLITE_DONE)
			json_array_append_new(failed, failed_entry(json_string_value(id),
								   "InternalFailure",
								   "metadata database error"));
	}
	ctl_aws_ok(c, json_pack("{s:I, s:o}", "FailedEntryCount", (json_int_t)json_array_size(failed),
				"FailedEntries", failed));
}

static void op_list_targets(void *svc, struct ctl_aws_call *c)
{
	struct ctl_events *e = svc;
	const char *rule;
	if (get_rule_name(c, "Rule", &rule) < 0)
		return;
	if (require_rule(e, c, rule) < 0)
		return;
	sqlite3_stmt *q = prep(e, "SELECT id, arn, input, input_path FROM events_target WHERE "
				  "rule = ?1 ORDER BY id");
	if (!q) {
		ctl_aws_internal(c, "metadata database error");
		return;
	}
	sqlite3_bind_text(q, 1, rule, -1, SQLITE_STATIC);
	json_t *list = json_array();
	while (sqlite3_step(q) == SQLITE_ROW) {
		json_t *t = json_pack("{s:s, s:s}", "Id", col(q, 0), "Arn", col(q, 1));
		if (sqlite3_column_type(q, 2) != SQLITE_NULL)
			json_object_set_new(t, "Input", json_string(col(q, 2)));
		if (sqlite3_column_type(q, 3) != SQLITE_NULL)
			json_object_set_new(t, "InputPath", json_string(col(q, 3)));
		json_array_append_new(list, t);
	}
	sqlite3_finalize(q);
	ctl_aws_ok(c, json_pack("{s:o}", "Targets", list));
}

static void op_list_rule_names_by_target(void *svc, struct ctl_aws_call *c)
{
	struct ctl_events *e = svc;
	const char *arn;
	if (ctl_aws_str(c, NULL, "TargetArn", 1, 1600, true, &arn) < 0)
		return;
	sqlite3_stmt *q = prep(e, "SELECT DISTINCT rule FROM events_target WHERE arn = ?1 "
				  "ORDER BY rule");
	if (!q) {
		ctl_aws_internal(c, "metadata database error");
		return;
	}
	sqlite3_bind_text(q, 1, arn, -1, SQLITE_STATIC);
	json_t *names = json_array();
	while (sqlite3_step(q) == SQLITE_ROW)
		json_array_append_new(names, json_string(col(q, 0)));
	sqlite3_finalize(q);
	ctl_aws_ok(c, json_pack("{s:o}", "RuleNames", names));
}

static const struct ctl_aws_op ev_ops[] = {
	{ "PutRule", op_put_rule, NULL },
	{ "DescribeRule", op_describe_rule, NULL },
	{ "ListRules", op_list_rules, NULL },
	{ "DeleteRule", op_delete_rule, NULL },
	{ "EnableRule", op_enable_rule, NULL },
	{ "DisableRule", op_disable_rule, NULL },
	{ "PutTargets", op_put_targets, NULL },
	{ "RemoveTargets", op_remove_targets, NULL },
	{ "ListTargetsByRule", op_list_targets, NULL },
	{ "ListRuleNamesByTarget", op_list_rule_names_by_target, NULL },
};

int ctl_events_register(struct ctl_events *e, struct ctl_aws *aws)
{
	struct ctl_aws_service s = {
		.target_prefix = "AWSEvents",
		.ops = ev_ops,
		.n_ops = sizeof(ev_ops) / sizeof(ev_ops[0]),
		.svc = e,
	};
	return ctl_aws_register(aws, &s);
}

int ctl_events_new(struct ctl_meta *meta, struct ctl_aws *aws, struct ctl_loop *loop,
		   struct ctl_events **ret)
{
	struct ctl_events *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->meta = meta;
	e->aws = aws;
	e->loop = loop;
	int r = ctl_meta_schema(meta, "events", 1, ev_schema);
	if (r < 0 || (r = load_rules(e)) < 0 ||
	    (loop && (r = ctl_loop_add_tick(loop, "events", ev_tick, e)) < 0)) {
		ctl_log(CTL_LOG_ERR, "cannot set up schedules: %s", strerror(-r));
		ctl_events_free(e);
		return r;
	}
	*ret = e;
	return 0;
}

void ctl_events_free(struct ctl_events *e)
{
	if (!e)
		return;
	free(e->rules);
	free(e);
}

void ctl_events_stats_get(const struct ctl_events *e, struct ctl_events_stats *st)
{
	*st = e->st;
}

void ctl_events_stats_json(void *arg, json_t *out)
{
	const struct ctl_events *e = arg;
	json_object_set_new(out, "events", json_pack("{s:I, s:I, s:I, s:I, s:I}", "scheduled_rules",
		(json_int_t)e->n_rules, "runs", (json_int_t)e->st.runs, "deliveries",
		(json_int_t)e->st.deliveries, "failures", (json_int_t)e->st.failures, "missed",
		(json_int_t)e->st.missed));
}
