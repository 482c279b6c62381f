# SPDX-License-Identifier: MIT
"""Step Functions of the real daemon through the aws CLI and boto3: state machines, executions
that fail on a function error, Retry/Catch, callbacks with task tokens, express machines run
synchronously, history paging, every error case, and executions that survive SIGKILL."""
import http.client
import json
import time

import pytest

from kinesis_util import Daemon, aws_err as err, read_all

botocore_exceptions = pytest.importorskip("botocore.exceptions")
ClientError = botocore_exceptions.ClientError

ACCOUNT = "000000000000"
SM_ARN = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:"
FN_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/DummyRole"


def sfn(daemon, **cfg):
    import boto3
    from botocore.config import Config
    return boto3.client("stepfunctions", endpoint_url=daemon.endpoint, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test",
                        config=Config(retries={"max_attempts": 1}, **cfg))


def has_lambda(daemon):
    c = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
    c.request("GET", "/2015-03-31/functions")
    r = c.getresponse()
    r.read()
    c.close()
    return r.status == 200


def wait_status(client, arn, want=None, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        d = client.describe_execution(executionArn=arn)
        if (want and d["status"] == want) or (not want and d["status"] != "RUNNING"):
            return d
        assert time.monotonic() < deadline, d
        time.sleep(0.05)


def history(client, arn):
    return client.get_execution_history(executionArn=arn, maxResults=1000)["events"]


def types(events):
    return [e["type"] for e in events]


def lambda_task_machine(fn="fails", **extra):
    task = {"Type": "Task", "Resource": FN_ARN + fn, "End": True}
    task.update(extra)
    return json.dumps({"StartAt": "CallFunction", "States": {"CallFunction": task}})


KINESIS_PUT = "arn:aws:states:::kinesis:putRecord"


def put_state(data, nxt=None, stream="sidefx"):
    st = {"Type": "Task", "Resource": KINESIS_PUT,
          "Parameters": {"StreamName": stream, "Data": data, "PartitionKey": "k"},
          "ResultPath": None}
    st.update({"Next": nxt} if nxt else {"End": True})
    return st


def stream_data(daemon, stream="sidefx"):
    kc = daemon.client("kinesis")
    shard = kc.describe_stream(StreamName=stream)["StreamDescription"]["Shards"][0]["ShardId"]
    recs, _ = read_all(kc, stream, shard)
    return [r["Data"].decode() for r in recs]


# ---- the seed's flow: a Task whose function raises an error ---------------------------------------

def test_cli_execution_of_failing_function_is_failed_with_error_and_cause(daemon):
    functions = has_lambda(daemon)
    if functions:
        make_function(daemon, "fails", FAILS)
    out = daemon.cli("stepfunctions", "create-state-machine", "--name", "stateMachine",
                     "--definition", lambda_task_machine(), "--role-arn", ROLE)
    assert out["stateMachineArn"] == SM_ARN + "stateMachine"
    started = daemon.cli("stepfunctions", "start-execution", "--state-machine-arn",
                         SM_ARN + "stateMachine")
    arn = started["executionArn"]
    assert arn.startswith(f"arn:aws:states:us-east-1:{ACCOUNT}:execution:stateMachine:")
    assert isinstance(started["startDate"], (int, float, str))
    deadline = time.monotonic() + 20
    while True:
        d = daemon.cli("stepfunctions", "describe-execution", "--execution-arn", arn)
        if d["status"] != "RUNNING" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    listed = daemon.cli("stepfunctions", "list-executions", "--state-machine-arn",
                        SM_ARN + "stateMachine")["executions"]
    assert [e["executionArn"] for e in listed] == [arn]
    assert d["status"] == "FAILED"
    assert listed[0]["status"] == "FAILED"
    if functions:
        assert d["error"] == "NotFound"
        assert json.loads(d["cause"])["errorMessage"] == "no such thing"
    else:
        assert d["error"] == "States.TaskFailed"
        assert d["cause"] == "functions are not available"
    assert "output" not in d


# Program functions (Lambda's provided runtime): a bootstrap reading the event on stdin.
FAILS = """#!/usr/bin/env python3
import json, sys
json.load(sys.stdin)
print(json.dumps({"errorType": "NotFound", "errorMessage": "no such thing"}))
sys.exit(1)
"""

# Appends "<tag>-start" and "<tag>-end" around a sleep of ev["sleep"] seconds to $SEEN.
SLOW = """#!/usr/bin/env python3
import json, os, sys, time
ev = json.load(sys.stdin)
with open(os.environ["SEEN"], "a") as f:
    f.write(ev["tag"] + "-start\\n")
time.sleep(ev.get("sleep", 0))
with open(os.environ["SEEN"], "a") as f:
    f.write(ev["tag"] + "-end\\n")
print(json.dumps({"tag": ev["tag"]}))
"""


def zip_of(files):
    import io
    import stat
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFREG | 0o755) << 16
            z.writestr(info, text)
    return buf.getvalue()


