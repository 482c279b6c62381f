# SPDX-License-Identifier: MIT
"""Functions through Lambda's REST API of the real daemon: the aws CLI, boto3, the seed's
put_record / flatten_data flow, and event source mappings across a restart."""
import base64
import io
import json
import os
import stat
import subprocess
import time
import zipfile

import pytest

from kinesis_util import Daemon, CREDS

botocore_exceptions = pytest.importorskip("botocore.exceptions")
ClientError = botocore_exceptions.ClientError
ROLE = "arn:aws:iam::000000000000:role/r"

# A bootstrap program: Python reading the event on stdin (argv carries nothing but its path).
ECHO = """#!/usr/bin/env python3
import json, os, sys
ev = json.load(sys.stdin)
print("got event", file=sys.stderr)
if ev.get("fail"):
    print(json.dumps({"errorType": "Boom", "errorMessage": ev["fail"]}))
    sys.exit(1)
print(json.dumps({"event": ev, "name": os.environ["AWS_LAMBDA_FUNCTION_NAME"],
                  "greeting": os.environ.get("GREETING")}))
"""

# A mapping's target that records each record it sees in a file named by SEEN (appending).
RECORDER = """#!/usr/bin/env python3
import base64, json, os, sys
ev = json.load(sys.stdin)
with open(os.environ["SEEN"], "a") as f:
    for r in ev["Records"]:
        f.write(base64.b64decode(r["kinesis"]["data"]).decode() + "\\n")
fail = os.environ.get("FAIL_FILE")
if fail and os.path.exists(fail):
    sys.exit(3)
print(json.dumps({"n": len(ev["Records"])}))
"""


def zip_of(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFREG | 0o755) << 16
            z.writestr(info, text)
    return buf.getvalue()


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path / "data").start()
    yield d
    if d.proc.poll() is None:
        assert d.stop() == 0, "".join(d.lines)


