# SPDX-License-Identifier: MIT
"""Glue crawlers of the real daemon, driven by boto3 and the aws CLI: a crawl over JSON lines in
dt=YYYY-MM-DD/ folders under S3_ROOT/bucket/prefix makes one partitioned table, a second run picks
up new partitions and a new field (a new table version); CSV with a header; a custom Grok classifier
tried first; Glue's states and exceptions (CrawlerRunning, CrawlerNotRunning, CrawlerStopping);
targets that do not exist or cannot be read fail the run with a message; huge files are sampled in
bounded time and binary junk is skipped; a restart during a crawl leaves the crawler READY; a
schedule runs it; metrics, listings and updates."""
import json
import os
import time

import pytest

from kinesis_util import Daemon

botocore_exceptions = pytest.importorskip("botocore.exceptions")
ClientError = botocore_exceptions.ClientError

ROLE = "arn:aws:iam::000000000000:role/crawler"


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path / "data").start()
    yield d
    if d.proc.poll() is None:
        assert d.stop() == 0, "".join(d.lines)


def err(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def s3dir(daemon, rel):
    p = os.path.join(daemon.data_dir, "s3", rel)
    os.makedirs(p, exist_ok=True)
    return p


def write(path, text, mode="w"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode) as f:
        f.write(text)


def wait_ready(g, name, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        c = g.get_crawler(Name=name)["Crawler"]
        if c["State"] == "READY" and "LastCrawl" in c:
            return c
        time.sleep(0.1)
    raise AssertionError(f"crawler {name} still {c['State']}")


def crawl(g, name, timeout=60):
    before = g.get_crawler(Name=name)["Crawler"].get("LastCrawl", {}).get("MessagePrefix")
    g.start_crawler(Name=name)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        c = g.get_crawler(Name=name)["Crawler"]
        if c["State"] == "READY" and c.get("LastCrawl", {}).get("MessagePrefix") != before:
            return c
        time.sleep(0.1)
    raise AssertionError(f"crawler {name} did not finish")


def cols(table):
    return {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}


def json_lines(rows):
    return "".join(json.dumps(r) + "\n" for r in rows)


def test_partitioned_json_then_new_field_and_partitions(daemon):
    g = daemon.client("glue")
    root = s3dir(daemon, "bucket/events")
    for day in (1, 2, 3):
        for part in range(2):
            write(f"{root}/dt=2024-01-0{day}/part-{part}.json", json_lines(
                {"id": day * 10 + part, "user": f"u{part}", "amount": 1.5 * part + day,
                 "ok": part == 0, "tags": ["a", "b"], "geo": {"lat": 1.25, "lon": 2.5}}
                for _ in range(3)))
    g.create_database(DatabaseInput={"Name": "lake"})
    g.create_crawler(Name="events", Role=ROLE, DatabaseName="lake",
                     Targets={"S3Targets": [{"Path": "s3://bucket/events"}]})
    c = g.get_crawler(Name="events")["Crawler"]
    assert c["State"] == "READY" and c["Version"] == 1 and "LastCrawl" not in c
    assert c["SchemaChangePolicy"] == {"UpdateBehavior": "UPDATE_IN_DATABASE",
                                       "DeleteBehavior": "DEPRECATE_IN_DATABASE"}
    c = crawl(g, "events")
    assert c["LastCrawl"]["Status"] == "SUCCEEDED", c["LastCrawl"]
    assert c["LastCrawl"]["LogGroup"] == "/aws-glue/crawlers"

    tables = g.get_tables(DatabaseName="lake")["TableList"]
    assert [t["Name"] for t in tables] == ["events"]
    t = tables[0]
    assert cols(t) == {"id": "bigint", "user": "string", "amount": "double", "ok": "boolean",
                       "tags": "array<string>", "geo": "struct<lat:double,lon:double>"}
    assert t["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    sd = t["StorageDescriptor"]
    assert sd["Location"] == "s3://bucket/events/"
    assert sd["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    assert sd["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"
    assert t["Parameters"]["classification"] == "json"
    assert t["Parameters"]["UPDATED_BY_CRAWLER"] == "events"
    assert t["Parameters"]["recordCount"] == "18"
    assert t["TableType"] == "EXTERNAL_TABLE"
    parts = g.get_partitions(DatabaseName="lake", TableName="events")["Partitions"]
    assert sorted(p["Values"][0] for p in parts) == ["2024-01-01", "2024-01-02", "2024-01-03"]
    assert {p["StorageDescriptor"]["Location"] for p in parts} == {
        f"s3://bucket/events/dt=2024-01-0{d}/" for d in (1, 2, 3)}
    m = g.get_crawler_metrics(CrawlerNameList=["events"])["CrawlerMetricsList"][0]
    assert m["CrawlerName"] == "events" and m["TablesCreated"] == 1 and m["TablesUpdated"] == 0
    assert m["StillEstimating"] is False and m["TimeLeftSeconds"] == 0

    # A second run with a new day and a new field: new column, new partition, new version.
    write(f"{root}/dt=2024-01-04/part-0.json", json_lines(
        [{"id": 40, "user": "u9", "amount": 3, "ok": True, "tags": [], "geo": {"lat": 0.5},
          "channel": "web"}]))
    c = crawl(g, "events")
    assert c["LastCrawl"]["Status"] == "SUCCEEDED", c["LastCrawl"]
    t = g.get_table(DatabaseName="lake", Name="events")["Table"]
    assert cols(t)["channel"] == "string" and cols(t)["amount"] == "double"
    assert len(g.get_tables(DatabaseName="lake")["TableList"]) == 1
    parts = g.get_partitions(DatabaseName="lake", TableName="events")["Partitions"]
    assert len(parts) == 4
    versions = g.get_table_versions(DatabaseName="lake", TableName="events")["TableVersions"]
    assert sorted(v["VersionId"] for v in versions) == ["0", "1"]
    m = g.get_crawler_metrics()["CrawlerMetricsList"][0]
    assert m["TablesCreated"] == 0 and m["TablesUpdated"] == 1
    assert m["LastRuntimeSeconds"] >= 0 and m["MedianRuntimeSeconds"] >= 0

    # Unchanged data: no new version.
    crawl(g, "events")
    versions = g.get_table_versions(DatabaseName="lake", TableName="events")["TableVersions"]
    assert len(versions) == 2


def test_csv_with_header_through_the_cli(daemon):
    root = s3dir(daemon, "b2/users")
    write(f"{root}/a.csv", "name,age,score,joined\nann,31,1.5,2024-01-02\nbob,42,2.25,2023-05-06\n")
    write(f"{root}/b.csv", "name,age,score,joined\ncid,7,3,2022-01-01\n")
    daemon.cli("glue", "create-database", "--database-input", '{"Name": "people"}')
    daemon.cli("glue", "create-crawler", "--name", "users", "--role", ROLE,
               "--database-name", "people", "--table-prefix", "raw_",
               "--targets", json.dumps({"S3Targets": [{"Path": "s3://b2/users/"}]}))
    daemon.cli("glue", "start-crawler", "--name", "users")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        c = daemon.cli("glue", "get-crawler", "--name", "users")["Crawler"]
        if c["State"] == "READY" and "LastCrawl" in c:
            break
        time.sleep(0.2)
    assert c["LastCrawl"]["Status"] == "SUCCEEDED"
    t = daemon.cli("glue", "get-table", "--database-name", "people", "--name", "raw_users")["Table"]
    assert [(x["Name"], x["Type"]) for x in t["StorageDescriptor"]["Columns"]] == [
        ("name", "string"), ("age", "bigint"), ("score", "double"), ("joined", "string")]
    assert t["Parameters"]["classification"] == "csv"
    assert t["Parameters"]["skip.header.line.count"] == "1"
    assert t["Parameters"]["delimiter"] == ","
    assert t["Parameters"]["recordCount"] == "3"
    serde = t["StorageDescriptor"]["SerdeInfo"]
    assert serde["SerializationLibrary"] == "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
    assert serde["Parameters"] == {"field.delim": ","}
    assert t["PartitionKeys"] == []
    names = daemon.cli("glue", "list-crawlers")["CrawlerNames"]
    assert names == ["users"]


def test_custom_grok_classifier_tried_first(daemon):
    g = daemon.client("glue")
    root = s3dir(daemon, "logs/app")
    write(f"{root}/2024/01/a.log", "".join(
        f"2024/01/02 10:00:0{i} INFO worker-{i} started job {i}\n" for i in range(5)))
    write(f"{root}/2024/02/b.log", "2024/02/01 11:00:00 WARN worker-9 slow job 9\n")
    g.create_classifier(GrokClassifier={
        "Name": "applog", "Classification": "applog",
        "GrokPattern": "%{APPTS:ts} %{LOGLEVEL:level} %{NOTSPACE:worker} %{GREEDYDATA:msg}",
        "CustomPatterns": "APPTS %{YEAR}/%{MONTHNUM}/%{MONTHDAY} %{TIME}"})
    g.create_database(DatabaseInput={"Name": "ops"})
    g.create_crawler(Name="app", Role=ROLE, DatabaseName="ops", Classifiers=["applog"],
                     Targets={"S3Targets": [{"Path": "s3://logs/app"}]})
    c = crawl(g, "app")
    assert c["LastCrawl"]["Status"] == "SUCCEEDED", c["LastCrawl"]
    assert c["Classifiers"] == ["applog"]
    t = g.get_table(DatabaseName="ops", Name="app")["Table"]
    assert t["Parameters"]["classification"] == "applog"
    assert list(cols(t)) == ["ts", "level", "worker", "msg"]
    assert [k["Name"] for k in t["PartitionKeys"]] == ["partition_0", "partition_1"]
    parts = g.get_partitions(DatabaseName="ops", TableName="app")["Partitions"]
    assert sorted(p["Values"] for p in parts) == [["2024", "01"], ["2024", "02"]]

    # A crawler naming a classifier that does not exist: the run fails and says which.
    g.create_crawler(Name="app2", Role=ROLE, DatabaseName="ops", Classifiers=["nope"],
                     Targets={"S3Targets": [{"Path": "s3://logs/app"}]})
    c = crawl(g, "app2")
    assert c["LastCrawl"]["Status"] == "FAILED"
    assert c["LastCrawl"]["ErrorMessage"] == "classifier nope: not found"


def many_files(root, folders, per_folder):
    line = json.dumps({"a": 1, "b": "x" * 40}) + "\n"
    for d in range(folders):
        p = f"{root}/part={d:04d}"
        os.makedirs(p, exist_ok=True)
        for i in range(per_folder):
            with open(f"{p}/f{i:04d}.json", "w") as f:
                f.write(line * 4)


def test_states_and_exceptions(daemon):
    g = daemon.client("glue")
    root = s3dir(daemon, "big/data")
    many_files(root, 80, 100)
    g.create_database(DatabaseInput={"Name": "big"})
    g.create_crawler(Name="big", Role=ROLE, DatabaseName="big",
                     Targets={"S3Targets": [{"Path": "s3://big/data"}]})
    with pytest.raises(ClientError) as e:
        g.stop_crawler(Name="big")
    assert err(e) == ("CrawlerNotRunningException", "Crawler with name big isn't running.")

    g.start_crawler(Name="big")
    with pytest.raises(ClientError) as e:
        g.start_crawler(Name="big")
    assert err(e) == ("CrawlerRunningException", "Crawler with name big has already started.")
    with pytest.raises(ClientError) as e:
        g.delete_crawler(Name="big")
    assert err(e)[0] == "CrawlerRunningException"
    with pytest.raises(ClientError) as e:
        g.update_crawler(Name="big", Description="x")
    assert err(e)[0] == "CrawlerRunningException"
    c = g.get_crawler(Name="big")["Crawler"]
    assert c["State"] == "RUNNING" and c["CrawlElapsedTime"] >= 0
    m = g.get_crawler_metrics(CrawlerNameList=["big"])["CrawlerMetricsList"][0]
    assert m["StillEstimating"] is True
    g.stop_crawler(Name="big")
    state = g.get_crawler(Name="big")["Crawler"]["State"]
    assert state in ("STOPPING", "READY")
    if state == "STOPPING":
        with pytest.raises(ClientError) as e:
            g.stop_crawler(Name="big")
        assert err(e)[0] in ("CrawlerStoppingException", "CrawlerNotRunningException")
    c = wait_ready(g, "big")
    assert c["LastCrawl"]["Status"] == "CANCELLED"
    # A cancelled run writes nothing.
    assert g.get_tables(DatabaseName="big")["TableList"] == []

    # A full run afterwards works, and one table holds the 80 partitions.
    c = crawl(g, "big", timeout=120)
    assert c["LastCrawl"]["Status"] == "SUCCEEDED", c["LastCrawl"]
    parts = g.get_partitions(DatabaseName="big", TableName="data")["Partitions"]
    assert len(parts) == 80

    for bad, what in [("StartCrawler", "nope"), ("StopCrawler", "nope"), ("GetCrawler", "nope"),
                      ("DeleteCrawler", "nope")]:
        with pytest.raises(ClientError) as e:
            getattr(g, "_make_api_call")(bad, {"Name": what})
        assert err(e) == ("EntityNotFoundException", "Crawler with name nope not found.")
    with pytest.raises(ClientError) as e:
        g.create_crawler(Name="big", Role=ROLE, Targets={"S3Targets": [{"Path": "s3://x/y"}]})
    assert err(e) == ("AlreadyExistsException", "Crawler with name big has already been created.")


def test_bad_targets_fail_with_a_message(daemon):
    g = daemon.client("glue")
    g.create_database(DatabaseInput={"Name": "d"})
    g.create_crawler(Name="missing", Role=ROLE, DatabaseName="d",
                     Targets={"S3Targets": [{"Path": "s3://nobucket/none"}]})
    c = crawl(g, "missing")
    assert c["LastCrawl"]["Status"] == "FAILED"
    assert c["LastCrawl"]["ErrorMessage"] == \
        "s3://nobucket/none cannot be crawled: No such file or directory"
    write(os.path.join(daemon.data_dir, "s3", "fileb", "plain"), "x")
    g.create_crawler(Name="notdir", Role=ROLE, DatabaseName="d",
                     Targets={"S3Targets": [{"Path": "s3://fileb/plain/below"}]})
    c = crawl(g, "notdir")
    assert c["LastCrawl"]["Status"] == "FAILED"
    assert "Not a directory" in c["LastCrawl"]["ErrorMessage"]
    g.create_crawler(Name="nodb", Role=ROLE, DatabaseName="absent",
                     Targets={"S3Targets": [{"Path": "s3://fileb"}]})
    c = crawl(g, "nodb")
    assert c["LastCrawl"] == {**c["LastCrawl"], "Status": "FAILED",
                              "ErrorMessage": "Database absent not found."}
    # Requests Glue refuses.
    for targets, msg in [({"S3Targets": [{"Path": "relative/dir"}]}, "neither an s3:// URI"),
                         ({"S3Targets": [{"Path": "s3://"}]}, "names no bucket"),
                         ({"S3Targets": [{"Path": "s3://b/../etc"}]}, "'..' are not allowed"),
                         ({}, "at least one target")]:
        with pytest.raises(ClientError) as e:
            g.create_crawler(Name="bad", Role=ROLE, Targets=targets)
        assert err(e)[0] == "InvalidInputException" and msg in err(e)[1]
    with pytest.raises(ClientError) as e:
        g.create_crawler(Name="bad", Role=ROLE, Targets={"S3Targets": [{"Path": "/x"}]},
                         Schedule="cron(99 * * * ? *)")
    assert err(e)[0] == "InvalidInputException" and "Minutes" in err(e)[1]
    with pytest.raises(ClientError) as e:
        g.create_crawler(Name="bad", Role=ROLE, Targets={"S3Targets": [{"Path": "/x"}]},
                         Configuration="{not json")
    assert err(e)[0] == "InvalidInputException"
    with pytest.raises(ClientError) as e:
        g.create_crawler(Name="bad", Role=ROLE, Targets={"S3Targets": [{"Path": "/x"}]},
                         SchemaChangePolicy={"UpdateBehavior": "SOMETIMES"})
    assert err(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        g.create_crawler(Name="bad", Role=ROLE,
                         Targets={"S3Targets": [{"Path": "/x", "SampleSize": 250}]})
    assert err(e)[0] == "ValidationException"
    # The daemon is still answering.
    assert g.get_crawler(Name="missing")["Crawler"]["State"] == "READY"


def test_huge_and_junk_files_local_path(daemon, tmp_path):
    g = daemon.client("glue")
    root = tmp_path / "local"
    (root / "d").mkdir(parents=True)
    line = (json.dumps({"k": "v" * 100, "n": 1}) + "\n").encode()
    with open(root / "d" / "huge.json", "wb") as f:
        chunk = line * 8192
        for _ in range(64 * 1024 * 1024 // len(chunk)):
            f.write(chunk)
    with open(root / "d" / "junk.bin", "wb") as f:
        f.write(bytes(range(256)) * 64)
    with open(root / "d" / "zeros.dat", "wb") as f:
        f.write(b"\0" * 4096)
    os.symlink("/etc", root / "d" / "link")
    g.create_database(DatabaseInput={"Name": "loc"})
    g.create_crawler(Name="loc", Role=ROLE, DatabaseName="loc",
                     Targets={"S3Targets": [{"Path": str(root / "d"),
                                             "Exclusions": ["**/*.tmp"]}]})
    t0 = time.monotonic()
    c = crawl(g, "loc")
    assert time.monotonic() - t0 < 20
    assert c["LastCrawl"]["Status"] == "SUCCEEDED", c["LastCrawl"]
    tables = g.get_tables(DatabaseName="loc")["TableList"]
    assert [t["Name"] for t in tables] == ["d"]
    t = tables[0]
    assert cols(t) == {"k": "string", "n": "bigint"}
    assert t["StorageDescriptor"]["Location"] == str(root / "d") + "/"
    # The record count is estimated from the 1 MiB sample, scaled by size.
    records = int(t["Parameters"]["recordCount"])
    real = 64 * 1024 * 1024 // len(line)
    assert abs(records - real) < real * 0.05
    assert t["Parameters"]["objectCount"] == "1"


def test_restart_during_a_crawl_leaves_it_ready(tmp_path):
    d = Daemon(tmp_path / "data").start()
    try:
        g = d.client("glue")
        many_files(s3dir(d, "r/data"), 100, 100)
        g.create_database(DatabaseInput={"Name": "r"})
        g.create_crawler(Name="r", Role=ROLE, DatabaseName="r",
                         Targets={"S3Targets": [{"Path": "s3://r/data"}]})
        g.start_crawler(Name="r")
        assert g.get_crawler(Name="r")["Crawler"]["State"] == "RUNNING"
        d.kill9()
        d.start()
        g = d.client("glue")
        c = g.get_crawler(Name="r")["Crawler"]
        assert c["State"] == "READY"
        assert c["LastCrawl"]["Status"] == "FAILED"
        assert c["LastCrawl"]["ErrorMessage"] == "interrupted by a restart"
        # And it runs again.
        c = crawl(g, "r", timeout=180)
        assert c["LastCrawl"]["Status"] == "SUCCEEDED"
    finally:
        if d.proc.poll() is None:
            assert d.stop() == 0


def test_schedule_update_list_delete(daemon):
    g = daemon.client("glue")
    root = s3dir(daemon, "sch/x")
    write(f"{root}/a.json", '{"a": 1}\n')
    g.create_database(DatabaseInput={"Name": "s"})
    g.create_crawler(Name="sched", Role=ROLE, DatabaseName="s", Schedule="cron(15 12 * * ? *)",
                     Targets={"S3Targets": [{"Path": "s3://sch/x"}]},
                     Configuration=json.dumps({"Version": 1.0, "Grouping": {
                         "TableGroupingPolicy": "CombineCompatibleSchemas"}}),
                     RecrawlPolicy={"RecrawlBehavior": "CRAWL_EVERYTHING"},
                     SchemaChangePolicy={"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"},
                     Tags={"team": "data"})
    c = g.get_crawler(Name="sched")["Crawler"]
    assert c["Schedule"] == {"ScheduleExpression": "cron(15 12 * * ? *)", "State": "SCHEDULED"}
    assert json.loads(c["Configuration"])["Grouping"]["TableGroupingPolicy"] == \
        "CombineCompatibleSchemas"
    # A schedule that is due every second (rate() with seconds is an extension) runs it.
    g.update_crawler(Name="sched", Schedule="rate(1 second)", Description="fast")
    c = g.get_crawler(Name="sched")["Crawler"]
    assert c["Version"] == 2 and c["Description"] == "fast"
    c = wait_ready(g, "sched", timeout=30)
    assert c["LastCrawl"]["Status"] == "SUCCEEDED"
    assert g.get_table(DatabaseName="s", Name="x")["Table"]["Parameters"]["classification"] == "json"
    # Runs come every second: an update lands between two (CrawlerRunningException during one).
    for _ in range(100):
        try:
            g.update_crawler(Name="sched", Schedule="")
            break
        except ClientError as e:
            assert e.response["Error"]["Code"] == "CrawlerRunningException"
            time.sleep(0.05)
    assert "Schedule" not in g.get_crawler(Name="sched")["Crawler"]

    g.create_crawler(Name="other", Role=ROLE, Targets={"S3Targets": [{"Path": "s3://sch/x"}]})
    assert g.list_crawlers()["CrawlerNames"] == ["other", "sched"]
    assert g.list_crawlers(Tags={"team": "data"})["CrawlerNames"] == ["sched"]
    page = g.get_crawlers(MaxResults=1)
    assert [c["Name"] for c in page["Crawlers"]] == ["other"] and page["NextToken"] == "other"
    page = g.get_crawlers(MaxResults=1, NextToken=page["NextToken"])
    assert [c["Name"] for c in page["Crawlers"]] == ["sched"] and "NextToken" not in page
    b = g.batch_get_crawlers(CrawlerNames=["sched", "ghost"])
    assert [c["Name"] for c in b["Crawlers"]] == ["sched"] and b["CrawlersNotFound"] == ["ghost"]
    g.delete_crawler(Name="other")
    assert g.list_crawlers()["CrawlerNames"] == ["sched"]
    # The aws CLI reads the same shapes.
    out = daemon.cli("glue", "get-crawler-metrics", "--crawler-name-list", "sched")
    assert out["CrawlerMetricsList"][0]["CrawlerName"] == "sched"


INGESTCTL = os.environ.get("INGESTCTL", "build/tools/ingestctl")


def ctl(daemon, *args):
    import subprocess
    return subprocess.run([INGESTCTL, "--data-dir", daemon.data_dir, *args],
                          capture_output=True, text=True, timeout=120)


def test_ingestctl_crawler_commands(daemon):
    g = daemon.client("glue")
    root = s3dir(daemon, "cli/orders")
    write(f"{root}/region=eu/a.json", '{"order": 1, "total": 9.5}\n')
    write(f"{root}/region=us/a.json", '{"order": 2, "total": 3}\n')
    g.create_database(DatabaseInput={"Name": "shop"})
    r = ctl(daemon, "crawler", "create", "orders", "--database", "shop", "--path",
            "s3://cli/orders", "--schedule", "cron(0 3 * * ? *)")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "crawler orders created over s3://cli/orders, tables in shop\n"
    r = ctl(daemon, "crawler", "create", "orders", "--database", "shop")
    assert r.returncode == 2 and "needs --database and --path" in r.stderr
    r = ctl(daemon, "crawler", "start", "orders", "--wait")
    assert r.returncode == 0, r.stderr
    assert "crawler orders: READY; last crawl SUCCEEDED" in r.stdout
    assert "tables created 1, updated 0, deleted 0" in r.stdout
    t = g.get_table(DatabaseName="shop", Name="orders")["Table"]
    assert t["PartitionKeys"] == [{"Name": "region", "Type": "string"}]
    assert cols(t) == {"order": "bigint", "total": "double"}
    r = ctl(daemon, "crawler", "status", "orders")
    assert r.returncode == 0, r.stderr
    assert "targets:        s3://cli/orders" in r.stdout
    assert "schedule:       cron(0 3 * * ? *)" in r.stdout
    r = ctl(daemon, "crawler", "list")
    assert r.returncode == 0 and "orders" in r.stdout and "SUCCEEDED" in r.stdout
    r = ctl(daemon, "--json", "crawler", "list")
    assert json.loads(r.stdout)["Crawlers"][0]["Name"] == "orders"
    r = ctl(daemon, "crawler", "status", "ghost")
    assert r.returncode == 1 and "EntityNotFoundException" in r.stderr
    # A failing run: --wait ends with exit code 1 and the reason.
    r = ctl(daemon, "crawler", "create", "bad", "--database", "shop", "--path", "s3://cli/none")
    assert r.returncode == 0, r.stderr
    r = ctl(daemon, "crawler", "start", "bad", "--wait")
    assert r.returncode == 1
    assert "FAILED" in r.stdout and "No such file or directory" in r.stdout
