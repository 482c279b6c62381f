/* SPDX-License-Identifier: MIT */
/*
 * wf_exec durability: an execution is journaled as its history events (written out as JSON
 * text and read back, as a journal would), cut after every event prefix as a crash would cut
 * it, rebuilt with wf_exec_replay() and finished. The rebuilt execution must end with the same
 * status, output and event sequence, must not invoke a task whose completion is in the prefix,
 * and must issue again every task scheduled but not completed.
 */
#include "dp_test.h"
#include "wf_test_host.h"

static struct th_host live, again;

#define info th_info

/* Tasks, a retry with backoff, a Wait, a Choice loop, Parallel and Map with tasks, intrinsics
 * drawing randomness (UUID), a caught failure. */
static const char machine[] =
	"{\"StartAt\":\"Init\",\"States\":{"
	"\"Init\":{\"Type\":\"Pass\",\"Parameters\":{\"n\":2,\"id.$\":\"States.UUID()\","
	"\"items\":[1,2,3]},\"Next\":\"First\"},"
	"\"First\":{\"Type\":\"Task\",\"Resource\":\"x:echo\",\"ResultPath\":\"$.first\","
	"\"Next\":\"Flaky\"},"
	"\"Flaky\":{\"Type\":\"Task\",\"Resource\":\"x:flaky\",\"Parameters\":{\"ok_after\":2},"
	"\"Retry\":[{\"ErrorEquals\":[\"Flaky\"],\"IntervalSeconds\":2}],\"ResultPath\":null,"
	"\"Next\":\"Nap\"},"
	"\"Nap\":{\"Type\":\"Wait\",\"Seconds\":3,\"Next\":\"Loop\"},"
	"\"Loop\":{\"Type\":\"Choice\",\"Choices\":[{\"Variable\":\"$.n\",\"NumericGreaterThan\":0,"
	"\"Next\":\"Dec\"}],\"Default\":\"Par\"},"
	"\"Dec\":{\"Type\":\"Task\",\"Resource\":\"x:echo\",\"Parameters\":{\"n.$\":"
	"\"States.MathAdd($.n, -1)\",\"id.$\":\"$.id\",\"items.$\":\"$.items\"},\"Next\":\"Loop\"},"
	"\"Par\":{\"Type\":\"Parallel\",\"Branches\":["
	"{\"StartAt\":\"PA\",\"States\":{\"PA\":{\"Type\":\"Task\",\"Resource\":\"x:echo\","
	"\"Parameters\":{\"branch\":\"a\"},\"End\":true}}},"
	"{\"StartAt\":\"PB\",\"States\":{\"PB\":{\"Type\":\"Task\",\"Resource\":\"x:fail\","
	"\"Parameters\":{\"error\":\"Oops\"},\"Catch\":[{\"ErrorEquals\":[\"Oops\"],"
	"\"Next\":\"PBW\"}],\"End\":true},\"PBW\":{\"Type\":\"Wait\",\"Seconds\":1,\"End\":true}}}],"
	"\"ResultPath\":\"$.par\",\"Next\":\"Each\"},"
	"\"Each\":{\"Type\":\"Map\",\"ItemsPath\":\"$.items\",\"MaxConcurrency\":2,"
	"\"ItemProcessor\":{\"StartAt\":\"MT\",\"States\":{\"MT\":{\"Type\":\"Task\","
	"\"Resource\":\"x:echo\",\"End\":true}}},\"ResultPath\":\"$.each\",\"End\":true}}}";

/* The journal: events as JSON text, the way a store would keep them. */
static char *journal_dump(const struct wf_event *ev, size_t n)
{
	json_t *a = json_array();
	char *text;

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:I,s:I,s:I,s:s,s:i,s:I,s:O*}",
			"id", (json_int_t)ev[i].id, "prev", (json_int_t)ev[i].prev_id,
			"t", (json_int_t)ev[i].time_ms, "type", wf_event_type_name(ev[i].type),
			"trigger", (int)ev[i].trigger, "ref", (json_int_t)ev[i].trigger_ref,
			"details", ev[i].details));
	text = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return text;
}

static size_t journal_load(const char *text, struct wf_event *ev, json_t **keep)
{
	json_t *a = json_loads(text, 0, NULL), *o;
	size_t i;

	json_array_foreach(a, i, o) {
		json_int_t id, prev, t, ref;
		const char *type;
		int trig;

		json_unpack(o, "{s:I,s:I,s:I,s:s,s:i,s:I}", "id", &id, "prev", &prev, "t", &t,
			    "type", &type, "trigger", &trig, "ref", &ref);
		ev[i].id = (uint64_t)id;
		ev[i].prev_id = (uint64_t)prev;
		ev[i].time_ms = t;
		wf_event_type_parse(type, &ev[i].type);
		ev[i].trigger = (enum wf_trigger)trig;
		ev[i].trigger_ref = (uint64_t)ref;
		ev[i].details = json_object_get(o, "details");
	}
	*keep = a;
	return json_array_size(a);
}

static bool completed_in(const struct wf_event *ev, size_t n, uint64_t token)
{
	for (size_t i = 0; i < n; i++)
		if (ev[i].trigger == WF_TRIGGER_TASK && ev[i].trigger_ref == token)
			return true;
	return false;
}

static bool scheduled_in(const struct wf_event *ev, size_t n, uint64_t token)
{
	return token >= 1 && token <= n && ev[token - 1].type == WF_EV_TaskScheduled;
}

