# SPDX-License-Identifier: MIT
"""SigV4 on the AWS listener: verified with --credentials, region taken from the scope."""
import json
import os
import subprocess

import pytest

from kinesis_util import INGESTD, Daemon

botocore_exceptions = pytest.importorskip("botocore.exceptions")
ClientError = botocore_exceptions.ClientError


def client(d, key, secret, region="us-east-1"):
    import boto3
    from botocore.config import Config
    return boto3.client("kinesis", endpoint_url=d.endpoint, region_name=region,
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 1}))


@pytest.fixture
def signed(tmp_path):
    creds = tmp_path / "credentials"
    creds.write_text("[default]\naws_access_key_id = AKIDINGEST\n"
                     "aws_secret_access_key = s3cr3t/Key+Value\n\n"
                     "[other]\naws_access_key_id=AKIDOTHER\naws_secret_access_key=second\n")
    d = Daemon(tmp_path / "data", "--credentials", str(creds)).start()
    yield d
    assert d.stop() == 0


def test_signed_requests_pass_and_bad_ones_get_aws_errors(signed):
    ok = client(signed, "AKIDINGEST", "s3cr3t/Key+Value")
    ok.create_stream(StreamName="s", ShardCount=1)
    assert client(signed, "AKIDOTHER", "second").list_streams()["StreamNames"] == ["s"]
    with pytest.raises(ClientError) as e:
        client(signed, "AKIDINGEST", "wrong").list_streams()
    assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
    with pytest.raises(ClientError) as e:
        client(signed, "AKIDNOBODY", "x").list_streams()
    assert e.value.response["Error"]["Code"] == "UnrecognizedClientException"
    st, doc, _ = signed.raw("Kinesis_20131202.ListStreams", b"{}")
    assert st == 403 and doc["__type"] == "MissingAuthenticationTokenException"
    # The aws CLI signs as users run it.
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDINGEST",
               AWS_SECRET_ACCESS_KEY="s3cr3t/Key+Value", AWS_DEFAULT_REGION="eu-west-1")
    r = subprocess.run(["aws", "kinesis", "describe-stream-summary", "--stream-name", "s",
                        "--endpoint-url", signed.endpoint], capture_output=True, text=True,
                       env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    # ARNs are in the region the request was signed for.
    assert json.loads(r.stdout)["StreamDescriptionSummary"]["StreamARN"].startswith(
        "arn:aws:kinesis:us-east-1:")  # the stream was created in us-east-1
    env["AWS_SECRET_ACCESS_KEY"] = "bad"
    r = subprocess.run(["aws", "kinesis", "list-streams", "--endpoint-url", signed.endpoint],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode != 0 and "InvalidSignatureException" in r.stderr


def test_admin_socket_needs_no_signature(signed):
    import socket as sk
    s = sk.socket(sk.AF_UNIX, sk.SOCK_STREAM)
    s.connect(signed.data_dir + "/ingestd.sock")
    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
              b"X-Amz-Target: Kinesis_20131202.ListStreams\r\nContent-Length: 2\r\n\r\n{}")
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    assert data.startswith(b"HTTP/1.1 200"), data


def test_region_of_the_scope_names_new_streams(tmp_path):
    d = Daemon(tmp_path / "data").start()
    try:
        client(d, "any", "any", region="eu-central-1").create_stream(StreamName="s",
                                                                   ShardCount=1)
        arn = client(d, "x", "y").describe_stream(StreamName="s")["StreamDescription"]["StreamARN"]
        assert arn == "arn:aws:kinesis:eu-central-1:000000000000:stream/s"
    finally:
        assert d.stop() == 0


def test_public_listener_needs_credentials(tmp_path):
    r = subprocess.run([INGESTD, "--data-dir", str(tmp_path), "--api-listen", "0.0.0.0:0",
                        "--nic", "none"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1
    assert "not a loopback address" in r.stderr and "--credentials" in r.stderr


def test_bad_credentials_file_is_refused(tmp_path):
    bad = tmp_path / "creds"
    bad.write_text("[default]\naws_access_key_id = ONLYKEY\n")
    r = subprocess.run([INGESTD, "--data-dir", str(tmp_path / "d"), "--nic", "none", "--api-listen", "127.0.0.1:0",
                        "--credentials", str(bad)], capture_output=True, text=True, timeout=20)
    assert r.returncode == 1 and "--credentials" in r.stderr
