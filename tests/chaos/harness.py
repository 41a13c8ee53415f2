"""Chaos harness: real validator processes, steady signed load, seeded perturbations.

Theory of operation
-------------------
``ChaosNet`` creates an n-validator network on loopback and routes every
directed validator link ``i -> j`` through a proxy port the harness owns
(``tests.chaos.proxy``), so it can cut a node off without root. Each node is
its own OS process (``cli.devnet.start_node``) with its own LevelDB and WAL.

``Load`` runs several client tasks on the harness's event-loop thread. Each
signs ``registry.suspend_actor`` txs as the provincial admin and submits them
to a node of its choosing with ``?wait=commit``; only an answer saying
``committed`` counts as acknowledged. Errors, timeouts and answers from a
node that is being killed are simply not acknowledged: a client that was
never told "committed" may not complain about a tx being absent.

``run_chaos`` applies perturbations one after another at seeded random times
(``random.Random(seed)`` chooses kind, target and durations, so a failing
seed can be replayed). After each perturbation is healed it waits until all
nodes are back within one block of the tip and records that time; a node
that takes longer than ``recovery_timeout_s`` fails the run. Kinds:

    kill       SIGKILL one node, restart it after a hold time
    pause      SIGSTOP one node, SIGCONT after a hold time
    partition  cut one node off through the proxies, heal after a hold time
    restart    SIGKILL 2..n nodes at once, restart them all
    wipe       SIGKILL one node, delete ``HOME/data``, restart (WAL kept)

Wiping keeps ``consensus.wal`` on purpose. The WAL is the record of what this
validator signed; an operator who rebuilds a node's database from peers must
keep it (as CometBFT operators keep ``priv_validator_state.json``), because a
validator that forgets its votes may sign a second block for a (height, view)
it already voted on. Deleting both would test an operator error the protocol
cannot defend against; keeping it tests that a node with an empty database
and a non-empty vote log recovers by catch-up without equivocating.

At the end the load stops and ``tests.chaos.checks.check_chains`` runs.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from chain.genesis import load_genesis
from chain.types import tx_hash
from cli.devnet import node_status, wait_ready
from cli.netgen import new_network
from node.client import Client, ClientError, TxBuilder
from node.keys import load_key
from tests.chaos.checks import ChainReport, check_chains, wait_converged
from tests.chaos.proxy import LinkProxy, LoopThread
from tests.node.cluster import Cluster, free_base_port

__all__ = ["KINDS", "ChaosConfig", "ChaosNet", "ChaosResult", "Load", "run_chaos"]

KINDS = ("kill", "pause", "partition", "restart", "wipe")
ADMIN = "jx-hrss"


@dataclass
class ChaosConfig:
    """Knobs of one run; ``seed`` makes the perturbation schedule reproducible."""

    validators: int = 4
    seed: int = 1
    perturbations: int = 10
    duration_s: float | None = None  # when set, run until this many seconds have passed
    clients: int = 4
    client_pause_s: float = 0.05
    hold_s: tuple[float, float] = (1.5, 4.0)
    gap_s: tuple[float, float] = (0.5, 2.0)
    recovery_timeout_s: float = 60.0
    kinds: tuple[str, ...] = KINDS
    config_overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class Perturbation:
    kind: str
    nodes: list[int]
    started_s: float
    hold_s: float
    recovery_s: float | None = None


@dataclass
class ChaosResult:
    perturbations: list[Perturbation]
    report: ChainReport
    submitted: int
    errors: int
    final_recovery_s: float
    elapsed_s: float

    @property
    def max_recovery_s(self) -> float:
        times = [p.recovery_s for p in self.perturbations if p.recovery_s is not None]
        return max([*times, self.final_recovery_s])

    def summary(self) -> dict[str, Any]:
        """The one-line JSON of the long run (``bench.chaos``)."""
        report = self.report
        return {
            "perturbations": len(self.perturbations),
            "by_kind": {k: sum(p.kind == k for p in self.perturbations) for k in KINDS},
            "acked": report.acked,
            "lost": len(report.lost),
            "double_applied": len(report.double_applied),
            "conflicting_signatures": report.conflicting_signatures,
            "divergent_heights": len(report.divergent_heights),
            "max_recovery_s": round(self.max_recovery_s, 2),
            "recoveries_over_60s": sum((p.recovery_s or 0) > 60 for p in self.perturbations),
            "submitted": self.submitted,
            "client_errors": self.errors,
            "heights": report.heights,
            "elapsed_s": round(self.elapsed_s, 1),
        }


class ChaosNet:
    """n validator processes whose links all pass through a ``LinkProxy``."""

    def __init__(
        self, tmp: Path, validators: int, config_overrides: dict[str, Any] | None = None
    ) -> None:
        self.loop = LoopThread()
        self.proxy = LinkProxy(self.loop)
        network = new_network(tmp / "net", validators, base_port=free_base_port(validators))
        self.root = tmp / "net"
        configs = [json.loads((h / "config.json").read_text()) for h in network.homes]
        index_of = {self._own_key(h): i for i, h in enumerate(network.homes)}
        for i, (home, config) in enumerate(zip(network.homes, configs, strict=True)):
            peers = []
            for peer in config["peers"]:
                j = index_of[peer["public_key"]]
                port = self.proxy.add_link(i, j, (peer["host"], peer["port"]))
                peers.append({**peer, "host": "127.0.0.1", "port": port})
            config.update(config_overrides or {}, peers=peers)
            (home / "config.json").write_text(json.dumps(config))
        self.cluster = Cluster(self.root, network.homes, [None] * validators)
        genesis, _ = load_genesis(self.root / "genesis.json")
        self.suite, self.chain_id = genesis.suite, genesis.chain_id
        self.paused: set[int] = set()

    @staticmethod
    def _own_key(home: Path) -> str:
        genesis, _ = load_genesis(home / "genesis.json")
        return load_key(home / "validator.key", genesis.crypto_suite).public_key.hex()

    @property
    def n(self) -> int:
        return len(self.cluster.homes)

    @property
    def urls(self) -> list[str]:
        return self.cluster.urls

    def start_all(self, env: dict[str, str] | None = None) -> None:
        for i in range(self.n):
            self.cluster.start(i, env)
        wait_ready(self.urls)

    def start(self, i: int, env: dict[str, str] | None = None, wait: bool = True) -> None:
        self.cluster.start(i, env)
        if wait:
            wait_ready([self.urls[i]])

    def kill(self, i: int) -> None:
        if i in self.paused:
            self.resume(i)
        self.cluster.kill(i, signal.SIGKILL)

    def pause(self, i: int) -> None:
        proc = self.cluster.procs[i]
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGSTOP)
            self.paused.add(i)

    def resume(self, i: int) -> None:
        proc = self.cluster.procs[i]
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
        self.paused.discard(i)

    def wipe(self, i: int, keep_wal: bool = True) -> None:
        """Delete a stopped node's database (and its WAL unless ``keep_wal``)."""
        shutil.rmtree(self.cluster.homes[i] / "data", ignore_errors=True)
        if not keep_wal:
            (self.cluster.homes[i] / "consensus.wal").unlink(missing_ok=True)

    def builder(self, actor: str = ADMIN) -> TxBuilder:
        return self.cluster.builder(actor)

    def alive(self, i: int) -> bool:
        proc = self.cluster.procs[i]
        return proc is not None and proc.poll() is None

    def close(self, grace_s: float = 5.0) -> None:
        """SIGTERM everyone, SIGKILL whoever is still up after ``grace_s``.

        A node's graceful stop waits for open ``?wait=commit`` requests (up to
        30 s); a test teardown has no reason to.
        """
        for i in list(self.paused):
            self.resume(i)
        procs = [p for p in self.cluster.procs if p is not None and p.poll() is None]
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self.cluster.procs = [None] * self.n
        self.proxy.close()
        self.loop.close()


