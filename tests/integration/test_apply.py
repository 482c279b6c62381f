# SPDX-License-Identifier: MIT
"""`ingestctl plan -f` and `ingestctl apply -f` against the real daemon: creation, idempotence,
in-place updates, removal of what an earlier apply declared, and errors that name file and line."""
import json
import os
import subprocess

import pytest

INGESTCTL = os.environ.get("INGESTCTL", "build/tools/ingestctl")

FILE_V1 = """\
# The appliance's declarations.
databases:
  - Name: demo
    Description: delivered data
streams:
  - StreamName: clicks
    ShardCount: 1
  - StreamName: views
    ShardCount: 2
    RetentionPeriodHours: 48
schedules:
  - Name: tick
    ScheduleExpression: rate(1 day)
    Targets:
      - Id: "1"
        Arn: arn:aws:kinesis:us-east-1:000000000000:stream/clicks
        Input: '{"tick": true}'
  - Name: nightly
    ScheduleExpression: cron(0 2 * * ? *)
    State: DISABLED
"""


def ctl(daemon, *args):
    return subprocess.run([INGESTCTL, "--data-dir", daemon.data_dir, *args],
                          capture_output=True, text=True, timeout=60)


def write(tmp_path, text, name="appliance.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_apply_creates_then_is_idempotent(daemon, tmp_path):
    f = write(tmp_path, FILE_V1)
    plan = ctl(daemon, "plan", "-f", f)
    assert plan.returncode == 0, plan.stderr
    assert "+ create    stream clicks" in plan.stdout
    assert "5 to create, 0 to update, 0 to replace, 0 to remove, 0 unchanged" in plan.stdout
    # plan changes nothing
    kc = daemon.client()
    assert kc.list_streams()["StreamNames"] == []

    r = ctl(daemon, "apply", "-f", f)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "created stream views" in r.stdout and "Done: 5 change(s)" in r.stdout
    assert sorted(kc.list_streams()["StreamNames"]) == ["clicks", "views"]
    views = kc.describe_stream_summary(StreamName="views")["StreamDescriptionSummary"]
    assert views["OpenShardCount"] == 2 and views["RetentionPeriodHours"] == 48
    ev = daemon.client("events")
    assert ev.describe_rule(Name="nightly")["State"] == "DISABLED"
    assert ev.list_targets_by_rule(Rule="tick")["Targets"][0]["Input"] == '{"tick": true}'
    assert daemon.client("glue").get_database(Name="demo")["Database"]["Description"] == \
        "delivered data"

    again = ctl(daemon, "apply", "-f", f)
    assert again.returncode == 0, again.stderr
    assert "Nothing to do." in again.stdout
    plan = ctl(daemon, "--json", "plan", "-f", f)
    doc = json.loads(plan.stdout)
    assert doc["summary"] == {"create": 0, "update": 0, "replace": 0, "remove": 0,
                              "unchanged": 5}


def test_changes_update_in_place_and_removals_follow_the_file(daemon, tmp_path):
    f = write(tmp_path, FILE_V1)
    assert ctl(daemon, "apply", "-f", f).returncode == 0
    v2 = FILE_V1.replace("ShardCount: 1", "ShardCount: 2").replace(
        "rate(1 day)", "rate(2 days)")
    # nightly is no longer declared: removed; the stream views too.
    v2 = v2[:v2.index("  - StreamName: views")] + v2[v2.index("schedules:"):]
    v2 = v2[:v2.index("  - Name: nightly")]
    f = write(tmp_path, v2)
    plan = ctl(daemon, "plan", "-f", f)
    assert plan.returncode == 0, plan.stderr
    assert "~ update    stream clicks" in plan.stdout
    assert "~ update    schedule tick" in plan.stdout
    assert "- remove    schedules nightly" in plan.stdout
    assert "- remove    streams views" in plan.stdout
    r = ctl(daemon, "apply", "-f", f)
    assert r.returncode == 0, r.stdout + r.stderr
    kc = daemon.client()
    assert kc.list_streams()["StreamNames"] == ["clicks"]
    assert kc.describe_stream_summary(StreamName="clicks")[
        "StreamDescriptionSummary"]["OpenShardCount"] == 2
    ev = daemon.client("events")
    assert [x["Name"] for x in ev.list_rules()["Rules"]] == ["tick"]
    assert ev.describe_rule(Name="tick")["ScheduleExpression"] == "rate(2 days)"
    assert "Nothing to do." in ctl(daemon, "apply", "-f", f).stdout


def test_resources_nobody_declared_are_left_alone(daemon, tmp_path):
    kc = daemon.client()
    kc.create_stream(StreamName="mine", ShardCount=1)
    f = write(tmp_path, "streams:\n  - StreamName: clicks\n    ShardCount: 1\n")
    assert ctl(daemon, "apply", "-f", f).returncode == 0
    f = write(tmp_path, "streams: []\n")
    r = ctl(daemon, "apply", "-f", f)
    assert r.returncode == 0, r.stderr
    assert kc.list_streams()["StreamNames"] == ["mine"]


@pytest.mark.parametrize("text,where,needle", [
    ("streams:\n  - StreamName: a\n    ShardCount: 1\n  - ShardCount: 2\n", ":4:5:",
     "missing required field StreamName"),
    ("streams:\n  - StreamName: a\n  - StreamName: a\n", ":3:5:", "declared twice"),
    ("widgets:\n  - Name: a\n", ":2:3:", "unknown kind 'widgets'"),
    ("streams:\n  StreamName: a\n", ":2:3:", "must be a list"),
    ("streams:\n  - StreamName: [a\n", ":3:1:", ""),
    ("streams:\n  - StreamName: a\n    StreamName: b\n", ":3:5:", "duplicate key"),
    ("streams:\n  - &x {StreamName: a}\n", ":2:5:", "anchors"),
    ("classifiers:\n  - GrokClassifier: {Name: g}\n    JsonClassifier: {Name: j}\n", ":2:5:",
     "exactly one of"),
])
def test_broken_files_name_file_line_and_field(daemon, tmp_path, text, where, needle):
    f = write(tmp_path, text, "broken.yaml")
    r = ctl(daemon, "plan", "-f", f)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "broken.yaml" + where in r.stderr, r.stderr
    assert needle in r.stderr


def test_server_errors_point_at_the_declaration(daemon, tmp_path):
    f = write(tmp_path, "streams:\n  - StreamName: ok\n    ShardCount: 1\n"
                        "  - StreamName: bad\n    ShardCount: -3\n")
    r = ctl(daemon, "apply", "-f", f)
    assert r.returncode == 1, r.stdout
    assert "appliance.yaml:4:5: stream bad:" in r.stderr, r.stderr
    assert "shardCount" in r.stderr or "ShardCount" in r.stderr
    # What succeeded was recorded: the next apply only retries the failed one.
    f = write(tmp_path, "streams:\n  - StreamName: ok\n    ShardCount: 1\n"
                        "  - StreamName: bad\n    ShardCount: 1\n")
    plan = ctl(daemon, "plan", "-f", f)
    assert "+ create    stream bad" in plan.stdout and "stream ok" not in plan.stdout


def test_missing_file_and_flag(daemon, tmp_path):
    r = ctl(daemon, "apply")
    assert r.returncode == 2 and "-f FILE" in r.stderr
    r = ctl(daemon, "apply", "-f", str(tmp_path / "nope.yaml"))
    assert r.returncode == 2 and "cannot open" in r.stderr
