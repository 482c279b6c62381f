// SPDX-License-Identifier: MIT
//
// Benchmarks of the ASL interpreter (wf_exec) on an express-style, in-memory execution: state
// transitions per second for a 10-state Pass/Choice machine (the workflow engine's target is
// at least 1 M transitions/s per core). Counters report transitions/s as items_per_second.
//   BM_AslExec10            one execution per iteration: start, run the 10 states, free
//   BM_AslLoop/<n>          one execution looping n times through the same 10 states (a Choice
//                           counts down with States.MathAdd): start-up cost amortised
//   BM_AslExec10_History    BM_AslExec10 with an event callback, so every history event's
//                           details are built (the standard-execution path minus the journal)
//   BM_Baseline_JsonCopy    the floor: one json_object_set + lookup per transition in jansson
// Benchmarks are never pass/fail tests.
#include <benchmark/benchmark.h>

#include <cstring>

#include <jansson.h>

#include "wf_asl.h"
#include "wf_exec.h"

namespace {

// Ten states; the input below takes the path S0..S9 through all of them.
const char kMachine10[] = R"ASL({"StartAt":"S0","States":{
 "S0":{"Type":"Pass","Result":{"x":1},"ResultPath":"$.r","Next":"S1"},
 "S1":{"Type":"Choice","Choices":[{"Variable":"$.kind","StringEquals":"a","Next":"S2"}],
       "Default":"S9"},
 "S2":{"Type":"Pass","Next":"S3"},
 "S3":{"Type":"Choice","Choices":[{"Variable":"$.n","NumericGreaterThan":5,"Next":"S4"}],
       "Default":"S5"},
 "S4":{"Type":"Pass","InputPath":"$","Next":"S5"},
 "S5":{"Type":"Choice","Choices":[{"And":[{"Variable":"$.flag","BooleanEquals":true},
       {"Variable":"$.r.x","NumericEquals":1}],"Next":"S6"}],"Default":"S9"},
 "S6":{"Type":"Pass","Parameters":{"n.$":"$.n","kind.$":"$.kind","flag.$":"$.flag",
       "r.$":"$.r"},"Next":"S7"},
 "S7":{"Type":"Choice","Choices":[{"Variable":"$.kind","IsPresent":true,"Next":"S8"}],
       "Default":"S9"},
 "S8":{"Type":"Pass","Next":"S9"},
 "S9":{"Type":"Succeed"}}})ASL";

// The same ten kinds of states in a loop that runs $.loops times.
const char kLoop[] = R"ASL({"StartAt":"S0","States":{
 "S0":{"Type":"Pass","Result":{"x":1},"ResultPath":"$.r","Next":"S1"},
 "S1":{"Type":"Choice","Choices":[{"Variable":"$.kind","StringEquals":"a","Next":"S2"}],
       "Default":"S9"},
 "S2":{"Type":"Pass","Next":"S3"},
 "S3":{"Type":"Choice","Choices":[{"Variable":"$.n","NumericGreaterThan":5,"Next":"S4"}],
       "Default":"S5"},
 "S4":{"Type":"Pass","InputPath":"$","Next":"S5"},
 "S5":{"Type":"Choice","Choices":[{"And":[{"Variable":"$.flag","BooleanEquals":true},
       {"Variable":"$.r.x","NumericEquals":1}],"Next":"S6"}],"Default":"S9"},
 "S6":{"Type":"Pass","Parameters":{"n.$":"$.n","kind.$":"$.kind","flag.$":"$.flag",
       "loops.$":"States.MathAdd($.loops, -1)"},"Next":"S7"},
 "S7":{"Type":"Choice","Choices":[{"Variable":"$.loops","NumericGreaterThan":0,"Next":"S8"}],
       "Default":"S9"},
 "S8":{"Type":"Pass","Next":"S0"},
 "S9":{"Type":"Succeed"}}})ASL";

struct wf_machine *Compile(const char *def)
{
	struct wf_machine *m = nullptr;
	char err[256];

	if (wf_machine_parse(def, strlen(def), &m, err, sizeof(err)) != 0) {
		fprintf(stderr, "definition refused: %s\n", err);
		abort();
	}
	return m;
}

void RunOnce(benchmark::State &state, const struct wf_host *host)
{
	struct wf_machine *m = Compile(kMachine10);
	json_t *in = json_pack("{s:s,s:i,s:b}", "kind", "a", "n", 7, "flag", 1);
	struct wf_exec_info info = {};
	uint64_t transitions = 0;

	info.name = "bench";
	for (auto _ : state) {
		struct wf_exec *ex = nullptr;

		if (wf_exec_start(m, &info, host, in, 0, &ex) != 0 ||
		    wf_exec_run(ex) != WF_EXEC_SUCCEEDED)
			abort();
		transitions += wf_exec_transitions(ex);
		wf_exec_free(ex);
	}
	state.SetItemsProcessed((int64_t)transitions);
	json_decref(in);
	wf_machine_free(m);
}

void BM_AslExec10(benchmark::State &state)
{
	RunOnce(state, nullptr);
}
BENCHMARK(BM_AslExec10);

void CountEvent(void *arg, const struct wf_event *ev)
{
	*(uint64_t *)arg += ev->details ? 1 : 0;
}

void BM_AslExec10_History(benchmark::State &state)
{
	uint64_t seen = 0;
	struct wf_host host = {};

	host.event = CountEvent;
	host.arg = &seen;
	RunOnce(state, &host);
	benchmark::DoNotOptimize(seen);
}
BENCHMARK(BM_AslExec10_History);

void BM_AslLoop(benchmark::State &state)
{
	struct wf_machine *m = Compile(kLoop);
	json_t *in = json_pack("{s:s,s:i,s:b,s:I}", "kind", "a", "n", 7, "flag", 1, "loops",
			       (json_int_t)state.range(0));
	struct wf_exec_info info = {};
	uint64_t transitions = 0;

	info.name = "bench";
	info.max_events = UINT64_MAX;
	for (auto _ : state) {
		struct wf_exec *ex = nullptr;

		if (wf_exec_start(m, &info, nullptr, in, 0, &ex) != 0 ||
		    wf_exec_run(ex) != WF_EXEC_SUCCEEDED)
			abort();
		transitions += wf_exec_transitions(ex);
		wf_exec_free(ex);
	}
	state.SetItemsProcessed((int64_t)transitions);
	json_decref(in);
	wf_machine_free(m);
}
BENCHMARK(BM_AslLoop)->Arg(100)->Arg(10000);

void BM_Baseline_JsonCopy(benchmark::State &state)
{
	json_t *doc = json_pack("{s:s,s:i,s:b}", "kind", "a", "n", 7, "flag", 1);
	uint64_t n = 0;

	for (auto _ : state) {
		json_t *c = json_copy(doc);

		json_object_set_new(c, "r", json_integer(1));
		benchmark::DoNotOptimize(json_object_get(c, "kind"));
		json_decref(c);
		n++;
	}
	state.SetItemsProcessed((int64_t)n);
	json_decref(doc);
}
BENCHMARK(BM_Baseline_JsonCopy);

} // namespace

BENCHMARK_MAIN();
