/* SPDX-License-Identifier: MIT */
/*
 * ctl_sfn API: the AWSStepFunctions operations. Each handler decodes its request, calls the
 * runtime (ctl_sfn.c) and answers in Step Functions' shapes; calls that change an execution are
 * answered once the turn's journal is committed.
 */
#include "ctl_sfn_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SFN_DEF_MAX (1024 * 1024)
#define SFN_PAGE_DEFAULT 100
#define SFN_PAGE_MAX 1000

/* Step Functions' names: 1..80 characters, none of whitespace, control characters or
 * < > { } [ ] ? * " # % \ ^ | ~ ` $ & , ; : / */
static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > SFN_NAME_MAX)
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= 0x20 || c == 0x7f || strchr("<>{}[]?*\"#%\\^|~`$&,;:/", c))
			return false;
	}
	return true;
}

static void invalid_name(struct ctl_aws_call *c, const char *name)
{
	ctl_aws_err(c, 400, "InvalidName", "Invalid Name: '%s'", name);
}

static void invalid_arn(struct ctl_aws_call *c, const char *arn)
{
	ctl_aws_err(c, 400, "InvalidArn", "Invalid Arn: '%s'", arn);
}

/*
 * Split "arn:aws:states:REGION:ACCOUNT:KIND:A[:B]" into kind, a and b (b may be empty).
 * Returns 0 or -EINVAL.
 */
static int arn_split(const char *arn, char kind[32], char a[SFN_NAME_MAX + 1],
		     char b[SFN_NAME_MAX + 1])
{
	static const char pre[] = "arn:aws:states:";
	if (strncmp(arn, pre, sizeof(pre) - 1) != 0)
		return -EINVAL;
	const char *p = arn + sizeof(pre) - 1;
	for (int skip = 0; skip < 2; skip++) {   /* region, account */
		p = strchr(p, ':');
		if (!p)
			return -EINVAL;
		p++;
	}
	const char *k = p;
	p = strchr(p, ':');
	if (!p || (size_t)(p - k) >= 32)
		return -EINVAL;
	snprintf(kind, 32, "%.*s", (int)(p - k), k);
	const char *x = p + 1, *y = strchr(x, ':');
	size_t xl = y ? (size_t)(y - x) : strlen(x);
	if (xl == 0 || xl > SFN_NAME_MAX || (y && (strchr(y + 1, ':') || strlen(y + 1) >
						     SFN_NAME_MAX)))
		return -EINVAL;
	snprintf(a, SFN_NAME_MAX + 1, "%.*s", (int)xl, x);
	snprintf(b, SFN_NAME_MAX + 1, "%s", y ? y + 1 : "");
	return 0;
}

/* The machine a stateMachineArn names; answers and returns NULL when there is none. */
static struct sfn_machine *get_machine(struct ctl_sfn *s, struct ctl_aws_call *c, char *arn_out)
{
	const char *arn;
	char kind[32], a[SFN_NAME_MAX + 1], b[SFN_NAME_MAX + 1];
	if (ctl_aws_str(c, NULL, "stateMachineArn", 1, SFN_ARN_MAX, true, &arn) < 0)
		return NULL;
	if (arn_split(arn, kind, a, b) < 0 || strcmp(kind, "stateMachine") != 0) {
		invalid_arn(c, arn);
		return NULL;
	}
	struct sfn_machine *m = sfn_machine_find(s, a);
	if (!m || b[0] || strcmp(m->arn, arn) != 0) {
		ctl_aws_err(c, 400, "StateMachineDoesNotExist", "State Machine Does Not Exist: '%s'",
			    arn);
		return NULL;
	}
	if (arn_out)
		snprintf(arn_out, SFN_ARN_MAX, "%s", arn);
	return m;
}

