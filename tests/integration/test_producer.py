# SPDX-License-Identifier: MIT
"""ingest-producer against ack_responder, a stand-in receiver of the ingest wire protocol, on loopback.

ack_responder (tests/integration/ack_responder.c) parses frames, reassembles chunks, numbers records per
shard, answers with acks, replays the stored ack for a batch it has already seen, and can drop,
delay or fail acks. Everything stays on 127.0.0.1.
"""
import base64
import json
import os
import random
import signal
import socket
import subprocess
import time

import pytest

PRODUCER = os.environ.get("INGEST_PRODUCER", "build/tools/ingest-producer")
RESPONDER = os.environ.get("ACK_RESPONDER", "build/tests/ack_responder")

pytestmark = pytest.mark.skipif(
    not (os.access(PRODUCER, os.X_OK) and os.access(RESPONDER, os.X_OK)),
    reason=f"{PRODUCER} or {RESPONDER} not built")

EHK_MAX = str(2**128 - 1)


class Responder:
    def __init__(self, *args, dump=None):
        cmd = [RESPONDER, *args]
        if dump:
            cmd += ["--dump", str(dump)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("port "), line
        self.port = int(line.split()[1])
        self.addr = f"127.0.0.1:{self.port}"

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=10)
        assert self.proc.returncode == 0
        return json.loads(out.strip().splitlines()[-1])


@pytest.fixture
def responder_factory():
    responders = []

    def make(*args, dump=None):
        s = Responder(*args, dump=dump)
        responders.append(s)
        return s

    yield make
    for s in responders:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()


def produce(*args, stdin=None, timeout=60):
    t0 = time.monotonic()
    r = subprocess.run([PRODUCER, *args], input=stdin, capture_output=True, timeout=timeout)
    r.elapsed = time.monotonic() - t0
    return r


def report(r):
    return json.loads(r.stdout.decode().strip().splitlines()[-1])


def read_ack_log(path):
    rows = [line.split() for line in open(path).read().splitlines()]
    return rows


def check_exactly_once(rows, n):
    """n lines, one per (batch, index), every ok record with its own (shard, seq)."""
    assert len(rows) == n
    assert len({(r[1], r[2]) for r in rows}) == n
    ok = [r for r in rows if len(r) == 5]
    assert len(ok) == n
    assert len({(r[3], r[4]) for r in ok}) == n


def test_stdin_lines_are_each_acked_once(responder_factory, tmp_path):
    dump = tmp_path / "dump"
    resp = responder_factory(dump=dump)
    lines = [f"key-{i % 37}\tvalue {i} " + "x" * (i % 50) for i in range(500)]
    log = tmp_path / "acks"
    r = produce("--to", resp.addr, "--stream", "orders", "--producer-id", "42",
                "--ack-log", str(log), "--json", stdin="\n".join(lines).encode() + b"\n")
    assert r.returncode == 0, r.stderr
    rep = report(r)
    assert (rep["sent"], rep["acked"], rep["failed"], rep["retries"]) == (500, 500, 0, 0)
    assert rep["producer_id"] == "42"
    rows = read_ack_log(log)
    check_exactly_once(rows, 500)
    assert all(r[0] == "42" for r in rows)
    st = resp.stop()
    assert st["records_written"] == 500 and st["dup_frames"] == 0
    assert sorted(dump.read_text().splitlines()) == sorted(lines)
    # Batch numbers start at 1 and the ack log's records are in input order within a batch.
    assert min(int(r[1]) for r in rows) == 1


def test_key_option_takes_lines_as_data(responder_factory, tmp_path):
    dump = tmp_path / "dump"
    resp = responder_factory(dump=dump)
    r = produce("--to", resp.addr, "--stream", "s", "--key", "fixed",
                stdin=b"one\ttab inside\n\ntwo\n")
    assert r.returncode == 0, r.stderr
    st = resp.stop()
    assert st["records_written"] == 2    # the empty line is skipped
    assert dump.read_text().splitlines() == ["fixed\tone\ttab inside", "fixed\ttwo"]