def make_function(daemon, name, program, env=None):
    kw = {"Environment": {"Variables": env}} if env else {}
    daemon.client("lambda").create_function(
        FunctionName=name, Runtime="provided.al2", Role=ROLE, Handler="bootstrap",
        Timeout=60, Code={"ZipFile": zip_of({"bootstrap": program})}, **kw)


def test_lambda_error_fails_execution_with_error_type(daemon):
    if not has_lambda(daemon):
        pytest.skip("this daemon has no Lambda API")
    make_function(daemon, "fails", FAILS)
    c = sfn(daemon)
    c.create_state_machine(name="stateMachine", definition=lambda_task_machine(), roleArn=ROLE)
    arn = c.start_execution(stateMachineArn=SM_ARN + "stateMachine")["executionArn"]
    d = wait_status(c, arn, timeout=60)
    assert d["status"] == "FAILED" and d["error"] == "NotFound"
    cause = json.loads(d["cause"])
    assert cause["errorType"] == "NotFound" and cause["errorMessage"] == "no such thing"
    # lambda:invoke wraps the same error identically.
    definition = {"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "fails", "Payload.$": "$"}, "End": True}}}
    c.create_state_machine(name="wrapped", definition=json.dumps(definition), roleArn=ROLE)
    arn = c.start_execution(stateMachineArn=SM_ARN + "wrapped")["executionArn"]
    d = wait_status(c, arn, timeout=60)
    assert d["status"] == "FAILED" and d["error"] == "NotFound"


def test_sigkill_during_a_slow_function_task(tmp_path):
    d = Daemon(tmp_path / "data").start()
    try:
        if not has_lambda(d):
            pytest.skip("this daemon has no Lambda API")
        seen = tmp_path / "seen.txt"
        make_function(d, "slow", SLOW, {"SEEN": str(seen)})
        c = sfn(d)
        task = {"Type": "Task", "Resource": FN_ARN + "slow", "ResultPath": None}
        definition = {"StartAt": "A", "States": {
            "A": {**task, "Parameters": {"tag": "a"}, "Next": "Slow"},
            "Slow": {**task, "Parameters": {"tag": "slow", "sleep": 3}, "Next": "B"},
            "B": {**task, "Parameters": {"tag": "b"}, "End": True}}}
        c.create_state_machine(name="fnslow", definition=json.dumps(definition), roleArn=ROLE)
        arn = c.start_execution(stateMachineArn=SM_ARN + "fnslow", name="s1")["executionArn"]
        deadline = time.monotonic() + 20
        while not (seen.exists() and "slow-start" in seen.read_text()):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        d.kill9()
        d = Daemon(tmp_path / "data").start()
        c = sfn(d)
        out = wait_status(c, arn, timeout=60)
        assert out["status"] == "SUCCEEDED", out
        ev = history(c, arn)
        assert entered(ev) == ["A", "Slow", "B"]
        lines = seen.read_text().split()
        assert lines.count("a-start") == 1 and lines.count("a-end") == 1
        assert lines.count("b-start") == 1 and lines.count("b-end") == 1
    finally:
        if d.proc.poll() is None:
            d.stop()


def test_retry_then_catch_on_a_function_error(daemon):
    c = sfn(daemon)
    err_name = "NotFound" if has_lambda(daemon) else "States.TaskFailed"
    if has_lambda(daemon):
        make_function(daemon, "fails", FAILS)
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {"Type": "Task", "Resource": FN_ARN + "fails",
                     "Retry": [{"ErrorEquals": ["Nope"], "MaxAttempts": 5},
                               {"ErrorEquals": [err_name], "IntervalSeconds": 1,
                                "MaxAttempts": 2, "BackoffRate": 1.0}],
                     "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught",
                                "Next": "Handled"}],
                     "End": True},
            "Handled": {"Type": "Pass", "End": True},
        },
    }
    c.create_state_machine(name="retrying", definition=json.dumps(definition), roleArn=ROLE)
    arn = c.start_execution(stateMachineArn=SM_ARN + "retrying", input='{"a": 1}')["executionArn"]
    d = wait_status(c, arn, timeout=30)
    assert d["status"] == "SUCCEEDED", d
    out = json.loads(d["output"])
    assert out["a"] == 1 and out["caught"]["Error"] == err_name
    ev = history(c, arn)
    assert types(ev).count("TaskScheduled") == 3   # the first attempt and two retries
    assert types(ev).count("TaskFailed") == 3
    assert types(ev)[-3:] == ["PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
    # The retries waited: one second each.
    sched = [e["timestamp"] for e in ev if e["type"] == "TaskScheduled"]
    assert (sched[1] - sched[0]).total_seconds() >= 0.9
    assert (sched[2] - sched[1]).total_seconds() >= 0.9


# ---- callbacks ------------------------------------------------------------------------------------

def callback_machine(stream="tokens"):
    return json.dumps({
        "StartAt": "Ask",
        "States": {
            "Ask": {"Type": "Task", "Resource": KINESIS_PUT + ".waitForTaskToken",
                    "Parameters": {"StreamName": stream, "Data.$": "$$.Task.Token",
                                   "PartitionKey": "k"},
                    "HeartbeatSeconds": 60, "Next": "Done"},
            "Done": {"Type": "Pass", "End": True},
        },
    })


def wait_records(daemon, stream, n, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        data = stream_data(daemon, stream)
        if len(data) >= n:
            return data
        assert time.monotonic() < deadline, data
        time.sleep(0.05)


def test_wait_for_task_token_with_send_task_success(daemon):
    daemon.client("kinesis").create_stream(StreamName="tokens", ShardCount=1)
    c = sfn(daemon)
    c.create_state_machine(name="callback", definition=callback_machine(), roleArn=ROLE)
    arn = c.start_execution(stateMachineArn=SM_ARN + "callback", name="cb1")["executionArn"]
    token = wait_records(daemon, "tokens", 1)[0]
    assert token.startswith("cb1:")
    assert c.describe_execution(executionArn=arn)["status"] == "RUNNING"
    daemon.cli("stepfunctions", "send-task-heartbeat", "--task-token", token)
    daemon.cli("stepfunctions", "send-task-success", "--task-token", token, "--task-output",
               '{"approved": true}')
    d = wait_status(c, arn)
    assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"approved": True}
    # The task is over: its token is no longer waited for.
    with pytest.raises(ClientError) as e:
        c.send_task_success(taskToken=token, output="{}")
    assert err(e)[0] == "TaskTimedOut"


def test_send_task_failure_fails_the_task_and_token_errors(daemon):
    daemon.client("kinesis").create_stream(StreamName="tokens", ShardCount=1)
    c = sfn(daemon)
    c.create_state_machine(name="callback", definition=callback_machine(), roleArn=ROLE)
    arn = c.start_execution(stateMachineArn=SM_ARN + "callback", name="cb2")["executionArn"]
    token = wait_records(daemon, "tokens", 1)[0]
    with pytest.raises(ClientError) as e:
        c.send_task_success(taskToken=token, output="not json")
    assert err(e)[0] == "InvalidOutput"
    with pytest.raises(ClientError) as e:
        c.send_task_success(taskToken="garbage", output="{}")
    assert err(e)[0] == "InvalidToken"
    with pytest.raises(ClientError) as e:
        c.send_task_success(taskToken="nobody:3", output="{}")
    assert err(e)[0] == "TaskDoesNotExist"
    with pytest.raises(ClientError) as e:
        c.send_task_heartbeat(taskToken="cb2:999")
    assert err(e)[0] == "TaskDoesNotExist"
    c.send_task_failure(taskToken=token, error="Rejected", cause="by a person")
    d = wait_status(c, arn)
    assert d["status"] == "FAILED" and d["error"] == "Rejected" and d["cause"] == "by a person"


# ---- express machines -----------------------------------------------------------------------------

EXPRESS = json.dumps({
    "StartAt": "Check",
    "States": {
        "Check": {"Type": "Choice", "Choices": [
            {"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"}], "Default": "Small"},
        "Big": {"Type": "Pass", "Result": "big", "ResultPath": "$.size", "End": True},
        "Small": {"Type": "Fail", "Error": "TooSmall", "Cause": "n must exceed 10"},
    },
})


def test_start_sync_execution_of_express_machine(daemon):
    c = sfn(daemon, inject_host_prefix=False)
    c.create_state_machine(name="quick", definition=EXPRESS, roleArn=ROLE, type="EXPRESS")
    r = c.start_sync_execution(stateMachineArn=SM_ARN + "quick", input='{"n": 11}')
    assert r["status"] == "SUCCEEDED"
    assert json.loads(r["output"]) == {"n": 11, "size": "big"}
    assert r["executionArn"].startswith(f"arn:aws:states:us-east-1:{ACCOUNT}:express:quick:")
    r = c.start_sync_execution(stateMachineArn=SM_ARN + "quick", input='{"n": 1}')
    assert r["status"] == "FAILED" and r["error"] == "TooSmall"
    assert r["cause"] == "n must exceed 10" and "output" not in r
    # SDKs send it to sync-<host>: the daemon answers whatever the Host header says.
    status, doc, _ = daemon.raw("AWSStepFunctions.StartSyncExecution",
                                json.dumps({"stateMachineArn": SM_ARN + "quick",
                                            "input": '{"n": 50}'}),
                                headers={"Host": "sync-localhost",
                                         "Content-Type": "application/x-amz-json-1.0"})
    assert status == 200 and doc["status"] == "SUCCEEDED"
    c.create_state_machine(name="slow", definition=lambda_task_machine(), roleArn=ROLE)
    with pytest.raises(ClientError) as e:
        c.start_sync_execution(stateMachineArn=SM_ARN + "slow")
    assert err(e)[0] == "StateMachineTypeNotSupported"


# ---- history --------------------------------------------------------------------------------------

def pass_chain(n):
    states = {f"S{i}": {"Type": "Pass", "Result": i, "ResultPath": f"$.s{i}",
                        **({"Next": f"S{i + 1}"} if i + 1 < n else {"End": True})}
              for i in range(n)}
    return json.dumps({"StartAt": "S0", "States": states})


def test_history_pages_and_reverse_order(daemon):
    c = sfn(daemon)
    c.create_state_machine(name="chain", definition=pass_chain(5), roleArn=ROLE)
    arn = c.start_execution(stateMachineArn=SM_ARN + "chain", input='{"x": 1}')["executionArn"]
    wait_status(c, arn)
    full = history(c, arn)
    assert types(full) == ["ExecutionStarted"] + ["PassStateEntered", "PassStateExited"] * 5 + \
        ["ExecutionSucceeded"]
    assert [e["id"] for e in full] == list(range(1, 13))
    assert full[0]["executionStartedEventDetails"]["input"] == '{"x":1}'
    assert json.loads(full[-1]["executionSucceededEventDetails"]["output"])["s4"] == 4
    pages, token = [], None
    while True:
        kw = {"nextToken": token} if token else {}
        r = c.get_execution_history(executionArn=arn, maxResults=5, **kw)
        pages.append(r["events"])
        token = r.get("nextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [5, 5, 2]
    assert [e["id"] for p in pages for e in p] == list(range(1, 13))
    rev = c.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=3)
    assert [e["id"] for e in rev["events"]] == [12, 11, 10]
    rev2 = c.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=3,
                                   nextToken=rev["nextToken"])
    assert [e["id"] for e in rev2["events"]] == [9, 8, 7]
    bare = c.get_execution_history(executionArn=arn, includeExecutionData=False)["events"]
    assert "input" not in bare[0]["executionStartedEventDetails"]


