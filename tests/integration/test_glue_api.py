# SPDX-License-Identifier: MIT
"""The Glue Data Catalog (databases, tables) of the real daemon, driven by boto3 and the aws CLI."""
import json

import pytest

from kinesis_util import Daemon

botocore_exceptions = pytest.importorskip("botocore.exceptions")
ClientError = botocore_exceptions.ClientError

SD = {
    "Columns": [{"Name": "id", "Type": "bigint"}, {"Name": "msg", "Type": "string",
                                                    "Comment": "payload"}],
    "Location": "s3://bucket/events/",
    "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
    "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                  "Parameters": {"field.delim": ","}},
    "NumberOfBuckets": -1,
}


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path / "data").start()
    yield d
    if d.proc.poll() is None:
        assert d.stop() == 0, "".join(d.lines)


def err(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def test_aws_cli_databases_and_tables_as_users_type_them(daemon):
    assert daemon.cli("glue", "create-database", "--database-input", '{"Name":"mydb"}') is None
    dbs = daemon.cli("glue", "get-databases")["DatabaseList"]
    assert [d["Name"] for d in dbs] == ["mydb"]
    assert dbs[0]["CatalogId"] == "000000000000"
    table = {"Name": "events", "StorageDescriptor": SD, "PartitionKeys":
             [{"Name": "dt", "Type": "string"}], "TableType": "EXTERNAL_TABLE",
             "Parameters": {"classification": "csv"}}
    daemon.cli("glue", "create-table", "--database-name", "mydb", "--table-input",
               json.dumps(table))
    t = daemon.cli("glue", "get-table", "--database-name", "mydb", "--name", "events")["Table"]
    assert t["Name"] == "events" and t["DatabaseName"] == "mydb"
    assert t["StorageDescriptor"]["Columns"] == SD["Columns"]
    assert t["StorageDescriptor"]["SerdeInfo"] == SD["SerdeInfo"]
    assert t["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    assert t["TableType"] == "EXTERNAL_TABLE" and t["VersionId"] == "0"
    names = [x["Name"] for x in daemon.cli("glue", "get-tables", "--database-name",
                                           "mydb")["TableList"]]
    assert names == ["events"]
    table["Parameters"] = {"classification": "json"}
    daemon.cli("glue", "update-table", "--database-name", "mydb", "--table-input",
               json.dumps(table))
    t = daemon.cli("glue", "get-table", "--database-name", "mydb", "--name", "events")["Table"]
    assert t["Parameters"] == {"classification": "json"} and t["VersionId"] == "1"
    daemon.cli("glue", "delete-table", "--database-name", "mydb", "--name", "events")
    assert daemon.cli("glue", "get-tables", "--database-name", "mydb")["TableList"] == []
    daemon.cli("glue", "delete-database", "--name", "mydb")
    assert daemon.cli("glue", "get-databases")["DatabaseList"] == []
    r = daemon.cli("glue", "get-database", "--name", "mydb", check=False)
    assert r.returncode != 0 and "EntityNotFoundException" in r.stderr


def test_boto3_database_fields_names_folded_and_times(daemon):
    g = daemon.client("glue")
    g.create_database(DatabaseInput={"Name": "Sales", "Description": "orders",
                                     "LocationUri": "s3://b/sales", "Parameters": {"k": "v"}})
    d = g.get_database(Name="SALES")["Database"]
    assert d["Name"] == "sales" and d["Description"] == "orders"
    assert d["LocationUri"] == "s3://b/sales" and d["Parameters"] == {"k": "v"}
    assert d["CatalogId"] == "000000000000" and d["CreateTime"].year >= 2024
    g.update_database(Name="sales", DatabaseInput={"Name": "sales", "Description": "new"})
    d = g.get_database(Name="sales")["Database"]
    assert d["Description"] == "new" and "LocationUri" not in d


def test_pagination_of_databases_and_tables(daemon):
    g = daemon.client("glue")
    for i in range(5):
        g.create_database(DatabaseInput={"Name": f"db{i}"})
    page = g.get_databases(MaxResults=2)
    assert [d["Name"] for d in page["DatabaseList"]] == ["db0", "db1"]
    page = g.get_databases(MaxResults=2, NextToken=page["NextToken"])
    assert [d["Name"] for d in page["DatabaseList"]] == ["db2", "db3"]
    page = g.get_databases(MaxResults=2, NextToken=page["NextToken"])
    assert [d["Name"] for d in page["DatabaseList"]] == ["db4"] and "NextToken" not in page
    for n in ["sales_2023", "sales_2024", "orders", "Sales_eu"]:
        g.create_table(DatabaseName="db0", TableInput={"Name": n, "StorageDescriptor": SD})
    pages = g.get_paginator("get_tables").paginate(DatabaseName="db0",
                                                   PaginationConfig={"PageSize": 1})
    assert [t["Name"] for p in pages for t in p["TableList"]] == \
        ["orders", "sales_2023", "sales_2024", "sales_eu"]
    got = g.get_tables(DatabaseName="db0", Expression="sales*")["TableList"]
    assert [t["Name"] for t in got] == ["sales_2023", "sales_2024", "sales_eu"]
    got = g.get_tables(DatabaseName="db0", Expression="sales_20.*|orders")["TableList"]
    assert [t["Name"] for t in got] == ["orders", "sales_2023", "sales_2024"]


def test_errors_as_glue_names_them(daemon):
    g = daemon.client("glue")
    with pytest.raises(ClientError) as e:
        g.get_database(Name="nope")
    assert err(e) == ("EntityNotFoundException", "Database nope not found.")
    g.create_database(DatabaseInput={"Name": "d"})
    with pytest.raises(ClientError) as e:
        g.create_database(DatabaseInput={"Name": "D"})
    assert err(e) == ("AlreadyExistsException", "Database already exists.")
    with pytest.raises(ClientError) as e:
        g.create_table(DatabaseName="missing", TableInput={"Name": "t"})
    assert err(e) == ("EntityNotFoundException", "Database missing not found.")
    g.create_table(DatabaseName="d", TableInput={"Name": "t"})
    with pytest.raises(ClientError) as e:
        g.create_table(DatabaseName="d", TableInput={"Name": "T"})
    assert err(e) == ("AlreadyExistsException", "Table already exists.")
    with pytest.raises(ClientError) as e:
        g.get_table(DatabaseName="d", Name="x")
    assert err(e) == ("EntityNotFoundException", "Table x not found.")
    with pytest.raises(ClientError) as e:
        g.delete_table(DatabaseName="missing", Name="t")
    assert err(e) == ("EntityNotFoundException", "Database missing not found.")
    with pytest.raises(ClientError) as e:
        g.update_table(DatabaseName="d", TableInput={"Name": "t"}, VersionId="5")
    assert err(e)[0] == "ConcurrentModificationException"
    with pytest.raises(ClientError) as e:
        g.create_database(DatabaseInput={"Name": "a\nb"})
    assert err(e)[0] == "InvalidInputException"
    with pytest.raises(ClientError) as e:
        g.get_tables(DatabaseName="d", Expression="(")
    assert err(e)[0] == "InvalidInputException"
    with pytest.raises(ClientError) as e:
        g.get_tables(DatabaseName="d", Expression=".*++++++a")
    assert err(e)[0] == "InvalidInputException"


def test_bad_input_types_over_raw_http(daemon):
    st, body, _ = daemon.raw("AWSGlue.CreateDatabase", json.dumps({"DatabaseInput": {"Name": 7}}))
    assert st == 400 and body["__type"] == "SerializationException"
    st, body, _ = daemon.raw("AWSGlue.CreateDatabase", json.dumps({}))
    assert st == 400 and body["__type"] == "ValidationException"
    st, body, _ = daemon.raw("AWSGlue.CreateDatabase",
                             json.dumps({"DatabaseInput": {"Name": "x" * 256}}))
    assert st == 400 and body["__type"] == "ValidationException"
    st, body, _ = daemon.raw("AWSGlue.CreateDatabase", json.dumps({"DatabaseInput": {"Name": "d"}}))
    assert st == 200 and body == {}
    st, body, _ = daemon.raw("AWSGlue.CreateTable", json.dumps(
        {"DatabaseName": "d", "TableInput": {"Name": "t", "StorageDescriptor":
                                            {"Columns": [{"Type": "int"}]}}}))
    assert st == 400 and body["__type"] == "ValidationException"
    st, body, _ = daemon.raw("AWSGlue.CreateTable", json.dumps(
        {"DatabaseName": "d", "TableInput": {"Name": "t", "Parameters": {"k": 1}}}))
    assert st == 400 and body["__type"] == "SerializationException"
    st, body, _ = daemon.raw("AWSGlue.GetTables", json.dumps({"DatabaseName": "d",
                                                             "MaxResults": 101}))
    assert st == 400 and body["__type"] == "ValidationException"


def test_deleting_a_database_deletes_its_tables(daemon):
    g = daemon.client("glue")
    g.create_database(DatabaseInput={"Name": "d"})
    g.create_table(DatabaseName="d", TableInput={"Name": "t"})
    g.delete_database(Name="d")
    g.create_database(DatabaseInput={"Name": "d"})
    assert g.get_tables(DatabaseName="d")["TableList"] == []


def test_restart_keeps_the_catalog(tmp_path):
    d = Daemon(tmp_path / "data").start()
    g = d.client("glue")
    g.create_database(DatabaseInput={"Name": "keep"})
    g.create_table(DatabaseName="keep", TableInput={"Name": "t", "StorageDescriptor": SD})
    created = g.get_table(DatabaseName="keep", Name="t")["Table"]["CreateTime"]
    assert d.stop() == 0
    d = Daemon(tmp_path / "data").start()
    try:
        g = d.client("glue")
        t = g.get_table(DatabaseName="keep", Name="t")["Table"]
        assert t["CreateTime"] == created and t["StorageDescriptor"]["Columns"] == SD["Columns"]
        assert [x["Name"] for x in g.get_databases()["DatabaseList"]] == ["keep"]
    finally:
        assert d.stop() == 0