def test_generated_load_is_all_acked(responder_factory, tmp_path):
    resp = responder_factory("--shards", "4")
    log = tmp_path / "acks"
    r = produce("--to", resp.addr, "--stream", "load", "--count", "5000", "--size", "64",
                "--keys", "50", "--inflight", "16", "--batch", "100", "--ack-log", str(log),
                "--json")
    assert r.returncode == 0, r.stderr
    rep = report(r)
    assert (rep["sent"], rep["acked"], rep["failed"]) == (5000, 5000, 0)
    assert rep["acks"] == rep["batches"]
    assert rep["latency_ns"]["p50"] > 0
    assert rep["latency_ns"]["p50"] <= rep["latency_ns"]["p99"] <= rep["latency_ns"]["p999"]
    check_exactly_once(read_ack_log(log), 5000)
    st = resp.stop()
    assert st["records_written"] == 5000 and sum(st["per_shard"]) == 5000
    # 50 keys over 4 shards: every shard gets some.
    assert all(c > 0 for c in st["per_shard"])


def test_dropped_acks_are_retried_and_acked_once(responder_factory, tmp_path):
    resp = responder_factory("--drop-every", "2")
    log = tmp_path / "acks"
    r = produce("--to", resp.addr, "--stream", "s", "--count", "400", "--size", "100",
                "--batch", "20", "--timeout-ms", "50", "--ack-log", str(log), "--json")
    assert r.returncode == 0, r.stderr
    rep = report(r)
    assert rep["acked"] == 400 and rep["failed"] == 0
    st = resp.stop()
    assert st["acks_dropped"] > 0
    assert rep["retries"] >= st["acks_dropped"]
    assert st["dup_frames"] >= st["acks_dropped"]       # the resp saw the resent batches
    assert st["records_written"] == 400                 # ... and wrote them once
    check_exactly_once(read_ack_log(log), 400)


@pytest.mark.parametrize("window,stale", [(8, False), (1000, True)])
def test_window_keeps_retries_inside_the_receivers(responder_factory, window, stale):
    # The resp forgets batches 8 below the highest seen, as the appliance's retry window does.
    # Dropped acks hold their batch back for a timeout while the others move on: with --window 8
    # the producer waits for it; with a larger window its retry comes back stale-batch.
    resp = responder_factory("--drop-every", "3", "--window", "8")
    r = produce("--to", resp.addr, "--stream", "s", "--count", "1000", "--size", "100",
                "--batch", "10", "--inflight", "8", "--window", str(window),
                "--timeout-ms", "50", "--json")
    rep = report(r)
    st = resp.stop()
    assert st["records_written"] == 1000
    if stale:
        assert r.returncode == 1
        assert rep["failed_by_status"]["stale-batch"] > 0 and st["stale_frames"] > 0
    else:
        assert r.returncode == 0, r.stderr
        assert rep["acked"] == 1000 and rep["retries"] > 0 and st["stale_frames"] == 0


