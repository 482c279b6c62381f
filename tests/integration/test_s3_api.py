# SPDX-License-Identifier: MIT
"""The delivery root served read-only through S3's REST API: the aws CLI, boto3 and raw HTTP."""
import hashlib
import http.client
import os
import subprocess
from urllib.parse import unquote_plus

import pytest

from kinesis_util import CREDS, Daemon

botocore_exceptions = pytest.importorskip("botocore.exceptions")
ClientError = botocore_exceptions.ClientError

BIG = bytes((i * 7 + i // 251) % 256 for i in range(3 * 1024 * 1024 + 17))

FILES = {
    "logs/2026/11/28/part-0001.json": b'{"id":1}\n{"id":2}\n',
    "logs/2026/11/28/part-0002.json": b'{"id":3}\n',
    "logs/2026/11/29/part-0001.json": b'{"id":4}\n',
    "logs/2026/big.bin": BIG,
    "logs/top level+odd &key.txt": b"odd",
    "logs/caf\u00e9.txt".encode().decode(): b"utf-8 key",
    "archive/x": b"x",
    "archive/empty": b"",
    "archive/" + "/".join(["s" * 200] * 5): b"long key",  # 1004 bytes
}


def populate(data_dir):
    root = data_dir / "s3"
    for key, body in FILES.items():
        p = root / key
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(body)
    # What is never served: delivery's temporary files, links out of the root.
    (root / "logs/2026/11/28/.part-0003.json.tmp").write_bytes(b"half written")
    (data_dir / "secret").write_bytes(b"outside the root")
    os.symlink(data_dir / "secret", root / "logs/escape")
    os.symlink(data_dir, root / "logs/updir")
    (root / "Not_A_Bucket").mkdir()


@pytest.fixture
def daemon(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    populate(data)
    d = Daemon(data).start()
    yield d
    if d.proc.poll() is None:
        assert d.stop() == 0, "".join(d.lines)


def aws(d, *args, check=True):
    env = dict(os.environ, **CREDS)
    r = subprocess.run(["aws", "--endpoint-url", d.endpoint, *args], capture_output=True,
                       env=env, timeout=60)
    if check:
        assert r.returncode == 0, r.stderr.decode()
    return r


def raw(d, method, path, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body, dict(r.getheaders())


def test_aws_cli_ls_and_cp(daemon, tmp_path):
    out = aws(daemon, "s3", "ls").stdout.decode()
    names = [line.split()[-1] for line in out.splitlines()]
    assert names == ["archive", "logs"]

    out = aws(daemon, "s3", "ls", "s3://logs/2026/", "--recursive").stdout.decode()
    keys = [line.split(None, 3)[3] for line in out.splitlines()]
    assert keys == ["2026/11/28/part-0001.json", "2026/11/28/part-0002.json",
                    "2026/11/29/part-0001.json", "2026/big.bin"]

    out = aws(daemon, "s3", "ls", "s3://logs/").stdout.decode()
    assert "PRE 2026/" in out and "top level+odd &key.txt" in out and "caf\u00e9.txt" in out
    assert ".tmp" not in out and "escape" not in out and "updir" not in out

    r = aws(daemon, "s3", "cp", "s3://logs/2026/11/28/part-0001.json", "-")
    assert r.stdout == FILES["logs/2026/11/28/part-0001.json"]
    # A file bigger than the CLI's multipart threshold comes back whole and exact.
    dest = tmp_path / "big.bin"
    aws(daemon, "s3", "cp", "s3://logs/2026/big.bin", str(dest))
    assert dest.read_bytes() == BIG
    aws(daemon, "s3", "cp", "s3://logs/top level+odd &key.txt", str(tmp_path / "odd"))
    assert (tmp_path / "odd").read_bytes() == b"odd"

    # sync mirrors a bucket, and a second sync finds nothing to do.
    mirror = tmp_path / "mirror"
    aws(daemon, "s3", "sync", "s3://logs/2026/11", str(mirror))
    got = sorted(str(p.relative_to(mirror)) for p in mirror.rglob("*") if p.is_file())
    assert got == ["28/part-0001.json", "28/part-0002.json", "29/part-0001.json"]
    assert aws(daemon, "s3", "sync", "s3://logs/2026/11", str(mirror)).stdout == b""

    r = aws(daemon, "s3", "cp", str(dest), "s3://logs/new.bin", check=False)
    assert r.returncode != 0 and b"MethodNotAllowed" in r.stderr
    assert not (tmp_path / "data/s3/logs/new.bin").exists()
    r = aws(daemon, "s3", "ls", "s3://nobucket/", check=False)
    assert r.returncode != 0 and b"NoSuchBucket" in r.stderr


def test_aws_cli_s3api_pagination_range_head(daemon, tmp_path):
    import json
    r = aws(daemon, "s3api", "list-objects-v2", "--bucket", "logs", "--prefix", "2026/",
            "--delimiter", "/", "--output", "json")
    doc = json.loads(r.stdout)
    assert [p["Prefix"] for p in doc["CommonPrefixes"]] == ["2026/11/"]
    assert [o["Key"] for o in doc["Contents"]] == ["2026/big.bin"]

    # --max-items pages through the CLI's paginator with max-keys 2 per request.
    keys, token = [], None
    for _ in range(10):
        args = ["s3api", "list-objects-v2", "--bucket", "logs", "--page-size", "2",
                "--max-items", "2", "--output", "json"]
        if token:
            args += ["--starting-token", token]
        doc = json.loads(aws(daemon, *args).stdout)
        keys += [o["Key"] for o in doc.get("Contents", [])]
        token = doc.get("NextToken")
        if not token:
            break
    assert keys == sorted(k[len("logs/"):] for k in FILES if k.startswith("logs/"))

    out = tmp_path / "part"
    doc = json.loads(aws(daemon, "s3api", "get-object", "--bucket", "logs", "--key",
                         "2026/big.bin", "--range", "bytes=1000-1999", str(out),
                         "--output", "json").stdout)
    assert doc["ContentRange"] == f"bytes 1000-1999/{len(BIG)}"
    assert out.read_bytes() == BIG[1000:2000]

    doc = json.loads(aws(daemon, "s3api", "head-object", "--bucket", "logs", "--key",
                         "2026/big.bin", "--output", "json").stdout)
    assert doc["ContentLength"] == len(BIG)
    assert doc["ETag"] == '"%s"' % hashlib.md5(BIG).hexdigest()


def test_boto3(daemon):
    s3 = daemon.client("s3")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["archive", "logs"]

    seen, kwargs = [], {"Bucket": "logs", "MaxKeys": 1}
    while True:
        page = s3.list_objects_v2(**kwargs)
        assert page["KeyCount"] == len(page.get("Contents", []))
        seen += [o["Key"] for o in page.get("Contents", [])]
        if not page["IsTruncated"]:
            break
        kwargs["ContinuationToken"] = page["NextContinuationToken"]
    want = sorted(k[len("logs/"):] for k in FILES if k.startswith("logs/"))
    assert seen == want  # byte order of the UTF-8 keys

    # ListObjects v1 and the paginators of both.
    v1 = [o["Key"] for p in s3.get_paginator("list_objects").paginate(
        Bucket="logs", PaginationConfig={"PageSize": 2}) for o in p.get("Contents", [])]
    assert v1 == want
    pages = list(s3.get_paginator("list_objects").paginate(Bucket="logs", Delimiter="/",
                                                           PaginationConfig={"PageSize": 1}))
    prefixes = [c["Prefix"] for p in pages for c in p.get("CommonPrefixes", [])]
    assert prefixes == ["2026/"]
    # encoding-type=url: keys come URL-encoded (botocore decodes only what it asked for itself).
    r = s3.list_objects_v2(Bucket="logs", Prefix="top", EncodingType="url")
    assert [o["Key"] for o in r["Contents"]] == ["top%20level%2Bodd%20%26key.txt"]
    assert unquote_plus(r["Contents"][0]["Key"]) == "top level+odd &key.txt"

    body = FILES["logs/2026/11/28/part-0002.json"]
    o = s3.get_object(Bucket="logs", Key="2026/11/28/part-0002.json")
    assert o["Body"].read() == body
    assert o["ETag"] == '"%s"' % hashlib.md5(body).hexdigest()
    assert o["ContentType"] == "application/json"
    listed = s3.list_objects_v2(Bucket="logs", Prefix="2026/11/28/part-0002")["Contents"][0]
    assert listed["ETag"] == o["ETag"] and listed["Size"] == len(body)
    assert listed["LastModified"] == o["LastModified"]

    o = s3.get_object(Bucket="logs", Key="2026/big.bin", Range="bytes=-5")
    assert o["Body"].read() == BIG[-5:] and o["ContentRange"].endswith(f"/{len(BIG)}")
    h = s3.head_object(Bucket="logs", Key="caf\u00e9.txt")
    assert h["ContentLength"] == len(b"utf-8 key")
    s3.head_bucket(Bucket="logs")

    def code(fn, **kw):
        with pytest.raises(ClientError) as e:
            fn(**kw)
        return e.value.response["Error"]["Code"], e.value.response["ResponseMetadata"][
            "HTTPStatusCode"]

    assert code(s3.get_object, Bucket="logs", Key="nope") == ("NoSuchKey", 404)
    assert code(s3.get_object, Bucket="nobucket", Key="x") == ("NoSuchBucket", 404)
    assert code(s3.list_objects_v2, Bucket="nobucket") == ("NoSuchBucket", 404)
    assert code(s3.get_object, Bucket="logs", Key="escape") == ("NoSuchKey", 404)
    assert code(s3.get_object, Bucket="logs", Key="updir/secret") == ("NoSuchKey", 404)
    assert code(s3.get_object, Bucket="logs",
                Key="2026/11/28/.part-0003.json.tmp") == ("NoSuchKey", 404)
    assert code(s3.get_object, Bucket="logs", Key="2026/big.bin",
                Range=f"bytes={len(BIG)}-") == ("InvalidRange", 416)
    assert code(s3.head_object, Bucket="logs", Key="nope") == ("404", 404)
    assert code(s3.put_object, Bucket="logs", Key="k", Body=b"x") == ("MethodNotAllowed", 405)
    assert code(s3.delete_object, Bucket="logs", Key="archive") == ("MethodNotAllowed", 405)
    assert code(s3.create_bucket, Bucket="newbucket") == ("MethodNotAllowed", 405)


def test_raw_http_traversal_and_conditionals(daemon):
    for path in ["/logs/..%2f..%2fsecret", "/logs/../secret", "/logs/%2e%2e/secret",
                 "/logs/2026/%2e/big.bin"]:
        st, body, _ = raw(daemon, "GET", path)
        assert st == 400 and b"<Code>InvalidArgument</Code>" in body, (path, body)
        assert b"outside the root" not in body
    st, body, _ = raw(daemon, "GET", "/logs/a%00b")
    assert st == 400 and b"<Code>InvalidArgument</Code>" in body
    st, body, _ = raw(daemon, "GET", "/Not_A_Bucket/x")
    assert st == 400 and b"<Code>InvalidBucketName</Code>" in body
    st, body, h = raw(daemon, "GET", "/logs/nope")
    assert st == 404 and body.startswith(b"<?xml")
    assert b"<Resource>/logs/nope</Resource>" in body
    assert b"<RequestId>%s</RequestId>" % h["x-amz-request-id"].encode() in body

    st, body, h = raw(daemon, "GET", "/logs/2026/big.bin", {"Range": "bytes=10-19"})
    assert st == 206 and body == BIG[10:20] and h["Content-Range"] == f"bytes 10-19/{len(BIG)}"
    etag, lm = h["ETag"], h["Last-Modified"]
    assert lm.endswith(" GMT")
    st, body, _ = raw(daemon, "GET", "/logs/2026/big.bin", {"If-None-Match": etag})
    assert st == 304 and body == b""
    st, _, _ = raw(daemon, "GET", "/logs/2026/big.bin", {"If-Modified-Since": lm})
    assert st == 304
    st, body, _ = raw(daemon, "GET", "/logs/2026/big.bin", {"If-Match": '"0000"'})
    assert st == 412 and b"PreconditionFailed" in body
    st, body, h = raw(daemon, "HEAD", "/logs/2026/big.bin")
    assert st == 200 and body == b"" and int(h["Content-Length"]) == len(BIG)
    st, body, h = raw(daemon, "GET", "/archive/empty")
    assert st == 200 and body == b"" and h["ETag"] == '"%s"' % hashlib.md5(b"").hexdigest()
    st, body, _ = raw(daemon, "GET", "/archive/empty", {"Range": "bytes=0-"})
    assert st == 416 and b"<Code>InvalidRange</Code>" in body
    # A 1004-byte key sent fully percent-encoded (3 KB of path) names that key, not a prefix.
    long_key = "/".join(["s" * 200] * 5)
    st, body, _ = raw(daemon, "GET", "/archive/" + "".join("%%%02X" % ord(ch) if ch != "/"
                                                           else "/" for ch in long_key))
    assert st == 200 and body == b"long key"
    st, body, _ = raw(daemon, "PUT", "/logs/x")
    assert st == 405 and b"read-only" in body
    # The JSON services on "/" are untouched.
    st, body, _ = raw(daemon, "POST", "/", {"X-Amz-Target": "Kinesis_20131202.ListStreams",
                                            "Content-Type": "application/x-amz-json-1.1"})
    assert st == 400 or st == 200


def test_signed_s3_requests(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    populate(data)
    creds = tmp_path / "credentials"
    creds.write_text("[default]\naws_access_key_id = AKIDS3\naws_secret_access_key = s3cr3t\n")
    d = Daemon(data, "--credentials", str(creds)).start()
    try:
        import boto3
        from botocore.config import Config

        def s3(secret):
            # s3v4: botocore presigns with the older query signature otherwise, which this
            # listener does not verify.
            return boto3.client("s3", endpoint_url=d.endpoint, region_name="us-east-1",
                                aws_access_key_id="AKIDS3", aws_secret_access_key=secret,
                                config=Config(retries={"max_attempts": 1},
                                              signature_version="s3v4"))
        ok = s3("s3cr3t")
        assert ok.get_object(Bucket="logs",
                             Key="2026/11/29/part-0001.json")["Body"].read() == b'{"id":4}\n'
        assert ok.list_objects_v2(Bucket="logs", Prefix="caf\u00e9")["KeyCount"] == 1
        # A key with characters S3 signs escaped once.
        assert ok.get_object(Bucket="logs", Key="top level+odd &key.txt")["Body"].read() == b"odd"
        with pytest.raises(ClientError) as e:
            s3("wrong").list_objects_v2(Bucket="logs")
        assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        st, body, _ = raw(d, "GET", "/logs/archive")
        assert st == 403 and b"<Code>AccessDenied</Code>" in body
        # A presigned link works without headers; a tampered one does not.
        url = ok.generate_presigned_url("get_object", Params={"Bucket": "logs",
                                                              "Key": "2026/big.bin"})
        path = url[len(d.endpoint):]
        st, body, _ = raw(d, "GET", path, {"Range": "bytes=0-3"})
        assert st == 206 and body == BIG[:4], body
        st, body, _ = raw(d, "GET", path.replace("big.bin", "big.bim"))
        assert st == 403 and b"SignatureDoesNotMatch" in body
    finally:
        assert d.stop() == 0
