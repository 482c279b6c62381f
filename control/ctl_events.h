/* SPDX-License-Identifier: MIT */
/*
 * ctl_events: EventBridge's rule model for schedules (AWSEvents.* over AWS JSON 1.1), so that
 * `aws events put-rule --schedule-expression "rate(5 minutes)"` and `aws events put-targets`
 * work unchanged: PutRule, DescribeRule, ListRules, DeleteRule, EnableRule, DisableRule,
 * PutTargets, RemoveTargets, ListTargetsByRule, ListRuleNamesByTarget, on the default event bus.
 *
 * What it owns. The rules and their targets in the metadata database (module "events"), the
 * parsed schedules (ctl_sched) with each rule's next run, and a tick on the control loop that
 * runs due rules. A run sends the rule's event to every target through the AWS front-end itself,
 * as a trusted internal request, so a target is whatever the appliance serves:
 *   arn:aws:lambda:REGION:ACCOUNT:function:NAME  -> Lambda Invoke (asynchronous, Event)
 *   arn:aws:states:REGION:ACCOUNT:stateMachine:N -> Step Functions StartExecution
 *   arn:aws:kinesis:REGION:ACCOUNT:stream/NAME   -> Kinesis PutRecord (partition key: the rule)
 *   arn:aws:firehose:REGION:ACCOUNT:deliverystream/NAME -> Firehose PutRecord
 * The event is EventBridge's "Scheduled Event" document, or the target's Input (constant JSON),
 * or the part of the event its InputPath selects.
 *
 * Runs and downtime. A run is recorded (last run time, in the metadata database) right after it
 * was handed to its targets; a daemon killed in between runs it again at start (at least once,
 * as EventBridge delivers). Runs missed while the daemon was down are coalesced: at start every
 * enabled rule whose next run fell in the downtime runs once, then keeps its schedule. rate()
 * schedules count from the time the rule was created or last enabled.
 *
 * Threads. The control thread only.
 */
#ifndef CTL_EVENTS_H
#define CTL_EVENTS_H

#include <stdint.h>

#include "ctl_aws.h"
#include "ctl_loop.h"
#include "ctl_meta.h"

struct ctl_events;

struct ctl_events_stats {
	uint64_t runs;            /* rule runs */
	uint64_t deliveries;      /* events handed to targets */
	uint64_t failures;        /* targets that answered an error */
	uint64_t missed;          /* runs coalesced after downtime */
};

/*
 * Bring the tables to the current schema, load the rules, and register the tick on loop. aws is
 * where targets are invoked (borrowed; its services are looked up at each run, so they may be
 * registered later). Returns 0 or a negative errno after logging.
 */
int ctl_events_new(struct ctl_meta *meta, struct ctl_aws *aws, struct ctl_loop *loop,
		   struct ctl_events **ret);
void ctl_events_free(struct ctl_events *e);

/* Register the AWSEvents operations. Returns ctl_aws_register()'s result. */
int ctl_events_register(struct ctl_events *e, struct ctl_aws *aws);

void ctl_events_stats_get(const struct ctl_events *e, struct ctl_events_stats *st);
/* ctl_admin stats provider (arg = struct ctl_events *): adds "events": {runs, ...}. */
void ctl_events_stats_json(void *arg, json_t *out);

#endif
