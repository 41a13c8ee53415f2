"""The `skillchain` CLI against a live single-validator node: tx, bulk upload, query, keys."""

from __future__ import annotations

import json
import os
import stat
import time

import pytest
from click.testing import CliRunner

from cli.main import main
from tests.node.cluster import make_cluster

DAY = 86_400


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    cluster = make_cluster(tmp_path_factory.mktemp("cli"), 1)
    yield cluster
    cluster.stop_all()


def run(*args: str) -> dict:
    result = CliRunner().invoke(main, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def test_keys_new_is_private_and_refuses_overwrite(tmp_path):
    path = tmp_path / "me.key"
    made = run("keys", "new", "--out", str(path))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert run("keys", "show", str(path))["public_key"] == made["public_key"]
    result = CliRunner().invoke(main, ["keys", "new", "--out", str(path)])
    assert result.exit_code == 2 and "error[bad_key_file]" in result.output


def test_class_enrol_upload_and_query(node, tmp_path):
    url, keys = node.urls[0], node.root / "keys"
    now = int(time.time())
    trainee = "ab" * 32
    opened = run(
        "tx",
        "enrolment",
        "open-class",
        "--class-id",
        "cli-1",
        "--organizer-id",
        "organizer-nc-school",
        "--occupation-code",
        "4-03-02-01",
        "--edition",
        "2015",
        "--level",
        "5",
        "--city",
        "360100",
        "--start",
        str(now - 30 * DAY),
        "--end",
        str(now + DAY),
        "--planned-seconds",
        "360000",
        "--key",
        str(keys / "provider-ganpo.key"),
        "--node",
        url,
    )
    assert opened["receipt"]["status"] == "accepted", opened
    enrolled = run(
        "tx",
        "enrolment",
        "enrol",
        "--class-id",
        "cli-1",
        "--trainees",
        json.dumps([[trainee, "cd" * 32, "face+id-card"]]),
        "--key",
        str(keys / "provider-ganpo.key"),
        "--node",
        url,
    )
    assert enrolled["receipt"]["status"] == "accepted", enrolled

    day = now - now % DAY - 10 * DAY

    def session(sid: str, start: int) -> dict:
        end = start + 3600
        return {
            "session_id": sid,
            "trainee": trainee,
            "class_id": "cli-1",
            "unit": "u1",
            "mode": "recorded",
            "start": start,
            "end": end,
            "active_seconds": 3600,
            "captures": [
                [start, "11" * 32, True],
                [start + 1800, "12" * 32, True],
                [end, "13" * 32, True],
            ],
            "log_hash": "ee" * 32,
        }

    rows = [session("a", day + 3600), session("b", day + 3 * 3600), session("c", day + 3600 + 600)]
    jsonl = tmp_path / "sessions.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    uploaded = run(
        "tx",
        "upload-sessions",
        "--file",
        str(jsonl),
        "--batch",
        "2",
        "--key",
        str(keys / "provider-ganpo.key"),
        "--node",
        url,
    )
    assert uploaded["credited"] == 2 and uploaded["rejected_by_code"] == {"session_overlap": 1}

    csv_path = tmp_path / "sessions.csv"
    start = day + DAY + 3600
    csv_path.write_text(
        "session_id,trainee,class_id,unit,mode,start,end,active_seconds,captures,log_hash\n"
        f"d,{trainee},cli-1,u1,recorded,{start},{start + 1800},1800,"
        f"{start}:{'11' * 32}:1;{start + 1800}:{'12' * 32}:1,{'ee' * 32}\n"
    )
    uploaded = run(
        "tx",
        "upload-sessions",
        "--file",
        str(csv_path),
        "--key",
        str(keys / "provider-ganpo.key"),
        "--node",
        url,
    )
    assert uploaded["credited"] == 1

    progress = run(
        "query", "progress", "--class", "cli-1", "--trainee", trainee, "--proof", "--node", url
    )
    assert progress["result"]["found"] and progress["proof"]["entries"]


def test_bad_input_to_the_cli_is_a_clear_error(node, tmp_path):
    url, keys = node.urls[0], node.root / "keys"
    result = CliRunner().invoke(
        main,
        [
            "tx",
            "enrolment",
            "enrol",
            "--class-id",
            "x",
            "--trainees",
            "[not json",
            "--key",
            str(keys / "provider-ganpo.key"),
            "--node",
            url,
        ],
    )
    assert result.exit_code == 2 and "error[bad_body]" in result.output
    result = CliRunner().invoke(main, ["query", "status", "--node", "http://127.0.0.1:9"])
    assert result.exit_code == 2 and "error[unreachable]" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("session_id,trainee\nx,y\n")
    result = CliRunner().invoke(
        main,
        [
            "tx",
            "upload-sessions",
            "--file",
            str(bad),
            "--key",
            str(keys / "provider-ganpo.key"),
            "--node",
            url,
        ],
    )
    assert result.exit_code == 2 and "needs columns" in result.output
