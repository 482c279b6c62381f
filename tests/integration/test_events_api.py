# SPDX-License-Identifier: MIT
"""EventBridge schedules of the real daemon: rules and targets through the aws CLI and boto3, runs
that put the scheduled event into a Kinesis stream, and runs missed during a downtime."""
import base64
import json
import socket
import time

import pytest

from kinesis_util import Daemon, aws_err as err, read_all

botocore_exceptions = pytest.importorskip("botocore.exceptions")
ClientError = botocore_exceptions.ClientError


def admin_stats(daemon):
    """GET /stats over the admin socket."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(f"{daemon.data_dir}/ingestd.sock")
    s.sendall(b"GET /stats HTTP/1.0\r\nHost: x\r\n\r\n")
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    return json.loads(data.split(b"\r\n\r\n", 1)[1])


def test_aws_cli_rules_and_targets_as_users_type_them(daemon):
    out = daemon.cli("events", "put-rule", "--name", "every5", "--schedule-expression",
                     "rate(5 minutes)")
    assert out["RuleArn"] == "arn:aws:events:us-east-1:000000000000:rule/every5"
    rule = daemon.cli("events", "describe-rule", "--name", "every5")
    assert rule["ScheduleExpression"] == "rate(5 minutes)"
    assert rule["State"] == "ENABLED" and rule["EventBusName"] == "default"
    fn = "arn:aws:lambda:us-east-1:000000000000:function:put_record"
    out = daemon.cli("events", "put-targets", "--rule", "every5", "--targets",
                     f"Id=1,Arn={fn}")
    assert out["FailedEntryCount"] == 0
    targets = daemon.cli("events", "list-targets-by-rule", "--rule", "every5")["Targets"]
    assert targets == [{"Id": "1", "Arn": fn}]
    assert daemon.cli("events", "list-rule-names-by-target", "--target-arn",
                      fn)["RuleNames"] == ["every5"]
    daemon.cli("events", "disable-rule", "--name", "every5")
    assert daemon.cli("events", "describe-rule", "--name", "every5")["State"] == "DISABLED"
    daemon.cli("events", "enable-rule", "--name", "every5")
    r = daemon.cli("events", "delete-rule", "--name", "every5", check=False)
    assert r.returncode != 0 and "has targets" in r.stderr
    daemon.cli("events", "remove-targets", "--rule", "every5", "--ids", "1")
    daemon.cli("events", "delete-rule", "--name", "every5")
    assert daemon.cli("events", "list-rules")["Rules"] == []


def test_list_rules_pages_and_prefix(daemon):
    ev = daemon.client("events")
    for i in range(7):
        ev.put_rule(Name=f"r{i}", ScheduleExpression="cron(0 12 * * ? *)")
    ev.put_rule(Name="other", EventPattern='{"source": ["my.app"]}')
    names, token = [], None
    while True:
        kw = {"NamePrefix": "r", "Limit": 3}
        if token:
            kw["NextToken"] = token
        page = ev.list_rules(**kw)
        names += [r["Name"] for r in page["Rules"]]
        token = page.get("NextToken")
        if not token:
            break
    assert names == [f"r{i}" for i in range(7)]
    other = ev.describe_rule(Name="other")
    assert json.loads(other["EventPattern"]) == {"source": ["my.app"]}
    assert "ScheduleExpression" not in other


@pytest.mark.parametrize("expr,needle", [
    ("rate(5 minute)", "plural"),
    ("rate(0 minutes)", "from 1"),
    ("cron(0 10 * * ?)", "6 fields"),
    ("cron(0 10 * * * *)", "exactly one"),
    ("cron(61 10 * * ? *)", "Minutes"),
    ("every 5 minutes", "rate(...) or cron(...)"),
])
def test_bad_schedule_expressions_are_refused(daemon, expr, needle):
    ev = daemon.client("events")
    with pytest.raises(ClientError) as e:
        ev.put_rule(Name="bad", ScheduleExpression=expr)
    code, msg = err(e)
    assert code == "ValidationException"
    assert "ScheduleExpression is not valid" in msg and needle in msg


def test_bad_requests_get_eventbridge_errors(daemon):
    ev = daemon.client("events")
    with pytest.raises(ClientError) as e:
        ev.describe_rule(Name="nope")
    assert err(e) == ("ResourceNotFoundException",
                      "Rule nope does not exist on EventBus default.")
    with pytest.raises(ClientError) as e:
        ev.put_rule(Name="x")
    assert err(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        ev.put_rule(Name="bad name!", ScheduleExpression="rate(1 day)")
    assert err(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        ev.put_rule(Name="p", EventPattern="{not json")
    assert err(e)[0] == "InvalidEventPatternException"
    with pytest.raises(ClientError) as e:
        ev.put_targets(Rule="nope", Targets=[{"Id": "1", "Arn": "arn:aws:kinesis:us-east-1:"
                                              "000000000000:stream/s"}])
    assert err(e)[0] == "ResourceNotFoundException"
    ev.put_rule(Name="r", ScheduleExpression="rate(1 day)")
    with pytest.raises(ClientError) as e:
        ev.put_targets(Rule="r", Targets=[{"Id": "1", "Arn": "arn:aws:kinesis:us-east-1:"
                                           "000000000000:stream/s", "Input": "{bad"}])
    assert err(e)[0] == "ValidationException"
    out = ev.put_targets(Rule="r", Targets=[{"Id": "1", "Arn": "arn:aws:sqs:us-east-1:"
                                             "000000000000:queue"}])
    assert out["FailedEntryCount"] == 1
    assert out["FailedEntries"][0]["ErrorCode"] == "ValidationException"
    arn = "arn:aws:kinesis:us-east-1:000000000000:stream/s"
    out = ev.put_targets(Rule="r", Targets=[{"Id": str(i), "Arn": arn} for i in range(6)])
    assert out["FailedEntryCount"] == 1
    assert out["FailedEntries"][0]["ErrorCode"] == "LimitExceededException"
    assert len(ev.list_targets_by_rule(Rule="r")["Targets"]) == 5
    with pytest.raises(ClientError) as e:
        ev.list_rules(EventBusName="custom")
    assert err(e)[0] == "ResourceNotFoundException" or err(e)[0] == "ValidationException"


def stream_records(kc, stream):
    shards = kc.list_shards(StreamName=stream)["Shards"]
    out = []
    for s in shards:
        out += read_all(kc, stream, s["ShardId"])[0]
    return out


def wait_records(kc, stream, n, timeout):
    deadline = time.monotonic() + timeout
    recs = []
    while time.monotonic() < deadline:
        recs = stream_records(kc, stream)
        if len(recs) >= n:
            return recs
        time.sleep(0.2)
    return recs


def test_schedule_puts_the_scheduled_event_into_a_stream(daemon):
    kc = daemon.client()
    kc.create_stream(StreamName="ticks", ShardCount=1)
    ev = daemon.client("events")
    arn = "arn:aws:kinesis:us-east-1:000000000000:stream/ticks"
    ev.put_rule(Name="fast", ScheduleExpression="rate(1 second)")
    ev.put_targets(Rule="fast", Targets=[{"Id": "t", "Arn": arn}])
    ev.put_rule(Name="const", ScheduleExpression="rate(1 second)")
    ev.put_targets(Rule="const", Targets=[{"Id": "t", "Arn": arn, "Input": '{"k": 1}'},
                                          {"Id": "p", "Arn": arn, "InputPath": "$.detail-type"}])
    recs = wait_records(kc, "ticks", 6, 15)
    assert len(recs) >= 6
    by_key = {}
    for r in recs:
        by_key.setdefault(r["PartitionKey"], []).append(json.loads(r["Data"]))
    ev_doc = by_key["fast"][0]
    assert ev_doc["detail-type"] == "Scheduled Event" and ev_doc["source"] == "aws.events"
    assert ev_doc["resources"] == ["arn:aws:events:us-east-1:000000000000:rule/fast"]
    assert ev_doc["account"] == "000000000000" and ev_doc["detail"] == {}
    assert {"k": 1} in by_key["const"] and "Scheduled Event" in by_key["const"]
    # Disabled rules stop running.
    ev.disable_rule(Name="fast")
    ev.disable_rule(Name="const")
    time.sleep(0.5)
    n = len(stream_records(kc, "ticks"))
    time.sleep(2.5)
    assert len(stream_records(kc, "ticks")) == n
    st = admin_stats(daemon)["events"]
    assert st["runs"] >= 3 and st["failures"] == 0


def test_runs_missed_while_down_are_coalesced_into_one(tmp_path):
    d = Daemon(tmp_path / "data").start()
    try:
        kc = d.client()
        kc.create_stream(StreamName="ticks", ShardCount=1)
        ev = d.client("events")
        ev.put_rule(Name="every2", ScheduleExpression="rate(2 seconds)")
        ev.put_targets(Rule="every2", Targets=[{
            "Id": "t", "Arn": "arn:aws:kinesis:us-east-1:000000000000:stream/ticks"}])
        assert len(wait_records(kc, "ticks", 1, 10)) >= 1
        d.kill9()
        time.sleep(7)  # three runs fall into the downtime
        d = Daemon(tmp_path / "data").start()
        t0 = time.monotonic()
        kc = d.client()
        base = len(stream_records(kc, "ticks"))
        st = admin_stats(d)["events"]
        # One catch-up run for the three missed ones (a loaded machine may already have run the
        # next one on schedule before the stats are read).
        assert st["missed"] == 1 and 1 <= st["runs"] <= 2, st
        # The schedule goes on after the catch-up run.
        recs = wait_records(kc, "ticks", base + 1, 6)
        assert len(recs) >= base + 1
        assert time.monotonic() - t0 < 6
        assert d.cli("events", "describe-rule", "--name", "every2")["State"] == "ENABLED"
    finally:
        if d.proc.poll() is None:
            d.stop()