def test_list_state_machines_and_executions_page(daemon):
    c = sfn(daemon)
    for i in range(5):
        c.create_state_machine(name=f"m{i}", definition=pass_chain(1), roleArn=ROLE)
    names, token = [], None
    while True:
        r = c.list_state_machines(maxResults=2, **({"nextToken": token} if token else {}))
        names += [m["name"] for m in r["stateMachines"]]
        token = r.get("nextToken")
        if not token:
            break
    assert names == [f"m{i}" for i in range(5)]
    arns = [c.start_execution(stateMachineArn=SM_ARN + "m0", name=f"e{i}")["executionArn"]
            for i in range(5)]
    for a in arns:
        wait_status(c, a)
    got, token = [], None
    while True:
        r = c.list_executions(stateMachineArn=SM_ARN + "m0", maxResults=2,
                              **({"nextToken": token} if token else {}))
        got += [e["name"] for e in r["executions"]]
        token = r.get("nextToken")
        if not token:
            break
    assert got == ["e4", "e3", "e2", "e1", "e0"]   # newest first
    assert c.list_executions(stateMachineArn=SM_ARN + "m0",
                             statusFilter="RUNNING")["executions"] == []
    assert len(c.list_executions(stateMachineArn=SM_ARN + "m0",
                                 statusFilter="SUCCEEDED")["executions"]) == 5


