# SPDX-License-Identifier: MIT
"""ingestctl against a real ingestd on its admin socket (the AWS listener is off)."""
import base64
import json
import os
import signal
import subprocess
import time

import pytest

INGESTD = os.environ.get("INGESTD", "build/control/ingestd")
INGESTCTL = os.environ.get("INGESTCTL", "build/tools/ingestctl")


def start_daemon(data, *args):
    proc = subprocess.Popen([INGESTD, "--data-dir", str(data), "--api-listen", "none", "--nic", "none", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "running with" in line:
            break
    else:
        proc.kill()
        raise AssertionError("ingestd did not start:\n" + "".join(lines))
    assert os.path.exists(data / "ingestd.sock"), "".join(lines)
    return proc


def stop_daemon(proc):
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0, out


@pytest.fixture
def daemon(tmp_path):
    data = tmp_path / "data"
    proc = start_daemon(data)
    yield data
    stop_daemon(proc)


def ctl(data, *args, stdin=None, timeout=20):
    return subprocess.run([INGESTCTL, "--data-dir", str(data), *args], input=stdin,
                          capture_output=True, text=True, timeout=timeout)


def ok(data, *args, stdin=None):
    r = ctl(data, *args, stdin=stdin)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout


def describe(data, name):
    return json.loads(ok(data, "--json", "stream", "describe", name))["StreamDescription"]


def get_all(data, name, *args):
    out = ok(data, "--json", "stream", "get", name, *args)
    return [json.loads(l) for l in out.splitlines()]


def test_help_names_commands_and_exit_codes():
    r = subprocess.run([INGESTCTL, "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0
    for word in ("status", "stats", "stream create", "stream put", "stream tail",
                 "stream split", "stream merge", "stream scale", "--socket", "--data-dir",
                 "--json"):
        assert word in r.stdout, word
    for code in ("0  success", "1  the server answered", "2  usage", "3  cannot reach",
                 "4  partial"):
        assert code in r.stdout, code


def test_status_stats_and_json(daemon):
    out = ok(daemon, "status")
    assert "version" in out and "open shards  0" in out and str(daemon) in out
    st = json.loads(ok(daemon, "--json", "status"))
    assert st["streams"] == 0 and st["open_shards"] == 0 and st["data_dir"] == str(daemon)
    ok(daemon, "stream", "create", "s", "--shards", "2")
    st = json.loads(ok(daemon, "status", "--json"))
    assert st["streams"] == 1 and st["open_shards"] == 2
    ok(daemon, "stream", "put", "s", "--key", "k", "hello")
    stats = json.loads(ok(daemon, "--json", "stats"))
    assert sorted(s["shard"] for s in stats["shards"]) == ["s/shardId-000000000000",
                                                           "s/shardId-000000000001"]
    assert sum(s["records"] for s in stats["shards"]) == 1
    table = ok(daemon, "stats").splitlines()
    assert table[0].split() == ["SHARD", "STATE", "RECORDS", "BYTES", "FLUSHES", "FSYNCS",
                                "FLUSH", "P99", "US", "NEXT", "SEQ", "TRIM", "SEQ", "SEGMENTS"]
    # The put's flush is in its shard's latency histogram: a p99 above zero there only.
    p99 = sorted(s["flush_us_p99"] for s in stats["shards"])
    assert p99[0] == 0 and p99[1] > 0
    assert len(table) == 3 and all(" open " in l for l in table[1:])


def test_create_list_describe(daemon):
    assert ok(daemon, "stream", "create", "orders", "--shards", "3") == \
        "created stream orders with 3 shard(s)\n"
    ok(daemon, "stream", "create", "auto", "--on-demand")
    listing = ok(daemon, "stream", "list").splitlines()
    assert listing[0].split()[:3] == ["NAME", "STATUS", "MODE"]
    rows = {l.split()[0]: l.split() for l in listing[1:]}
    assert rows["orders"][1:4] == ["ACTIVE", "PROVISIONED", "3"]
    assert rows["auto"][1:4] == ["ACTIVE", "ON_DEMAND", "4"]
    j = json.loads(ok(daemon, "--json", "stream", "list"))
    assert j["StreamNames"] == ["auto", "orders"]

    d = describe(daemon, "orders")
    assert [s["ShardId"] for s in d["Shards"]] == [f"shardId-00000000000{i}" for i in range(3)]
    ranges = [(int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
              for s in d["Shards"]]
    assert ranges[0][0] == 0 and ranges[-1][1] == 2**128 - 1
    assert all(a[1] + 1 == b[0] for a, b in zip(ranges, ranges[1:]))
    text = ok(daemon, "stream", "describe", "orders")
    assert "shards      3 open, 0 closed" in text
    shard_rows = [l for l in text.splitlines() if l.startswith("shardId-")]
    assert len(shard_rows) == 3 and all(l.endswith("open") for l in shard_rows)
    assert str(ranges[1][0]) in shard_rows[1]

    r = ctl(daemon, "stream", "create", "orders", "--shards", "1")
    assert r.returncode == 1
    assert "ingestctl: ResourceInUseException: Stream orders under account" in r.stderr


def test_put_1000_from_stdin_and_get_each_back_once_in_order(daemon):
    ok(daemon, "stream", "create", "s", "--shards", "4")
    lines = [f"key-{i % 37}\tvalue-{i}" for i in range(1000)]
    out = ok(daemon, "stream", "put", "s", stdin="\n".join(lines) + "\n").splitlines()
    assert len(out) == 1000
    put = [tuple(l.split()) for l in out]  # (shard, seq) per input line, in input order
    assert len({p[1] for p in put}) == 1000
    assert len({p[0] for p in put}) == 4, "37 keys spread over all shards"

    recs = get_all(daemon, "s")
    assert len(recs) == 1000
    data = [base64.b64decode(r["Data"]).decode() for r in recs]
    assert sorted(data) == sorted(f"value-{i}" for i in range(1000))  # each exactly once
    got = {(r["ShardId"], r["SequenceNumber"]): (r["PartitionKey"], d)
           for r, d in zip(recs, data)}
    for i, p in enumerate(put):
        assert got[p] == (f"key-{i % 37}", f"value-{i}")
    # Per shard: the order of the put, ascending sequence numbers.
    for shard in {p[0] for p in put}:
        want = [f"value-{i}" for i, p in enumerate(put) if p[0] == shard]
        have = [d for r, d in zip(recs, data) if r["ShardId"] == shard]
        assert have == want
        seqs = [int(r["SequenceNumber"]) for r in recs if r["ShardId"] == shard]
        assert seqs == sorted(seqs)
    # Same key, same shard.
    by_key = {}
    for r in recs:
        by_key.setdefault(r["PartitionKey"], set()).add(r["ShardId"])
    assert all(len(v) == 1 for v in by_key.values())

    table = ok(daemon, "stream", "get", "s").splitlines()
    assert table[0].split() == ["SHARD", "SEQUENCE", "NUMBER", "KEY", "DATA"]
    assert len(table) == 1001
    assert any(l.split()[1:] == [put[7][1], "key-7", "value-7"] for l in table)

    assert ok(daemon, "stream", "put", "s", "--quiet", stdin="a\nb\n") == \
        "2 record(s) put, 0 failed\n"


def test_get_from_sequence_number_limit_and_binary_data(daemon):
    ok(daemon, "stream", "create", "s", "--shards", "2")
    out = ok(daemon, "stream", "put", "s", "--key", "same",
             stdin="".join(f"r{i}\n" for i in range(10))).splitlines()
    shard, seq4 = out[4].split()
    recs = get_all(daemon, "s", "--from", seq4)
    assert [base64.b64decode(r["Data"]) for r in recs] == [f"r{i}".encode() for i in range(4, 10)]
    assert all(r["ShardId"] == shard for r in recs)
    assert len(get_all(daemon, "s", "--limit", "3")) == 3
    assert get_all(daemon, "s", "--from", "latest") == []
    # Bytes that are not printable text come back as base64.
    ok(daemon, "stream", "put", "s", "--key", "bin", "tab\there")
    text = ok(daemon, "stream", "get", "s")
    assert "base64:" + base64.b64encode(b"tab\there").decode() in text
    assert len(ok(daemon, "stream", "get", "s", "--shard", shard).splitlines()) == 1 + 10 + \
        sum(r["PartitionKey"] == "bin" and r["ShardId"] == shard for r in get_all(daemon, "s"))
    other = "1" if shard.endswith("0") else "0"
    r = ctl(daemon, "stream", "get", "s", "--shard", other, "--from", seq4)
    assert r.returncode == 2 and f"is a sequence number of {shard}, not of --shard" in r.stderr


def test_split_merge_scale(daemon):
    ok(daemon, "stream", "create", "s", "--shards", "1")
    ok(daemon, "stream", "put", "s", stdin="".join(f"a{i}\n" for i in range(20)))
    out = ok(daemon, "stream", "split", "s", "shardId-000000000000")
    assert out == (f"split shardId-000000000000 of stream s at hash key {2**127} into "
                   "shardId-000000000001 and shardId-000000000002\n")
    d = describe(daemon, "s")
    sh = {s["ShardId"]: s for s in d["Shards"]}
    assert "EndingSequenceNumber" in sh["shardId-000000000000"]["SequenceNumberRange"]
    assert sh["shardId-000000000001"]["ParentShardId"] == "shardId-000000000000"
    assert sh["shardId-000000000002"]["HashKeyRange"]["StartingHashKey"] == str(2**127)
    ok(daemon, "stream", "put", "s", stdin="".join(f"b{i}\n" for i in range(20)))

    # Explicit split point.
    ok(daemon, "stream", "split", "s", "2", str(2**127 + 2**126))
    d = describe(daemon, "s")
    assert d["Shards"][4]["HashKeyRange"]["StartingHashKey"] == str(2**127 + 2**126)

    out = ok(daemon, "stream", "merge", "s", "3", "4")
    assert out == ("merged shardId-000000000003 and shardId-000000000004 of stream s into "
                   "shardId-000000000005\n")
    d = describe(daemon, "s")
    m = d["Shards"][5]
    assert (m["ParentShardId"], m["AdjacentParentShardId"]) == \
        ("shardId-000000000003", "shardId-000000000004")
    assert m["HashKeyRange"]["StartingHashKey"] == str(2**127)

    r = ctl(daemon, "stream", "merge", "s", "1", "1")
    assert r.returncode == 1 and "InvalidArgumentException" in r.stderr
    r = ctl(daemon, "stream", "split", "s", "0")
    assert r.returncode == 1 and "ResourceInUseException" in r.stderr

    assert ok(daemon, "stream", "scale", "s", "4") == \
        "scaled stream s from 2 to 4 open shard(s)\n"
    d = describe(daemon, "s")
    assert sum("EndingSequenceNumber" not in s["SequenceNumberRange"] for s in d["Shards"]) == 4
    ok(daemon, "stream", "put", "s", stdin="".join(f"c{i}\n" for i in range(20)))
    data = sorted(base64.b64decode(r["Data"]).decode() for r in get_all(daemon, "s"))
    assert data == sorted([f"{p}{i}" for p in "abc" for i in range(20)])


def test_tail_follows_new_records_and_child_shards(daemon):
    ok(daemon, "stream", "create", "s", "--shards", "2")
    ok(daemon, "stream", "put", "s", "old")  # before the tail: not shown
    tail = subprocess.Popen([INGESTCTL, "--data-dir", str(daemon), "--json", "stream", "tail",
                             "s", "--count", "40"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = tail.stderr.readline()
        assert "tailing 2 shard(s) of stream s from LATEST" in line, line
        ok(daemon, "stream", "put", "s", stdin="".join(f"x{i}\n" for i in range(20)))
        ok(daemon, "stream", "split", "s", "0")
        ok(daemon, "stream", "merge", "s", "2", "3")
        ok(daemon, "stream", "put", "s", stdin="".join(f"y{i}\n" for i in range(20)))
        out, err = tail.communicate(timeout=15)
    finally:
        tail.kill()
    assert tail.returncode == 0, err
    recs = [json.loads(l) for l in out.splitlines()]
    data = [base64.b64decode(r["Data"]).decode() for r in recs]
    assert sorted(data) == sorted([f"x{i}" for i in range(20)] + [f"y{i}" for i in range(20)])
    assert {r["ShardId"] for r in recs if r["Data"] and
            base64.b64decode(r["Data"]).decode().startswith("y")} <= \
        {"shardId-000000000001", "shardId-000000000004"}


def test_tail_stops_on_sigint_with_exit_0(daemon):
    ok(daemon, "stream", "create", "s", "--shards", "1")
    tail = subprocess.Popen([INGESTCTL, "--data-dir", str(daemon), "stream", "tail", "s"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert "tailing 1 shard(s)" in tail.stderr.readline()
    ok(daemon, "stream", "put", "s", "--key", "k", "live")
    time.sleep(0.6)
    tail.send_signal(signal.SIGINT)
    out, _ = tail.communicate(timeout=10)
    assert tail.returncode == 0
    assert out.split()[2:] == ["k", "live"]


def test_describe_and_list_follow_every_page(tmp_path):
    # More shards than one DescribeStream page (100) and more streams than one ListStreams page
    # (100); small segments keep the preallocated files small.
    data = tmp_path / "data"
    proc = start_daemon(data, "--segment-size", "2M", "--buffer-size", "1028K")
    try:
        ok(data, "stream", "create", "wide", "--shards", "130")
        d = describe(data, "wide")
        assert [s["ShardId"] for s in d["Shards"]] == \
            [f"shardId-{i:012d}" for i in range(130)]
        assert d["HasMoreShards"] is False
        text = ok(data, "stream", "describe", "wide")
        assert sum(l.startswith("shardId-") for l in text.splitlines()) == 130
        for i in range(100):
            ok(data, "stream", "create", f"s{i:03d}")
        j = json.loads(ok(data, "--json", "stream", "list"))
        assert j["StreamNames"] == [f"s{i:03d}" for i in range(100)] + ["wide"]
        assert len(j["StreamSummaries"]) == 101
        assert len(ok(data, "stream", "list").splitlines()) == 102
    finally:
        stop_daemon(proc)


def test_delete(daemon):
    ok(daemon, "stream", "create", "s", "--shards", "2")
    assert ok(daemon, "stream", "delete", "s") == "deleted stream s\n"
    assert ok(daemon, "stream", "list") == "no streams\n"
    r = ctl(daemon, "stream", "delete", "s")
    assert r.returncode == 1


def test_unknown_stream_exits_1_with_the_server_message(daemon):
    for args in (["stream", "describe", "nope"], ["stream", "get", "nope"],
                 ["stream", "put", "nope", "x"], ["stream", "scale", "nope", "2"]):
        r = ctl(daemon, *args)
        assert r.returncode == 1, args
        assert r.stderr.startswith("ingestctl: ResourceNotFoundException: Stream nope under "
                                   "account 000000000000 not found."), r.stderr


@pytest.mark.parametrize("args,msg", [
    ([], "no command given"),
    (["frob"], "unknown command 'frob'"),
    (["stream"], "stream needs a subcommand"),
    (["stream", "create"], "stream create needs 1 argument(s), got 0"),
    (["stream", "create", "s", "--shards", "zero"], "--shards zero: expected 1..100000"),
    (["stream", "create", "s", "--shards", "2", "--on-demand"], "exclude each other"),
    (["stream", "create", "s", "--key", "k"], "option --key does not apply to stream create"),
    (["stream", "get", "s", "--from", "yesterday"], "expected trim, latest or a sequence"),
    (["stream", "get", "s", "--shard", "shard-x"], "expected a shard id"),
    (["stream", "split", "s", "0", "-1"], "unknown option -1"),
    (["stream", "split", "s", "0", "2x"], "expected a hash key"),
    (["stream", "merge", "s", "0"], "stream merge needs 3 argument(s), got 2"),
    (["stream", "scale", "s", "many"], "expected a shard count"),
    (["stream", "delete", "a", "b"], "unexpected 'b'"),
    (["stream", "tail", "s", "--count"], "option --count needs a value"),
    (["--bogus", "status"], "unknown option --bogus"),
])
def test_bad_usage_exits_2_and_shows_usage(daemon, args, msg):
    r = ctl(daemon, *args)
    assert r.returncode == 2, r.stderr
    assert msg in r.stderr
    assert "usage: ingestctl" in r.stderr
    assert r.stdout == ""


def test_no_daemon_exits_3_naming_the_socket(tmp_path):
    sock = tmp_path / "ingestd.sock"
    for argv in ([INGESTCTL, "--socket", str(sock), "status"],
                 [INGESTCTL, "--data-dir", str(tmp_path), "stream", "list"]):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        assert r.returncode == 3
        assert f"cannot reach ingestd on {sock}: no such socket" in r.stderr
        assert "is ingestd running? start it with tools/run or pass --socket" in r.stderr
    r = subprocess.run([INGESTCTL, "status"], capture_output=True, text=True, timeout=10,
                       env={**os.environ, "INGESTD_SOCKET": str(sock)})
    assert r.returncode == 3 and str(sock) in r.stderr
    # A socket file nobody listens on (a daemon that died).
    import socket
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(sock))
    s.close()
    r = subprocess.run([INGESTCTL, "--socket", str(sock), "status"], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 3 and "is ingestd running?" in r.stderr


def test_put_reports_bad_lines_and_exits_4(daemon):
    ok(daemon, "stream", "create", "s", "--shards", "1")
    long_key = "k" * 257
    r = ctl(daemon, "stream", "put", "s", stdin=f"a\tone\n\ttwo\n{long_key}\tthree\nb\tfour\n")
    assert r.returncode == 4
    assert "line 2: the partition key must be 1 to 256 bytes (it is 0)" in r.stderr
    assert "line 3: the partition key must be 1 to 256 bytes (it is 257)" in r.stderr
    assert "2 record(s) put, 2 failed" in r.stderr
    assert len(r.stdout.splitlines()) == 2
    data = [base64.b64decode(x["Data"]) for x in get_all(daemon, "s")]
    assert data == [b"one", b"four"]
