# SPDX-License-Identifier: MIT
"""The NIC path on real DPDK: a net_tap port inside a network namespace the test creates.

tests/integration/dp_port_smoke brings up the EAL (--no-huge when no huge pages are free), creates
the TAP inside the namespace, gives the kernel side 198.18.0.2/24 and runs one worker that
answers ARP and ping for 198.18.0.1 and echoes UDP datagrams sent to port 4789 through the
ingest callback. All traffic stays inside the namespace. Needs root (TAP devices, namespaces).
"""
import os
import subprocess
import time
import uuid

import pytest

import nic_util
from nic_util import APPLIANCE, INGEST_PORT, KERNEL_SIDE, Child, sh

SMOKE = os.environ.get("DP_PORT_SMOKE", "build/tests/dp_port_smoke")

_why = nic_util.why_skip((SMOKE,), tools=("ip", "ping"))
pytestmark = pytest.mark.skipif(_why is not None, reason=str(_why))


def free_hugepages():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("HugePages_Free:"):
                return int(line.split()[1])
    return 0


@pytest.fixture
def netns():
    with nic_util.netns("dpt") as name:
        yield name


class Smoke(Child):
    """dp_port_smoke; stop() returns (exit code, {stat: value}, whole output)."""

    def __init__(self, *args):
        super().__init__([SMOKE, *args])

    def wait_line(self, needle, timeout=30.0):
        super().wait_line(needle, timeout)

    def stop(self, timeout=20.0):
        rc = super().stop(timeout)
        stats = {}
        for line in self.lines:
            parts = line.split()
            if len(parts) == 3 and parts[0] == "stat":
                stats[parts[1]] = int(parts[2])
        return rc, stats, "".join(self.lines)


UDP_CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
got = 0
for i in range(3):
    msg = b"datagram %d" % i
    s.sendto(msg, (sys.argv[1], int(sys.argv[2])))
    data, addr = s.recvfrom(2048)
    assert data == msg and addr == (sys.argv[1], int(sys.argv[2])), (data, addr)
    got += 1
# One to a port that is not the ingest port: dropped and counted, never answered.
s.sendto(b"elsewhere", (sys.argv[1], int(sys.argv[2]) + 1))
print("echoed", got)
"""


def test_tap_in_netns_answers_arp_ping_and_udp(netns):
    smoke = Smoke("--netns", netns, "--kernel-ip", KERNEL_SIDE, "--udp-port", str(INGEST_PORT),
                  "--seconds", "60")
    try:
        smoke.wait_line("ready")
        out = "".join(smoke.lines)
        if free_hugepages() == 0:
            assert "running the EAL with --no-huge" in out, out
        assert "net_tap" in out and "kernel interface ingest0" in out

        # The TAP lives in the namespace, addressed and up, and not in ours.
        r = sh("ip", "netns", "exec", netns, "ip", "-o", "-4", "addr", "show", "dev", "ingest0")
        assert KERNEL_SIDE in r.stdout
        assert sh("ip", "link", "show", "ingest0", check=False).returncode != 0

        r = sh("ip", "netns", "exec", netns, "ping", "-c", "3", "-W", "1", APPLIANCE,
               timeout=15, check=False)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "3 received" in r.stdout

        r = sh("ip", "netns", "exec", netns, "/usr/bin/python3", "-c", UDP_CLIENT, APPLIANCE,
               str(INGEST_PORT), timeout=20, check=False)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "echoed 3" in r.stdout
        time.sleep(0.2)  # the last datagram reaches the worker

        rc, stats, out = smoke.stop()
    finally:
        smoke.kill()
    assert rc == 0, out
    assert "stopped" in out
    assert stats["callback_seen"] == 3, out
    assert stats["udp_pkts"] == 3, out
    assert stats["callback_echoed"] == 3, out
    assert stats["udp_bytes"] == 3 * len("datagram 0"), out
    assert stats["icmp_replies"] >= 3, out
    assert stats["arp_replies"] >= 1, out
    assert stats["drop_udp_port"] == 1, out
    for reason in ("ip_checksum", "udp_checksum", "udp_length", "ip_total_length", "tx_full"):
        assert stats["drop_" + reason] == 0, out
    # The TAP went away with the process.
    r = sh("ip", "netns", "exec", netns, "ip", "link", "show", "ingest0", check=False)
    assert r.returncode != 0


VLAN_CLIENT = r"""
import socket, struct, sys, time
IFACE, VID, US, PEER, PORT = "ingest0", 100, "198.18.0.1", "198.18.0.9", int(sys.argv[1])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
s.setsockopt(263, 8, 1)                        # SOL_PACKET, PACKET_AUXDATA: stripped tags
s.bind((IFACE, 0))
src = bytes.fromhex(open(f"/sys/class/net/{IFACE}/address").read().strip().replace(":", ""))
tag = struct.pack("!HH", 0x8100, VID)

def cksum(b):
    t = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while t >> 16:
        t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff

