"""The WAN lab of ``make bench-wan``: each validator in its own network namespace.

Layout (Linux, root; iproute2 only)::

    ns swanP-n0 (10.213.K.10) --veth--+
    ns swanP-n1 (10.213.K.11) --veth--+-- bridge in ns swanP-hub (10.213.K.1)
    ...                               |     + the relays (bench.wan_relay)
    root ns   (10.213.K.254)  --veth--+   (the bench: load generator, watcher)

Every node listens on its own address; its ``config.json`` names, for each peer
j, the hub's relay of link ``i -> j`` (``10.213.K.1:RELAY_BASE + 100 i + j``),
which delays and "loses" as ``bench.wan_relay`` says and forwards to j's real
address. The bench reaches every node's RPC straight over the bridge (a bureau's
platforms sit next to their validator, not across the WAN).

A cut (``cut``) sets the node's veth down on the hub side: its frames vanish in
both directions, no reset is ever sent, as when a WAN line fails.

``P`` is the bench's process id, so a lab left behind by a killed bench is found
and removed by the next one (``remove_stale``), and two benches never collide.
``Lab.down`` runs on every exit path (``bench.bench_wan`` wraps it in ``finally``
and turns SIGTERM/SIGHUP into an exception).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from cli.netgen import new_network
from node.config import NodeConfig, PeerAddress, load_config, write_config
from tests.node.cluster import Cluster

__all__ = ["Lab", "NsCluster", "RelayProcess", "make_lab_network", "remove_stale", "stop_cluster"]

REPO = Path(__file__).resolve().parents[1]
RELAY_BASE = 20_000
LINK_PORT = 26_650


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale() -> list[str]:
    """Delete the namespaces of labs whose bench process is gone."""
    removed = []
    for line in _ip("netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        match = re.fullmatch(r"swan(\d+)-(hub|n\d+)", name)
        if match and not _alive(int(match.group(1))):
            _ip("netns", "del", name, check=False)
            removed.append(name)
    return removed


def _free_subnet() -> int:
    used = _ip("-4", "addr", check=False).stdout + _ip("-4", "route", check=False).stdout
    for k in range(1 + os.getpid() % 200, 255):
        if f"10.213.{k}." not in used:
            return k
    raise RuntimeError("no free 10.213.K.0/24 subnet for the lab")


@dataclass
class Lab:
    """Namespaces, veths and a bridge for ``n`` nodes; ``up`` builds, ``down`` removes."""

    n: int
    tag: int = field(default_factory=os.getpid)
    subnet: int = 0
    built: list[str] = field(default_factory=list)

    @property
    def hub(self) -> str:
        return f"swan{self.tag}-hub"

    def ns(self, i: int) -> str:
        return f"swan{self.tag}-n{i}"

    def ip(self, i: int) -> str:
        return f"10.213.{self.subnet}.{10 + i}"

    @property
    def hub_ip(self) -> str:
        return f"10.213.{self.subnet}.1"

    def _veth(self, i: int | str, side: str) -> str:
        return f"sw{self.tag % 100_000}{side}{i}"

    def up(self) -> None:
        self.subnet = _free_subnet()
        net = f"10.213.{self.subnet}"
        _ip("netns", "add", self.hub)
        self.built.append(self.hub)
        _ip("-n", self.hub, "link", "set", "lo", "up")
        _ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.hub, "addr", "add", f"{net}.1/24", "dev", "br0")
        _ip("-n", self.hub, "link", "set", "br0", "up")
        for i in range(self.n):
            ns, node_end, hub_end = self.ns(i), self._veth(i, "n"), self._veth(i, "h")
            _ip("netns", "add", ns)
            self.built.append(ns)
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("link", "add", node_end, "netns", ns, "type", "veth", "peer", "name", hub_end,
                "netns", self.hub)
            _ip("-n", ns, "addr", "add", f"{self.ip(i)}/24", "dev", node_end)
            _ip("-n", ns, "link", "set", node_end, "up")
            _ip("-n", self.hub, "link", "set", hub_end, "master", "br0")
            _ip("-n", self.hub, "link", "set", hub_end, "up")
        root_end, hub_end = self._veth("r", "r"), self._veth("r", "h")
        _ip("link", "add", root_end, "type", "veth", "peer", "name", hub_end, "netns", self.hub)
        self.built.append(root_end)
        _ip("addr", "add", f"{net}.254/24", "dev", root_end)
        _ip("link", "set", root_end, "up")
        _ip("-n", self.hub, "link", "set", hub_end, "master", "br0")
        _ip("-n", self.hub, "link", "set", hub_end, "up")

    def down(self) -> None:
        """Remove everything ``up`` made; safe to call twice and after a partial ``up``."""
        with contextlib.suppress(Exception):
            _ip("link", "del", self._veth("r", "r"), check=False)
        for name in reversed(self.built):
            if name.startswith("swan"):
                _ip("netns", "del", name, check=False)
        self.built.clear()

    def cut(self, i: int) -> None:
        """Black-hole node ``i``: its veth goes down on the hub side."""
        _ip("-n", self.hub, "link", "set", self._veth(i, "h"), "down")

    def heal(self, i: int) -> None:
        _ip("-n", self.hub, "link", "set", self._veth(i, "h"), "up")

    def exec_prefix(self, ns: str) -> list[str]:
        return ["ip", "netns", "exec", ns]


class RelayProcess:
    """``bench.wan_relay`` running in the hub namespace, driven over its stdin."""

    def __init__(self, lab: Lab, links: list[dict], default: dict, workdir: Path) -> None:
        spec = workdir / "relay-links.json"
        spec.write_text(json.dumps({"default": default, "links": links}))
        self.proc = subprocess.Popen(
            [*lab.exec_prefix(lab.hub), sys.executable, "-m", "bench.wan_relay", str(spec)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(workdir / "relay.log", "ab"),  # noqa: SIM115
            text=True, cwd=REPO, start_new_session=True,
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if line.strip() != "ready":
            self.stop()
            raise RuntimeError(f"the WAN relay did not start; see {workdir / 'relay.log'}")

    def command(self, **request: object) -> dict:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        if not answer.get("ok"):
            raise RuntimeError(f"relay refused {request}: {answer}")
        return answer

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            if self.proc.stdin:
                self.proc.stdin.close()
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=5)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


@dataclass
class NsCluster(Cluster):
    """A ``tests.node.cluster.Cluster`` whose node i runs in the lab's namespace i."""

    lab: Lab | None = None

    def start(self, i: int, env: dict[str, str] | None = None) -> None:
        assert self.lab is not None
        home = self.homes[i]
        log = open(home / "node.log", "ab")  # noqa: SIM115 - handed to the child
        self.procs[i] = subprocess.Popen(
            [*self.lab.exec_prefix(self.lab.ns(i)), sys.executable, "-m", "cli.main", "node",
             "start", "--home", str(home)],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, cwd=REPO,
            start_new_session=True,
        )



