# SPDX-License-Identifier: MIT
"""The seed's pipeline end to end: tools/demo applies examples/seed/appliance.yaml to a fresh
appliance and walks through it with the aws CLI commands of the seed; then the state it left is
checked stage by stage on the restarted daemon (what was acknowledged survived the restart)."""
import json
import os
import socket
import subprocess

import pytest

from kinesis_util import Daemon, read_all

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STATE_MACHINE = "arn:aws:states:us-east-1:000000000000:stateMachine:stateMachine"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    data = tmp_path_factory.mktemp("demo") / "data"
    port = free_port()
    env = dict(os.environ, INGESTD=os.path.abspath(os.environ.get("INGESTD",
                                                                  "build/control/ingestd")),
               INGESTCTL=os.path.abspath(os.environ.get("INGESTCTL", "build/tools/ingestctl")))
    r = subprocess.run([os.path.join(ROOT, "tools", "demo"), "--data-dir", str(data), "--port",
                        str(port), "--once", "--", "--nic", "none"],
                       capture_output=True, text=True, timeout=900, env=env)
    return r, data


def test_the_walk_through_shows_every_stage(demo):
    r, _ = demo
    out = r.stdout
    assert r.returncode == 0, out[-4000:] + r.stderr[-2000:]
    # The seed's own checks, as its author typed them (with the demo's port).
    for cmd in ("aws kinesis describe-stream --stream-name terraform-kinesis-test",
                "aws lambda invoke --function-name put_record",
                "aws lambda invoke --function-name flatten_data",
                "aws stepfunctions start-execution --state-machine-arn " + STATE_MACHINE,
                "aws stepfunctions list-executions --state-machine-arn " + STATE_MACHINE,
                "aws stepfunctions describe-execution --execution-arn"):
        assert "$ " + cmd in out, cmd
    assert "every stage showed what the seed checks" in out


@pytest.fixture(scope="module")
def after(demo):
    _, data = demo
    d = Daemon(data).start()
    yield d
    if d.proc.poll() is None:
        d.stop()


def test_stream_holds_the_scheduled_records(after):
    kc = after.client()
    shards = kc.list_shards(StreamName="terraform-kinesis-test")["Shards"]
    recs = read_all(kc, "terraform-kinesis-test", shards[0]["ShardId"])[0]
    # one from the direct invoke, at least three from the schedule
    assert len(recs) >= 4
    doc = json.loads(recs[0]["Data"])
    assert any(isinstance(v, dict) for v in doc.values()), doc   # nested fields
    seqs = [int(r["SequenceNumber"]) for r in recs]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_flattened_records_were_delivered(after):
    s3 = after.client("s3")
    objs = s3.list_objects_v2(Bucket="seed-bucket", Prefix="flattened/")["Contents"]
    assert objs, "nothing delivered"
    body = s3.get_object(Bucket="seed-bucket", Key=objs[0]["Key"])["Body"].read().decode()
    lines = [json.loads(x) for x in body.splitlines() if x.strip()]
    assert lines
    for rec in lines:
        assert not any(isinstance(v, dict) for v in rec.values()), rec   # flat
        assert any("_" in k for k in rec), rec                          # parent_child keys


def test_the_crawler_catalogued_the_delivered_records(after):
    glue = after.client("glue")
    crawler = glue.get_crawler(Name="seed-crawler")["Crawler"]
    assert crawler["State"] == "READY"
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"
    tables = glue.get_tables(DatabaseName="seed_catalog")["TableList"]
    assert len(tables) == 1, [t["Name"] for t in tables]
    cols = {c["Name"]: c["Type"] for c in tables[0]["StorageDescriptor"]["Columns"]}
    assert any("_" in c for c in cols), cols
    assert tables[0]["Parameters"]["classification"] == "json"


def test_the_error_execution_failed_with_its_error_and_cause(after):
    sfn = after.client("stepfunctions")
    execs = sfn.list_executions(stateMachineArn=STATE_MACHINE)["executions"]
    assert len(execs) == 1 and execs[0]["status"] == "FAILED"
    desc = sfn.describe_execution(executionArn=execs[0]["executionArn"])
    assert desc["status"] == "FAILED"
    assert desc["error"] == "Exception"
    cause = json.loads(desc["cause"])
    assert cause["errorType"] == "Exception" and "error function" in cause["errorMessage"]
    events = sfn.get_execution_history(executionArn=execs[0]["executionArn"])["events"]
    types = [e["type"] for e in events]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionFailed"
    assert "TaskFailed" in types or "LambdaFunctionFailed" in types, types


def test_apply_again_changes_nothing(after):
    r = subprocess.run([os.environ.get("INGESTCTL", "build/tools/ingestctl"), "--data-dir",
                        after.data_dir, "apply", "-f",
                        os.path.join(ROOT, "examples", "seed", "appliance.yaml")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "Nothing to do." in r.stdout