/* executionArn, checked for form. Returns 0 or -1 after answering. */
static int get_exec_arn(struct ctl_aws_call *c, const char **arn)
{
	char kind[32], a[SFN_NAME_MAX + 1], b[SFN_NAME_MAX + 1];
	if (ctl_aws_str(c, NULL, "executionArn", 1, SFN_ARN_MAX, true, arn) < 0)
		return -1;
	if (arn_split(*arn, kind, a, b) < 0 || !b[0] ||
	    (strcmp(kind, "execution") != 0 && strcmp(kind, "express") != 0)) {
		invalid_arn(c, *arn);
		return -1;
	}
	return 0;
}

static void no_exec(struct ctl_aws_call *c, const char *arn)
{
	ctl_aws_err(c, 400, "ExecutionDoesNotExist", "Execution Does Not Exist: '%s'", arn);
}

static int page_args(struct ctl_aws_call *c, int64_t *max, const char **token)
{
	if (ctl_aws_int(c, NULL, "maxResults", 0, SFN_PAGE_MAX, false, max) < 0 ||
	    ctl_aws_str(c, NULL, "nextToken", 1, 3096, false, token) < 0)
		return -1;
	if (*max == 0)
		*max = SFN_PAGE_DEFAULT;
	return 0;
}

static void bad_token(struct ctl_aws_call *c, const char *token)
{
	ctl_aws_err(c, 400, "InvalidToken", "Invalid Token: '%s'", token);
}

/* ---- state machines --------------------------------------------------------------------------- */

static void op_create(void *svc, struct ctl_aws_call *c)
{
	struct ctl_sfn *s = svc;
	const char *name, *def, *role = NULL, *type = "STANDARD";
	if (ctl_aws_str(c, NULL, "name", 1, SFN_NAME_MAX, true, &name) < 0 ||
	    ctl_aws_str(c, NULL, "definition", 1, SFN_DEF_MAX, true, &def) < 0 ||
	    ctl_aws_str(c, NULL, "roleArn", 1, SFN_ARN_MAX, false, &role) < 0 ||
	    ctl_aws_str(c, NULL, "type", 1, 16, false, &type) < 0)
		return;
	if (strcmp(type, "STANDARD") != 0 && strcmp(type, "EXPRESS") != 0) {
		ctl_aws_validation(c, type, "type",
				   "Member must satisfy enum value set: [STANDARD, EXPRESS]");
		return;
	}
	if (!name_ok(name)) {
		invalid_name(c, name);
		return;
	}
	char arn[SFN_ARN_MAX], err[1024];
	int64_t created;
	err[0] = '\0';
	int rc = ctl_sfn_machine_create(s, name, def, strlen(def), strcmp(type, "EXPRESS") == 0,
					role, ctl_aws_now_ms(c), arn, &created, err, sizeof(err));
	if (rc == -EINVAL)
		ctl_aws_err(c, 400, "InvalidDefinition", "Invalid State Machine Definition: '%s'",
			    err);
	else if (rc == -EEXIST)
		ctl_aws_err(c, 400, "StateMachineAlreadyExists", "State Machine Already Exists: "
			    "'%s'", arn);
	else if (rc < 0)
		ctl_aws_internal(c, "cannot create the state machine: %s", strerror(-rc));
	else
		ctl_aws_ok(c, json_pack("{s:s, s:o}", "stateMachineArn", arn, "creationDate",
					ctl_aws_time_json(created)));
}

static void op_describe(void *svc, struct ctl_aws_call *c)
{
	struct ctl_sfn *s = svc;
	struct sfn_machine *m = get_machine(s, c, NULL);
	if (!m)
		return;
	char rev[32];
	snprintf(rev, sizeof(rev), "%" PRIu64, m->revision);
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:{s:s, s:b}, s:{s:b}, s:s}",
			      "stateMachineArn", m->arn, "name", m->name, "status", "ACTIVE",
			      "definition", m->def->text, "type",
			      m->express ? "EXPRESS" : "STANDARD", "creationDate",
			      ctl_aws_time_json(m->created_ms), "loggingConfiguration", "level",
			      "OFF", "includeExecutionData", 0, "tracingConfiguration", "enabled", 0,
			      "revisionId", rev);
	if (o && m->role_arn)
		json_object_set_new(o, "roleArn", json_string(m->role_arn));
	ctl_aws_ok(c, o);
}

