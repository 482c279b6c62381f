# SPDX-License-Identifier: MIT
"""The Kinesis API of the real daemon, driven by boto3 and by Debian's aws CLI."""
import base64
import hashlib
import json
import time

import pytest

from kinesis_util import Daemon, read_all

botocore_exceptions = pytest.importorskip("botocore.exceptions")
ClientError = botocore_exceptions.ClientError


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path / "data").start()
    yield d
    if d.proc.poll() is None:
        assert d.stop() == 0, "".join(d.lines)


def err(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def shard_of(key, shards):
    h = int.from_bytes(hashlib.md5(key.encode()).digest(), "big")
    for s in shards:
        r = s["HashKeyRange"]
        if int(r["StartingHashKey"]) <= h <= int(r["EndingHashKey"]) and \
                "EndingSequenceNumber" not in s["SequenceNumberRange"]:
            return s["ShardId"]
    raise AssertionError("no open shard for " + key)


def test_aws_cli_as_the_seed_uses_it(daemon):
    daemon.cli("kinesis", "create-stream", "--stream-name", "terraform-kinesis-test",
               "--shard-count", "1")
    d = daemon.cli("kinesis", "describe-stream", "--stream-name", "terraform-kinesis-test")
    desc = d["StreamDescription"]
    assert desc["StreamStatus"] == "ACTIVE"
    assert desc["StreamARN"] == \
        "arn:aws:kinesis:us-east-1:000000000000:stream/terraform-kinesis-test"
    assert desc["Shards"][0]["ShardId"] == "shardId-000000000000"
    assert desc["Shards"][0]["HashKeyRange"]["EndingHashKey"] == str(2**128 - 1)
    assert daemon.cli("kinesis", "list-streams")["StreamNames"] == ["terraform-kinesis-test"]
    # Debian's aws CLI (version 1 behaviour) sends --data as given, base64-encoding it itself.
    put = daemon.cli("kinesis", "put-record", "--stream-name", "terraform-kinesis-test",
                     "--partition-key", "pk", "--data", "hello")
    assert put["ShardId"] == "shardId-000000000000" and len(put["SequenceNumber"]) == 56
    it = daemon.cli("kinesis", "get-shard-iterator", "--stream-name", "terraform-kinesis-test",
                    "--shard-id", "shardId-000000000000", "--shard-iterator-type",
                    "TRIM_HORIZON")["ShardIterator"]
    recs = daemon.cli("kinesis", "get-records", "--shard-iterator", it)["Records"]
    assert [base64.b64decode(r["Data"]) for r in recs] == [b"hello"]
    assert recs[0]["SequenceNumber"] == put["SequenceNumber"]
    daemon.cli("kinesis", "delete-stream", "--stream-name", "terraform-kinesis-test")
    assert daemon.cli("kinesis", "list-streams")["StreamNames"] == []


def test_create_describe_list_and_delete(daemon):
    kc = daemon.client()
    kc.create_stream(StreamName="a", ShardCount=3)
    kc.create_stream(StreamName="b", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    kc.create_stream(StreamName="c", ShardCount=1)
    kc.add_tags_to_stream(StreamName="c", Tags={"team": "x"})
    d = kc.describe_stream(StreamName="a")["StreamDescription"]
    # Kinesis's floor(2^128 / 3) split, as real AWS reports it.
    assert [(s["HashKeyRange"]["StartingHashKey"], s["HashKeyRange"]["EndingHashKey"])
            for s in d["Shards"]] == [
        ("0", "113427455640312821154458202477256070484"),
        ("113427455640312821154458202477256070485", "226854911280625642308916404954512140969"),
        ("226854911280625642308916404954512140970", "340282366920938463463374607431768211455")]
    assert d["RetentionPeriodHours"] == 24 and d["HasMoreShards"] is False
    page = kc.describe_stream(StreamName="a", Limit=2)["StreamDescription"]
    assert len(page["Shards"]) == 2 and page["HasMoreShards"] is True
    rest = kc.describe_stream(StreamName="a", ExclusiveStartShardId="shardId-000000000001")
    assert [s["ShardId"] for s in rest["StreamDescription"]["Shards"]] == ["shardId-000000000002"]
    s = kc.describe_stream_summary(StreamName="b")["StreamDescriptionSummary"]
    assert s["StreamModeDetails"]["StreamMode"] == "ON_DEMAND" and s["OpenShardCount"] == 4
    arn = d["StreamARN"]
    # StreamARN in place of StreamName (newer SDKs send it; Debian's botocore predates it).
    st, doc, _ = daemon.raw("Kinesis_20131202.DescribeStreamSummary",
                            json.dumps({"StreamARN": arn}).encode())
    assert st == 200 and doc["StreamDescriptionSummary"]["StreamName"] == "a"

    first = kc.list_streams(Limit=2)
    assert first["StreamNames"] == ["a", "b"] and first["HasMoreStreams"] is True
    second = kc.list_streams(ExclusiveStartStreamName="b")
    assert second["StreamNames"] == ["c"] and second["HasMoreStreams"] is False
    # NextToken and StreamSummaries are newer than Debian's botocore model: raw requests.
    st, page, _ = daemon.raw("Kinesis_20131202.ListStreams", b'{"Limit": 2}')
    assert [x["StreamName"] for x in page["StreamSummaries"]] == ["a", "b"]
    st, page2, _ = daemon.raw("Kinesis_20131202.ListStreams",
                              json.dumps({"NextToken": page["NextToken"]}).encode())
    assert st == 200 and page2["StreamNames"] == ["c"] and "NextToken" not in page2
    assert kc.list_tags_for_stream(StreamName="c")["Tags"] == [{"Key": "team", "Value": "x"}]

    kc.delete_stream(StreamName="b")
    assert kc.list_streams()["StreamNames"] == ["a", "c"]
    with pytest.raises(ClientError) as e:
        kc.describe_stream(StreamName="b")
    assert err(e)[0] == "ResourceNotFoundException"
    assert "Stream b under account 000000000000 not found." == err(e)[1]


def test_list_shards_pagination_and_filters(daemon):
    kc = daemon.client()
    kc.create_stream(StreamName="s", ShardCount=5)
    p1 = kc.list_shards(StreamName="s", MaxResults=2)
    assert [x["ShardId"] for x in p1["Shards"]] == ["shardId-000000000000", "shardId-000000000001"]
    p2 = kc.list_shards(NextToken=p1["NextToken"], MaxResults=10)
    assert [x["ShardId"][-1] for x in p2["Shards"]] == ["2", "3", "4"]
    assert "NextToken" not in p2
    after = kc.list_shards(StreamName="s", ShardFilter={"Type": "AFTER_SHARD_ID",
                                                        "ShardId": "shardId-000000000003"})
    assert [x["ShardId"] for x in after["Shards"]] == ["shardId-000000000004"]
    with pytest.raises(ClientError) as e:
        kc.list_shards(StreamName="s", NextToken=p1["NextToken"])
    assert err(e)[0] == "InvalidArgumentException"
    with pytest.raises(ClientError) as e:
        kc.list_shards()
    assert err(e)[0] == "InvalidArgumentException"
    kc.split_shard(StreamName="s", ShardToSplit="shardId-000000000000",
                   NewStartingHashKey=str(2**128 // 10))
    latest = kc.list_shards(StreamName="s", ShardFilter={"Type": "AT_LATEST"})["Shards"]
    assert "shardId-000000000000" not in [x["ShardId"] for x in latest] and len(latest) == 6
    horizon = kc.list_shards(StreamName="s", ShardFilter={"Type": "AT_TRIM_HORIZON"})["Shards"]
    assert len(horizon) == 7


def test_put_and_get_every_record_in_order(daemon):
    kc = daemon.client()
    kc.create_stream(StreamName="s", ShardCount=4)
    shards = kc.describe_stream(StreamName="s")["StreamDescription"]["Shards"]
    sent = {}
    for batch in range(6):
        recs = [{"Data": f"{batch}-{i}".encode(), "PartitionKey": f"key-{i % 37}"}
                for i in range(500)]
        r = kc.put_records(StreamName="s", Records=recs)
        assert r["FailedRecordCount"] == 0 and len(r["Records"]) == 500
        for rec, res in zip(recs, r["Records"]):
            assert res["ShardId"] == shard_of(rec["PartitionKey"], shards)
            sent.setdefault(res["ShardId"], []).append((res["SequenceNumber"], rec["Data"]))
    single = kc.put_record(StreamName="s", Data=b"one", PartitionKey="key-1")
    sent[single["ShardId"]].append((single["SequenceNumber"], b"one"))
    ehk = kc.put_record(StreamName="s", Data=b"explicit", PartitionKey="x",
                        ExplicitHashKey=str(2**128 - 1))
    assert ehk["ShardId"] == "shardId-000000000003"
    sent[ehk["ShardId"]].append((ehk["SequenceNumber"], b"explicit"))
    total = 0
    for sid, want in sent.items():
        got, last = read_all(kc, "s", sid)
        assert [(r["SequenceNumber"], r["Data"]) for r in got] == want
        seqs = [int(r["SequenceNumber"]) for r in got]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        assert last["MillisBehindLatest"] == 0
        total += len(got)
    assert total == 3002


def test_iterator_types_and_limit(daemon):
    kc = daemon.client()
    kc.create_stream(StreamName="s", ShardCount=1)
    sid = "shardId-000000000000"
    seqs = [kc.put_record(StreamName="s", Data=str(i).encode(), PartitionKey="k")["SequenceNumber"]
            for i in range(10)]

    def first(kind, **kw):
        it = kc.get_shard_iterator(StreamName="s", ShardId=sid, ShardIteratorType=kind,
                                   **kw)["ShardIterator"]
        return kc.get_records(ShardIterator=it, Limit=3)

    assert [r["Data"] for r in first("TRIM_HORIZON")["Records"]] == [b"0", b"1", b"2"]
    assert first("AT_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[4])["Records"][0]["Data"] == b"4"
    assert first("AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[4])["Records"][0]["Data"] == b"5"
    assert first("LATEST")["Records"] == []
    r = first("TRIM_HORIZON")
    nxt = kc.get_records(ShardIterator=r["NextShardIterator"], Limit=3)
    assert [x["Data"] for x in nxt["Records"]] == [b"3", b"4", b"5"]
    assert nxt["MillisBehindLatest"] >= 0
    arrival = first("TRIM_HORIZON")["Records"][0]["ApproximateArrivalTimestamp"]
    at = first("AT_TIMESTAMP", Timestamp=arrival)["Records"]
    assert at and at[0]["Data"] == b"0"
    future = time.time() + 3600
    with pytest.raises(ClientError) as e:
        first("AT_TIMESTAMP", Timestamp=future)
    assert err(e)[0] == "InvalidArgumentException"
    latest = kc.get_shard_iterator(StreamName="s", ShardId=sid,
                                   ShardIteratorType="LATEST")["ShardIterator"]
    kc.put_record(StreamName="s", Data=b"new", PartitionKey="k")
    assert [x["Data"] for x in kc.get_records(ShardIterator=latest)["Records"]] == [b"new"]


def test_split_merge_scale_keep_every_record_once_in_order(daemon):
    kc = daemon.client()
    kc.create_stream(StreamName="s", ShardCount=2)
    seq_of = {}

    def put(n, tag):
        recs = [{"Data": f"{tag}-{i}".encode(), "PartitionKey": f"k{i % 50}"} for i in range(n)]
        r = kc.put_records(StreamName="s", Records=recs)
        assert r["FailedRecordCount"] == 0
        for rec, res in zip(recs, r["Records"]):
            seq_of[rec["Data"]] = (res["ShardId"], res["SequenceNumber"], rec["PartitionKey"])

    put(300, "a")
    kc.split_shard(StreamName="s", ShardToSplit="shardId-000000000000",
                   NewStartingHashKey=str(2**126))
    put(300, "b")
    kc.merge_shards(StreamName="s", ShardToMerge="shardId-000000000002",
                    AdjacentShardToMerge="shardId-000000000003")
    put(300, "c")
    r = kc.update_shard_count(StreamName="s", TargetShardCount=4, ScalingType="UNIFORM_SCALING")
    assert r["CurrentShardCount"] == 2 and r["TargetShardCount"] == 4
    put(300, "d")
    shards = kc.list_shards(StreamName="s")["Shards"]
    open_ = [s for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"]]
    assert len(open_) == 4
    by_id = {s["ShardId"]: s for s in shards}
    merged = by_id["shardId-000000000004"]
    assert merged["ParentShardId"] == "shardId-000000000002"
    assert merged["AdjacentParentShardId"] == "shardId-000000000003"
    # Every shard read to its end: closed shards end with no iterator and name their children.
    got = {}
    for s in shards:
        recs, last = read_all(kc, "s", s["ShardId"])
        closed = "EndingSequenceNumber" in s["SequenceNumberRange"]
        if closed:
            assert "NextShardIterator" not in last
            assert last["ChildShards"], s["ShardId"]
            for ch in last["ChildShards"]:
                assert s["ShardId"] in ch["ParentShards"]
        for r in recs:
            assert r["Data"] not in got, "record read twice"
            got[r["Data"]] = (s["ShardId"], r["SequenceNumber"], r["PartitionKey"])
    assert got == seq_of
    # Per partition key: records of one key sorted by their put order across the lineage.
    for tag_order in ("a", "b", "c", "d"):
        keys = {}
        for data, (sid, seq, key) in got.items():
            if data.startswith(tag_order.encode()):
                keys.setdefault((sid, key), []).append((int(seq), int(data.split(b"-")[1])))
        for lst in keys.values():
            assert [i for _, i in sorted(lst)] == sorted(i for _, i in lst)


def test_retention_and_tags(daemon):
    kc = daemon.client()
    kc.create_stream(StreamName="s", ShardCount=1)
    kc.increase_stream_retention_period(StreamName="s", RetentionPeriodHours=48)
    assert kc.describe_stream(StreamName="s")["StreamDescription"]["RetentionPeriodHours"] == 48
    with pytest.raises(ClientError) as e:
        kc.increase_stream_retention_period(StreamName="s", RetentionPeriodHours=24)
    assert err(e)[0] == "InvalidArgumentException" and "DecreaseRetentionPeriod" in err(e)[1]
    with pytest.raises(ClientError) as e:
        kc.increase_stream_retention_period(StreamName="s", RetentionPeriodHours=9000)
    assert err(e)[0] == "InvalidArgumentException"
    kc.decrease_stream_retention_period(StreamName="s", RetentionPeriodHours=24)
    kc.add_tags_to_stream(StreamName="s", Tags={"a": "1", "b": "2", "c": "3"})
    t = kc.list_tags_for_stream(StreamName="s", Limit=2)
    assert t["Tags"] == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    assert t["HasMoreTags"] is True
    t = kc.list_tags_for_stream(StreamName="s", ExclusiveStartTagKey="b")
    assert t["Tags"] == [{"Key": "c", "Value": "3"}] and t["HasMoreTags"] is False
    kc.remove_tags_from_stream(StreamName="s", TagKeys=["a", "c"])
    assert kc.list_tags_for_stream(StreamName="s")["Tags"] == [{"Key": "b", "Value": "2"}]
    with pytest.raises(ClientError) as e:
        kc.add_tags_to_stream(StreamName="s", Tags={f"k{i}": "v" for i in range(50)})
    assert err(e)[0] == "LimitExceededException"


def test_cli_resharding_and_tags(daemon):
    daemon.cli("kinesis", "create-stream", "--stream-name", "s", "--shard-count", "2")
    daemon.cli("kinesis", "split-shard", "--stream-name", "s", "--shard-to-split",
               "shardId-000000000001", "--new-starting-hash-key", str(3 * 2**126))
    daemon.cli("kinesis", "merge-shards", "--stream-name", "s", "--shard-to-merge",
               "shardId-000000000002", "--adjacent-shard-to-merge", "shardId-000000000003")
    r = daemon.cli("kinesis", "update-shard-count", "--stream-name", "s",
                   "--target-shard-count", "3", "--scaling-type", "UNIFORM_SCALING")
    assert r["TargetShardCount"] == 3
    shards = daemon.cli("kinesis", "list-shards", "--stream-name", "s")["Shards"]
    assert len([s for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"]]) == 3
    daemon.cli("kinesis", "add-tags-to-stream", "--stream-name", "s", "--tags", "env=test")
    assert daemon.cli("kinesis", "list-tags-for-stream", "--stream-name", "s")["Tags"] == \
        [{"Key": "env", "Value": "test"}]
    daemon.cli("kinesis", "increase-stream-retention-period", "--stream-name", "s",
               "--retention-period-hours", "72")
    s = daemon.cli("kinesis", "describe-stream-summary", "--stream-name", "s")
    assert s["StreamDescriptionSummary"]["RetentionPeriodHours"] == 72


@pytest.mark.parametrize("target,body,status,etype", [
    ("Kinesis_20131202.ListStreams", b"{not json", 400, "SerializationException"),
    ("Kinesis_20131202.ListStreams", b"", 400, "SerializationException"),
    ("Kinesis_20131202.ListStreams", b"[1,2]", 400, "SerializationException"),
    ("Kinesis_20131202.Frobnicate", b"{}", 400, "UnknownOperationException"),
    (None, b"{}", 400, "UnknownOperationException"),
    ("Kinesis_20131202.CreateStream", b'{"StreamName": 5, "ShardCount": 1}', 400,
     "SerializationException"),
    ("Kinesis_20131202.CreateStream", b'{"StreamName": "x", "ShardCount": "1"}', 400,
     "SerializationException"),
    ("Kinesis_20131202.CreateStream", b'{"StreamName": "bad name!", "ShardCount": 1}', 400,
     "ValidationException"),
    ("Kinesis_20131202.CreateStream", b'{"StreamName": "x", "ShardCount": 0}', 400,
     "ValidationException"),
    ("Kinesis_20131202.DescribeStream", b'{"StreamName": "nope"}', 400,
     "ResourceNotFoundException"),
    ("Kinesis_20131202.GetRecords", b'{"ShardIterator": "AAAA"}', 400,
     "InvalidArgumentException"),
    ("Kinesis_20131202.GetRecords", b'{"ShardIterator": "!!!"}', 400,
     "InvalidArgumentException"),
])
def test_bad_requests_get_aws_errors(daemon, target, body, status, etype):
    st, doc, hdrs = daemon.raw(target, body)
    assert st == status and doc["__type"] == etype, doc
    assert doc["message"]
    assert "x-amzn-RequestId" in hdrs or "x-amzn-requestid" in {k.lower() for k in hdrs}
    # The daemon keeps serving.
    st, doc, _ = daemon.raw("Kinesis_20131202.ListStreams", b"{}")
    assert st == 200 and "StreamNames" in doc


def test_bad_records_and_streams(daemon):
    kc = daemon.client()
    kc.create_stream(StreamName="s", ShardCount=1)
    st, doc, _ = daemon.raw("Kinesis_20131202.PutRecord",
                            json.dumps({"StreamName": "s", "PartitionKey": "k",
                                        "Data": "abc"}).encode())
    assert st == 400 and doc["__type"] == "SerializationException"
    with pytest.raises(ClientError) as e:
        kc.put_record(StreamName="s", PartitionKey="k", Data=b"x" * (1024 * 1024 + 1))
    assert err(e)[0] == "ValidationException"
    assert "Member must have length less than or equal to 1048576" in err(e)[1]
    with pytest.raises(ClientError) as e:
        kc.put_records(StreamName="s", Records=[{"Data": b"x", "PartitionKey": "k"}] * 501)
    assert err(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        kc.put_records(StreamName="s", Records=[{"Data": b"x" * 1000000, "PartitionKey": "k"}] * 6)
    assert err(e)[0] == "InvalidArgumentException" and "5 MB" in err(e)[1]
    with pytest.raises(ClientError) as e:
        kc.put_record(StreamName="s", PartitionKey="k" * 257, Data=b"x")
    assert err(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        kc.put_record(StreamName="s", PartitionKey="k", Data=b"x", ExplicitHashKey=str(2**128))
    assert err(e)[0] == "InvalidArgumentException"
    with pytest.raises(ClientError) as e:
        kc.put_record(StreamName="nope", PartitionKey="k", Data=b"x")
    assert err(e)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        kc.create_stream(StreamName="s", ShardCount=1)
    assert err(e)[0] == "ResourceInUseException"
    assert "Stream s under account 000000000000 already exists." == err(e)[1]
    with pytest.raises(ClientError) as e:
        kc.get_shard_iterator(StreamName="s", ShardId="shardId-000000000007",
                              ShardIteratorType="TRIM_HORIZON")
    assert err(e)[0] == "ResourceNotFoundException"
    it = kc.get_shard_iterator(StreamName="s", ShardId="shardId-000000000000",
                               ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    raw = bytearray(base64.b64decode(it))
    raw[-1] ^= 1
    with pytest.raises(ClientError) as e:
        kc.get_records(ShardIterator=base64.b64encode(bytes(raw)).decode())
    assert err(e) == ("InvalidArgumentException", "Invalid ShardIterator.")
    # Nothing of the refused requests was written.
    assert kc.get_records(ShardIterator=it)["Records"] == []


def test_expired_iterator(tmp_path):
    d = Daemon(tmp_path / "data", "--iterator-ttl", "1").start()
    try:
        kc = d.client()
        kc.create_stream(StreamName="s", ShardCount=1)
        it = kc.get_shard_iterator(StreamName="s", ShardId="shardId-000000000000",
                                   ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        time.sleep(1.5)
        with pytest.raises(ClientError) as e:
            kc.get_records(ShardIterator=it)
        assert err(e)[0] == "ExpiredIteratorException"
    finally:
        assert d.stop() == 0


def test_restart_loses_nothing_acked(tmp_path):
    d = Daemon(tmp_path / "data").start()
    kc = d.client()
    kc.create_stream(StreamName="s", ShardCount=2)
    kc.add_tags_to_stream(StreamName="s", Tags={"k": "v"})
    kc.split_shard(StreamName="s", ShardToSplit="shardId-000000000000",
                   NewStartingHashKey=str(2**126))
    acked = {}
    for b in range(4):
        recs = [{"Data": f"{b}-{i}".encode(), "PartitionKey": f"p{i}"} for i in range(250)]
        for rec, res in zip(recs, kc.put_records(StreamName="s", Records=recs)["Records"]):
            acked[res["SequenceNumber"]] = (res["ShardId"], rec["Data"])
    before = kc.describe_stream(StreamName="s")["StreamDescription"]
    d.kill9()  # no clean close: what was acked must still be there
    d = Daemon(tmp_path / "data").start()
    try:
        kc = d.client()
        after = kc.describe_stream(StreamName="s")["StreamDescription"]
        assert after["Shards"] == before["Shards"]
        assert kc.list_tags_for_stream(StreamName="s")["Tags"] == [{"Key": "k", "Value": "v"}]
        got = {}
        for s in after["Shards"]:
            for r in read_all(kc, "s", s["ShardId"])[0]:
                got[r["SequenceNumber"]] = (s["ShardId"], r["Data"])
        assert got == acked
        # New puts get larger sequence numbers than anything before the crash.
        new = kc.put_record(StreamName="s", Data=b"z", PartitionKey="p1")
        prior = [int(q) for q, (sid, _) in acked.items() if sid == new["ShardId"]]
        assert int(new["SequenceNumber"]) > max(prior)
    finally:
        assert d.stop() == 0


def test_admin_socket_serves_status_and_the_same_api(daemon):
    import socket as sk
    path = daemon.data_dir + "/ingestd.sock"
    import os
    import stat
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

    def ask(req):
        s = sk.socket(sk.AF_UNIX, sk.SOCK_STREAM)
        s.connect(path)
        s.sendall(req)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        return int(head.split()[1]), json.loads(body)

    st, doc = ask(b"GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert st == 200 and doc["streams"] == 0
    body = b'{"StreamName": "viaadmin", "ShardCount": 1}'
    st, doc = ask(b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                  b"X-Amz-Target: Kinesis_20131202.CreateStream\r\n"
                  b"Content-Type: application/x-amz-json-1.1\r\n"
                  b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    assert st == 200
    assert daemon.client().list_streams()["StreamNames"] == ["viaadmin"]
    st, doc = ask(b"GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert st == 200 and doc["shards"][0]["shard"] == "viaadmin/shardId-000000000000"


def test_large_records_where_the_stream_allows_them(tmp_path):
    d = Daemon(tmp_path / "data").start()
    big = bytes(range(256)) * (6 * 4096)  # 6 MiB
    try:
        st, doc, _ = d.raw("Kinesis_20131202.CreateStream", json.dumps(
            {"StreamName": "big", "ShardCount": 1, "MaxRecordSizeInKiB": 10240}).encode())
        assert st == 200, doc
        body = json.dumps({"StreamName": "big", "PartitionKey": "k",
                           "Data": base64.b64encode(big).decode()}).encode()
        st, doc, _ = d.raw("Kinesis_20131202.PutRecord", body)
        assert st == 200, doc
        st, doc, _ = d.raw("Kinesis_20131202.DescribeStreamSummary", b'{"StreamName": "big"}')
        assert doc["StreamDescriptionSummary"]["MaxRecordSizeInKiB"] == 10240
        st, doc, _ = d.raw("Kinesis_20131202.CreateStream", json.dumps(
            {"StreamName": "big2", "ShardCount": 1, "MaxRecordSizeInKiB": 10241}).encode())
        assert st == 400 and doc["__type"] == "ValidationException"
    finally:
        assert d.stop() == 0
    d = Daemon(tmp_path / "data").start()
    try:
        kc = d.client()
        recs, _ = read_all(kc, "big", "shardId-000000000000")
        assert [r["Data"] for r in recs] == [big]
        # After the restart the stream still takes records above 1 MiB.
        body = json.dumps({"StreamName": "big", "PartitionKey": "k",
                           "Data": base64.b64encode(big[:3 << 20]).decode()}).encode()
        assert d.raw("Kinesis_20131202.PutRecord", body)[0] == 200
    finally:
        assert d.stop() == 0


def test_body_over_the_limit_gets_413_and_the_daemon_keeps_serving(tmp_path):
    d = Daemon(tmp_path / "data", "--max-body", "64K").start()
    try:
        big = b'{"StreamName": "s", "Records": [' + b'{"Data": "QUFB", "PartitionKey": "k"},' * 3000
        st, doc, _ = d.raw("Kinesis_20131202.PutRecords", big + b'{}]}')
        assert st == 413 and doc["__type"] == "SerializationException", doc
        st, doc, _ = d.raw("Kinesis_20131202.ListStreams", b"{}")
        assert st == 200
    finally:
        assert d.stop() == 0
