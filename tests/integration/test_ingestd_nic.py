# SPDX-License-Identifier: MIT
"""ingestd with its dataplane: producers -> kernel UDP -> TAP -> DPDK worker -> the shard's owner
-> shard log -> ack, and HTTP PutRecords through the same owner, in the daemon itself.

Each test creates a network namespace, starts ingestd with its embedded default NIC (a TAP,
appliance 198.18.0.1, kernel side 198.18.0.2/24) inside it (--netns), creates a 4-shard stream
through the AWS API and runs tools' ingest-producer processes inside the namespace
(`ip netns exec`). Records are read back through GetRecords; sequence numbers are compared by
their per-shard counter (dataplane/dp_seqno.h: hex digits 11-26 of the 47-digit value). All traffic stays
in the namespace and on loopback. Needs root (TAP devices, namespaces).

Sizes: 1,000,000 records over 4 producers when CI=true, 200,000 otherwise.
"""
import base64
import hashlib
import json
import os
import random
import threading
import time

import pytest

import nic_util
from kinesis_util import INGESTD, Daemon
from nic_util import (APPLIANCE, BAD_SENDER, KEYS, PRODUCER, frame, producer_report, read_ack_log,
                      sh)

INGESTCTL = os.environ.get("INGESTCTL", "build/tools/ingestctl")
STREAM = "nicstream"
SHARDS = 4
NPROD = 4
TOTAL = 1_000_000 if os.environ.get("CI") == "true" else 200_000

_why = nic_util.why_skip((INGESTD, PRODUCER, INGESTCTL))
pytestmark = pytest.mark.skipif(_why is not None, reason=str(_why))


@pytest.fixture
def netns():
    with nic_util.netns("ind") as name:
        yield name


def start_daemon(data, ns):
    # The embedded default NIC (no --nic), inside the test's namespace; one worker lcore.
    return Daemon(data, "--netns", ns, "--workers", "1", dataplane=True).start()


def make_input(path, producer, n, seed):
    return nic_util.make_input(path, producer, n, seed, pad=(16, 24))


def start_producer(ns, producer, inp, ack_log, extra=()):
    return nic_util.start_producer(ns, STREAM, producer, inp, ack_log, extra)


def counter(seq):
    """The per-shard counter of a 56-digit sequence number (dp_seqno's layout)."""
    h = format(int(seq), "x")
    assert len(h) == 47 and h[0] == "2", seq
    return int(h[11:27], 16)


def shard_index(shard_id):
    return int(shard_id.split("-")[1])


def hash_ranges(kc):
    d = kc.describe_stream(StreamName=STREAM)["StreamDescription"]
    return [(int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]),
             shard_index(s["ShardId"])) for s in d["Shards"]
            if "EndingSequenceNumber" not in s["SequenceNumberRange"]]


def owner_shard(ranges, key):
    h = int.from_bytes(hashlib.md5(key.encode()).digest(), "big")
    return next(idx for lo, hi, idx in ranges if lo <= h <= hi)


def read_stream(d):
    """Every record of every shard through GetRecords, in log order:
    {shard index: [(counter, key, data), ...]}."""
    out = {}
    for idx in range(SHARDS):
        st, doc, _ = d.raw("Kinesis_20131202.GetShardIterator", json.dumps({
            "StreamName": STREAM, "ShardId": f"shardId-{idx:012d}",
            "ShardIteratorType": "TRIM_HORIZON"}))
        assert st == 200, doc
        it = doc["ShardIterator"]
        recs = []
        while True:
            st, doc, _ = d.raw("Kinesis_20131202.GetRecords",
                               json.dumps({"ShardIterator": it, "Limit": 10000}))
            assert st == 200, doc
            for r in doc["Records"]:
                recs.append((counter(r["SequenceNumber"]), r["PartitionKey"],
                             base64.b64decode(r["Data"]).decode()))
            it = doc.get("NextShardIterator")
            if not doc["Records"] and doc["MillisBehindLatest"] == 0:
                break
        out[idx] = recs
    return out


def stats(d):
    r = sh(INGESTCTL, "--socket", f"{d.data_dir}/ingestd.sock", "stats", "--json", timeout=30)
    return json.loads(r.stdout)