def frames(deadline):
    while time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data, anc, _, addr = s.recvmsg(4096, 1024)
        except socket.timeout:
            return
        if addr[2] == 4:                       # PACKET_OUTGOING: our own frame
            continue
        vid = None
        if data[12:14] == b"\x81\x00":
            vid, data = struct.unpack("!H", data[14:16])[0] & 0xfff, data[:12] + data[16:]
        for level, kind, val in anc:
            status, _, _, _, _, tci = struct.unpack("IIIHHH", val[:18])
            if level == 263 and kind == 8 and status & 0x10:
                vid = tci & 0xfff
        yield vid, data

arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + src + socket.inet_aton(PEER) + bytes(6) \
    + socket.inet_aton(US)
s.send(b"\xff" * 6 + src + tag + b"\x08\x06" + arp)
peer_mac = None
for vid, f in frames(time.monotonic() + 3):
    if f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x02":
        assert vid == VID, vid
        assert f[28:32] == socket.inet_aton(US) and f[38:42] == socket.inet_aton(PEER)
        peer_mac = f[22:28]
        break
assert peer_mac, "no tagged ARP reply"

payload = b"tagged datagram"
udp = struct.pack("!HHHH", 40000, PORT, 8 + len(payload), 0) + payload   # no UDP checksum
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0x4000, 64, 17, 0,
                 socket.inet_aton(PEER), socket.inet_aton(US))
ip = ip[:10] + struct.pack("!H", cksum(ip)) + ip[12:]
s.send(peer_mac + src + tag + b"\x08\x00" + ip + udp)
for vid, f in frames(time.monotonic() + 3):
    if f[12:14] == b"\x08\x00" and f[23] == 17 and f[26:30] == socket.inet_aton(US):
        assert vid == VID, vid
        assert f[34:36] == struct.pack("!H", PORT) and f[42:42 + len(payload)] == payload
        print("tagged replies ok")
        break
"""


def test_vlan_tagged_frames_are_answered_with_their_tag(netns):
    """Frames tagged with VLAN 100, written raw on the kernel side of the TAP (no 802.1Q module
    needed): the ARP reply and the UDP echo, both built in place, come back with the tag."""
    smoke = Smoke("--netns", netns, "--udp-port", str(INGEST_PORT), "--seconds", "60")
    try:
        smoke.wait_line("ready")
        sh("ip", "netns", "exec", netns, "ip", "link", "set", "ingest0", "up")
        r = sh("ip", "netns", "exec", netns, "/usr/bin/python3", "-c", VLAN_CLIENT,
               str(INGEST_PORT), timeout=20, check=False)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "tagged replies ok" in r.stdout
        time.sleep(0.2)
        rc, stats, out = smoke.stop()
    finally:
        smoke.kill()
    assert rc == 0, out
    assert stats["arp_replies"] == 1, out
    assert stats["callback_echoed"] == 1, out


def test_af_packet_on_a_veth_in_netns(netns):
    """Any vdev string: net_af_packet bound to a veth whose peer carries the kernel side. The
    namespace applies to it as to the TAP (its socket binds to veth0 inside the namespace)."""
    for cmd in (["ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1"],
                ["ip", "link", "set", "veth0", "up"],
                ["ip", "addr", "add", KERNEL_SIDE, "dev", "veth1"],
                ["ip", "link", "set", "veth1", "up"]):
        sh("ip", "netns", "exec", netns, *cmd)
    smoke = Smoke("--netns", netns, "--nic", "net_af_packet0,iface=veth0", "--seconds", "60")
    try:
        smoke.wait_line("ready")
        assert "(net_af_packet)" in "".join(smoke.lines)
        r = sh("ip", "netns", "exec", netns, "ping", "-c", "2", "-W", "1", APPLIANCE,
               timeout=15, check=False)
        assert r.returncode == 0, r.stdout + r.stderr
        r = sh("ip", "netns", "exec", netns, "/usr/bin/python3", "-c",
               "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
               f"for i in range(2): s.sendto(b'x', ('{APPLIANCE}', {INGEST_PORT}))")
        time.sleep(0.3)
        rc, stats, out = smoke.stop()
    finally:
        smoke.kill()
    assert rc == 0, out
    assert stats["icmp_replies"] >= 2 and stats["arp_replies"] >= 1, out
    # A veth may hand the datagram over with its UDP checksum left to an offload that never
    # happens (the kernel marks it CHECKSUM_PARTIAL): such a datagram is dropped as a bad
    # checksum. Either way each one is accounted for exactly once.
    assert stats["udp_pkts"] + stats["drop_udp_checksum"] == 2, out


def test_missing_netns_is_a_clear_error():
    name = "dpt-missing-" + uuid.uuid4().hex[:6]
    r = subprocess.run([SMOKE, "--netns", name, "--seconds", "5"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1
    assert f"network namespace /run/netns/{name}: No such file or directory" in r.stdout
    assert "dp_port_start failed: No such file or directory" in r.stdout