def err(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def cli_invoke(d, tmp_path, name, payload=None, extra=()):
    out = tmp_path / "out.txt"
    args = ["lambda", "invoke", "--function-name", name, *extra]
    if payload is not None:
        args += ["--payload", payload]  # the CLI (v1) sends it as it is
    meta = d.cli(*args, str(out))
    return meta, out.read_text()


def test_aws_cli_create_invoke_list_delete(daemon, tmp_path):
    (tmp_path / "f.zip").write_bytes(zip_of({"bootstrap": ECHO}))
    c = daemon.cli("lambda", "create-function", "--function-name", "f", "--runtime",
                   "provided.al2", "--handler", "bootstrap", "--role", ROLE, "--zip-file",
                   f"fileb://{tmp_path / 'f.zip'}", "--environment",
                   "Variables={GREETING=hello}")
    assert c["FunctionName"] == "f"
    assert c["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:f"
    assert c["Runtime"] == "provided.al2" and c["Timeout"] == 3 and c["MemorySize"] == 128
    assert c["Environment"] == {"Variables": {"GREETING": "hello"}}
    meta, body = cli_invoke(daemon, tmp_path, "f", '{"a": {"b": 1}}')
    assert meta["StatusCode"] == 200 and "FunctionError" not in meta
    assert json.loads(body) == {"event": {"a": {"b": 1}}, "name": "f", "greeting": "hello"}
    # No payload: the event is {}.
    meta, body = cli_invoke(daemon, tmp_path, "f")
    assert json.loads(body)["event"] == {}
    # An unhandled error: FunctionError, the error object as the body.
    meta, body = cli_invoke(daemon, tmp_path, "f", '{"fail": "no"}', ("--log-type", "Tail"))
    assert meta["StatusCode"] == 200 and meta["FunctionError"] == "Unhandled"
    assert json.loads(body) == {"errorType": "Boom", "errorMessage": "no"}
    log = base64.b64decode(meta["LogResult"]).decode()
    assert log.startswith("START RequestId: ") and "got event" in log and "REPORT" in log
    names = [f["FunctionName"] for f in daemon.cli("lambda", "list-functions")["Functions"]]
    assert names == ["f"]
    got = daemon.cli("lambda", "get-function", "--function-name", "f")
    assert got["Configuration"]["CodeSha256"] == c["CodeSha256"]
    assert got["Code"]["Location"].startswith("file://")
    daemon.cli("lambda", "update-function-configuration", "--function-name", "f", "--timeout",
               "10", "--memory-size", "256")
    g = daemon.cli("lambda", "get-function-configuration", "--function-name", "f")
    assert g["Timeout"] == 10 and g["MemorySize"] == 256
    daemon.cli("lambda", "delete-function", "--function-name", "f")
    r = daemon.cli("lambda", "get-function", "--function-name", "f", check=False)
    assert r.returncode != 0 and "ResourceNotFoundException" in r.stderr


def test_boto3_errors_and_invocation_types(daemon, tmp_path):
    lam = daemon.client("lambda")
    z = zip_of({"bootstrap": ECHO})
    lam.create_function(FunctionName="g", Runtime="provided.al2023", Role=ROLE,
                        Handler="bootstrap", Code={"ZipFile": z})
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="g", Runtime="provided.al2023", Role=ROLE,
                            Handler="bootstrap", Code={"ZipFile": z})
    assert err(e)[0] == "ResourceConflictException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="nope")
    assert err(e) == ("ResourceNotFoundException",
                      "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope")
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="h", Runtime="python3.12", Role=ROLE,
                            Handler="x.y", Code={"ZipFile": z})
    assert err(e)[0] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="h", Runtime="provided.al2", Role=ROLE,
                            Handler="bootstrap", Code={"S3Bucket": "bucket", "S3Key": "k"})
    assert err(e)[0] == "InvalidParameterValueException" and "S3Bucket" in err(e)[1]
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="h", Runtime="provided.al2", Role=ROLE,
                            Handler="bootstrap", Code={"ZipFile": zip_of({"other": "x"})})
    assert "bootstrap" in err(e)[1]
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="h", Runtime="provided.al2", Role=ROLE,
                            Handler="bootstrap", Code={"ZipFile": zip_of({"../evil": "x",
                                                                          "bootstrap": ECHO})})
    assert err(e)[0] == "InvalidParameterValueException"
    assert not os.path.exists(os.path.join(daemon.data_dir, "functions", "evil"))
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="h", Runtime="provided.al2", Role=ROLE,
                            Handler="bootstrap", Code={"ZipFile": z},
                            Environment={"Variables": {"AWS_REGION": "x"}})
    assert "reserved keys" in err(e)[1]
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="g", Payload=b"{not json")
    assert err(e)[0] == "InvalidRequestContentException"
    r = lam.invoke(FunctionName="g", InvocationType="DryRun")
    assert r["StatusCode"] == 204
    r = lam.invoke(FunctionName="g", InvocationType="Event", Payload=b'{"x": 1}')
    assert r["StatusCode"] == 202
    # It ran later: its lines are in the function's log.
    log = os.path.join(daemon.data_dir, "functions", "g", "log")
    assert wait_for(lambda: os.path.exists(log) and "got event" in open(log).read())
    r = lam.invoke(FunctionName="arn:aws:lambda:us-east-1:000000000000:function:g",
                   Payload=b'{"y": 2}')
    assert json.loads(r["Payload"].read())["event"] == {"y": 2}
    # New code replaces the old.
    lam.update_function_code(FunctionName="g", ZipFile=zip_of(
        {"bootstrap": "#!/bin/sh\ncat >/dev/null\necho '{\"v\": 2}'\n"}))
    r = lam.invoke(FunctionName="g")
    assert json.loads(r["Payload"].read()) == {"v": 2}
    lam.delete_function(FunctionName="g")
    assert lam.list_functions()["Functions"] == []


