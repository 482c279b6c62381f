# SPDX-License-Identifier: MIT
"""ingest-memif-gen against the NIC path over net_memif: generator (memif client) -> worker ->
dp_nic -> dp_ingest -> shard logs -> acks, outside the daemon.

tests/dp_ingest_smoke serves a net_memif socket in a temporary directory (role=server, one
worker, one stream of four shards); ingest-memif-gen connects as the client, sends a bounded
count of generated records with --ack-log and exits. Then `dp_ingest_smoke --dump` lists every
record of every shard log, and the test checks that every record was acked exactly once, at a
shard and sequence number that holds it (its number, which leads its data, and its key), and
that the logs hold nothing else. Both sides run their EAL without huge pages and with file
prefixes of their own. Needs root (DPDK's memif PMD, as the appliance runs it).
"""
import json
import os
import signal
import subprocess
import time

import pytest

SMOKE = os.environ.get("DP_INGEST_SMOKE", "build/tests/dp_ingest_smoke")
GEN = os.environ.get("INGEST_MEMIF_GEN", "build/tools/ingest-memif-gen")
STREAM = "memifstream"
SHARDS = 4


def _why_skip():
    if os.geteuid() != 0:
        return "needs root: DPDK's EAL and the memif PMD"
    for exe in (SMOKE, GEN):
        if not os.access(exe, os.X_OK):
            return f"{exe} not built"
    return None


pytestmark = pytest.mark.skipif(_why_skip() is not None, reason=str(_why_skip()))


class Smoke:
    def __init__(self, data, sock, extra=()):
        self.log = open(data.parent / "smoke.log", "w+")
        self.proc = subprocess.Popen(
            [SMOKE, "--nic", f"net_memif0,role=server,socket={sock}", "--workers", "1",
             "--stream", STREAM, "--shards", str(SHARDS), "--dir", str(data),
             "--seconds", "120", "--eal", "--no-huge", *extra],
            stdout=self.log, stderr=subprocess.STDOUT, text=True)

    def output(self):
        self.log.seek(0)
        return self.log.read()

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "ready\n" in self.output():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"dp_ingest_smoke not ready:\n{self.output()}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        stats = [json.loads(ln) for ln in self.output().splitlines() if ln.startswith("{")]
        return self.proc.returncode, stats[-1] if stats else None


def run_gen(sock, ack_log, count, extra=()):
    return subprocess.run(
        [GEN, "--socket", str(sock), "--stream", STREAM, "--producer-id", "4242",
         "--count", str(count), "--size", "100", "--keys", "1000", "--key-len", "16",
         "--inflight", "32", "--window", "32", "--ack-log", str(ack_log), "--json",
         "--duration", "60", "--eal", "--no-huge", *extra],
        capture_output=True, text=True, timeout=120)


def dump(data):
    r = subprocess.run([SMOKE, "--dump", str(data)], capture_output=True, text=True,
                       timeout=120, check=True)
    recs = {}
    for line in r.stdout.splitlines():
        shard, seq, key, dlen, head = line.split()
        assert (int(shard), int(seq)) not in recs, f"shard {shard} seq {seq} listed twice"
        recs[(int(shard), int(seq))] = (key, int(dlen), head)
    return recs


@pytest.mark.parametrize("count", [20000])
def test_every_generated_record_is_acked_once_and_in_the_logs(tmp_path, count):
    data = tmp_path / "data"
    data.mkdir()
    sock = tmp_path / "memif.sock"
    ack_log = tmp_path / "acks"
    smoke = Smoke(data, sock)
    try:
        smoke.wait_ready()
        r = run_gen(sock, ack_log, count)
        assert r.returncode == 0, f"generator exit {r.returncode}:\n{r.stdout}\n{r.stderr}"
        report = json.loads([ln for ln in r.stdout.splitlines() if ln.startswith("{")][-1])
        rc, stats = smoke.stop()
    finally:
        if smoke.proc.poll() is None:
            smoke.proc.kill()
            smoke.proc.wait(timeout=10)
    assert rc == 0, smoke.output()
    assert report["sent"] == count and report["acked"] == count and report["failed"] == 0
    assert report["duplicate"] == 0
    assert report["latency_ns"]["p50"] > 0
    assert stats["ingest"]["frames"] >= report["batches"]

    # The ack log: one line per record, each ok with a shard and sequence number, none twice.
    acked = {}
    with open(ack_log) as f:
        for line in f:
            p = line.split()
            assert len(p) == 5, f"not acked ok: {line!r}"
            batch, index = int(p[1]), int(p[2])
            assert (batch, index) not in acked, f"batch {batch} record {index} acked twice"
            acked[(batch, index)] = (int(p[3]), int(p[4]))
    assert len(acked) == count
    assert len(set(acked.values())) == count, "two records acked at one shard/seq"

    # The logs: exactly the acked positions, each holding one generated record, every record
    # number 0 .. count-1 once. Batches are numbered from 1 in order and records keep their
    # order within a batch, so input order recovers each record's number.
    recs = dump(data)
    assert set(recs) == set(acked.values())
    numbers = set()
    for n, pos in enumerate(acked[k] for k in sorted(acked)):
        key, dlen, head = recs[pos]
        assert dlen == 100 and len(key) == 16 and key.startswith("k"), (pos, key, dlen)
        assert int(head[:16], 16) == n, f"record {n} acked at {pos} holds {head[:16]}"
        numbers.add(n)
    assert numbers == set(range(count))


def test_bad_socket_fails_with_network_exit_code(tmp_path):
    r = subprocess.run(
        [GEN, "--socket", str(tmp_path / "nobody.sock"), "--stream", STREAM, "--count", "10",
         "--link-timeout", "1", "--eal", "--no-huge"],
        capture_output=True, text=True, timeout=60)
    assert r.returncode == 3, r.stderr
    assert "did not come up" in r.stderr


def test_usage_errors(tmp_path):
    for args, needle in [((), "--stream is required"),
                         (("--stream", STREAM), "give --count"),
                         (("--stream", STREAM, "--count", "5", "--keys", "1000",
                           "--key-len", "3"), "too short"),
                         (("--stream", STREAM, "--count", "5", "--to", "nowhere"), "--to")]:
        r = subprocess.run([GEN, *args], capture_output=True, text=True, timeout=30)
        assert r.returncode == 2, (args, r.stderr)
        assert needle in r.stderr, (args, r.stderr)