def test_large_record_goes_chunked_and_is_acked(responder_factory, tmp_path):
    dump = tmp_path / "dump"
    # Its ack is dropped once: the producer resends every chunk and gets the stored ack.
    resp = responder_factory("--drop-every", "1", dump=dump)
    data = base64.b64encode(os.urandom(225 * 1024)).decode()   # 300 KiB of text
    assert len(data) == 300 * 1024
    log = tmp_path / "acks"
    r = produce("--to", resp.addr, "--stream", "big", "--ack-log", str(log), "--json",
                "--timeout-ms", "100", stdin=f"bigkey\t{data}\nsmall\tx\n".encode())
    assert r.returncode == 0, r.stderr
    rep = report(r)
    assert rep["acked"] == 2 and rep["retries"] >= 2
    assert rep["datagrams"] >= 2 * (300 * 1024 // 1472)
    rows = read_ack_log(log)
    check_exactly_once(rows, 2)
    st = resp.stop()
    assert st["reasm_completed"] == 1
    assert st["chunks"] >= 300 * 1024 // 1472
    assert st["records_written"] == 2
    assert sorted(dump.read_text().splitlines()) == sorted([f"bigkey\t{data}", "small\tx"])


@pytest.mark.parametrize("args", [
    [],                                              # no --stream
    ["--stream", "bad name"],
    ["--stream", "s", "--batch", "0"],
    ["--stream", "s", "--batch", "1025"],
    ["--stream", "s", "--mtu", "100"],
    ["--stream", "s", "--inflight", "x"],
    ["--stream", "s", "--size", "10"],                # --size without --count
    ["--stream", "s", "--count", "0"],                # unbounded without --duration
    ["--stream", "s", "--count", "5", "--json-lines"],
    ["--stream", "s", "--to", "no-port"],
    ["--stream", "s", "--bogus"],
    ["--stream", "s", "extra"],
    ["--stream", "s", "--retries", "-1"],
    ["--stream", "s", "--window", "0"],
    ["--stream", "s", "--ports", "0"],
    ["--stream", "s", "--to", "127.0.0.1:65535", "--ports", "2"],
    ["--stream", "s", "--count", "5", "--keys", "1000", "--key-len", "3"],  # too few digits
    ["--stream", "s", "--count", "5", "--key-len", "1"],
    ["--stream", "s", "--count", "5", "--key-len", "8", "--key", "k"],
])
def test_bad_usage_exits_2(args):
    r = produce(*args, stdin=b"")
    assert r.returncode == 2, (args, r.stderr)
    assert b"ingest-producer:" in r.stderr


def test_help_exits_0():
    r = produce("--help")
    assert r.returncode == 0 and b"--ack-log" in r.stdout


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_receiver_retries_then_fails_in_time(tmp_path):
    log = tmp_path / "acks"
    r = produce("--to", f"127.0.0.1:{free_port()}", "--stream", "s", "--count", "10",
                "--batch", "5", "--retries", "2", "--timeout-ms", "50", "--ack-log", str(log),
                "--json", timeout=20)
    assert r.returncode in (1, 3), r.stderr
    rep = report(r)
    assert (rep["sent"], rep["acked"], rep["failed"]) == (10, 0, 10)
    assert rep["failed_by_status"] == {"timeout": 10}
    assert rep["retries"] == 2 * rep["batches"]
    # 50 + 100 + 200 ms of waiting, plus start-up.
    assert r.elapsed < 5
    rows = read_ack_log(log)
    assert len(rows) == 10 and all(row[3] == "timeout" for row in rows)


def test_silent_receiver_is_a_network_error():
    # Bound but never read: no ICMP error, no ack.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        r = produce("--to", f"127.0.0.1:{s.getsockname()[1]}", "--stream", "s",
                    "--retries", "1", "--timeout-ms", "50", stdin=b"k\tv\n", timeout=20)
    assert r.returncode == 3, r.stderr
    assert b"no answer" in r.stderr
    assert b"failed      timeout" in r.stdout


def test_error_statuses_are_reported_and_counted(responder_factory, tmp_path):
    resp = responder_factory("--status", "stale-batch")
    log = tmp_path / "acks"
    r = produce("--to", resp.addr, "--stream", "s", "--count", "30", "--batch", "10",
                "--ack-log", str(log), "--json")
    assert r.returncode == 1, r.stderr
    assert b"stale-batch" in r.stderr
    rep = report(r)
    assert rep["failed_by_status"] == {"stale-batch": 30}
    assert rep["sent"] == rep["acked"] + rep["failed"] == 30
    assert rep["retries"] == 0 and rep["exit_code"] == 1
    rows = read_ack_log(log)
    assert len(rows) == 30 and all(row[3] == "stale-batch" for row in rows)
    assert resp.stop()["records_written"] == 0


def test_unknown_stream_is_a_failure(responder_factory):
    resp = responder_factory("--stream", "only")
    r = produce("--to", resp.addr, "--stream", "other", "--json", stdin=b"a\tb\nc\td\n")
    assert r.returncode == 1
    assert report(r)["failed_by_status"] == {"unknown-stream": 2}