def test_timeout_is_lambdas_error(daemon, tmp_path):
    lam = daemon.client("lambda")
    lam.create_function(FunctionName="slow", Runtime="provided.al2", Role=ROLE,
                        Handler="bootstrap", Timeout=1, Code={"ZipFile": zip_of(
                            {"bootstrap": "#!/bin/sh\nsleep 30\n"})})
    t = time.monotonic()
    r = lam.invoke(FunctionName="slow")
    assert time.monotonic() - t < 10
    assert r["FunctionError"] == "Unhandled"
    body = json.loads(r["Payload"].read())
    assert body["errorType"] == "Sandbox.Timedout"
    assert body["errorMessage"].endswith("Error: Task timed out after 1.00 seconds")


def test_seed_put_record_and_flatten_data(daemon, tmp_path):
    daemon.cli("kinesis", "create-stream", "--stream-name", "terraform-kinesis-test",
               "--shard-count", "1")
    daemon.cli("lambda", "create-function", "--function-name", "put_record", "--runtime",
               "builtin", "--role", ROLE, "--code", "{}")
    daemon.cli("lambda", "create-function", "--function-name", "flatten_data", "--runtime",
               "builtin", "--role", ROLE, "--code", "{}")
    put = []
    for _ in range(3):
        out = tmp_path / "put_record.txt"
        meta = daemon.cli("lambda", "invoke", "--function-name", "put_record", str(out))
        assert meta["StatusCode"] == 200 and "FunctionError" not in meta
        put.append(json.loads(out.read_text()))
    assert all(p["StreamName"] == "terraform-kinesis-test" for p in put)
    assert all(p["ShardId"] == "shardId-000000000000" for p in put)
    assert isinstance(put[0]["Record"]["user"]["address"], dict)
    kc = daemon.client("kinesis")
    it = kc.get_shard_iterator(StreamName="terraform-kinesis-test",
                               ShardId="shardId-000000000000",
                               ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    recs = kc.get_records(ShardIterator=it)["Records"]
    assert [json.loads(r["Data"]) for r in recs] == [p["Record"] for p in put]
    assert [r["SequenceNumber"] for r in recs] == [p["SequenceNumber"] for p in put]
    out = tmp_path / "flatten_data.txt"
    meta = daemon.cli("lambda", "invoke", "--function-name", "flatten_data", str(out))
    assert meta["StatusCode"] == 200 and "FunctionError" not in meta
    flat = json.loads(out.read_text())
    assert len(flat) == 3
    assert flat[0]["user_address_city"] == put[0]["Record"]["user"]["address"]["city"]
    assert "user" not in flat[0] and isinstance(flat[0]["tags"], list)
    # STREAM_NAME picks another stream; an unknown one is the function's error.
    daemon.cli("lambda", "update-function-configuration", "--function-name", "put_record",
               "--environment", "Variables={STREAM_NAME=missing}")
    meta, body = cli_invoke(daemon, tmp_path, "put_record")
    assert meta["FunctionError"] == "Unhandled"
    assert json.loads(body)["errorType"] == "ResourceNotFoundException"


def test_flatten_json_builtin_through_boto3(daemon):
    lam = daemon.client("lambda")
    lam.create_function(FunctionName="flat", Runtime="builtin", Handler="flatten_json",
                        Role=ROLE, Code={})
    r = lam.invoke(FunctionName="flat", Payload=b'{"a": {"b": {"c": 1}}, "d": [{"e": {}}]}')
    assert json.loads(r["Payload"].read()) == {"a_b_c": 1, "d": [{"e": {}}]}
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="nob", Runtime="builtin", Handler="no_such",
                            Role=ROLE, Code={})
    assert err(e)[0] == "InvalidParameterValueException"


def read_seen(path):
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def wait_for(pred, timeout=20):
    t = time.monotonic() + timeout
    while time.monotonic() < t:
        if pred():
            return True
        time.sleep(0.1)
    return False