def check_logs(logs, ranges):
    """Counters strictly increase per shard, each record sits on the shard its key names, and no
    data tag appears twice. Returns {tag: (shard, counter, key)}."""
    where = {}
    for idx, recs in logs.items():
        last = -1
        for c, key, data in recs:
            assert c > last, f"shard {idx}: counter {c} after {last}"
            last = c
            assert owner_shard(ranges, key) == idx, f"{key} on shard {idx}"
            tag = data.split("-x")[0] if "-x" in data else data
            assert tag not in where, f"{tag} written twice: {where[tag]} and {(idx, c)}"
            where[tag] = (idx, c, key)
    return where


def check_producer(pid, keys, acked, where, ordered):
    """Each ok ack names where its record is; with `ordered`, a key's records in send order."""
    assert len(acked) == len(keys)
    last = {}
    n_ok = 0
    for i, a in enumerate(acked):
        if not isinstance(a, tuple):
            continue
        n_ok += 1
        tag = f"p{pid}-n{i}"
        assert tag in where, f"producer {pid} record {i} acked at {a}, not in the logs"
        shard, c, key = where[tag]
        assert (shard, c) == a and key == keys[i], (tag, a, where[tag], keys[i])
        if ordered and key in last:
            assert last[key] < c, f"key {key}: counter {last[key]} then {c}"
        last[key] = c
    return n_ok


def test_nic_and_http_records_share_one_log_and_order(netns, tmp_path):
    d = start_daemon(tmp_path / "data", netns)
    procs = []
    http = {"batches": 0, "sent": [], "error": None}
    stop_http = threading.Event()

    def http_puts():
        """PutRecords in a loop, same keys as the producers, while the NIC load runs."""
        try:
            kc = d.client()
            rng = random.Random(99)
            while not stop_http.is_set() or http["batches"] < 20:
                b = http["batches"]
                recs = [(f"key-{rng.randrange(KEYS)}", f"h{b}-{i}") for i in range(50)]
                r = kc.put_records(StreamName=STREAM, Records=[
                    {"PartitionKey": k, "Data": v.encode()} for k, v in recs])
                assert r["FailedRecordCount"] == 0, r
                for (k, v), res in zip(recs, r["Records"]):
                    http["sent"].append((v, k, shard_index(res["ShardId"]),
                                         counter(res["SequenceNumber"])))
                http["batches"] += 1
        except Exception as e:  # reported by the main thread
            http["error"] = e

    try:
        kc = d.client()
        kc.create_stream(StreamName=STREAM, ShardCount=SHARDS)
        ranges = hash_ranges(kc)
        per = TOTAL // NPROD
        keys = {}
        for p in range(NPROD):
            pid = 101 + p
            keys[pid] = make_input(tmp_path / f"in{p}", pid, per, seed=p)
        for p in range(NPROD):
            pid = 101 + p
            procs.append((pid, start_producer(netns, pid, tmp_path / f"in{p}",
                                              tmp_path / f"acks{p}")))
        t = threading.Thread(target=http_puts)
        t.start()
        reports = {}
        t0 = time.monotonic()
        for pid, proc in procs:
            reports[pid], err = producer_report(proc, timeout=150)
            assert reports[pid]["exit_code"] == 0, (reports[pid], err)
            assert reports[pid]["acked"] == per and reports[pid]["failed"] == 0, reports[pid]
        elapsed = time.monotonic() - t0
        stop_http.set()
        t.join(timeout=60)
        assert http["error"] is None, http["error"]
        logs = read_stream(d)
        st = stats(d)
        assert d.stop() == 0
    finally:
        stop_http.set()
        for _, proc in procs:
            if proc.poll() is None:
                proc.kill()
        if d.proc.poll() is None:
            d.kill9()
    print(f"{TOTAL} NIC records from {NPROD} producers in {elapsed:.1f} s "
          f"({TOTAL / elapsed:.0f} records/s), {len(http['sent'])} HTTP records")

    where = check_logs(logs, ranges)
    assert sum(len(v) for v in logs.values()) == TOTAL + len(http["sent"])
    for p in range(NPROD):
        pid = 101 + p
        ordered = reports[pid].get("retries", 0) == 0
        assert check_producer(pid, keys[pid], read_ack_log(tmp_path / f"acks{p}"), where,
                              ordered) == per
    # HTTP records: where PutRecords said, one order with the NIC records of their shard.
    interleaved = 0
    for v, k, shard, c in http["sent"]:
        assert where[v] == (shard, c, k), (v, where.get(v), (shard, c, k))
    for idx, recs in logs.items():
        kinds = "".join("h" if data.startswith("h") else "p" for _, _, data in recs)
        interleaved += kinds.strip("h").count("ph")
    assert interleaved > 0, "HTTP records never fell between NIC records"

    dp = st["dataplane"]
    assert dp["mode"] == "dpdk" and dp["workers"] == 1
    assert dp["nics"][0]["driver"] == "net_tap"
    tot = dp["totals"]
    assert tot["records"] >= TOTAL, tot  # a resent frame is routed again
    assert tot["control-records"] == len(http["sent"]), tot
    assert tot["records_acked"]["ok"] >= TOTAL, tot
    assert tot["acks-sent"] >= TOTAL // 250, tot
    assert tot["rx_packets"] > 0 and tot["udp_packets"] > 0, tot
    assert sum(s["records"] for s in st["shards"]) == TOTAL + len(http["sent"]), st["shards"]
    # One worker: its shard-log writes' kernel workers run on the other CPU(s), where there are any.
    io = dp["per_worker"][0]["ingest"]["io_workers"]
    assert io == ("off the worker's cores" if len(os.sched_getaffinity(0)) > 1 else
                  "on the worker's cores"), io