def stop_cluster(cluster: Cluster, timeout_s: float = 15) -> list[int]:
    """SIGTERM every node at once, SIGKILL what is left after ``timeout_s``; returns
    the nodes that had to be killed (a node owes a clean stop within that time)."""
    for proc in cluster.procs:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    killed = []
    for i, proc in enumerate(cluster.procs):
        if proc is None:
            continue
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        if proc.poll() is None:
            killed.append(i)
            proc.kill()
            proc.wait(timeout=5)
        cluster.procs[i] = None
    return killed


def make_lab_network(
    lab: Lab, workdir: Path, overrides: dict, tls: bool = False
) -> tuple[NsCluster, list[dict]]:
    """Homes for the lab's nodes, with peers rewritten to the relays; returns the
    (not yet started) cluster and the relay links (``bench.wan_relay`` spec)."""
    hosts = [lab.ip(i) for i in range(lab.n)]
    network = new_network(workdir / "net", lab.n, base_port=LINK_PORT, hosts=hosts, tls=tls)
    configs = [load_config(home) for home in network.homes]
    index = {p.public_key: hosts.index(p.host) for c in configs for p in c.peers}
    links = []
    for i, (home, config) in enumerate(zip(network.homes, configs, strict=True)):
        peers = []
        for peer in config.peers:
            j = index[peer.public_key]
            port = RELAY_BASE + 100 * i + j
            peers.append(PeerAddress(public_key=peer.public_key, host=lab.hub_ip, port=port))
            links.append({"src": i, "dst": j, "listen": [lab.hub_ip, port],
                          "target": [peer.host, peer.port]})
        updated = {**config.model_dump(), **overrides, "peers": [p.model_dump() for p in peers]}
        write_config(home, NodeConfig.model_validate(updated))
    cluster = NsCluster(network.root, network.homes, [None] * lab.n, lab=lab)
    return cluster, links