static void op_update(void *svc, struct ctl_aws_call *c)
{
	struct ctl_sfn *s = svc;
	const char *def = NULL, *role = NULL;
	struct sfn_machine *m = get_machine(s, c, NULL);
	if (!m || ctl_aws_str(c, NULL, "definition", 1, SFN_DEF_MAX, false, &def) < 0 ||
	    ctl_aws_str(c, NULL, "roleArn", 1, SFN_ARN_MAX, false, &role) < 0)
		return;
	if (!def && !role && !json_object_get(ctl_aws_input(c), "loggingConfiguration") &&
	    !json_object_get(ctl_aws_input(c), "tracingConfiguration")) {
		ctl_aws_err(c, 400, "MissingRequiredParameter", "Either the definition, the role "
			    "ARN, the LoggingConfiguration, or the TracingConfiguration must be "
			    "specified");
		return;
	}
	char err[1024];
	int64_t now = ctl_aws_now_ms(c);
	int rc = sfn_machine_update(s, m, def, def ? strlen(def) : 0, role, now, err, sizeof(err));
	if (rc == -EINVAL) {
		ctl_aws_err(c, 400, "InvalidDefinition", "Invalid State Machine Definition: '%s'",
			    err);
		return;
	}
	if (rc < 0) {
		ctl_aws_internal(c, "cannot update the state machine: %s", strerror(-rc));
		return;
	}
	char rev[32];
	snprintf(rev, sizeof(rev), "%" PRIu64, m->revision);
	ctl_aws_ok(c, json_pack("{s:o, s:s}", "updateDate", ctl_aws_time_json(now), "revisionId",
				rev));
}

static void op_delete(void *svc, struct ctl_aws_call *c)
{
	struct ctl_sfn *s = svc;
	const char *arn;
	char kind[32], a[SFN_NAME_MAX + 1], b[SFN_NAME_MAX + 1];
	if (ctl_aws_str(c, NULL, "stateMachineArn", 1, SFN_ARN_MAX, true, &arn) < 0)
		return;
	if (arn_split(arn, kind, a, b) < 0 || strcmp(kind, "stateMachine") != 0) {
		invalid_arn(c, arn);
		return;
	}
	struct sfn_machine *m = sfn_machine_find(s, a);
	/* Deleting what does not exist succeeds, as it does on AWS; running executions go on. */
	if (m && !b[0] && strcmp(m->arn, arn) == 0 && sfn_machine_delete(s, m) < 0) {
		ctl_aws_internal(c, "cannot delete the state machine");
		return;
	}
	ctl_aws_ok(c, NULL);
}

static int machine_cmp(const void *a, const void *b)
{
	return strcmp((*(struct sfn_machine *const *)a)->name,
		      (*(struct sfn_machine *const *)b)->name);
}

static void op_list(void *svc, struct ctl_aws_call *c)
{
	struct ctl_sfn *s = svc;
	int64_t max = 0;
	const char *token = NULL;
	if (page_args(c, &max, &token) < 0)
		return;
	size_t n = 0;
	for (struct sfn_machine *m = s->machines; m; m = m->next)
		n++;
	struct sfn_machine **v = calloc(n ? n : 1, sizeof(*v));
	if (!v) {
		ctl_aws_internal(c, "out of memory");
		return;
	}
	n = 0;
	for (struct sfn_machine *m = s->machines; m; m = m->next)
		v[n++] = m;
	qsort(v, n, sizeof(*v), machine_cmp);
	json_t *list = json_array();
	size_t i = 0;
	if (token)   /* the token is the last name of the previous page */
		while (i < n && strcmp(v[i]->name, token) <= 0)
			i++;
	for (; i < n && (int64_t)json_array_size(list) < max; i++)
		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:o}", "stateMachineArn",
						      v[i]->arn, "name", v[i]->name, "type",
						      v[i]->express ? "EXPRESS" : "STANDARD",
						      "creationDate",
						      ctl_aws_time_json(v[i]->created_ms)));
	json_t *o = json_pack("{s:o}", "stateMachines", list);
	if (i < n && i > 0)
		json_object_set_new(o, "nextToken", json_string(v[i - 1]->name));
	free(v);
	ctl_aws_ok(c, o);
}

