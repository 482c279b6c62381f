# SPDX-License-Identifier: MIT
"""The CBOR form of the Kinesis API, as the Java SDKs (KCL, Flink, Spark) send it."""
import http.client
import time

import pytest

from kinesis_util import Daemon

cbor2 = pytest.importorskip("cbor2")
CBOR = "application/x-amz-cbor-1.1"


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path / "data").start()
    yield d
    assert d.stop() == 0


def call(d, op, doc, raw=None):
    c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
    c.request("POST", "/", body=raw if raw is not None else cbor2.dumps(doc),
              headers={"Content-Type": CBOR, "X-Amz-Target": "Kinesis_20131202." + op})
    r = c.getresponse()
    body = r.read()
    ctype = r.getheader("Content-Type")
    c.close()
    assert ctype == CBOR
    # cbor2 would read tag 1 as seconds; AWS's CBOR puts milliseconds in it. Renumber the tag
    # (0xc1 0x1b: tag 1 around a 64-bit integer) so that it comes back as a plain CBORTag.
    return r.status, cbor2.loads(body.replace(b"\xc1\x1b", b"\xc6\x1b"),
                                 tag_hook=lambda dec, tag: cbor2.CBORTag(1, tag.value))


def test_cbor_round_trip_with_blobs_and_millisecond_timestamps(daemon):
    assert call(daemon, "CreateStream", {"StreamName": "j", "ShardCount": 1})[0] == 200
    data = bytes(range(256)) + b"\x00\x00"
    st, put = call(daemon, "PutRecord", {"StreamName": "j", "PartitionKey": "k", "Data": data})
    assert st == 200 and put["ShardId"] == "shardId-000000000000"
    st, it = call(daemon, "GetShardIterator", {"StreamName": "j", "ShardId": "shardId-000000000000",
                                               "ShardIteratorType": "TRIM_HORIZON"})
    st, got = call(daemon, "GetRecords", {"ShardIterator": it["ShardIterator"]})
    assert st == 200
    rec = got["Records"][0]
    assert rec["Data"] == data and rec["SequenceNumber"] == put["SequenceNumber"]
    # Tag 1 around integer epoch milliseconds, as the Java SDKs expect.
    ts = rec["ApproximateArrivalTimestamp"]
    assert isinstance(ts, cbor2.CBORTag) and ts.tag == 1 and isinstance(ts.value, int)
    assert abs(ts.value - time.time() * 1000) < 60_000
    # AT_TIMESTAMP with the same encoding finds the record (not 1000x off).
    st, it2 = call(daemon, "GetShardIterator", {
        "StreamName": "j", "ShardId": "shardId-000000000000",
        "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": cbor2.CBORTag(1, ts.value)})
    assert st == 200, it2
    assert call(daemon, "GetRecords", {"ShardIterator": it2["ShardIterator"]})[1]["Records"]


def test_cbor_errors_are_cbor(daemon):
    st, doc = call(daemon, "DescribeStream", {"StreamName": "nope"})
    assert st == 400 and doc["__type"] == "ResourceNotFoundException"
    st, doc = call(daemon, "ListStreams", None, raw=b"\xbf\x61")  # truncated map
    assert st == 400 and doc["__type"] == "SerializationException"
    st, doc = call(daemon, "PutRecords", {"StreamName": "nope", "Records": []})
    assert st == 400
