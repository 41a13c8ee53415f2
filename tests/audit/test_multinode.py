"""Replay of a chain produced by a real 4-process network, over RPC and from an export;
the node's GET /v1/credential bundle verifies offline."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from chain.credential import verify_credential
from chain.genesis import load_genesis
from chain.types import header_hash
from cli.audit import audit
from cli.workload import Workload
from node.audit.source import RemoteSource
from node.client import Client
from tests.node.cluster import Cluster, make_cluster


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, Workload]]:
    cluster = make_cluster(tmp_path_factory.mktemp("audit-net"), 4)
    try:
        workload = Workload(cluster.root, cluster.urls, trainees=60, progress=lambda _: None)
        asyncio.run(_first_phases(workload))
        yield cluster, workload
    finally:
        cluster.stop_all()


async def _first_phases(w: Workload) -> None:
    """Policy, classes, enrolment and sessions (with fraud attempts): no publicity wait."""
    clients = [Client(u) for u in w.urls]
    for c in clients:
        await c.__aenter__()
    try:
        w.head = (await clients[0].status())["height"]
        await w.submit_all(clients, [w.demo_policy()], "policy")
        await w.submit_all(clients, w.open_classes(), "classes")
        await w.submit_all(clients, w.enrol() + w.attest(), "enrolment")
        await w.submit_all(clients, w.sessions(), "sessions")
    finally:
        for c in clients:
            await c.__aexit__()


def test_replay_over_rpc_and_from_export_matches_every_root(network, tmp_path: Path):
    cluster, _ = network
    genesis = str(cluster.root / "genesis.json")
    runner = CliRunner()
    url = cluster.urls[1]
    answer = runner.invoke(audit, ["replay", "--genesis", genesis, "--from", url,
                                   "--data", str(tmp_path / "a"), "--json",
                                   "--report", str(tmp_path / "r.json")])
    assert answer.exit_code == 0, answer.output
    report = json.loads(answer.output.strip().splitlines()[-1])
    assert report["ok"] and report["txs"] > 20 and report["head"] >= 4
    assert json.loads((tmp_path / "r.json").read_text())["head"] == report["head"]
    source = RemoteSource(cluster.urls[3])  # another node agrees on the replayed head
    try:
        (block, _, _), = source.fetch(report["head"], report["head"])
    finally:
        source.close()
    g, _ = load_genesis(genesis)
    assert header_hash(g.suite, block.header).hex() == report["head_hash"]
    assert block.header.state_root.hex() == report["state_root"]

    export = runner.invoke(audit, ["export", "--from", url, "--out", str(tmp_path / "x"),
                                   "--genesis", genesis])
    assert export.exit_code == 0, export.output
    offline = runner.invoke(audit, ["replay", "--genesis", genesis, "--from",
                                    str(tmp_path / "x"), "--data", str(tmp_path / "b")])
    assert offline.exit_code == 0, offline.output
    assert "OK: every hash link" in offline.output


def test_node_serves_a_credential_that_verifies_offline(network, tmp_path: Path):
    cluster, workload = network
    plan = workload.classes[0]
    trainee = plan.trainees[0].hex()
    out = tmp_path / "cred.json"
    runner = CliRunner()
    made = runner.invoke(audit, ["credential", "--trainee", trainee, "--class", plan.class_id,
                                 "--from", cluster.urls[2], "--out", str(out)])
    assert made.exit_code == 0, made.output
    genesis, genesis_hash = load_genesis(cluster.root / "genesis.json")
    facts = verify_credential(json.loads(out.read_text()), genesis, genesis_hash)
    assert facts.found and facts.theory_seconds > 0 and len(facts.signers) >= 3
    assert facts.evidence["sessions"] > 0
    shown = runner.invoke(audit, ["verify-credential", str(out), "--genesis",
                                  str(cluster.root / "genesis.json")])
    assert shown.exit_code == 0 and "VERIFIED" in shown.output


def test_bad_credential_request_is_a_clean_error(network, tmp_path: Path):
    cluster, _ = network
    answer = CliRunner().invoke(audit, ["credential", "--trainee", "ab" * 32, "--class", "x",
                                        "--from", "http://127.0.0.1:9", "--out",
                                        str(tmp_path / "c.json")])
    assert answer.exit_code == 2 and "error[audit_source]" in answer.output