# ---- machines: create, update, delete ---------------------------------------------------------------

def test_create_is_idempotent_and_update_describe_delete(daemon):
    c = sfn(daemon)
    a = c.create_state_machine(name="m", definition=pass_chain(2), roleArn=ROLE)
    b = c.create_state_machine(name="m", definition=pass_chain(2), roleArn=ROLE)
    assert a["stateMachineArn"] == b["stateMachineArn"]
    with pytest.raises(ClientError) as e:
        c.create_state_machine(name="m", definition=pass_chain(3), roleArn=ROLE)
    assert err(e)[0] == "StateMachineAlreadyExists"
    d = c.describe_state_machine(stateMachineArn=SM_ARN + "m")
    assert d["name"] == "m" and d["type"] == "STANDARD" and d["status"] == "ACTIVE"
    assert json.loads(d["definition"]) == json.loads(pass_chain(2))
    c.update_state_machine(stateMachineArn=SM_ARN + "m", definition=pass_chain(3))
    d = c.describe_state_machine(stateMachineArn=SM_ARN + "m")
    assert json.loads(d["definition"]) == json.loads(pass_chain(3))
    with pytest.raises(ClientError) as e:
        c.update_state_machine(stateMachineArn=SM_ARN + "m")
    assert err(e)[0] == "MissingRequiredParameter"
    with pytest.raises(ClientError) as e:
        c.update_state_machine(stateMachineArn=SM_ARN + "m", definition="{")
    assert err(e)[0] == "InvalidDefinition"
    c.delete_state_machine(stateMachineArn=SM_ARN + "m")
    with pytest.raises(ClientError) as e:
        c.describe_state_machine(stateMachineArn=SM_ARN + "m")
    assert err(e)[0] == "StateMachineDoesNotExist"
    assert c.list_state_machines()["stateMachines"] == []


