"""The operations surface over real validator processes: probes, version, metrics,
logs (SIGHUP, JSON), start-up errors, the metrics listener."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.devnet import node_status, wait_ready
from cli.main import main
from cli.netgen import free_base_port, new_network
from node.version import package_version
from tests.node.cluster import make_cluster

REPO = Path(__file__).resolve().parents[2]


def get(url: str, path: str) -> tuple[int, dict | str]:
    try:
        with urllib.request.urlopen(url + path, timeout=10) as answer:
            status, raw = answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        status, raw = refused.code, refused.read().decode()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


LAB = {"empty_block_interval_s": 1}


def wait_for(check, what: str, timeout_s: float = 60.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    # A block a second even when idle: these tests watch heights and catch-up, not idleness.
    cluster = make_cluster(tmp_path_factory.mktemp("ops4"), 4, consensus=LAB)
    yield cluster
    cluster.stop_all()


# -- version ----------------------------------------------------------------------------


def test_version_names_package_store_format_and_link_protocol():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith(f"skillchain {package_version()} (store format 1, ")
    assert "link protocol 1" in result.output
    spawned = subprocess.run(
        [sys.executable, "-m", "cli.main", "--version"], capture_output=True, text=True, cwd=REPO
    )
    assert spawned.returncode == 0 and spawned.stdout == result.output


# -- probes, status, metrics on a running network ------------------------------------------


def test_health_ready_status_and_metrics_of_a_running_network(net):
    net.wait_height(2)
    for url in net.urls:
        status, body = get(url, "/health")
        assert status == 200 and body == {"alive": True, "version": package_version()}
        status, body = wait_for(lambda u=url: (lambda a: a if a[0] == 200 else None)(
            get(u, "/ready")), "ready")
        assert body["ready"] is True and body["checks"]["quorum"]["validators_connected"] == 4
    status = node_status(net.urls[0])
    assert status["version"] == package_version() and status["build"]["store_format"] == 1
    assert status["last_block_height"] == status["height"] >= 2
    assert abs(status["last_block_time"] - time.time()) < 60
    assert status["last_block_time_utc"].endswith("Z") and status["last_commit_age_s"] < 30
    _, text = get(net.urls[0], "/metrics")
    for family in (
        f'skillchain_build_info{{version="{package_version()}"',
        "skillchain_ready 1",
        "skillchain_validators_connected 4",
        "skillchain_peer_connected{peer=",
        "skillchain_peer_height{peer=",
        "skillchain_catch_up_in_progress 0",
        "skillchain_store_bytes ",
        "skillchain_wal_bytes ",
        "skillchain_last_block_timestamp_seconds ",
        "process_resident_memory_bytes ",
        "process_open_fds ",
        "process_cpu_seconds_total ",
        "process_start_time_seconds ",
        "skillchain_clock_offset_seconds ",
    ):
        assert family in text, family
    # The links line comes from a poll once a second: wait for it rather than race it.
    wait_for(lambda: "links: up " in net.log(0) and "committed height " in net.log(0),
             "a links-up and a commit line in node 0's log", timeout_s=15)


def test_sighup_reopens_the_log_and_never_stops_the_node(net):
    home, proc = net.homes[1], net.procs[1]
    (home / "node.log").rename(home / "node.log.1")
    proc.send_signal(signal.SIGHUP)
    fresh = wait_for(lambda: (home / "node.log").exists() and (home / "node.log").read_text(),
                     "a new node.log")
    assert "SIGHUP: log file" in fresh and "reopened" in fresh
    time.sleep(11)  # a commit summary is written at most every 10 s
    assert proc.poll() is None, "SIGHUP stopped the node"
    assert "committed height" in (home / "node.log").read_text()
    assert node_status(net.urls[1]) is not None


def test_a_node_behind_catches_up_logged_and_counted(net):
    """SIGSTOP a node while the others commit; on SIGCONT its head is behind the tip
    f+1 validators report (not synced), it catches up and says so, then is ready."""
    proc = net.procs[3]
    start = node_status(net.urls[0])["height"]
    proc.send_signal(signal.SIGSTOP)
    try:
        net.wait_height(start + 8, nodes=[0, 1, 2])
    finally:
        proc.send_signal(signal.SIGCONT)
    wait_for(lambda: get(net.urls[3], "/ready")[0] == 200, "node 3 ready again")
    assert node_status(net.urls[3])["height"] >= start + 8
    wait_for(lambda: "catch-up started at height" in net.log(3)
             and "catch-up finished at height" in net.log(3),
             "catch-up lines in node 3's log (written by a once-a-second poll)", timeout_s=15)
    _, text = get(net.urls[3], "/metrics")
    assert "skillchain_catch_ups_total 0" not in text
    assert "skillchain_catch_up_blocks_total 0" not in text


def test_ready_is_false_while_cut_off_from_a_quorum_and_true_when_back(net):
    """Kill 2 of 4: the other two hold 2 validators of the 3 a quorum needs."""
    for i in (2, 3):
        net.kill(i)

    def refused():
        status, body = get(net.urls[0], "/ready")
        return body if status == 503 else None

    body = wait_for(refused, "503 from /ready")
    assert body["ready"] is False and body["code"] == "not_ready"
    assert body["checks"]["quorum"] == {
        "ok": False, "validators_connected": 2, "quorum": 3, "validators": 4,
    }
    assert "not connected to a quorum: 2 of 4" in body["message"]
    assert get(net.urls[0], "/health")[0] == 200  # alive all the same
    wait_for(lambda: "links: down " in net.log(0), "a links-down line")
    for i in (2, 3):
        net.start(i)
    wait_ready(net.urls)
    for url in net.urls:
        wait_for(lambda u=url: get(u, "/ready")[0] == 200, f"{url} ready")
    heights = [node_status(u)["height"] for u in net.urls]
    assert max(heights) - min(heights) <= 2


# -- one node of our own: start-up errors, log format, metrics listener ----------------------


def one_home(tmp_path: Path, **overrides) -> Path:
    network = new_network(tmp_path / "net", 1, base_port=free_base_port(1), consensus=LAB)
    home = network.homes[0]
    config = json.loads((home / "config.json").read_text())
    (home / "config.json").write_text(json.dumps({**config, **overrides}))
    return home


def start(home: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "node", "start", "--home", str(home), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        start_new_session=True,
    )


@pytest.mark.parametrize("which", ["p2p_port", "rpc_port", "metrics_port"])
def test_a_port_in_use_is_one_error_line_and_a_non_zero_exit(tmp_path, which):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    try:
        port = holder.getsockname()[1]
        home = one_home(tmp_path, **{which: port})
        proc = start(home)
        _, err = proc.communicate(timeout=60)
    finally:
        holder.close()
    assert proc.returncode == 2
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error[")]
    assert len(lines) == 1, err
    what = which.split("_")[0]
    assert lines[0].startswith(f"error[port_in_use]: {what} address 127.0.0.1:{port}")
    assert which.replace("_port", "_host/") + which in lines[0]  # names the keys to change
    assert "error[port_in_use]" in (home / "node.log").read_text()


def test_a_bad_config_key_stops_the_start_with_bad_config(tmp_path):
    home = one_home(tmp_path, metrics_port=70_000)
    proc = start(home)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "Traceback" not in err
    assert err.startswith("error[bad_config]: ") and "metrics_port" in err


def test_an_unwritable_log_file_is_one_error_line(tmp_path):
    (tmp_path / "file").write_text("")
    home = one_home(tmp_path, log_file=str(tmp_path / "file" / "node.log"))  # under a file
    proc = start(home)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "Traceback" not in err
    assert err.startswith("error[log_file_error]: cannot open the log file ")


def test_json_log_format_and_a_separate_metrics_listener(tmp_path):
    metrics_port = free_base_port(1)
    home = one_home(tmp_path, metrics_port=metrics_port)
    rpc = "http://127.0.0.1:" + str(json.loads((home / "config.json").read_text())["rpc_port"])
    proc = start(home, "--log-format", "json", "--log-level", "info")
    try:
        wait_ready([rpc])
        wait_for(lambda: node_status(rpc)["height"] >= 1, "a commit")
        assert get(rpc, "/metrics")[0] == 404  # only on the metrics listener now
        assert get(rpc, "/ready")[0] == 200
        metrics = f"http://127.0.0.1:{metrics_port}"
        status, text = get(metrics, "/metrics")
        assert status == 200 and "skillchain_build_info" in text and "skillchain_height" in text
        assert get(metrics, "/ready") == get(rpc, "/ready")
        assert get(metrics, "/health")[0] == 200
        assert get(metrics, "/v1/status")[0] == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0  # SIGTERM stops cleanly
    lines = (home / "node.log").read_text().splitlines()
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    messages = [e["message"] for e in entries]
    assert any(m.startswith("metrics on 127.0.0.1:") for m in messages)
    assert any(m.startswith("committed height") for m in messages)
    assert messages[-2:] == ["stopping", "stopped"]
    assert os.path.exists(home / "node.log")
