# SPDX-License-Identifier: MIT
"""Glue partitions and table versions of the real daemon, driven by boto3 and the aws CLI."""
import json
import os
import subprocess

import pytest

from kinesis_util import Daemon

botocore_exceptions = pytest.importorskip("botocore.exceptions")
ClientError = botocore_exceptions.ClientError

KEYS = [{"Name": "year", "Type": "int"}, {"Name": "dt", "Type": "date"},
        {"Name": "region", "Type": "string"}]
SD = {"Columns": [{"Name": "id", "Type": "bigint"}], "Location": "s3://b/events/"}


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path / "data").start()
    yield d
    if d.proc.poll() is None:
        assert d.stop() == 0, "".join(d.lines)


@pytest.fixture
def glue(daemon):
    g = daemon.client("glue")
    g.create_database(DatabaseInput={"Name": "d"})
    g.create_table(DatabaseName="d", TableInput={"Name": "t", "PartitionKeys": KEYS,
                                                 "StorageDescriptor": SD})
    return g


def err(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def part(year, dt, region):
    return {"Values": [str(year), dt, region],
            "StorageDescriptor": dict(SD, Location=f"s3://b/events/{year}/{dt}/{region}/")}


def names(parts):
    return [tuple(p["Values"]) for p in parts]


def test_partition_lifecycle_with_boto3(glue):
    glue.create_partition(DatabaseName="d", TableName="t", PartitionInput=part(2024, "2024-01-02",
                                                                               "eu"))
    p = glue.get_partition(DatabaseName="D", TableName="T",
                           PartitionValues=["2024", "2024-01-02", "eu"])["Partition"]
    assert p["Values"] == ["2024", "2024-01-02", "eu"]
    assert p["DatabaseName"] == "d" and p["TableName"] == "t" and p["CatalogId"] == "000000000000"
    assert p["StorageDescriptor"]["Location"] == "s3://b/events/2024/2024-01-02/eu/"
    assert p["CreationTime"].year >= 2024
    new = part(2024, "2024-01-02", "us")
    new["Parameters"] = {"k": "v"}
    glue.update_partition(DatabaseName="d", TableName="t",
                          PartitionValueList=["2024", "2024-01-02", "eu"], PartitionInput=new)
    p = glue.get_partition(DatabaseName="d", TableName="t",
                           PartitionValues=["2024", "2024-01-02", "us"])["Partition"]
    assert p["Parameters"] == {"k": "v"}
    with pytest.raises(ClientError) as e:
        glue.get_partition(DatabaseName="d", TableName="t",
                           PartitionValues=["2024", "2024-01-02", "eu"])
    assert err(e) == ("EntityNotFoundException", "Cannot find partition.")
    glue.delete_partition(DatabaseName="d", TableName="t",
                          PartitionValues=["2024", "2024-01-02", "us"])
    assert glue.get_partitions(DatabaseName="d", TableName="t")["Partitions"] == []


def test_partition_errors_as_glue_names_them(glue):
    glue.create_partition(DatabaseName="d", TableName="t", PartitionInput=part(1, "2024-01-01",
                                                                               "eu"))
    with pytest.raises(ClientError) as e:
        glue.create_partition(DatabaseName="d", TableName="t",
                              PartitionInput=part(1, "2024-01-01", "eu"))
    assert err(e) == ("AlreadyExistsException", "Partition already exists.")
    with pytest.raises(ClientError) as e:
        glue.create_partition(DatabaseName="d", TableName="t", PartitionInput={"Values": ["1"]})
    assert err(e) == ("InvalidInputException", "The number of partition values (1) does not "
                      "match the number of partition keys (3) of table t.")
    with pytest.raises(ClientError) as e:
        glue.create_partition(DatabaseName="d", TableName="nope",
                              PartitionInput={"Values": ["1"]})
    assert err(e) == ("EntityNotFoundException", "Table nope not found.")
    with pytest.raises(ClientError) as e:
        glue.get_partitions(DatabaseName="nodb", TableName="t")
    assert err(e) == ("EntityNotFoundException", "Database nodb not found.")
    with pytest.raises(ClientError) as e:
        glue.delete_partition(DatabaseName="d", TableName="t",
                              PartitionValues=["2", "2024-01-01", "eu"])
    assert err(e) == ("EntityNotFoundException", "Cannot find partition.")
    with pytest.raises(ClientError) as e:
        glue.update_partition(DatabaseName="d", TableName="t",
                              PartitionValueList=["1", "2024-01-01", "eu"],
                              PartitionInput={"Values": ["1", "x"]})
    assert err(e) == ("InvalidInputException", "The number of partition values (2) does not "
                      "match the number of partition keys (3) of table t.")
    glue.create_table(DatabaseName="d", TableInput={"Name": "flat"})
    with pytest.raises(ClientError) as e:
        glue.create_partition(DatabaseName="d", TableName="flat", PartitionInput={"Values": []})
    assert err(e)[0] == "InvalidInputException"


def test_get_partitions_expression_typed_paged_and_segmented(glue):
    inputs = [part(2000 + i % 8, f"2024-01-{1 + i % 28:02d}", "eu" if i % 2 else "us")
              for i in range(40)]
    errors = []
    for lo in range(0, 40, 20):
        r = glue.batch_create_partition(DatabaseName="d", TableName="t",
                                        PartitionInputList=inputs[lo:lo + 20])
        errors += r["Errors"]
    # (year, dt, region) repeats after lcm(8, 28, 2) = 56 > 40: all distinct.
    assert errors == []
    def get(expr, **kw):
        pages = glue.get_paginator("get_partitions").paginate(
            DatabaseName="d", TableName="t", Expression=expr, **kw)
        return [p for page in pages for p in page["Partitions"]]
    # year is an int key: 2000 + 9 > 2009 numerically, not as text.
    assert len(get("year > 2005")) == 10
    assert len(get("year >= 2003 AND year <= 2004 AND region = 'eu'")) == 5
    assert len(get("year BETWEEN 2001 AND 2002 OR region LIKE 'e%'")) == 25
    assert len(get("year IN (2001, 2003) AND NOT region = 'us'")) == 10
    assert len(get("dt < '2024-01-05'")) == 8
    assert len(get("region <> 'eu' AND dt >= '2024-01-27'")) == 1
    assert len(get("")) == 40  # blank is no filter
    # Pages of 7 return each partition once.
    pages = list(glue.get_paginator("get_partitions").paginate(
        DatabaseName="d", TableName="t", PaginationConfig={"PageSize": 7}))
    assert len(pages) == 6
    assert len({tuple(p["Values"]) for pg in pages for p in pg["Partitions"]}) == 40
    # Segments are disjoint and cover all.
    seen = []
    for s in range(3):
        seen += names(glue.get_partitions(DatabaseName="d", TableName="t", Segment={
            "SegmentNumber": s, "TotalSegments": 3})["Partitions"])
    assert len(seen) == 40 and len(set(seen)) == 40
    got = glue.get_partitions(DatabaseName="d", TableName="t", ExcludeColumnSchema=True,
                              MaxResults=1)["Partitions"]
    assert "Columns" not in got[0]["StorageDescriptor"]


def test_expression_errors_name_position_and_column(glue):
    with pytest.raises(ClientError) as e:
        glue.get_partitions(DatabaseName="d", TableName="t", Expression="month = '1'")
    assert err(e) == ("InvalidInputException", "Invalid partition expression at position 1: "
                      "unknown column 'month'; the partition keys are year, dt, region")
    with pytest.raises(ClientError) as e:
        glue.get_partitions(DatabaseName="d", TableName="t", Expression="year = 'x'")
    assert err(e) == ("InvalidInputException", "Invalid partition expression at position 8: "
                      "'x' is not a integer, the type of partition key 'year'")
    with pytest.raises(ClientError) as e:
        glue.get_partitions(DatabaseName="d", TableName="t", Expression="(year = 1")
    assert err(e)[0] == "InvalidInputException" and "position 10" in err(e)[1]
    with pytest.raises(ClientError) as e:
        glue.get_partitions(DatabaseName="d", TableName="t", Expression="(" * 40 + "year=1" +
                            ")" * 40)
    assert "nested deeper than 32" in err(e)[1]
    with pytest.raises(ClientError) as e:
        glue.get_partitions(DatabaseName="d", TableName="t",
                            Segment={"SegmentNumber": 3, "TotalSegments": 3})
    assert err(e)[0] == "InvalidInputException"
    with pytest.raises(ClientError) as e:
        glue.get_partitions(DatabaseName="d", TableName="t", NextToken="abc")
    assert err(e) == ("InvalidInputException", "Invalid NextToken.")


def test_batch_get_and_delete_report_per_entry(glue):
    r = glue.batch_create_partition(DatabaseName="d", TableName="t", PartitionInputList=[
        part(1, "2024-01-01", "eu"), part(2, "2024-01-01", "eu"), part(1, "2024-01-01", "eu"),
        {"Values": ["only-one"]}])
    assert [(x["PartitionValues"], x["ErrorDetail"]["ErrorCode"]) for x in r["Errors"]] == [
        (["1", "2024-01-01", "eu"], "AlreadyExistsException"),
        (["only-one"], "InvalidInputException")]
    r = glue.batch_get_partition(DatabaseName="d", TableName="t", PartitionsToGet=[
        {"Values": ["1", "2024-01-01", "eu"]}, {"Values": ["9", "2024-01-01", "eu"]},
        {"Values": ["2"]}])
    assert names(r["Partitions"]) == [("1", "2024-01-01", "eu")]
    assert r["UnprocessedKeys"] == [{"Values": ["2"]}]
    r = glue.batch_delete_partition(DatabaseName="d", TableName="t", PartitionsToDelete=[
        {"Values": ["1", "2024-01-01", "eu"]}, {"Values": ["9", "2024-01-01", "eu"]}])
    assert [(x["PartitionValues"], x["ErrorDetail"]["ErrorCode"]) for x in r["Errors"]] == [
        (["9", "2024-01-01", "eu"], "EntityNotFoundException")]
    assert names(glue.get_partitions(DatabaseName="d", TableName="t")["Partitions"]) == [
        ("2", "2024-01-01", "eu")]
    with pytest.raises(ClientError) as e:
        glue.batch_delete_partition(DatabaseName="d", TableName="t", PartitionsToDelete=[
            {"Values": ["1"]}] * 26)
    assert err(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        glue.batch_get_partition(DatabaseName="d", TableName="none",
                                 PartitionsToGet=[{"Values": ["1"]}])
    assert err(e) == ("EntityNotFoundException", "Table none not found.")


def test_table_versions(glue):
    t = {"Name": "t", "PartitionKeys": KEYS, "StorageDescriptor": SD}
    for i in range(3):
        glue.update_table(DatabaseName="d", TableInput=dict(t, Description=f"v{i + 1}"))
    # SkipArchive: the replaced version 3 is not kept.
    glue.update_table(DatabaseName="d", TableInput=dict(t, Description="v4"), SkipArchive=True)
    vs = glue.get_table_versions(DatabaseName="d", TableName="t")["TableVersions"]
    assert [v["VersionId"] for v in vs] == ["4", "2", "1", "0"]
    assert vs[0]["Table"]["Description"] == "v4" and vs[1]["Table"]["Description"] == "v2"
    assert vs[1]["Table"]["VersionId"] == "2" and vs[1]["Table"]["CatalogId"] == "000000000000"
    pages = list(glue.get_paginator("get_table_versions").paginate(
        DatabaseName="d", TableName="t", PaginationConfig={"PageSize": 3}))
    assert [[v["VersionId"] for v in p["TableVersions"]] for p in pages] == [["4", "2", "1"],
                                                                            ["0"]]
    v = glue.get_table_version(DatabaseName="d", TableName="t", VersionId="1")["TableVersion"]
    assert v["VersionId"] == "1" and v["Table"]["Description"] == "v1"
    v = glue.get_table_version(DatabaseName="d", TableName="t")["TableVersion"]
    assert v["VersionId"] == "4"
    with pytest.raises(ClientError) as e:
        glue.get_table_version(DatabaseName="d", TableName="t", VersionId="3")
    assert err(e) == ("EntityNotFoundException", "Version 3 of table t not found.")
    with pytest.raises(ClientError) as e:
        glue.get_table_version(DatabaseName="d", TableName="t", VersionId="x")
    assert err(e)[0] == "InvalidInputException"
    glue.delete_table_version(DatabaseName="d", TableName="t", VersionId="0")
    with pytest.raises(ClientError) as e:
        glue.delete_table_version(DatabaseName="d", TableName="t", VersionId="0")
    assert err(e) == ("EntityNotFoundException", "Version 0 of table t not found.")
    with pytest.raises(ClientError) as e:
        glue.delete_table_version(DatabaseName="d", TableName="t", VersionId="4")
    assert err(e)[0] == "InvalidInputException"
    r = glue.batch_delete_table_version(DatabaseName="d", TableName="t",
                                        VersionIds=["1", "9", "4", "bad"])
    assert [(x["VersionId"], x["ErrorDetail"]["ErrorCode"]) for x in r["Errors"]] == [
        ("9", "EntityNotFoundException"), ("4", "InvalidInputException"),
        ("bad", "InvalidInputException")]
    vs = glue.get_table_versions(DatabaseName="d", TableName="t")["TableVersions"]
    assert [v["VersionId"] for v in vs] == ["4", "2"]
    with pytest.raises(ClientError) as e:
        glue.get_table_versions(DatabaseName="d", TableName="gone")
    assert err(e) == ("EntityNotFoundException", "Table gone not found.")


def test_deleting_a_table_deletes_its_partitions_and_versions(glue):
    glue.create_partition(DatabaseName="d", TableName="t", PartitionInput=part(1, "2024-01-01",
                                                                               "eu"))
    glue.update_table(DatabaseName="d", TableInput={"Name": "t", "PartitionKeys": KEYS})
    glue.delete_table(DatabaseName="d", Name="t")
    glue.create_table(DatabaseName="d", TableInput={"Name": "t", "PartitionKeys": KEYS})
    assert glue.get_partitions(DatabaseName="d", TableName="t")["Partitions"] == []
    vs = glue.get_table_versions(DatabaseName="d", TableName="t")["TableVersions"]
    assert [v["VersionId"] for v in vs] == ["0"]


def test_aws_cli_partitions_and_versions_as_users_type_them(daemon, glue):
    for p in [part(2023, "2023-12-31", "eu"), part(2024, "2024-01-01", "eu"),
              part(2024, "2024-02-01", "us")]:
        daemon.cli("glue", "create-partition", "--database-name", "d", "--table-name", "t",
                   "--partition-input", json.dumps(p))
    out = daemon.cli("glue", "get-partitions", "--database-name", "d", "--table-name", "t",
                     "--expression", "dt > '2024-01-01'")
    assert names(out["Partitions"]) == [("2024", "2024-02-01", "us")]
    out = daemon.cli("glue", "get-partitions", "--database-name", "d", "--table-name", "t",
                     "--expression", "year = 2024 AND region IN ('eu', 'us')")
    assert len(out["Partitions"]) == 2
    out = daemon.cli("glue", "get-partition", "--database-name", "d", "--table-name", "t",
                     "--partition-values", "2023", "2023-12-31", "eu")
    assert out["Partition"]["Values"] == ["2023", "2023-12-31", "eu"]
    r = daemon.cli("glue", "get-partitions", "--database-name", "d", "--table-name", "t",
                   "--expression", "nope = 1", check=False)
    assert r.returncode != 0 and "InvalidInputException" in r.stderr and "'nope'" in r.stderr
    daemon.cli("glue", "update-table", "--database-name", "d", "--table-input",
               json.dumps({"Name": "t", "PartitionKeys": KEYS, "Description": "new"}))
    vs = daemon.cli("glue", "get-table-versions", "--database-name", "d", "--table-name", "t")
    assert [v["VersionId"] for v in vs["TableVersions"]] == ["1", "0"]
    v = daemon.cli("glue", "get-table-version", "--database-name", "d", "--table-name", "t",
                   "--version-id", "0")
    assert "Description" not in v["TableVersion"]["Table"]
    daemon.cli("glue", "delete-table-version", "--database-name", "d", "--table-name", "t",
               "--version-id", "0")
    out = daemon.cli("glue", "batch-delete-partition", "--database-name", "d", "--table-name",
                     "t", "--partitions-to-delete",
                     json.dumps([{"Values": ["2023", "2023-12-31", "eu"]}]))
    assert out["Errors"] == []
    daemon.cli("glue", "delete-partition", "--database-name", "d", "--table-name", "t",
               "--partition-values", "2024", "2024-01-01", "eu")
    out = daemon.cli("glue", "get-partitions", "--database-name", "d", "--table-name", "t")
    assert names(out["Partitions"]) == [("2024", "2024-02-01", "us")]


def test_partitions_survive_a_restart(tmp_path):
    d = Daemon(tmp_path / "data").start()
    g = d.client("glue")
    g.create_database(DatabaseInput={"Name": "d"})
    g.create_table(DatabaseName="d", TableInput={"Name": "t", "PartitionKeys": KEYS})
    g.create_partition(DatabaseName="d", TableName="t", PartitionInput=part(1, "2024-01-01",
                                                                            "eu"))
    assert d.stop() == 0
    d = Daemon(tmp_path / "data").start()
    try:
        g = d.client("glue")
        got = g.get_partitions(DatabaseName="d", TableName="t", Expression="year = 1")
        assert names(got["Partitions"]) == [("1", "2024-01-01", "eu")]
    finally:
        assert d.stop() == 0


INGESTCTL = os.environ.get("INGESTCTL", "build/tools/ingestctl")


def ctl(daemon, *args):
    return subprocess.run([INGESTCTL, "--data-dir", daemon.data_dir, *args],
                          capture_output=True, text=True, timeout=30)


def test_ingestctl_catalog_commands(daemon, glue):
    glue.create_database(DatabaseInput={"Name": "other", "Description": "second"})
    for p in [part(2023, "2023-12-31", "eu"), part(2024, "2024-01-01", "us")]:
        glue.create_partition(DatabaseName="d", TableName="t", PartitionInput=p)
    r = ctl(daemon, "catalog", "databases")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAME", "LOCATION", "CREATED", "DESCRIPTION"]
    assert [ln.split()[0] for ln in lines[1:]] == ["d", "other"]
    r = ctl(daemon, "catalog", "tables", "d")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["NAME", "TYPE", "COLUMNS"]
    assert lines[1].split()[0] == "t" and "year, dt, region" in lines[1]
    r = ctl(daemon, "catalog", "table", "d", "t")
    assert r.returncode == 0, r.stderr
    assert "table:          d.t" in r.stdout and "location:       s3://b/events/" in r.stdout
    assert any(ln.split()[:3] == ["year", "int", "yes"] for ln in r.stdout.splitlines())
    r = ctl(daemon, "catalog", "partitions", "d", "t")
    assert r.returncode == 0, r.stderr
    assert "year=2023/dt=2023-12-31/region=eu" in r.stdout
    assert "year=2024/dt=2024-01-01/region=us" in r.stdout
    r = ctl(daemon, "catalog", "partitions", "d", "t", "--expression", "year > 2023")
    assert r.returncode == 0, r.stderr
    assert "region=us" in r.stdout and "region=eu" not in r.stdout
    r = ctl(daemon, "--json", "catalog", "partitions", "d", "t", "--expression",
            "region = 'eu'")
    assert r.returncode == 0, r.stderr
    assert names(json.loads(r.stdout)["Partitions"]) == [("2023", "2023-12-31", "eu")]
    r = ctl(daemon, "--json", "catalog", "tables", "d")
    assert [t["Name"] for t in json.loads(r.stdout)["TableList"]] == ["t"]
    # Errors: the server's, and usage.
    r = ctl(daemon, "catalog", "partitions", "d", "t", "--expression", "nope = 1")
    assert r.returncode == 1 and "InvalidInputException" in r.stderr and "'nope'" in r.stderr
    r = ctl(daemon, "catalog", "table", "d", "missing")
    assert r.returncode == 1 and "EntityNotFoundException: Table missing not found." in r.stderr
    r = ctl(daemon, "catalog", "tables")
    assert r.returncode == 2
    r = ctl(daemon, "catalog", "tables", "d", "--expression", "x")
    assert r.returncode == 2 and "does not apply" in r.stderr
    r = ctl(daemon, "catalog", "nothing")
    assert r.returncode == 2 and "unknown command 'catalog nothing'" in r.stderr