static void test_replay_every_prefix(void)
{
	static struct wf_event rec[TH_MAX];
	struct wf_machine *m = NULL;
	struct wf_exec *ex;
	json_t *keep;
	char *text;
	size_t n;

	th_clear(&live);
	ex = th_run(&live, &m, machine, "{}");
	REQUIRE(ex);
	REQUIRE(wf_exec_status(ex) == WF_EXEC_SUCCEEDED);
	text = journal_dump(live.events, live.nevents);
	n = journal_load(text, rec, &keep);
	REQUIRE(n == live.nevents && n > 40);
	CHECK_EQ(rec[0].trigger, WF_TRIGGER_START);

	for (size_t k = 1; k <= n; k++) {
		struct wf_host w;
		struct wf_exec *ex2 = NULL;
		bool ok = true;

		th_clear(&again);
		again.now = rec[k - 1].time_ms;
		w = th_host_of(&again);
		if (wf_exec_replay(m, &info, &w, rec, k, &ex2) != 0) {
			printf("# prefix %zu: replay failed\n", k);
			CHECK(false);
			continue;
		}
		/* Tasks handed out by the rebuild: none completed in the prefix; every one
		 * scheduled and not completed in the prefix is handed out again. */
		for (size_t i = 0; i < again.ninvoked; i++)
			if (completed_in(rec, k, again.invoked[i])) {
				printf("# prefix %zu: token %llu ran twice\n", k,
				       (unsigned long long)again.invoked[i]);
				ok = false;
			}
		for (uint64_t tok = 1; tok <= k; tok++) {
			bool reissued = false;

			if (!scheduled_in(rec, k, tok) || completed_in(rec, k, tok))
				continue;
			for (size_t i = 0; i < again.ninvoked; i++)
				reissued |= again.invoked[i] == tok;
			/* A task cancelled inside the prefix (none in this machine) would not be. */
			if (!reissued) {
				printf("# prefix %zu: token %llu not issued again\n", k,
				       (unsigned long long)tok);
				ok = false;
			}
		}
		th_drive(&again, ex2);
		if (wf_exec_status(ex2) != WF_EXEC_SUCCEEDED ||
		    !json_equal(wf_exec_output(ex2), wf_exec_output(ex))) {
			printf("# prefix %zu: different end status %d %s %s\n", k, wf_exec_status(ex2), wf_exec_error(ex2), wf_exec_cause(ex2));
			ok = false;
		}
		/* The rebuilt history continues the recorded one exactly. */
		if (k + again.nevents != n) {
			printf("# prefix %zu: %zu + %zu events, expected %zu\n", k, k, again.nevents, n);
			ok = false;
		}
		for (size_t i = 0; ok && i < again.nevents; i++) {
			const struct wf_event *a = &again.events[i], *b = &live.events[k + i];

			if (a->id != b->id || a->type != b->type || a->prev_id != b->prev_id ||
			    a->time_ms != b->time_ms || a->trigger != b->trigger ||
			    a->trigger_ref != b->trigger_ref ||
			    !json_equal(a->details, b->details)) {
				printf("# prefix %zu: event %llu differs (%s vs %s)\n", k,
				       (unsigned long long)a->id, wf_event_type_name(a->type),
				       wf_event_type_name(b->type));
				ok = false;
			}
		}
		CHECK(ok);
		wf_exec_free(ex2);
	}
	th_clear(&again);
	json_decref(keep);
	free(text);
	wf_exec_free(ex);
	wf_machine_free(m);
	th_clear(&live);
}

static void test_replay_refuses(void)
{
	struct wf_machine *m = NULL, *other = NULL;
	struct wf_exec *ex, *ex2 = NULL;
	struct wf_host w = th_host_of(&again);
	static const char changed[] = "{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Task\","
				      "\"Resource\":\"x:echo\",\"End\":true}}}";

	th_clear(&live);
	th_clear(&again);
	ex = th_run(&live, &m, machine, "{}");
	REQUIRE(ex);
	REQUIRE(wf_machine_parse(changed, strlen(changed), &other, NULL, 0) == 0);
	/* A machine that is not the one recorded diverges. */
	CHECK_EQ(wf_exec_replay(other, &info, &w, live.events, live.nevents, &ex2), -EPROTO);
	/* The journal must start with ExecutionStarted. */
	CHECK_EQ(wf_exec_replay(m, &info, &w, live.events + 1, live.nevents - 1, &ex2), -EINVAL);
	CHECK_EQ(wf_exec_replay(m, &info, &w, live.events, 0, &ex2), -EINVAL);
	/* A lost task result shows as a gap the engine cannot explain. */
	{
		static struct wf_event cut[TH_MAX];
		size_t n = 0;

		for (size_t i = 0; i < live.nevents; i++)
			if (!(live.events[i].type == WF_EV_TaskSucceeded && n < 12))
				cut[n++] = live.events[i];
		CHECK_EQ(wf_exec_replay(m, &info, &w, cut, n, &ex2), -EPROTO);
	}
	/* A full journal rebuilds a finished execution and issues nothing. */
	REQUIRE(wf_exec_replay(m, &info, &w, live.events, live.nevents, &ex2) == 0);
	CHECK_EQ(wf_exec_status(ex2), WF_EXEC_SUCCEEDED);
	CHECK_EQ(again.ninvoked, 0);
	CHECK_EQ(again.nevents, 0);
	CHECK_EQ(again.ntimers, 0);
	wf_exec_free(ex2);
	wf_exec_free(ex);
	wf_machine_free(m);
	wf_machine_free(other);
	th_clear(&live);
	th_clear(&again);
}

int main(void)
{
	DP_TEST_RUN(test_replay_every_prefix);
	DP_TEST_RUN(test_replay_refuses);
	return dp_test_done();
}