class Load:
    """Client tasks submitting signed txs with ``?wait=commit`` (on the net's loop)."""

    def __init__(
        self, net: ChaosNet, clients: int, pause_s: float, seed: int, nodes: list[int] | None = None
    ) -> None:
        self.net = net
        self.clients = clients
        self.pause_s = pause_s
        self.nodes = list(range(net.n)) if nodes is None else nodes
        self.rng = random.Random(seed ^ 0x5EED)
        self.acked: dict[str, int] = {}
        self.submitted = 0
        self.errors = 0
        self._head = max((s or {}).get("height", 0) for s in map(node_status, net.urls))
        self._stop: asyncio.Event | None = None
        self._future: Any = None

    def start(self) -> None:
        self._future = self.net.loop.submit(self._run())

    def stop(self) -> None:
        """Stop submitting; requests in flight are abandoned (and never acknowledged)."""
        if self._stop is not None:
            self.net.loop.loop.call_soon_threadsafe(self._stop.set)
        if self._future is not None:
            self._future.result(timeout=60)

    async def _run(self) -> None:
        self._stop = asyncio.Event()
        timeout = aiohttp.ClientTimeout(total=35)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            tasks = [asyncio.create_task(self._client(k, session)) for k in range(self.clients)]
            await self._stop.wait()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _client(self, k: int, session: aiohttp.ClientSession) -> None:
        builder = self.net.builder()
        rng = random.Random(self.rng.random())
        sequence = 0
        while True:
            sequence += 1
            node = rng.choice(self.nodes)
            tx = builder.build("registry.suspend_actor", [f"chaos-{k}-{sequence}", "t"], self._head)
            digest = tx_hash(self.net.suite, tx).hex()
            self.submitted += 1
            try:
                answer = await Client(self.net.urls[node], session).submit(tx, wait=True)
            except ClientError:
                self.errors += 1
                await asyncio.sleep(0.2)
                continue
            if answer.get("status") == "committed":
                self.acked[digest] = answer["height"]
                self._head = max(self._head, answer["height"])
            await asyncio.sleep(self.pause_s)


