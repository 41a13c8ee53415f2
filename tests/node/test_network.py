"""A 4-validator network of real processes: commit, crash, restart, view change, agreement."""

from __future__ import annotations

import json
import os
import signal
import urllib.error
import urllib.request

import pytest

from cli.devnet import node_status, wait_ready
from tests.node.cluster import make_cluster


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    cluster = make_cluster(tmp_path_factory.mktemp("net4"), 4)
    yield cluster
    cluster.stop_all()


def get(url: str, path: str) -> dict:
    with urllib.request.urlopen(url + path, timeout=30) as answer:
        return json.loads(answer.read())


def post_tx(url: str, tx, wait: bool = True) -> dict:
    body = json.dumps({"tx": tx.encode().hex()}).encode()
    request = urllib.request.Request(url + "/v1/txs" + ("?wait=commit" if wait else ""), data=body)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        raise AssertionError(f"{refused.code} {refused.read().decode(errors='replace')}") from None


def letters() -> str:
    """A fresh id in letters only: a run of digits could read as a card number (personal_data)."""
    return "".join(chr(ord("a") + byte % 26) for byte in os.urandom(12))


def committed_txs(net, admin, count: int, node: int) -> list[str]:
    """Submit ``count`` txs to ``node``, each acknowledged as committed; return their hashes."""
    head = node_status(net.urls[node])["height"]
    acked = []
    for _ in range(count):
        tx = admin.build("registry.suspend_actor", [f"nobody-{letters()}", "t"], head)
        answer = post_tx(net.urls[node], tx)
        assert answer["status"] == "committed"
        acked.append(answer["hash"])
    return acked


def assert_agreement(net, nodes) -> None:
    """Same block hash and state root at every common height on the given nodes."""
    heads = [node_status(net.urls[i])["height"] for i in nodes]
    top = min(heads)
    for height in range(1, top + 1, max(1, top // 25)):
        headers = [get(net.urls[i], f"/v1/blocks/{height}")["header"] for i in nodes]
        assert len({h["hash"] for h in headers}) == 1, f"divergence at height {height}"
        assert len({h["state_root"] for h in headers}) == 1


def test_commits_and_agrees(net):
    admin = net.builder("jx-hrss")
    acked = committed_txs(net, admin, 5, node=1)
    for url in net.urls:
        for digest in acked:
            assert get(url, f"/v1/txs/{digest}")["status"] in ("committed", "pending")
    net.wait_height(node_status(net.urls[1])["height"])
    assert_agreement(net, range(4))
    # Replicas executed proposals ahead, from the primaries' previews, and verified
    # them without executing again (node.executor.speculate).
    assert sum(metric(url, "skillchain_speculation_hits_total") for url in net.urls) > 0


def metric(url: str, name: str) -> int:
    with urllib.request.urlopen(url + "/metrics", timeout=30) as answer:
        text = answer.read().decode()
    return int(next(line.split()[1] for line in text.splitlines() if line.startswith(name + " ")))


def test_killed_validator_catches_up_and_rejoins(net):
    admin = net.builder("jx-hrss")
    net.kill(3, signal.SIGKILL)
    acked = committed_txs(net, admin, 5, node=0)  # 3 of 4 are a quorum
    behind = node_status(net.urls[0])["height"]
    net.start(3)
    wait_ready([net.urls[3]])
    net.wait_height(behind, nodes=[3], timeout_s=60)
    for digest in acked:
        assert get(net.urls[3], f"/v1/txs/{digest}")["status"] == "committed"
    assert_agreement(net, range(4))


def test_primary_killed_view_change_resumes_progress(net):
    admin = net.builder("jx-hrss")
    status = node_status(net.urls[0])
    height = status["consensus_height"]
    validators = [v["public_key"] for v in get(net.urls[0], "/v1/validators")["validators"]]
    primary_key = validators[(height + status["view"]) % len(validators)]
    primary = next(
        i for i, url in enumerate(net.urls) if node_status(url)["validator"] == primary_key
    )
    net.kill(primary, signal.SIGKILL)
    survivor = (primary + 1) % 4
    acked = committed_txs(net, admin, 3, node=survivor)
    assert acked
    assert sum(node_status(u)["view_changes"] for i, u in enumerate(net.urls) if i != primary) >= 1
    net.start(primary)
    wait_ready([net.urls[primary]])
    net.wait_height(node_status(net.urls[survivor])["height"], timeout_s=60)
    assert_agreement(net, range(4))


def test_nothing_acknowledged_is_lost_after_restarting_everyone(net):
    admin = net.builder("jx-hrss")
    acked = committed_txs(net, admin, 4, node=2)
    for i in range(4):
        net.kill(i, signal.SIGKILL)
    for i in range(4):
        net.start(i)
    wait_ready(net.urls)
    for url in net.urls:
        for digest in acked:
            assert get(url, f"/v1/txs/{digest}")["status"] == "committed"
    more = committed_txs(net, admin, 2, node=0)
    assert more
    assert_agreement(net, range(4))