# ---- bad definitions, names and inputs ------------------------------------------------------------

@pytest.mark.parametrize("definition, words", [
    ("this is not json", "INVALID_JSON_DESCRIPTION"),
    (json.dumps({"StartAt": "A", "States": {"A": {"Type": "Teleport", "End": True}}}),
     "/States/A/Type"),
    (json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}),
     "MISSING_TRANSITION_TARGET"),
])
def test_bad_definitions_are_invalid_definition(daemon, definition, words):
    c = sfn(daemon)
    with pytest.raises(ClientError) as e:
        c.create_state_machine(name="bad", definition=definition, roleArn=ROLE)
    code, msg = err(e)
    assert code == "InvalidDefinition"
    assert msg.startswith("Invalid State Machine Definition: '") and words in msg
    assert c.list_state_machines()["stateMachines"] == []


def test_cli_shows_invalid_definition_naming_the_field(daemon):
    bad = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}})
    r = daemon.cli("stepfunctions", "create-state-machine", "--name", "bad", "--definition", bad,
                   "--role-arn", ROLE, check=False)
    assert r.returncode != 0
    assert "(InvalidDefinition)" in r.stderr and "/States/A/Next" in r.stderr


def test_error_cases_have_step_functions_codes(daemon):
    c = sfn(daemon)
    c.create_state_machine(name="ok", definition=pass_chain(1), roleArn=ROLE)
    cases = [
        (lambda: c.create_state_machine(name="has space", definition=pass_chain(1),
                                        roleArn=ROLE), "InvalidName"),
        (lambda: c.create_state_machine(name="x" * 81, definition=pass_chain(1), roleArn=ROLE),
         "ValidationException"),
        (lambda: c.create_state_machine(name="t", definition=pass_chain(1), roleArn=ROLE,
                                        type="LAZY"), "ValidationException"),
        (lambda: c.describe_state_machine(stateMachineArn=SM_ARN + "nope"),
         "StateMachineDoesNotExist"),
        (lambda: c.describe_state_machine(stateMachineArn="arn:aws:sqs:us-east-1:1:q"),
         "InvalidArn"),
        (lambda: c.start_execution(stateMachineArn=SM_ARN + "nope"), "StateMachineDoesNotExist"),
        (lambda: c.start_execution(stateMachineArn=SM_ARN + "ok", input="{not json"),
         "InvalidExecutionInput"),
        (lambda: c.start_execution(stateMachineArn=SM_ARN + "ok", input=""),
         "InvalidExecutionInput"),
        (lambda: c.start_execution(stateMachineArn=SM_ARN + "ok",
                                   input=json.dumps({"x": "y" * (256 * 1024)})),
         "InvalidExecutionInput"),
        (lambda: c.start_execution(stateMachineArn=SM_ARN + "ok", name="a/b"), "InvalidName"),
        (lambda: c.describe_execution(
            executionArn=f"arn:aws:states:us-east-1:{ACCOUNT}:execution:ok:missing"),
         "ExecutionDoesNotExist"),
        (lambda: c.describe_execution(executionArn="arn:aws:states:us-east-1:1:nothing"),
         "InvalidArn"),
        (lambda: c.get_execution_history(
            executionArn=f"arn:aws:states:us-east-1:{ACCOUNT}:execution:ok:missing"),
         "ExecutionDoesNotExist"),
        (lambda: c.stop_execution(
            executionArn=f"arn:aws:states:us-east-1:{ACCOUNT}:execution:ok:missing"),
         "ExecutionDoesNotExist"),
        (lambda: c.list_executions(stateMachineArn=SM_ARN + "nope"), "StateMachineDoesNotExist"),
        (lambda: c.list_executions(stateMachineArn=SM_ARN + "ok", statusFilter="DONE"),
         "ValidationException"),
        (lambda: c.list_state_machines(maxResults=1001), "ValidationException"),
    ]
    for call, code in cases:
        with pytest.raises(ClientError) as e:
            call()
        assert err(e)[0] == code, (code, err(e))