def test_event_source_mapping_exactly_once_across_restart(tmp_path):
    d = Daemon(tmp_path / "data").start()
    try:
        seen = tmp_path / "seen.txt"
        kc, lam = d.client("kinesis"), d.client("lambda")
        kc.create_stream(StreamName="src", ShardCount=2)
        lam.create_function(FunctionName="rec", Runtime="provided.al2", Role=ROLE,
                            Handler="bootstrap", Code={"ZipFile": zip_of({"bootstrap": RECORDER})},
                            Environment={"Variables": {"SEEN": str(seen)}})
        arn = "arn:aws:kinesis:us-east-1:000000000000:stream/src"
        m = d.cli("lambda", "create-event-source-mapping", "--function-name", "rec",
                  "--event-source-arn", arn, "--starting-position", "TRIM_HORIZON",
                  "--batch-size", "7")
        assert m["State"] == "Enabled" and m["BatchSize"] == 7
        listed = d.cli("lambda", "list-event-source-mappings", "--function-name", "rec")
        assert [x["UUID"] for x in listed["EventSourceMappings"]] == [m["UUID"]]
        for i in range(40):
            kc.put_record(StreamName="src", Data=json.dumps({"i": i}).encode(),
                          PartitionKey=f"k{i}")
        assert wait_for(lambda: len(read_seen(seen)) >= 40), read_seen(seen)
        time.sleep(0.5)
        assert sorted(r["i"] for r in read_seen(seen)) == list(range(40))
        assert d.stop() == 0
        d = Daemon(tmp_path / "data").start()
        kc = d.client("kinesis")
        for i in range(40, 60):
            kc.put_record(StreamName="src", Data=json.dumps({"i": i}).encode(),
                          PartitionKey=f"k{i}")
        assert wait_for(lambda: len(read_seen(seen)) >= 60), len(read_seen(seen))
        time.sleep(1.0)
        assert sorted(r["i"] for r in read_seen(seen)) == list(range(60))
        got = d.client("lambda").get_event_source_mapping(UUID=m["UUID"])
        assert got["LastProcessingResult"] == "OK"
        d.cli("lambda", "delete-event-source-mapping", "--uuid", m["UUID"])
        assert d.client("lambda").list_event_source_mappings()["EventSourceMappings"] == []
    finally:
        if d.proc.poll() is None:
            assert d.stop() == 0, "".join(d.lines)


