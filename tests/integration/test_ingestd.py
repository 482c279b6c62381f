# SPDX-License-Identifier: MIT
"""Integration tests: the real ingestd binary, started and stopped as a user would."""
import os
import signal
import subprocess
import time

import pytest

INGESTD = os.environ.get("INGESTD", "build/control/ingestd")
SEG_HDR = 64
BATCH_HDR = 48


def start(data_dir, *args):
    return subprocess.Popen([INGESTD, "--data-dir", str(data_dir), "--api-listen", "127.0.0.1:0",
                             "--nic", "none", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_line(proc, needle, timeout=15.0):
    """Read the daemon's output until a line contains needle; return all lines read."""
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"'{needle}' not seen; output was:\n{''.join(lines)}")


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=15)
    return proc.returncode, out


def test_help_names_every_option():
    r = subprocess.run([INGESTD, "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0
    for opt in ("--data-dir", "--durability", "--segment-size", "--retention-hours", "--nic",
                "--workers", "--ip", "--tap-ip", "--ingest-port", "--eal", "--netns"):
        assert opt in r.stdout


@pytest.mark.parametrize("args,msg", [
    (["--durability", "sometimes"], "expected durable, written or none"),
    (["--retention-hours", "23"], "expected 24..8760"),
    (["--segment-size", "12Q"], "expected a size"),
    (["--bogus"], "unknown or incomplete option"),
    (["--nic", "none", "--nic", "net_tap0"], "--nic none cannot be combined"),
    (["--ip", "198.18.0.1"], "expected ADDR/PREFIX"),
    (["--buffer-size", "64K"], "buffer_bytes must be at least"),
])
def test_bad_options_exit_2_with_a_reason(tmp_path, args, msg):
    r = subprocess.run([INGESTD, "--data-dir", str(tmp_path), "--nic", "none", *args],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2
    assert msg in r.stderr


def test_starts_recovers_and_stops_cleanly(tmp_path):
    shard = tmp_path / "streams" / "orders" / "shardId-000000000003"
    shard.mkdir(parents=True)
    p = start(tmp_path)
    lines = wait_line(p, "running with 1 shard log(s)")
    assert any("recovered 1 shard log(s)" in l for l in lines)
    rc, out = stop(p)
    assert rc == 0, out
    assert "stopped cleanly" in out
    files = sorted(os.listdir(shard))
    assert files == ["00000000000000000001.log", "durable.mark"]
    segs = files[:1]
    # Preallocated to the default segment size.
    assert os.path.getsize(shard / segs[0]) == 64 << 20


def test_torn_tail_is_cut_and_reported(tmp_path):
    shard = tmp_path / "streams" / "s" / "shardId-000000000000"
    shard.mkdir(parents=True)
    p = start(tmp_path, "--segment-size", "2M", "--buffer-size", "1028K")
    wait_line(p, "running with")
    assert stop(p)[0] == 0
    seg = shard / "00000000000000000001.log"
    garbage_at = SEG_HDR + BATCH_HDR  # right after the clean-close marker
    with open(seg, "r+b") as f:
        f.seek(garbage_at)
        f.write(os.urandom(1000))
    p = start(tmp_path, "--segment-size", "2M", "--buffer-size", "1028K")
    lines = wait_line(p, "running with")
    text = "".join(lines)
    assert "torn tail cut" in text and "1000 bytes" in text, text
    assert stop(p)[0] == 0
    with open(seg, "rb") as f:
        f.seek(garbage_at)
        region = f.read(1000)
    # What follows the old marker now is at most two marker batches (a sequence jump after the
    # unclean stop and the new clean close), then zeros: none of the garbage survived.
    assert region[2 * BATCH_HDR:] == bytes(1000 - 2 * BATCH_HDR)


def test_unreadable_data_dir_is_an_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    r = subprocess.run([INGESTD, "--data-dir", str(blocker), "--nic", "none"], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 1
    assert "cannot create" in r.stderr or "Not a directory" in r.stderr