/* ---- executions ------------------------------------------------------------------------------- */

/* The input member: a JSON text of at most 256 KiB, "{}" when absent. */
static int get_input(struct ctl_aws_call *c, const char **input)
{
	*input = "{}";
	if (ctl_aws_str(c, NULL, "input", 0, SIZE_MAX, false, input) < 0)
		return -1;
	size_t n = strlen(*input);
	json_error_t e;
	if (n > WF_PAYLOAD_MAX) {
		ctl_aws_err(c, 400, "InvalidExecutionInput", "Invalid State Machine Execution "
			    "Input: 'The input of %zu bytes exceeds the maximum of %d bytes'", n,
			    WF_PAYLOAD_MAX);
		return -1;
	}
	json_t *j = json_loadb(*input, n, JSON_DECODE_ANY, &e);
	if (!j) {
		ctl_aws_err(c, 400, "InvalidExecutionInput", "Invalid State Machine Execution "
			    "Input: '%s'", n ? e.text : "Input must not be empty");
		return -1;
	}
	json_decref(j);
	return 0;
}

static void start(struct ctl_sfn *s, struct ctl_aws_call *c, bool sync)
{
	const char *name = NULL, *input;
	char arn[SFN_ARN_MAX];
	struct sfn_machine *m = get_machine(s, c, NULL);
	if (!m || ctl_aws_str(c, NULL, "name", 1, SFN_NAME_MAX, false, &name) < 0 ||
	    get_input(c, &input) < 0)
		return;
	if (name && !name_ok(name)) {
		invalid_name(c, name);
		return;
	}
	if (sync && !m->express) {
		ctl_aws_err(c, 400, "StateMachineTypeNotSupported", "This operation is not "
			    "supported by this type of state machine");
		return;
	}
	int64_t now = ctl_aws_now_ms(c);
	int rc = sfn_exec_start(s, m, name, input, strlen(input), now, sync ? c : NULL, arn);
	if (rc == -EEXIST) {
		ctl_aws_err(c, 400, "ExecutionAlreadyExists", "Execution Already Exists: '%s'", arn);
	} else if (rc < 0) {
		if (!ctl_aws_answered(c))
			ctl_aws_internal(c, "cannot start the execution: %s", strerror(-rc));
	} else if (!sync) {
		sfn_reply_after_commit(s, c, json_pack("{s:s, s:o}", "executionArn", arn,
						       "startDate", ctl_aws_time_json(now)));
	}
}

static void op_start(void *svc, struct ctl_aws_call *c)
{
	start(svc, c, false);
}

static void op_start_sync(void *svc, struct ctl_aws_call *c)
{
	start(svc, c, true);
}

#define EXEC_COLS "arn, machine, name, status, input, output, error, cause, start_ms, stop_ms, id"

static json_t *exec_row_json(struct ctl_sfn *s, sqlite3_stmt *q, bool full)
{
	char marn[SFN_ARN_MAX];
	sfn_machine_arn(s, (const char *)sqlite3_column_text(q, 1), marn);
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:o}", "executionArn",
			      (const char *)sqlite3_column_text(q, 0), "stateMachineArn", marn,
			      "name", (const char *)sqlite3_column_text(q, 2), "status",
			      (const char *)sqlite3_column_text(q, 3), "startDate",
			      ctl_aws_time_json(sqlite3_column_int64(q, 8)));
	if (!o)
		return NULL;
	if (sqlite3_column_type(q, 9) != SQLITE_NULL)
		json_object_set_new(o, "stopDate", ctl_aws_time_json(sqlite3_column_int64(q, 9)));
	if (!full)
		return o;
	json_object_set_new(o, "input", json_string((const char *)sqlite3_column_text(q, 4)));
	json_object_set_new(o, "inputDetails", json_pack("{s:b}", "included", 1));
	if (sqlite3_column_type(q, 5) != SQLITE_NULL) {
		json_object_set_new(o, "output",
				    json_string((const char *)sqlite3_column_text(q, 5)));
		json_object_set_new(o, "outputDetails", json_pack("{s:b}", "included", 1));
	}
	if (sqlite3_column_type(q, 6) != SQLITE_NULL)
		json_object_set_new(o, "error", json_string((const char *)sqlite3_column_text(q, 6)));
	if (sqlite3_column_type(q, 7) != SQLITE_NULL)
		json_object_set_new(o, "cause", json_string((const char *)sqlite3_column_text(q, 7)));
	json_object_set_new(o, "redriveCount", json_integer(0));
	json_object_set_new(o, "redriveStatus", json_string("NOT_REDRIVABLE"));
	return o;
}