def test_kill9_under_load_loses_no_acked_record_and_writes_none_twice(netns, tmp_path):
    data = tmp_path / "data"
    d = start_daemon(data, netns)
    procs = []
    try:
        kc = d.client()
        kc.create_stream(StreamName=STREAM, ShardCount=SHARDS)
        ranges = hash_ranges(kc)
        per = min(TOTAL // NPROD, 40_000)
        keys = {}
        for p in range(NPROD):
            pid = 201 + p
            keys[pid] = make_input(tmp_path / f"in{p}", pid, per, seed=10 + p)
            # Retries long enough to outlast the restart (EAL and TAP set up: a few seconds).
            procs.append((pid, start_producer(netns, pid, tmp_path / f"in{p}",
                                              tmp_path / f"acks{p}",
                                              ("--timeout-ms", "200", "--retries", "10"))))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if all(os.path.exists(tmp_path / f"acks{p}") and
                   os.path.getsize(tmp_path / f"acks{p}") > 30000 for p in range(NPROD)):
                break
            time.sleep(0.05)
        d.kill9()
        d = start_daemon(data, netns)
        reports = {}
        for pid, proc in procs:
            reports[pid], err = producer_report(proc, timeout=150)
            assert reports[pid]["exit_code"] == 0, (reports[pid], err)
            assert reports[pid]["acked"] == per, reports[pid]
        logs = read_stream(d)
        st = stats(d)
        assert d.stop() == 0
    finally:
        for _, proc in procs:
            if proc.poll() is None:
                proc.kill()
        if d.proc.poll() is None:
            d.kill9()
    out = "".join(d.lines)
    assert "after an unclean stop" in out
    # The retry window came back from the logs' tags.
    assert st["dataplane"]["totals"]["tags-recovered"] > 0, st["dataplane"]["totals"]
    where = check_logs(logs, ranges)
    for p in range(NPROD):
        pid = 201 + p
        # `duplicate` acks carry no numbers; their record is in the logs once (check_logs).
        check_producer(pid, keys[pid], read_ack_log(tmp_path / f"acks{p}"), where,
                       ordered=False)
    # Every record sent is in the logs exactly once: acked ones where their ack said.
    assert sum(len(v) for v in logs.values()) == NPROD * per
    for p in range(NPROD):
        for i in range(per):
            assert f"p{201 + p}-n{i}" in where


def test_malformed_frames_are_dropped_and_counted_by_the_daemon(netns, tmp_path):
    d = start_daemon(tmp_path / "data", netns)
    try:
        kc = d.client()
        kc.create_stream(StreamName=STREAM, ShardCount=SHARDS)
        good = frame(77, 1, STREAM.encode(), [(b"k", b"v")])
        bad = [good[:20], b"XNGS" + good[4:], frame(77, 2, STREAM.encode(), [(b"", b"data")])]
        r = sh("ip", "netns", "exec", netns, "/usr/bin/python3", "-c", BAD_SENDER, APPLIANCE,
               *[f.hex() for f in bad], timeout=20, check=False)
        assert r.returncode == 0, r.stdout + r.stderr
        # Only the key-length-0 frame has an envelope: it alone is answered, 28 bytes, status
        # malformed (1), for producer 77.
        assert r.stdout.split() == ["ack", "28", "INGS", "129", "1", "77"], r.stdout
        # The daemon goes on: a good frame is written and acked.
        r = sh("ip", "netns", "exec", netns, "/usr/bin/python3", "-c", BAD_SENDER, APPLIANCE,
               good.hex(), timeout=20, check=False)
        assert r.returncode == 0 and r.stdout.split()[:2] == ["ack", "44"], r.stdout + r.stderr
        tot = stats(d)["dataplane"]["totals"]
        text = sh(INGESTCTL, "--socket", f"{d.data_dir}/ingestd.sock", "stats").stdout
        assert d.stop() == 0
    finally:
        if d.proc.poll() is None:
            d.kill9()
    assert tot["frame_drops"] == {"short": 1, "bad-magic": 1, "key-len": 1}, tot
    assert tot["frames-dropped"] == 3 and tot["frames-taken"] == 1, tot
    assert tot["records_acked"] == {"ok": 1}, tot
    # The table for people says the same.
    drops = next(ln for ln in text.splitlines() if ln.startswith("frame drops:"))
    assert all(f"{r} 1" in drops for r in ("short", "bad-magic", "key-len")), text
    assert "dataplane dpdk, 1 worker(s)" in text and "NIC net_tap0 (net_tap ingest0)" in text, text


def test_nic_routing_follows_resharding_and_deletion(netns, tmp_path):
    d = start_daemon(tmp_path / "data", netns)
    try:
        kc = d.client()
        kc.create_stream(StreamName=STREAM, ShardCount=SHARDS)
        make_input(tmp_path / "in0", 301, 2000, seed=5)
        r = start_producer(netns, 301, tmp_path / "in0", tmp_path / "acks0")
        rep, err = producer_report(r, timeout=60)
        assert rep["exit_code"] == 0 and rep["acked"] == 2000, (rep, err)
        # Split shard 0 at the middle of its range: the NIC path routes by the new table.
        lo, hi, _ = next(x for x in hash_ranges(kc) if x[2] == 0)
        kc.split_shard(StreamName=STREAM, ShardToSplit="shardId-000000000000",
                       NewStartingHashKey=str((lo + hi) // 2))
        ranges = hash_ranges(kc)
        assert sorted(x[2] for x in ranges) == [1, 2, 3, 4, 5]
        keys2 = make_input(tmp_path / "in1", 302, 2000, seed=6)
        r = start_producer(netns, 302, tmp_path / "in1", tmp_path / "acks1")
        rep, err = producer_report(r, timeout=60)
        assert rep["exit_code"] == 0 and rep["acked"] == 2000, (rep, err)
        acked = read_ack_log(tmp_path / "acks1")
        for i, a in enumerate(acked):
            assert a[0] == owner_shard(ranges, keys2[i]), (i, keys2[i], a)
        # The parent's last sequence number is final: everything before the split, nothing after.
        desc = kc.describe_stream(StreamName=STREAM)["StreamDescription"]["Shards"]
        parent = next(s for s in desc if s["ShardId"] == "shardId-000000000000")
        end = counter(parent["SequenceNumberRange"]["EndingSequenceNumber"])
        before = [a for a in read_ack_log(tmp_path / "acks0") if a[0] == 0]
        assert before and max(c for _, c in before) <= end
        # A deleted stream is unknown to the NIC path at once.
        kc.delete_stream(StreamName=STREAM)
        make_input(tmp_path / "in2", 303, 10, seed=7)
        r = start_producer(netns, 303, tmp_path / "in2", tmp_path / "acks2")
        rep, err = producer_report(r, timeout=60)
        assert rep["exit_code"] == 1 and rep["failed_by_status"] == {"unknown-stream": 10}, rep
        assert d.stop() == 0
    finally:
        if d.proc.poll() is None:
            d.kill9()