def test_execution_names_are_idempotent_per_input(daemon):
    c = sfn(daemon)
    c.create_state_machine(name="ok", definition=pass_chain(1), roleArn=ROLE)
    a = c.start_execution(stateMachineArn=SM_ARN + "ok", name="run-1", input='{"v": 1}')
    b = c.start_execution(stateMachineArn=SM_ARN + "ok", name="run-1", input='{"v": 1}')
    assert a["executionArn"] == b["executionArn"] == \
        f"arn:aws:states:us-east-1:{ACCOUNT}:execution:ok:run-1"
    with pytest.raises(ClientError) as e:
        c.start_execution(stateMachineArn=SM_ARN + "ok", name="run-1", input='{"v": 2}')
    assert err(e)[0] == "ExecutionAlreadyExists"
    assert len(c.list_executions(stateMachineArn=SM_ARN + "ok")["executions"]) == 1


def test_stop_execution_aborts_a_waiting_execution(daemon):
    c = sfn(daemon)
    d = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 300, "End": True}}}
    c.create_state_machine(name="waits", definition=json.dumps(d), roleArn=ROLE)
    arn = c.start_execution(stateMachineArn=SM_ARN + "waits")["executionArn"]
    assert c.describe_execution(executionArn=arn)["status"] == "RUNNING"
    daemon.cli("stepfunctions", "stop-execution", "--execution-arn", arn, "--error", "Halt",
               "--cause", "operator")
    d = c.describe_execution(executionArn=arn)
    assert d["status"] == "ABORTED" and d["error"] == "Halt" and d["cause"] == "operator"
    assert types(history(c, arn))[-1] == "ExecutionAborted"