/* An express execution still running (they are in memory only). */
static json_t *express_json(struct ctl_sfn *s, struct sfn_exec *e)
{
	char marn[SFN_ARN_MAX];
	sfn_machine_arn(s, e->machine, marn);
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:{s:b}}", "executionArn", e->arn,
			 "stateMachineArn", marn, "name", e->name, "status", "RUNNING",
			 "startDate", ctl_aws_time_json(e->start_ms), "input", e->input,
			 "inputDetails", "included", 1);
}

static void op_describe_exec(void *svc, struct ctl_aws_call *c)
{
	struct ctl_sfn *s = svc;
	const char *arn;
	if (get_exec_arn(c, &arn) < 0)
		return;
	ctl_sfn_flush(s);
	struct sfn_exec *e = sfn_exec_find_arn(s, arn);
	if (e && e->express) {
		ctl_aws_ok(c, express_json(s, e));
		return;
	}
	sqlite3_stmt *q = sfn_prep(s, "SELECT " EXEC_COLS " FROM sfn_exec WHERE arn = ?1");
	if (!q) {
		ctl_aws_internal(c, "metadata database error");
		return;
	}
	sqlite3_bind_text(q, 1, arn, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW)
		ctl_aws_ok(c, exec_row_json(s, q, true));
	else
		no_exec(c, arn);
	sqlite3_finalize(q);
}

static bool status_ok(const char *st)
{
	static const char *const v[] = { "RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED",
					 "PENDING_REDRIVE" };
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (strcmp(st, v[i]) == 0)
			return true;
	return false;
}

static void op_list_execs(void *svc, struct ctl_aws_call *c)
{
	struct ctl_sfn *s = svc;
	const char *filter = NULL, *token = NULL;
	int64_t max = 0;
	struct sfn_machine *m = get_machine(s, c, NULL);
	if (!m || ctl_aws_str(c, NULL, "statusFilter", 1, 32, false, &filter) < 0 ||
	    page_args(c, &max, &token) < 0)
		return;
	if (filter && !status_ok(filter)) {
		ctl_aws_validation(c, filter, "statusFilter", "Member must satisfy enum value set: "
				   "[SUCCEEDED, TIMED_OUT, PENDING_REDRIVE, ABORTED, FAILED, "
				   "RUNNING]");
		return;
	}
	int64_t before = INT64_MAX;
	if (token) {
		char *end;
		errno = 0;
		before = strtoll(token, &end, 10);
		if (*end || errno || before <= 0) {
			ctl_aws_err(c, 400, "InvalidToken", "Invalid Token: '%s'", token);
			return;
		}
	}
	ctl_sfn_flush(s);
	sqlite3_stmt *q = sfn_prep(s, "SELECT " EXEC_COLS " FROM sfn_exec WHERE machine = ?1 AND "
				      "id < ?2 AND (?3 IS NULL OR status = ?3) ORDER BY id DESC "
				      "LIMIT ?4");
	if (!q) {
		ctl_aws_internal(c, "metadata database error");
		return;
	}
	sqlite3_bind_text(q, 1, m->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, before);
	if (filter)
		sqlite3_bind_text(q, 3, filter, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, max + 1);
	json_t *list = json_array();
	int64_t last = 0;
	bool more = false;
	while (sqlite3_step(q) == SQLITE_ROW) {
		if ((int64_t)json_array_size(list) == max) {
			more = true;
			break;
		}
		json_array_append_new(list, exec_row_json(s, q, false));
		last = sqlite3_column_int64(q, 10);
	}
	sqlite3_finalize(q);
	json_t *o = json_pack("{s:o}", "executions", list);
	if (more) {
		char t[32];
		snprintf(t, sizeof(t), "%" PRId64, last);
		json_object_set_new(o, "nextToken", json_string(t));
	}
	ctl_aws_ok(c, o);
}