def test_throttled_is_retried_then_fails(responder_factory):
    resp = responder_factory("--status", "throttled")
    r = produce("--to", resp.addr, "--stream", "s", "--retries", "2", "--timeout-ms", "20",
                "--json", stdin=b"a\tb\n")
    assert r.returncode == 1
    rep = report(r)
    assert rep["retries"] == 2 and rep["failed_by_status"] == {"throttled": 1}
    assert resp.stop()["dup_frames"] == 2


def test_json_lines_input_with_ehk_and_bad_lines(responder_factory, tmp_path):
    dump = tmp_path / "dump"
    resp = responder_factory("--shards", "4", dump=dump)
    docs = [
        {"key": "a", "data": "low", "ehk": "0"},
        {"key": "b", "data": "high", "ehk": EHK_MAX},
        {"key": "c", "data_b64": base64.b64encode(b"bin\x01").decode()},
    ]
    bad = ['{"key": "x"}', "not json", '{"key": "", "data": "y"}',
           '{"key": "k", "data": "z", "ehk": "-1"}']
    text = "\n".join([json.dumps(d) for d in docs] + bad) + "\n"
    log = tmp_path / "acks"
    r = produce("--to", resp.addr, "--stream", "s", "--json-lines", "--ack-log", str(log),
                "--json", stdin=text.encode())
    assert r.returncode == 1, r.stderr
    rep = report(r)
    assert rep["acked"] == 3 and rep["input_rejected"] == 4
    assert rep["failed_by_status"] == {"bad-input": 4}
    rows = read_ack_log(log)
    assert [row[3] for row in rows[:2]] == ["0", "3"]   # ehk 0 -> first shard, max -> last
    st = resp.stop()
    assert st["records_written"] == 3
    assert dump.read_bytes().splitlines()[2] == b"c\tbin\x01"


def test_duration_and_rate_bound_the_run(responder_factory):
    resp = responder_factory()
    r = produce("--to", resp.addr, "--stream", "s", "--count", "0", "--rate", "2000",
                "--duration", "1", "--json", timeout=20)
    assert r.returncode == 0, r.stderr
    rep = report(r)
    assert 1000 <= rep["acked"] <= 2100
    assert rep["failed"] == 0 and rep["sent"] == rep["acked"]
    assert r.elapsed < 4
    assert resp.stop()["records_written"] == rep["acked"]


def test_key_len_generates_keys_of_that_length(responder_factory, tmp_path):
    dump = tmp_path / "dump"
    resp = responder_factory(dump=dump)
    r = produce("--to", resp.addr, "--stream", "s", "--count", "300", "--keys", "1000",
                "--key-len", "16", "--json")
    assert r.returncode == 0, r.stderr
    assert report(r)["acked"] == 300
    resp.stop()
    rows = [line.split("\t") for line in dump.read_text().splitlines()]
    assert len(rows) == 300
    keys = {k for k, _ in rows}
    assert all(len(k) == 16 and k[0] == "k" and k[1:].isdigit() and int(k[1:]) < 1000
               for k in keys), sorted(keys)[:5]
    assert len(keys) > 100       # 300 draws from 1000 keys
    # Every record's data starts with its number in hex: 0 .. 299, once each.
    assert sorted(int(d[:16], 16) for _, d in rows) == list(range(300))


def test_rate_fills_frames_instead_of_one_record_each(responder_factory):
    resp = responder_factory()
    r = produce("--to", resp.addr, "--stream", "s", "--count", "4000", "--rate", "20000",
                "--json", timeout=20)
    assert r.returncode == 0, r.stderr
    rep = report(r)
    assert rep["acked"] == 4000
    # 1 ms of records at 20,000/s is 20 a batch: far fewer batches than records.
    assert rep["batches"] <= 4000 / 10, rep


def test_delayed_acks_show_in_latency(responder_factory):
    resp = responder_factory("--delay-ms", "40")
    r = produce("--to", resp.addr, "--stream", "s", "--count", "20", "--batch", "5",
                "--timeout-ms", "500", "--json")
    assert r.returncode == 0, r.stderr
    rep = report(r)
    assert rep["retries"] == 0
    assert rep["latency_ns"]["p50"] >= 40_000_000


