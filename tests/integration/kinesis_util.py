# SPDX-License-Identifier: MIT
"""Start the real ingestd for API tests and reach it with boto3, the aws CLI and raw HTTP."""
import http.client
import json
import os
import re
import signal
import subprocess
import time

INGESTD = os.environ.get("INGESTD", "build/control/ingestd")
# API tests run the daemon without its dataplane unless they ask for NICs: no TAP, no EAL,
# nothing in the host's network namespace. The shard logs are still owned by an ingest engine
# (driven by the control thread), the same path PutRecord(s) take with a dataplane.
NO_NIC = ["--nic", "none"]
CREDS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
         "AWS_DEFAULT_REGION": "us-east-1"}


class Daemon:
    """One ingestd on a data directory, its AWS API on an ephemeral loopback port."""

    def __init__(self, data_dir, *args, dataplane=False):
        """dataplane: run ingestd's NIC side as its arguments say (else --nic none)."""
        self.data_dir = str(data_dir)
        self.args = list(args)
        self.dataplane = dataplane
        self.proc = None
        self.port = None
        self.lines = []

    def start(self):
        cmd = [INGESTD, "--data-dir", self.data_dir, "--api-listen", "127.0.0.1:0",
               "--segment-size", "2M", "--buffer-size", "1028K",
               *([] if self.dataplane or "--nic" in self.args else NO_NIC), *self.args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            m = re.search(r"AWS API on 127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                return self
        raise AssertionError("ingestd did not start:\n" + "".join(self.lines))

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        out, _ = self.proc.communicate(timeout=30)
        self.lines.append(out)
        return self.proc.returncode

    def kill9(self):
        self.proc.kill()
        self.proc.wait(timeout=10)

    def client(self, service="kinesis"):
        import boto3
        from botocore.config import Config
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test",
                            config=Config(retries={"max_attempts": 1}))

    def cli(self, *args, check=True):
        """Run Debian's aws CLI as a user types it; returns parsed JSON output (or None)."""
        env = dict(os.environ, **CREDS)
        r = subprocess.run(["aws", *args, "--endpoint-url", self.endpoint, "--output", "json"],
                           capture_output=True, text=True, env=env, timeout=60)
        if check:
            assert r.returncode == 0, r.stderr
            return json.loads(r.stdout) if r.stdout.strip() else None
        return r

    def raw(self, target, body, headers=None, method="POST"):
        """Send one raw request; returns (status, parsed JSON body, headers)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = {"Content-Type": "application/x-amz-json-1.1"}
        if target is not None:
            h["X-Amz-Target"] = target
        h.update(headers or {})
        c.request(method, "/", body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        try:
            doc = json.loads(data) if data else None
        except ValueError:
            doc = data
        return r.status, doc, dict(r.getheaders())


def aws_err(excinfo):
    """(code, message) of a botocore ClientError caught by pytest.raises."""
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def read_all(kc, stream, shard_id, start="TRIM_HORIZON"):
    """Every record of one shard from start, following NextShardIterator to the end."""
    it = kc.get_shard_iterator(StreamName=stream, ShardId=shard_id,
                               ShardIteratorType=start)["ShardIterator"]
    out = []
    for _ in range(10000):
        r = kc.get_records(ShardIterator=it, Limit=10000)
        out.extend(r["Records"])
        it = r.get("NextShardIterator")
        if it is None or (not r["Records"] and r["MillisBehindLatest"] == 0):
            return out, r
    raise AssertionError("shard never ended")