static void op_stop(void *svc, struct ctl_aws_call *c)
{
	struct ctl_sfn *s = svc;
	const char *arn, *error = NULL, *cause = NULL;
	if (get_exec_arn(c, &arn) < 0 ||
	    ctl_aws_str(c, NULL, "error", 0, 256, false, &error) < 0 ||
	    ctl_aws_str(c, NULL, "cause", 0, 32768, false, &cause) < 0)
		return;
	int64_t now = ctl_aws_now_ms(c);
	struct sfn_exec *e = sfn_exec_find_arn(s, arn);
	if (e && e->wf && wf_exec_status(e->wf) == WF_EXEC_RUNNING) {
		sfn_exec_stop(s, e, error, cause, now);
		sfn_reply_after_commit(s, c, json_pack("{s:o}", "stopDate", ctl_aws_time_json(now)));
		return;
	}
	ctl_sfn_flush(s);
	sqlite3_stmt *q = sfn_prep(s, "SELECT stop_ms FROM sfn_exec WHERE arn = ?1");
	if (!q) {
		ctl_aws_internal(c, "metadata database error");
		return;
	}
	sqlite3_bind_text(q, 1, arn, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW)
		ctl_aws_ok(c, json_pack("{s:o}", "stopDate",
					ctl_aws_time_json(sqlite3_column_int64(q, 0))));
	else
		no_exec(c, arn);
	sqlite3_finalize(q);
}

/* One history event in the wire's shape: input/output/parameters as JSON text. */
static json_t *event_json(const struct wf_event *ev, bool data)
{
	json_t *o = json_pack("{s:o, s:s, s:I, s:I}", "timestamp", ctl_aws_time_json(ev->time_ms),
			      "type", wf_event_type_name(ev->type), "id", (json_int_t)ev->id,
			      "previousEventId", (json_int_t)ev->prev_id);
	if (!o || !ev->details)
		return o;
	json_t *d = json_object();
	const char *k;
	json_t *v;
	json_object_foreach(ev->details, k, v) {
		bool is_data = strcmp(k, "input") == 0 || strcmp(k, "output") == 0;
		if (is_data && !data)
			continue;
		if (is_data || strcmp(k, "parameters") == 0) {
			char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			json_object_set_new(d, k, json_string(t ? t : "null"));
			free(t);
			if (is_data) {
				char dk[32];
				snprintf(dk, sizeof(dk), "%sDetails", k);
				json_object_set_new(d, dk, json_pack("{s:b}", "truncated", 0));
			}
		} else {
			json_object_set(d, k, v);
		}
	}
	/* Every *StateEntered / *StateExited event carries stateEntered/ExitedEventDetails. */
	char name[64];
	const char *tn = wf_event_type_name(ev->type);
	size_t tl = strlen(tn);
	if (tl > 12 && strcmp(tn + tl - 12, "StateEntered") == 0)
		snprintf(name, sizeof(name), "stateEnteredEventDetails");
	else if (tl > 11 && strcmp(tn + tl - 11, "StateExited") == 0)
		snprintf(name, sizeof(name), "stateExitedEventDetails");
	else
		wf_event_details_name(ev->type, name);
	json_object_set_new(o, name, d);
	return o;
}

