/* SPDX-License-Identifier: MIT */
/*
 * ctl_bridge: how the daemon's services call one another, kept out of each service so that none
 * includes another's header:
 *  - a function's output into a delivery stream (the flatten_data built-in as a mapping's
 *    target): a Firehose PutRecord made through the AWS front-end as a trusted internal request;
 *  - a Step Functions Task on a Lambda function: the function runtime (ctl_sfn_invoker);
 *  - a delivery stream's Lambda processor: the function runtime (ctl_lambda_invoke), with the
 *    built-in transforms (ctl_fh_builtin_transform) for names no function has.
 *
 * Threads. The control thread, as the services it joins.
 */
#ifndef CTL_BRIDGE_H
#define CTL_BRIDGE_H

#include <stddef.h>

#include "ctl_aws.h"
#include "ctl_firehose.h"
#include "ctl_lambda.h"
#include "ctl_sfn.h"

/* A ctl_lambda_config.deliver callback (arg = struct ctl_aws *): PutRecord into the delivery
 * stream, answered in the background (errors are logged). Returns 0 or -ENOMEM. */
int ctl_bridge_deliver(void *arg, const char *delivery_stream, const char *data, size_t len);

/* A transform for ctl_fh_set_transform() that runs functions of l. The struct must outlive the
 * delivery streams. */
struct ctl_bridge_transform {
	struct ctl_fh_transform t;
	struct ctl_lambda *lambda;
};
void ctl_bridge_transform_init(struct ctl_bridge_transform *bt, struct ctl_lambda *l);

/* The Step Functions invoker that runs functions of l (arg = struct ctl_lambda *). */
int ctl_bridge_sfn_invoke(void *arg, const char *function_name_or_arn, const char *payload,
			  size_t len, ctl_sfn_done_fn done, void *done_arg);

#endif
