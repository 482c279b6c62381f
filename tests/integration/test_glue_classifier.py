# SPDX-License-Identifier: MIT
"""Glue classifiers (CreateClassifier, GetClassifier(s), UpdateClassifier, DeleteClassifier) of the
real daemon, driven by boto3 and the aws CLI: the four kinds stored and returned, paging, Glue's
errors, bad Grok refused with the reason, and definitions kept across a restart."""
import json

import pytest

from kinesis_util import Daemon

botocore_exceptions = pytest.importorskip("botocore.exceptions")
ClientError = botocore_exceptions.ClientError

GROK = {"Name": "applog", "Classification": "app",
        "GrokPattern": "%{APPTS:ts} %{LOGLEVEL:level} %{GREEDYDATA:msg}",
        "CustomPatterns": "APPTS %{YEAR}/%{MONTHNUM}/%{MONTHDAY} %{TIME}"}


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path / "data").start()
    yield d
    if d.proc.poll() is None:
        assert d.stop() == 0, "".join(d.lines)


def err(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def test_boto3_four_kinds_created_read_listed_updated_deleted(daemon):
    g = daemon.client("glue")
    g.create_classifier(GrokClassifier=GROK)
    g.create_classifier(JsonClassifier={"Name": "items", "JsonPath": "$.items[*]"})
    g.create_classifier(CsvClassifier={"Name": "semi", "Delimiter": ";", "QuoteSymbol": "'",
                                       "ContainsHeader": "PRESENT", "Header": ["a", "b"],
                                       "AllowSingleColumn": False, "CustomDatatypeConfigured": True,
                                       "CustomDatatypes": ["STRING", "INT"]})
    g.create_classifier(XMLClassifier={"Name": "rows", "Classification": "xml", "RowTag": "row"})

    c = g.get_classifier(Name="applog")["Classifier"]["GrokClassifier"]
    assert c["Name"] == "applog" and c["Classification"] == "app"
    assert c["GrokPattern"] == GROK["GrokPattern"] and c["CustomPatterns"] == GROK["CustomPatterns"]
    assert c["Version"] == 1 and c["CreationTime"].year >= 2024
    assert c["LastUpdated"] == c["CreationTime"]
    csv = g.get_classifier(Name="semi")["Classifier"]["CsvClassifier"]
    assert csv["Delimiter"] == ";" and csv["QuoteSymbol"] == "'" and csv["Header"] == ["a", "b"]
    assert csv["ContainsHeader"] == "PRESENT" and csv["CustomDatatypes"] == ["STRING", "INT"]
    assert g.get_classifier(Name="items")["Classifier"]["JsonClassifier"]["JsonPath"] == "$.items[*]"
    assert g.get_classifier(Name="rows")["Classifier"]["XMLClassifier"]["RowTag"] == "row"

    # Paging: two per page, in name order, NextToken carried.
    names, token = [], None
    while True:
        kw = {"MaxResults": 2}
        if token:
            kw["NextToken"] = token
        page = g.get_classifiers(**kw)
        assert len(page["Classifiers"]) <= 2
        names += [next(iter(x.values()))["Name"] for x in page["Classifiers"]]
        token = page.get("NextToken")
        if not token:
            break
    assert names == ["applog", "items", "rows", "semi"]

    g.update_classifier(GrokClassifier={"Name": "applog", "GrokPattern": "%{APPTS:ts} %{GREEDYDATA:msg}"})
    c = g.get_classifier(Name="applog")["Classifier"]["GrokClassifier"]
    assert c["GrokPattern"] == "%{APPTS:ts} %{GREEDYDATA:msg}" and c["Version"] == 2
    assert c["Classification"] == "app" and c["CustomPatterns"] == GROK["CustomPatterns"]

    g.delete_classifier(Name="items")
    with pytest.raises(ClientError) as e:
        g.get_classifier(Name="items")
    assert err(e) == ("EntityNotFoundException", "Classifier items not found.")
    with pytest.raises(ClientError) as e:
        g.delete_classifier(Name="items")
    assert err(e)[0] == "EntityNotFoundException"


def test_boto3_errors_as_glue_reports_them(daemon):
    g = daemon.client("glue")
    g.create_classifier(GrokClassifier=GROK)
    with pytest.raises(ClientError) as e:
        g.create_classifier(GrokClassifier=GROK)
    assert err(e) == ("AlreadyExistsException", "Classifier applog already exists.")

    with pytest.raises(ClientError) as e:
        g.create_classifier(GrokClassifier={"Name": "g2", "Classification": "c",
                                            "GrokPattern": "%{IP:ip} %{NOPE:x}"})
    assert err(e)[0] == "InvalidInputException"
    assert "unknown pattern name NOPE at offset 9 of GrokPattern" in err(e)[1]

    with pytest.raises(ClientError) as e:
        g.create_classifier(GrokClassifier={"Name": "g3", "Classification": "c",
                                            "GrokPattern": "%{A}", "CustomPatterns": "A x%{B}\nB %{A}"})
    assert err(e)[0] == "InvalidInputException"
    assert "pattern A refers to itself: A -> B -> A" in err(e)[1]

    with pytest.raises(ClientError) as e:
        g.create_classifier(GrokClassifier={"Name": "g4", "Classification": "c",
                                            "GrokPattern": "%{WORD} (unclosed"})
    assert err(e)[0] == "InvalidInputException" and "missing closing parenthesis" in err(e)[1]

    with pytest.raises(ClientError) as e:
        g.create_classifier(GrokClassifier={"Name": "g5", "Classification": "c",
                                            "GrokPattern": "%{R}", "CustomPatterns": "R a(?R)?b"})
    assert err(e)[0] == "InvalidInputException" and "recursion (?R)" in err(e)[1]

    with pytest.raises(ClientError) as e:
        g.create_classifier(JsonClassifier={"Name": "j", "JsonPath": "items[*]"})
    assert err(e)[0] == "InvalidInputException" and "JsonPath" in err(e)[1]

    with pytest.raises(ClientError) as e:
        g.create_classifier(CsvClassifier={"Name": "c", "Delimiter": ",", "QuoteSymbol": ","})
    assert err(e)[0] == "InvalidInputException"

    with pytest.raises(ClientError) as e:
        g.update_classifier(JsonClassifier={"Name": "applog", "JsonPath": "$"})
    assert err(e)[0] == "InvalidInputException" and "GrokClassifier" in err(e)[1]

    with pytest.raises(ClientError) as e:
        g.update_classifier(GrokClassifier={"Name": "nosuch", "GrokPattern": "%{WORD}"})
    assert err(e)[0] == "EntityNotFoundException"

    # A bad update leaves the stored definition as it was.
    with pytest.raises(ClientError) as e:
        g.update_classifier(GrokClassifier={"Name": "applog", "GrokPattern": "%{MISSING}"})
    assert err(e)[0] == "InvalidInputException"
    assert g.get_classifier(Name="applog")["Classifier"]["GrokClassifier"]["Version"] == 1


def test_raw_requests_with_none_or_two_kinds_refused(daemon):
    for body in ({}, {"GrokClassifier": GROK, "JsonClassifier": {"Name": "j", "JsonPath": "$"}}):
        status, out = daemon.raw("AWSGlue.CreateClassifier", json.dumps(body))[:2]
        assert status == 400 and out["__type"] == "InvalidInputException"


def test_aws_cli_and_restart_keeps_classifiers(daemon, tmp_path):
    daemon.cli("glue", "create-classifier", "--grok-classifier", json.dumps(GROK))
    daemon.cli("glue", "create-classifier", "--csv-classifier",
               '{"Name":"pipes","Delimiter":"|","ContainsHeader":"ABSENT"}')
    out = daemon.cli("glue", "get-classifiers")
    assert sorted(next(iter(c.values()))["Name"] for c in out["Classifiers"]) == ["applog", "pipes"]
    r = daemon.cli("glue", "create-classifier", "--grok-classifier",
                   '{"Name":"bad","Classification":"x","GrokPattern":"%{NOPE}"}', check=False)
    assert r.returncode != 0 and "InvalidInputException" in r.stderr and "NOPE" in r.stderr
    assert daemon.stop() == 0
    d2 = Daemon(tmp_path / "data").start()
    try:
        c = d2.cli("glue", "get-classifier", "--name", "pipes")["Classifier"]["CsvClassifier"]
        assert c["Delimiter"] == "|" and c["ContainsHeader"] == "ABSENT"
        d2.cli("glue", "delete-classifier", "--name", "pipes")
        assert [next(iter(c.values()))["Name"]
                for c in d2.cli("glue", "get-classifiers")["Classifiers"]] == ["applog"]
    finally:
        assert d2.stop() == 0