def test_glue_integration_error_is_named_after_the_service(daemon):
    c = sfn(daemon)
    d = {"StartAt": "Crawl", "States": {"Crawl": {
        "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:glue:startCrawler",
        "Parameters": {"Name": "no-such-crawler"}, "End": True}}}
    c.create_state_machine(name="crawl", definition=json.dumps(d), roleArn=ROLE)
    arn = c.start_execution(stateMachineArn=SM_ARN + "crawl")["executionArn"]
    d = wait_status(c, arn)
    assert d["status"] == "FAILED" and d["error"].startswith("Glue."), d


# ---- SIGKILL in the middle of standard executions ----------------------------------------------------

def entered(events):
    return [e[next(k for k in e if k.endswith("EventDetails"))]["name"] for e in events
            if e["type"].endswith("StateEntered")]


def test_sigkill_during_wait_resumes_without_repeating_a_state(tmp_path):
    d = Daemon(tmp_path / "data").start()
    try:
        d.client("kinesis").create_stream(StreamName="sidefx", ShardCount=1)
        c = sfn(d)
        definition = {"StartAt": "Before", "States": {
            "Before": put_state("before", "Pause"),
            "Pause": {"Type": "Wait", "Seconds": 2, "Next": "After"},
            "After": put_state("after", "Out"),
            "Out": {"Type": "Pass", "Result": {"done": True}, "End": True}}}
        c.create_state_machine(name="durable", definition=json.dumps(definition), roleArn=ROLE)
        arn = c.start_execution(stateMachineArn=SM_ARN + "durable", name="d1",
                                input='{"k": 1}')["executionArn"]
        deadline = time.monotonic() + 10
        while "WaitStateEntered" not in types(history(c, arn)):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        d.kill9()
        d = Daemon(tmp_path / "data").start()
        c = sfn(d)
        out = wait_status(c, arn, timeout=20)
        assert out["status"] == "SUCCEEDED" and json.loads(out["output"]) == {"done": True}
        ev = history(c, arn)
        assert entered(ev) == ["Before", "Pause", "After", "Out"]
        assert [e["id"] for e in ev] == list(range(1, len(ev) + 1))
        assert stream_data(d) == ["before", "after"]   # each side effect exactly once
        # The wait kept its original due time across the restart.
        t = {e["type"]: e["timestamp"] for e in ev}
        assert (t["WaitStateExited"] - t["WaitStateEntered"]).total_seconds() >= 1.9
    finally:
        if d.proc.poll() is None:
            d.stop()


def test_sigkill_during_a_task_resumes_it_and_retry_backoff_survives(tmp_path):
    d = Daemon(tmp_path / "data").start()
    try:
        kc = d.client("kinesis")
        kc.create_stream(StreamName="sidefx", ShardCount=1)
        kc.create_stream(StreamName="tokens", ShardCount=1)
        c = sfn(d)
        definition = {"StartAt": "First", "States": {
            "First": put_state("first", "Ask"),
            "Ask": {"Type": "Task", "Resource": KINESIS_PUT + ".waitForTaskToken",
                    "Parameters": {"StreamName": "tokens", "Data.$": "$$.Task.Token",
                                   "PartitionKey": "k"}, "ResultPath": "$.answer",
                    "Next": "Flaky"},
            "Flaky": {**put_state("x", "Last", stream="not-yet"),
                      "Retry": [{"ErrorEquals": ["Kinesis.ResourceNotFoundException"],
                                 "IntervalSeconds": 3, "MaxAttempts": 3,
                                 "BackoffRate": 1.0}]},
            "Last": put_state("last")}}
        c.create_state_machine(name="slowtask", definition=json.dumps(definition),
                               roleArn=ROLE)
        arn = c.start_execution(stateMachineArn=SM_ARN + "slowtask", name="t1")["executionArn"]
        token = wait_records(d, "tokens", 1)[0]
        d.kill9()          # the callback task is running
        d = Daemon(tmp_path / "data").start()
        c = sfn(d)
        assert c.describe_execution(executionArn=arn)["status"] == "RUNNING"
        c.send_task_success(taskToken=token, output='{"yes": 1}')
        deadline = time.monotonic() + 10
        while types(history(c, arn)).count("TaskFailed") < 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        d.kill9()          # during the retry's backoff
        d = Daemon(tmp_path / "data").start()
        d.client("kinesis").create_stream(StreamName="not-yet", ShardCount=1)
        c = sfn(d)
        out = wait_status(c, arn, timeout=30)
        assert out["status"] == "SUCCEEDED", out
        assert json.loads(out["output"])["answer"] == {"yes": 1}
        ev = history(c, arn)
        assert entered(ev) == ["First", "Ask", "Flaky", "Last"]
        assert [e["id"] for e in ev] == list(range(1, len(ev) + 1))
        assert stream_data(d) == ["first", "last"]
        assert stream_data(d, "not-yet") == ["x"]
    finally:
        if d.proc.poll() is None:
            d.stop()