def test_event_source_mapping_retries_then_on_failure_stream(daemon, tmp_path):
    seen, fail = tmp_path / "seen.txt", tmp_path / "fail"
    fail.write_text("x")
    kc, lam = daemon.client("kinesis"), daemon.client("lambda")
    kc.create_stream(StreamName="in", ShardCount=1)
    kc.create_stream(StreamName="dlq", ShardCount=1)
    lam.create_function(FunctionName="rec", Runtime="provided.al2", Role=ROLE,
                        Handler="bootstrap", Code={"ZipFile": zip_of({"bootstrap": RECORDER})},
                        Environment={"Variables": {"SEEN": str(seen), "FAIL_FILE": str(fail)}})
    lam.create_event_source_mapping(
        FunctionName="rec", EventSourceArn="arn:aws:kinesis:us-east-1:000000000000:stream/in",
        StartingPosition="TRIM_HORIZON", BatchSize=10, MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {
            "Destination": "arn:aws:kinesis:us-east-1:000000000000:stream/dlq"}})
    kc.put_record(StreamName="in", Data=b'{"i": 1}', PartitionKey="a")
    # The first try and one retry, then the failure record.
    assert wait_for(lambda: len(read_seen(seen)) >= 2)

    def dlq():
        it = kc.get_shard_iterator(StreamName="dlq", ShardId="shardId-000000000000",
                                   ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        return kc.get_records(ShardIterator=it)["Records"]
    assert wait_for(lambda: len(dlq()) == 1)
    info = json.loads(dlq()[0]["Data"])
    assert info["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert info["KinesisBatchInfo"]["batchSize"] == 1
    assert info["KinesisBatchInfo"]["shardId"] == "shardId-000000000000"
    time.sleep(1.5)
    assert len(read_seen(seen)) == 2
    # Past the failed batch: the next record goes through once the function works.
    fail.unlink()
    kc.put_record(StreamName="in", Data=b'{"i": 2}', PartitionKey="a")
    assert wait_for(lambda: read_seen(seen)[-1:] == [{"i": 2}])


def test_mapping_errors(daemon):
    lam = daemon.client("lambda")
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(FunctionName="none", EventSourceArn="arn:aws:kinesis:"
                                        "us-east-1:000000000000:stream/s",
                                        StartingPosition="LATEST")
    assert err(e)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        lam.get_event_source_mapping(UUID="00000000-0000-4000-8000-000000000000")
    assert err(e)[0] == "ResourceNotFoundException"
    lam.create_function(FunctionName="flat", Runtime="builtin", Handler="flatten_json",
                        Role=ROLE, Code={})
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(FunctionName="flat", EventSourceArn="arn:aws:sqs:"
                                        "us-east-1:000000000000:q", StartingPosition="LATEST")
    assert err(e)[0] == "InvalidParameterValueException"


INGESTCTL = os.environ.get("INGESTCTL", "build/tools/ingestctl")


def ingestctl(d, *args):
    return subprocess.run([INGESTCTL, "--data-dir", d.data_dir, *args], capture_output=True,
                          text=True, timeout=30)


def test_ingestctl_function_list_invoke_logs(daemon):
    lam = daemon.client("lambda")
    lam.create_function(FunctionName="echo", Runtime="provided.al2", Role=ROLE,
                        Handler="bootstrap", Code={"ZipFile": zip_of({"bootstrap": ECHO})})
    lam.create_function(FunctionName="flat", Runtime="builtin", Handler="flatten_json",
                        Role=ROLE, Code={})
    r = ingestctl(daemon, "function", "list")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAME", "RUNTIME", "TIMEOUT", "MEMORY", "HANDLER"]
    assert [x.split()[0] for x in lines[1:]] == ["echo", "flat"]
    r = ingestctl(daemon, "function", "invoke", "flat", '{"a": {"b": 1}}')
    assert r.returncode == 0 and json.loads(r.stdout) == {"a_b": 1}
    r = ingestctl(daemon, "function", "invoke", "echo", '{"fail": "bad"}')
    assert r.returncode == 1 and json.loads(r.stdout)["errorType"] == "Boom"
    r = ingestctl(daemon, "function", "logs", "echo")
    assert r.returncode == 0 and "got event" in r.stdout and "START RequestId" in r.stdout
    r = ingestctl(daemon, "function", "invoke", "missing")
    assert r.returncode == 1 and "Function not found" in r.stderr
    r = ingestctl(daemon, "--json", "function", "list")
    assert [f["FunctionName"] for f in json.loads(r.stdout)["Functions"]] == ["echo", "flat"]


def raw(d, method, path, body=b"", headers=None):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data, {k.lower(): v for k, v in r.getheaders()}


def test_rest_errors_have_lambdas_shape(daemon):
    st, body, h = raw(daemon, "PATCH", "/2015-03-31/functions/x/y/z")
    assert st == 404 and h["x-amzn-errortype"] == "UnknownOperationException"
    doc = json.loads(body)
    assert doc["Type"] == "User" and "PATCH" in doc["message"]
    st, body, h = raw(daemon, "GET", "/2015-03-31/functions/bad%20name%FF")
    assert st == 404 and h["x-amzn-errortype"] == "ResourceNotFoundException"
    json.loads(body)
    st, body, h = raw(daemon, "POST", "/2015-03-31/functions", b"[1,2")
    assert st == 400 and h["x-amzn-errortype"] == "InvalidRequestContentException"
    st, body, h = raw(daemon, "POST", "/2015-03-31/functions",
                      json.dumps({"FunctionName": "a" * 65, "Role": ROLE, "Code": {}}).encode())
    assert st == 400 and h["x-amzn-errortype"] == "ValidationException"


def zip_raw(entries):
    """entries: (name, data, unix mode) triples, written as they are."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            z.writestr(info, data)
    return buf.getvalue()


@pytest.mark.parametrize("entries", [
    [("/etc/evil", "x", stat.S_IFREG | 0o644)],
    [("a/../../evil", "x", stat.S_IFREG | 0o644)],
    [("link", "/etc/passwd", stat.S_IFLNK | 0o777)],
    [("bootstrap", "x", stat.S_IFREG | 0o755), ("bootstrap", "y", stat.S_IFREG | 0o755)],
    [("dir//bootstrap", "x", stat.S_IFREG | 0o755)],
])
def test_zip_entries_that_leave_the_directory_are_refused(daemon, entries):
    lam = daemon.client("lambda")
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="z", Runtime="provided.al2", Role=ROLE,
                            Handler="bootstrap",
                            Code={"ZipFile": zip_raw(entries + [("bootstrap", "#!/bin/sh\n",
                                                                  stat.S_IFREG | 0o755)]
                                                     if entries[0][0] != "bootstrap"
                                                     else entries)})
    assert err(e)[0] == "InvalidParameterValueException"
    assert not os.path.exists(os.path.join(daemon.data_dir, "functions", "z", "code.1"))
    assert not os.path.exists(os.path.join(daemon.data_dir, "evil"))


def test_client_gone_before_the_result(daemon):
    """A caller that hangs up while its function runs: the result is dropped, nothing else."""
    import socket
    lam = daemon.client("lambda")
    lam.create_function(FunctionName="nap", Runtime="provided.al2", Role=ROLE,
                        Handler="bootstrap", Timeout=5, Code={"ZipFile": zip_of(
                            {"bootstrap": "#!/bin/sh\ncat >/dev/null\nsleep 1\necho '{\"ok\":1}'\n"})})
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", daemon.port))
        s.sendall(b"POST /2015-03-31/functions/nap/invocations HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: 2\r\n\r\n{}")
        time.sleep(0.1)
        s.close()
    time.sleep(1.5)
    r = lam.invoke(FunctionName="nap")
    assert json.loads(r["Payload"].read()) == {"ok": 1}
    assert daemon.proc.poll() is None


def test_schedule_runs_put_record(daemon):
    """The seed's step 5: a schedule invokes put_record, whose records land in the stream."""
    kc, lam, ev = daemon.client("kinesis"), daemon.client("lambda"), daemon.client("events")
    kc.create_stream(StreamName="terraform-kinesis-test", ShardCount=1)
    lam.create_function(FunctionName="put_record", Runtime="builtin", Role=ROLE, Code={})
    ev.put_rule(Name="put-record", ScheduleExpression="rate(1 second)")
    ev.put_targets(Rule="put-record", Targets=[{
        "Id": "1", "Arn": "arn:aws:lambda:us-east-1:000000000000:function:put_record"}])

    def records():
        it = kc.get_shard_iterator(StreamName="terraform-kinesis-test",
                                   ShardId="shardId-000000000000",
                                   ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        return kc.get_records(ShardIterator=it)["Records"]
    assert wait_for(lambda: len(records()) >= 2, timeout=15)
    ev.disable_rule(Name="put-record")
    doc = json.loads(records()[0]["Data"])
    assert isinstance(doc["user"]["address"], dict) and "id" in doc
    # With a record in the event, that record is put.
    r = lam.invoke(FunctionName="put_record", Payload=b'{"record": {"a": {"b": 1}}}')
    assert json.loads(r["Payload"].read())["Record"] == {"a": {"b": 1}}


@pytest.mark.parametrize("member, value, message", [
    ("Timeout", 0, "1 validation error detected: Value at 'timeout' failed to satisfy constraint: "
                   "Member must have value less than or equal to 900 and greater than or equal "
                   "to 1"),
    ("Timeout", "3", "1 validation error detected: Value at 'timeout' failed to satisfy "
                     "constraint: Member must have value less than or equal to 900 and greater "
                     "than or equal to 1"),
    ("MemorySize", 10241, "1 validation error detected: Value at 'memorySize' failed to satisfy "
                          "constraint: Member must have value less than or equal to 10240 and "
                          "greater than or equal to 128"),
])
def test_out_of_range_config_is_a_validation_error(daemon, member, value, message):
    body = {"FunctionName": "f", "Role": ROLE, "Runtime": "provided.al2", member: value,
            "Code": {}}
    st, data, h = raw(daemon, "POST", "/2015-03-31/functions", json.dumps(body).encode())
    assert st == 400 and h["x-amzn-errortype"] == "ValidationException"
    assert json.loads(data)["message"] == message
