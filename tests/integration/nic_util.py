# SPDX-License-Identifier: MIT
"""What the NIC-path tests share: the namespace they create, a child process whose output is read
by a thread (so no read can hang), the producers they run inside the namespace and their ack
logs, and hand-built ingest frames (docs/protocol.md).

Every address here lives inside a network namespace the test creates: the appliance's TAP side
198.18.0.1 and the kernel side 198.18.0.2/24 (the benchmarking range 198.18.0.0/15).
"""
import contextlib
import json
import os
import queue
import random
import shutil
import signal
import struct
import subprocess
import threading
import time
import uuid

PRODUCER = os.environ.get("INGEST_PRODUCER", "build/tools/ingest-producer")
APPLIANCE = "198.18.0.1"
KERNEL_SIDE = "198.18.0.2/24"
INGEST_PORT = 4789
KEYS = 1000


def sh(*args, timeout=10, check=True):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, check=check)


def why_skip(exes, tools=("ip",)):
    """Why a NIC test cannot run here (root, /dev/net/tun, tools, built executables), or None."""
    if os.geteuid() != 0:
        return "needs root: creates network namespaces and TAP devices"
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun"
    for tool in tools:
        if not shutil.which(tool):
            return f"{tool} is not installed"
    for exe in exes:
        if not os.access(exe, os.X_OK):
            return f"{exe} not built"
    return None


@contextlib.contextmanager
def netns(prefix):
    """A fresh network namespace named prefix + 8 hex digits, deleted afterwards; skips the test
    when namespaces cannot be created."""
    import pytest

    name = prefix + uuid.uuid4().hex[:8]
    r = sh("ip", "netns", "add", name, check=False)
    if r.returncode != 0:
        pytest.skip(f"cannot create a network namespace: {r.stderr.strip()}")
    try:
        yield name
    finally:
        sh("ip", "netns", "del", name, check=False)


class Child:
    """A child process whose merged stdout/stderr a thread collects line by line."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        self.lines = []
        self.q = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.q.put(line)
        self.q.put(None)

    def wait_line(self, needle, timeout=60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.q.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if needle in line:
                return
        raise AssertionError(f"'{needle}' not seen; output was:\n{''.join(self.lines)}")

    def stop(self, timeout=60.0):
        """SIGTERM, wait (SIGKILL after timeout), read the rest; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        while True:
            try:
                line = self.q.get(timeout=5)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def make_input(path, producer, n, seed, pad=(24, 40)):
    """n records `key<TAB>data`; data starts with `p<producer>-n<i>-` (then pad[0] + i % pad[1]
    x's) so that each record can be found in the logs. Returns the keys in input order."""
    rng = random.Random(seed)
    keys = []
    with open(path, "w") as f:
        for i in range(n):
            k = f"key-{rng.randrange(KEYS)}"
            keys.append(k)
            f.write(f"{k}\tp{producer}-n{i}-{'x' * (pad[0] + i % pad[1])}\n")
    return keys


def start_producer(ns, stream, producer, inp, ack_log, extra=()):
    """ingest-producer inside namespace ns, sending file inp to the appliance."""
    return subprocess.Popen(
        ["ip", "netns", "exec", ns, PRODUCER, "--to", f"{APPLIANCE}:{INGEST_PORT}",
         "--stream", stream, "--producer-id", str(producer), "--ack-log", str(ack_log),
         "--inflight", "16", "--window", "32", "--json", *extra],
        stdin=open(inp), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def producer_report(proc, timeout):
    """The producer's closing JSON report and its stderr."""
    out, err = proc.communicate(timeout=timeout)
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    assert lines, f"no report: {out}\n{err}"
    return json.loads(lines[-1]), err


def read_ack_log(path):
    """Ack-log lines in input order ((batch, index) sorted): (shard, seq) for a record acked ok,
    else its status."""
    entries = []
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) == 5:
                entries.append((int(p[1]), int(p[2]), (int(p[3]), int(p[4]))))
            else:
                entries.append((int(p[1]), int(p[2]), p[3]))
    entries.sort()
    return [e[2] for e in entries]


def frame(producer, batch, stream, recs):
    """A RECORDS frame (docs/protocol.md) of (key, data) records; a key may be b''."""
    body = b"".join(struct.pack("<HBBI", len(k), 0, 0, len(d)) + k + d for k, d in recs)
    return (b"INGS" + struct.pack("<BBBBQQHH", 1, 1, 0, len(stream), producer, batch, len(recs),
                                  0) + stream + body)


# Sends the hex-encoded frames given as arguments to argv[1]:4789 and prints the one ack it
# expects: its length, magic, status and kind bytes, and producer id.
BAD_SENDER = r"""
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect((sys.argv[1], 4789))
for h in sys.argv[2:]:
    s.send(bytes.fromhex(h))
a = s.recv(2048)
print("ack", len(a), a[:4].decode(), a[5], a[7], struct.unpack("<Q", a[8:16])[0])
"""
