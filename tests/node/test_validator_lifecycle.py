"""A validator joins by governance with no config edit, rotates its key, is removed and
says so; and a whole devnet stopped at once exits. Real processes on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import signal
import time
from pathlib import Path

import pytest

from chain.codec import encode
from chain.genesis import load_genesis
from cli.devnet import node_status, start_node, wait_ready
from cli.netgen import free_base_port
from contracts import TAG_KEY_POSSESSION
from node.client import Client, ClientError, TxBuilder
from node.config import NodeConfig, load_config, write_config
from node.keys import write_key
from tests.node.cluster import Cluster, make_cluster

BUREAUS = ("bureau-360100", "bureau-360200", "bureau-360300")


def submit(url: str, builder: TxBuilder, kind: str, body: list) -> dict:
    async def go() -> dict:
        async with Client(url) as client:
            head = (await client.status())["height"]
            return await client.submit(builder.build(kind, body, head), wait=True)

    return asyncio.run(go())


def governance(net: Cluster, url: str, kind: str, body: list) -> int:
    """Propose with one bureau, approve with two more; the effective height."""
    answer = submit(url, net.builder(BUREAUS[0]), kind, body)
    assert answer["receipt"]["code"] == "", answer
    proposal = answer["hash"]
    for bureau in BUREAUS[1:]:
        answer = submit(url, net.builder(bureau), "registry.approve_validator_change",
                        [bytes.fromhex(proposal)])
        assert answer["receipt"]["code"] == "", answer
    events = answer["receipt"]["events"]
    scheduled = [e for e in events if e["kind"] == "registry.validator_change_scheduled"]
    assert scheduled, events
    return int(scheduled[0]["data"][1])


def wait_status(url: str, check, timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    status = None
    while time.monotonic() < deadline:
        status = node_status(url)
        if status is not None and check(status):
            return status
        time.sleep(0.2)
    raise AssertionError(f"{url}: condition not reached; last status {status}")


def commit_some(net: Cluster, url: str, label: str) -> int:
    """Commit one admin tx through ``url``; its height."""
    answer = submit(url, net.builder("jx-hrss"), "registry.suspend_actor",
                    ["provider-lushan", f"lifecycle {label}"])
    assert "receipt" in answer, answer
    return int(answer["height"])


def advance(net: Cluster, url: str, height: int) -> None:
    """Commit txs until the head is at least ``height`` (an idle chain makes no blocks)."""
    n = 0
    while int(node_status(url)["height"]) < height:
        n += 1
        commit_some(net, url, f"advance {n}")


def new_home(net: Cluster, root: Path) -> tuple[Path, bytes]:
    """A fifth home: genesis, a fresh key, a config naming no peer at all."""
    home = root / "node4"
    home.mkdir()
    shutil.copy(net.root / "genesis.json", home / "genesis.json")
    genesis, _ = load_genesis(home / "genesis.json")
    signer = genesis.suite.generate()
    write_key(home / "validator.key", signer)
    port = free_base_port(1)
    write_config(home, NodeConfig(moniker="node4-new", p2p_port=port, rpc_port=port + 1))
    assert load_config(home).peers == ()
    return home, signer.public_key


def test_join_by_governance_rotate_key_then_remove(tmp_path):
    net = make_cluster(tmp_path, 4)
    fifth = None
    try:
        home, key = new_home(net, tmp_path)
        fifth = start_node(home)
        url = f"http://127.0.0.1:{load_config(home).rpc_port}"
        wait_ready([url])
        status = node_status(url)
        assert status["is_validator"] is False and status["removed_at"] is None
        with pytest.raises(ClientError) as refused:  # not a validator (yet): says where to go
            submit(url, net.builder("jx-hrss"), "registry.suspend_actor",
                   ["provider-lushan", "too early"])
        assert refused.value.code == "not_a_validator" and refused.value.status == 503
        assert "/v1/validators" in refused.value.message

        # join: only the chain tells the others where node4 listens
        config = load_config(home)
        effective = governance(net, net.urls[0], "registry.propose_validator_add",
                               [key, "新余 new", "360500", "127.0.0.1", config.p2p_port])
        advance(net, net.urls[0], effective - 1)
        wait_status(url, lambda s: s["is_validator"] and s["height"] >= effective - 1)
        # it votes: with one of the first four down, 4 of 5 (the quorum) need node4
        net.kill(3, signal.SIGTERM)
        height = commit_some(net, url, "joined")
        wait_status(url, lambda s: s["height"] >= height)
        assert all(load_config(h).peers for h in net.homes)  # nobody's config changed...
        assert not any(p.public_key == key.hex() for h in net.homes for p in load_config(h).peers)

        # rotate: one governance action, the new key proves possession
        genesis, _ = load_genesis(home / "genesis.json")
        new_signer = genesis.suite.generate()
        write_key(home / "validator.next.key", new_signer)
        proof = new_signer.sign(TAG_KEY_POSSESSION, genesis.chain_id,
                                encode([key, new_signer.public_key]))
        before = len(asyncio.run(_validators(net.urls[0])))
        effective = governance(net, net.urls[0], "registry.rotate_validator_key",
                               [key, new_signer.public_key, proof])
        advance(net, net.urls[0], effective - 1)
        status = wait_status(url, lambda s: s["is_validator"] is False)
        assert status["removed_at"] == effective
        validators = asyncio.run(_validators(net.urls[0]))
        assert len(validators) == before == 5
        assert new_signer.public_key.hex() in {v["public_key"] for v in validators}
        fifth.send_signal(signal.SIGTERM)
        fifth.wait(timeout=15)
        fifth = start_node(home)  # picks validator.next.key: the rotation is in force
        status = wait_status(url, lambda s: s["is_validator"])
        assert status["validator"] == new_signer.public_key.hex()
        height = commit_some(net, url, "rotated")  # node3 still down: the new key votes
        wait_status(url, lambda s: s["height"] >= height)

        # remove: it says so, and refuses txs with a stable code
        net.start(3)
        effective = governance(net, net.urls[0], "registry.propose_validator_change",
                               ["remove", new_signer.public_key, "新余 new", "360500"])
        advance(net, net.urls[0], effective - 1)
        status = wait_status(url, lambda s: s["is_validator"] is False)
        assert status["removed_at"] == effective
        with pytest.raises(ClientError) as refused:
            submit(url, net.builder("jx-hrss"), "registry.suspend_actor",
                   ["provider-ganpo", "after removal"])
        assert refused.value.code == "not_a_validator" and refused.value.status == 503
        assert f"since height {effective}" in refused.value.message
        commit_some(net, net.urls[0], "after removal")  # the four go on without it
        assert "is not a validator from height" in (home / "node.log").read_text()
    finally:
        if fifth is not None and fifth.poll() is None:
            fifth.kill()
            fifth.wait()
        net.stop_all()


async def _validators(url: str) -> list[dict]:
    async with Client(url) as client:
        answer = await client.validators()
    return answer["validators"] if isinstance(answer, dict) else answer


def test_a_devnet_sent_sigterm_all_at_once_exits(tmp_path):
    """Finding: with SIGTERM to every node at once some logged "stopping" and never
    exited (a dial loop's cancellation lost in ``asyncio.wait_for``)."""
    for _ in range(2):
        net = make_cluster(tmp_path / f"run{_}", 4)
        net.wait_height(0)
        time.sleep(1.0)  # links up and redialling each other as they go down
        procs = [p for p in net.procs if p is not None]
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in procs:
            with contextlib.suppress(Exception):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        alive = [i for i, p in enumerate(procs) if p.poll() is None]
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        logs = {i: net.log(i)[-2000:] for i in alive}
        assert alive == [], f"nodes {alive} still running 10 s after SIGTERM: {json.dumps(logs)}"