def _apply(net: ChaosNet, kind: str, nodes: list[int], hold_s: float) -> None:
    """Perform one perturbation and heal it (blocking for the hold time)."""
    if kind == "kill":
        net.kill(nodes[0])
        time.sleep(hold_s)  # the hold time *is* the perturbation: a node down for a while
        net.start(nodes[0])
    elif kind == "pause":
        net.pause(nodes[0])
        time.sleep(hold_s)
        net.resume(nodes[0])
    elif kind == "partition":
        net.proxy.cut(nodes[0])
        time.sleep(hold_s)
        net.proxy.heal(nodes[0])
    elif kind == "restart":
        for i in nodes:
            net.kill(i)
        for i in nodes:
            net.start(i, wait=False)
        wait_ready([net.urls[i] for i in nodes])
    elif kind == "wipe":
        net.kill(nodes[0])
        net.wipe(nodes[0], keep_wal=True)
        net.start(nodes[0])
    else:
        raise ValueError(f"unknown perturbation {kind!r}")


def _choose(rng: random.Random, config: ChaosConfig, index: int) -> tuple[str, list[int]]:
    # The first len(kinds) perturbations cover every kind once, so even a short
    # run exercises all of them; after that the seed decides.
    kinds = list(config.kinds)
    kind = kinds[index] if index < len(kinds) else rng.choice(kinds)
    n = config.validators
    if kind == "restart":
        return kind, sorted(rng.sample(range(n), rng.randint(2, n)))
    return kind, [rng.randrange(n)]


def run_chaos(tmp: Path, config: ChaosConfig, log: Any = None) -> ChaosResult:
    """One chaos run in ``tmp``; returns the perturbations, the checks and the figures."""
    say = log or (lambda _msg: None)
    rng = random.Random(config.seed)
    net = ChaosNet(tmp, config.validators, config.config_overrides)
    started = time.monotonic()
    perturbations: list[Perturbation] = []
    # Recovery is timed up to ten times the limit, so a slow catch-up is
    # measured (and fails the run through max_recovery_s) instead of aborting it.
    patience_s = 10 * config.recovery_timeout_s
    load: Load | None = None
    try:
        net.start_all()
        load = Load(net, config.clients, config.client_pause_s, config.seed)
        load.start()
        while True:
            elapsed = time.monotonic() - started
            if config.duration_s is not None:
                if elapsed >= config.duration_s:
                    break
            elif len(perturbations) >= config.perturbations:
                break
            time.sleep(rng.uniform(*config.gap_s))
            kind, nodes = _choose(rng, config, len(perturbations))
            hold_s = rng.uniform(*config.hold_s)
            step = Perturbation(kind, nodes, time.monotonic() - started, hold_s)
            say(f"[{step.started_s:7.1f}s] {kind} {nodes} hold {hold_s:.1f}s")
            _apply(net, kind, nodes, hold_s)
            perturbations.append(step)
            step.recovery_s = wait_converged(net.urls, patience_s)
            late = "  (over the limit!)" if step.recovery_s > config.recovery_timeout_s else ""
            say(f"          back within one block of the tip in {step.recovery_s:.1f}s{late}")
        final_recovery_s = wait_converged(net.urls, patience_s)
        load.stop()
        report = check_chains(net.urls, set(load.acked))
        return ChaosResult(
            perturbations,
            report,
            load.submitted,
            load.errors,
            final_recovery_s,
            time.monotonic() - started,
        )
    finally:
        if load is not None:
            load.stop()
        net.close()