static void op_history(void *svc, struct ctl_aws_call *c)
{
	struct ctl_sfn *s = svc;
	const char *arn, *token = NULL;
	int64_t max = 0;
	bool reverse = false, data = true;
	if (get_exec_arn(c, &arn) < 0 || page_args(c, &max, &token) < 0 ||
	    ctl_aws_bool(c, NULL, "reverseOrder", false, &reverse) < 0 ||
	    ctl_aws_bool(c, NULL, "includeExecutionData", false, &data) < 0)
		return;
	size_t from = 0;
	if (token) {
		char *end;
		errno = 0;
		long long v = strtoll(token, &end, 10);
		if (*end || errno || v < 0) {
			ctl_aws_err(c, 400, "InvalidToken", "Invalid Token: '%s'", token);
			return;
		}
		from = (size_t)v;
	}
	ctl_sfn_flush(s);
	sqlite3_stmt *q = sfn_prep(s, "SELECT id FROM sfn_exec WHERE arn = ?1");
	if (!q) {
		ctl_aws_internal(c, "metadata database error");
		return;
	}
	sqlite3_bind_text(q, 1, arn, -1, SQLITE_STATIC);
	bool found = sqlite3_step(q) == SQLITE_ROW;
	int64_t id = found ? sqlite3_column_int64(q, 0) : 0;
	sqlite3_finalize(q);
	if (!found) {
		no_exec(c, arn);
		return;
	}
	struct wf_event *evs;
	size_t n;
	int rc = sfn_history_build(s, id, &evs, &n);
	if (rc < 0) {
		ctl_aws_internal(c, "the execution's history cannot be rebuilt from its journal: %s",
				 strerror(-rc));
		return;
	}
	json_t *list = json_array();
	size_t i;
	for (i = from; i < n && (int64_t)(i - from) < max; i++)
		json_array_append_new(list, event_json(&evs[reverse ? n - 1 - i : i], data));
	json_t *o = json_pack("{s:o}", "events", list);
	if (i < n) {
		char t[32];
		snprintf(t, sizeof(t), "%zu", i);
		json_object_set_new(o, "nextToken", json_string(t));
	}
	sfn_events_free(evs, n);
	ctl_aws_ok(c, o);
}

/* ---- callbacks -------------------------------------------------------------------------------- */

/* The execution a token belongs to; answers and returns NULL when none. */
static struct sfn_exec *token_exec(struct ctl_sfn *s, struct ctl_aws_call *c, const char **token,
				   uint64_t *tok)
{
	if (ctl_aws_str(c, NULL, "taskToken", 1, 1024, true, token) < 0)
		return NULL;
	const char *colon = strrchr(*token, ':');
	char *end;
	if (!colon || colon == *token || !colon[1] || (strtoull(colon + 1, &end, 10), *end)) {
		bad_token(c, *token);
		return NULL;
	}
	struct sfn_exec *e = sfn_exec_find_token(s, *token, tok);
	if (!e) {
		/* A token of an execution that has ended is one whose task timed out. */
		char name[SFN_NAME_MAX + 1];
		snprintf(name, sizeof(name), "%.*s", (int)(colon - *token), *token);
		ctl_sfn_flush(s);
		sqlite3_stmt *q = sfn_prep(s, "SELECT 1 FROM sfn_exec WHERE name = ?1");
		bool ended = false;
		if (q) {
			sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
			ended = sqlite3_step(q) == SQLITE_ROW;
			sqlite3_finalize(q);
		}
		if (ended)
			ctl_aws_err(c, 400, "TaskTimedOut", "Task Timed Out: '%s'", *token);
		else
			ctl_aws_err(c, 400, "TaskDoesNotExist", "Task Does Not Exist: '%s'", *token);
	}
	return e;
}

static void not_waiting(struct ctl_aws_call *c, struct sfn_exec *e, uint64_t tok,
			const char *token)
{
	if (tok > wf_exec_event_count(e->wf))
		ctl_aws_err(c, 400, "TaskDoesNotExist", "Task Does Not Exist: '%s'", token);
	else
		ctl_aws_err(c, 400, "TaskTimedOut", "Task Timed Out: '%s'", token);
}