# ---- ingestctl workflow ------------------------------------------------------------------------------

def test_ingestctl_workflow_commands(daemon, tmp_path):
    import os
    import subprocess
    ctl = os.environ.get("INGESTCTL", "build/tools/ingestctl")

    def run(*args, check=True):
        r = subprocess.run([ctl, "--data-dir", daemon.data_dir, *args], capture_output=True,
                           text=True, timeout=30)
        if check:
            assert r.returncode == 0, r.stderr
        return r

    definition = {"StartAt": "Check", "States": {
        "Check": {"Type": "Choice", "Choices": [
            {"Variable": "$.go", "BooleanEquals": True, "Next": "Work"}], "Default": "Stop"},
        "Work": {"Type": "Pass", "Result": 1, "ResultPath": "$.done", "Next": "Nap"},
        "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Stop"},
        "Stop": {"Type": "Fail", "Error": "Finished", "Cause": "on purpose"}}}
    f = tmp_path / "def.json"
    f.write_text(json.dumps(definition))
    out = run("workflow", "create", "flow", "-f", str(f)).stdout.strip()
    assert out == SM_ARN + "flow"
    assert "flow" in run("workflow", "list").stdout
    assert "STANDARD" in run("workflow", "describe", "flow").stdout
    arn = run("workflow", "start", "flow", "--input", '{"go": true}', "--name",
              "first").stdout.strip()
    assert arn.endswith(":execution:flow:first")
    c = sfn(daemon)
    wait_status(c, arn)
    ex = run("workflow", "executions", "flow").stdout
    assert "first" in ex and "FAILED" in ex
    lines = run("workflow", "history", arn).stdout.splitlines()
    assert lines[0].split() == ["STATE", "TYPE", "ENTERED", "EXITED", "DURATION", "ERROR"]
    assert [ln.split()[0] for ln in lines[1:-1]] == ["Check", "Work", "Nap", "Stop"]
    assert lines[3].split()[1] == "Wait" and float(lines[3].split()[4]) >= 0.9
    assert lines[4].split()[-1] == "Finished"
    assert lines[-1] == "execution: Failed: Finished - on purpose"
    hist = json.loads(run("--json", "workflow", "history", arn).stdout)["events"]
    assert hist[0]["type"] == "ExecutionStarted"
    r = run("workflow", "create", "flow2", "-f", str(f), "--type", "LAZY", check=False)
    assert r.returncode == 2
    f.write_text("{")
    r = run("workflow", "create", "broken", "-f", str(f), check=False)
    assert r.returncode == 1 and "InvalidDefinition" in r.stderr


def test_callback_without_heartbeat_times_out(daemon):
    daemon.client("kinesis").create_stream(StreamName="tokens", ShardCount=1)
    c = sfn(daemon)
    definition = json.loads(callback_machine())
    definition["States"]["Ask"]["HeartbeatSeconds"] = 1
    definition["States"]["Ask"]["TimeoutSeconds"] = 30
    c.create_state_machine(name="beat", definition=json.dumps(definition), roleArn=ROLE)
    arn = c.start_execution(stateMachineArn=SM_ARN + "beat", name="hb1")["executionArn"]
    token = wait_records(daemon, "tokens", 1)[0]
    d = wait_status(c, arn, timeout=10)
    assert d["status"] == "FAILED" and d["error"] == "States.HeartbeatTimeout"
    assert "TaskTimedOut" in types(history(c, arn))
    with pytest.raises(ClientError) as e:
        c.send_task_success(taskToken=token, output="{}")
    assert err(e)[0] == "TaskTimedOut"
    with pytest.raises(ClientError) as e:
        c.send_task_heartbeat(taskToken=token)
    assert err(e)[0] == "TaskTimedOut"
