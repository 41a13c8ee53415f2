"""Real multi-process networks for tests: N validator processes on loopback."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from chain.genesis import load_genesis
from cli.devnet import node_status, rpc_url, start_node, wait_ready
from cli.netgen import free_base_port, new_network
from node.client import TxBuilder
from node.keys import load_key


@dataclass
class Cluster:
    root: Path
    homes: list[Path]
    procs: list[subprocess.Popen | None] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [rpc_url(h) for h in self.homes]

    def start(self, i: int, env: dict[str, str] | None = None) -> None:
        self.procs[i] = start_node(self.homes[i], env)

    def kill(self, i: int, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[i]
        if proc is not None and proc.poll() is None:
            proc.send_signal(sig)
            proc.wait(timeout=30)
        self.procs[i] = None

    def stop_all(self) -> None:
        for i in range(len(self.homes)):
            self.kill(i, signal.SIGTERM)

    def heights(self) -> list[int | None]:
        return [(s or {}).get("height") for s in (node_status(u) for u in self.urls)]

    def wait_height(
        self, height: int, nodes: list[int] | None = None, timeout_s: float = 60
    ) -> None:
        nodes = list(range(len(self.homes))) if nodes is None else nodes
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            heights = self.heights()
            if all((heights[i] or 0) >= height for i in nodes):
                return
            time.sleep(0.2)
        raise AssertionError(f"nodes {nodes} did not reach height {height}: {self.heights()}")

    def builder(self, actor: str) -> TxBuilder:
        genesis, _ = load_genesis(self.root / "genesis.json")
        key = load_key(self.root / "keys" / f"{actor}.key")
        return TxBuilder(key, genesis.chain_id)

    def log(self, i: int) -> str:
        return (self.homes[i] / "node.log").read_text(errors="replace")


def make_cluster(
    tmp: Path,
    validators: int,
    config_overrides: dict | None = None,
    suite: str = "ed25519-sha256",
    consensus: dict[str, int] | None = None,
    tls: bool = False,
) -> Cluster:
    """``validators`` nodes started and ready; ``consensus`` sets genesis timing (e.g.
    ``{"empty_block_interval_s": 1}`` where a test watches heights grow with no txs)."""
    base = free_base_port(validators)
    network = new_network(tmp / "net", validators, suite_name=suite, base_port=base,
                          consensus=consensus, tls=tls)
    for home in network.homes:
        path = home / "config.json"
        config = json.loads(path.read_text())
        config.update(config_overrides or {})
        path.write_text(json.dumps(config))
    cluster = Cluster(tmp / "net", network.homes, [None] * validators)
    for i in range(validators):
        cluster.start(i)
    wait_ready(cluster.urls)
    return cluster