static void op_task_success(void *svc, struct ctl_aws_call *c)
{
	struct ctl_sfn *s = svc;
	const char *token, *output;
	uint64_t tok = 0;
	if (ctl_aws_str(c, NULL, "output", 0, WF_PAYLOAD_MAX, true, &output) < 0)
		return;
	json_error_t je;
	json_t *out = json_loads(output, JSON_DECODE_ANY, &je);
	if (!out) {
		ctl_aws_err(c, 400, "InvalidOutput", "Invalid Output: '%s'", je.text);
		return;
	}
	struct sfn_exec *e = token_exec(s, c, &token, &tok);
	if (!e) {
		json_decref(out);
		return;
	}
	uint64_t events = wf_exec_event_count(e->wf);
	int rc = sfn_task_report(s, e, tok, true, out, NULL, NULL, ctl_aws_now_ms(c));
	json_decref(out);
	if (rc == -ENOENT)
		ctl_aws_err(c, 400, tok > events ? "TaskDoesNotExist" : "TaskTimedOut", "%s: '%s'",
			    tok > events ? "Task Does Not Exist" : "Task Timed Out", token);
	else
		sfn_reply_after_commit(s, c, json_object());
}

static void op_task_failure(void *svc, struct ctl_aws_call *c)
{
	struct ctl_sfn *s = svc;
	const char *token, *error = NULL, *cause = NULL;
	uint64_t tok = 0;
	if (ctl_aws_str(c, NULL, "error", 0, 256, false, &error) < 0 ||
	    ctl_aws_str(c, NULL, "cause", 0, 32768, false, &cause) < 0)
		return;
	struct sfn_exec *e = token_exec(s, c, &token, &tok);
	if (!e)
		return;
	uint64_t events = wf_exec_event_count(e->wf);
	int rc = sfn_task_report(s, e, tok, false, NULL, error, cause, ctl_aws_now_ms(c));
	if (rc == -ENOENT)
		ctl_aws_err(c, 400, tok > events ? "TaskDoesNotExist" : "TaskTimedOut", "%s: '%s'",
			    tok > events ? "Task Does Not Exist" : "Task Timed Out", token);
	else
		sfn_reply_after_commit(s, c, json_object());
}

static void op_task_heartbeat(void *svc, struct ctl_aws_call *c)
{
	struct ctl_sfn *s = svc;
	const char *token;
	uint64_t tok = 0;
	struct sfn_exec *e = token_exec(s, c, &token, &tok);
	if (!e)
		return;
	if (sfn_task_heartbeat(s, e, tok, ctl_aws_now_ms(c)) == -ENOENT)
		not_waiting(c, e, tok, token);
	else
		ctl_aws_ok(c, NULL);
}

static const struct ctl_aws_op sfn_ops[] = {
	{ "CreateStateMachine", op_create, NULL },
	{ "DescribeStateMachine", op_describe, NULL },
	{ "UpdateStateMachine", op_update, NULL },
	{ "DeleteStateMachine", op_delete, NULL },
	{ "ListStateMachines", op_list, NULL },
	{ "StartExecution", op_start, NULL },
	{ "StartSyncExecution", op_start_sync, NULL },
	{ "DescribeExecution", op_describe_exec, NULL },
	{ "ListExecutions", op_list_execs, NULL },
	{ "StopExecution", op_stop, NULL },
	{ "GetExecutionHistory", op_history, NULL },
	{ "SendTaskSuccess", op_task_success, NULL },
	{ "SendTaskFailure", op_task_failure, NULL },
	{ "SendTaskHeartbeat", op_task_heartbeat, NULL },
};

int ctl_sfn_register(struct ctl_sfn *s, struct ctl_aws *aws)
{
	struct ctl_aws_service svc = {
		.target_prefix = "AWSStepFunctions",
		.ops = sfn_ops,
		.n_ops = sizeof(sfn_ops) / sizeof(sfn_ops[0]),
		.svc = s,
	};
	return ctl_aws_register(aws, &svc);
}