def test_text_report_and_progress(responder_factory):
    resp = responder_factory()
    r = produce("--to", resp.addr, "--stream", "s", "--count", "0", "--rate", "500",
                "--duration", "1.5", "--progress", timeout=20)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "ack latency" in out and "records/s" in out
    assert b"rec/s" in r.stderr    # at least one progress line


def test_open_stdin_is_bounded_by_duration_and_sigterm(responder_factory):
    resp = responder_factory()
    for how in ("duration", "sigterm"):
        args = [PRODUCER, "--to", resp.addr, "--stream", "s", "--json"]
        if how == "duration":
            args += ["--duration", "0.5"]
        t0 = time.monotonic()
        p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        p.stdin.write(b"a\t1\nb\t2\nc\t3\n")
        p.stdin.flush()                    # and keep stdin open: no end of input
        if how == "sigterm":
            time.sleep(0.5)
            p.send_signal(signal.SIGTERM)
        p.wait(timeout=10)                 # not communicate(): that would close stdin
        elapsed = time.monotonic() - t0
        p.stdin.close()
        out, err = p.stdout.read(), p.stderr.read()
        assert p.returncode == 0, (how, err)
        assert 0.45 < elapsed < 4, (how, elapsed)
        rep = json.loads(out.decode().splitlines()[-1])
        assert rep["sent"] == rep["acked"] == 3, how
    assert resp.stop()["records_written"] == 6


@pytest.mark.parametrize("mode", [[], ["--json-lines"], ["--key", "k"]])
def test_garbage_input_never_crashes(responder_factory, mode):
    # Random bytes, JSON fragments and over-long lines: each line is sent or rejected, and
    # the counts add up.
    resp = responder_factory()
    rnd = random.Random(7)
    parts = []
    for i in range(400):
        kind = rnd.randrange(4)
        if kind == 0:
            parts.append(bytes(rnd.randrange(256) for _ in range(rnd.randrange(64))))
        elif kind == 1:
            parts.append(b'{"key":"k%d","data":"%s"' % (i, b"x" * rnd.randrange(5)) +
                         rnd.choice([b"}", b"", b',"ehk":"1"}', b',"data_b64":"@@"}']))
        elif kind == 2:
            parts.append(b"k\t" + b"y" * rnd.randrange(1, 3000))
        else:
            parts.append(b"z" * 300 + b"\t" + b"v")     # key over 256 bytes
    data = b"\n".join(parts)
    r = produce("--to", resp.addr, "--stream", "s", "--json", *mode, stdin=data)
    assert r.returncode in (0, 1), r.stderr
    rep = report(r)
    assert rep["sent"] == rep["acked"] + rep["failed"] - rep["input_rejected"]
    assert rep["failed"] == rep["input_rejected"]
    assert resp.stop()["records_written"] == rep["acked"]


def test_ports_spread_producers_by_id(responder_factory):
    # Two receivers on ports P and P+1 are not guaranteed to be adjacent: take P+1 first.
    for _ in range(20):
        a = responder_factory()
        try:
            b = responder_factory("--port", str(a.port + 1))
            break
        except AssertionError:
            continue
    else:
        pytest.skip("no two adjacent free UDP ports")
    for pid in (10, 11):
        r = produce("--to", a.addr, "--ports", "2", "--stream", "s", "--producer-id", str(pid),
                    stdin=b"k\tv\n")
        assert r.returncode == 0, r.stderr
    assert a.stop()["records_written"] == 1 and b.stop()["records_written"] == 1


def test_overlong_line_is_skipped_and_input_goes_on(responder_factory, tmp_path):
    dump = tmp_path / "dump"
    resp = responder_factory(dump=dump)
    data = b"a\tfirst\n" + b"k\t" + b"x" * (9 << 20) + b"\nb\tafter\n"
    r = produce("--to", resp.addr, "--stream", "s", "--json", stdin=data)
    assert r.returncode == 1
    assert b"line 2: line longer than 8 MiB" in r.stderr
    rep = report(r)
    assert rep["acked"] == 2 and rep["failed_by_status"] == {"bad-input": 1}
    resp.stop()
    assert dump.read_text().splitlines() == ["a\tfirst", "b\tafter"]
