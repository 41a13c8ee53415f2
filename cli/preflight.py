"""``skillchain node preflight``: can this home run as its own machine's validator?

Run on the bureau's server before ``node start`` (and after any change to its
config or network). Every check reads only this home and this machine, so a
bureau can run it before any other bureau is up; ``dial`` adds a reachability
test of the peers, which needs them up.

    config   config.json is missing or malformed
    genesis  genesis.json is missing or invalid (warns: development keys)
    key      validator.key is missing, of another suite, or not a genesis
             validator (warns: readable by others)
    peers    a genesis validator is not a peer, a peer is not a genesis
             validator, we list ourselves, or two validators share a host:port
    hosts    a peer host does not resolve, or we bind loopback while peers are
             elsewhere (warns: peers on loopback among remote ones, peer names)
    ports    the link or RPC port is taken, or its host is not an address of
             this machine
    dial     (with ``dial``) warns for each peer that does not accept a TCP
             connection within 2 s

The first three stop the later ones that need them. Nothing here changes the
home.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from chain.errors import SkillchainError
from chain.genesis import Genesis, load_genesis
from cli.cards import host_kind
from node.config import NodeConfig, load_config
from node.keys import load_key

__all__ = ["Check", "preflight"]

Status = Literal["ok", "warn", "fail"]
DIAL_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Check:
    """One line of the report: which check, its verdict, a stable code, what to do."""

    name: str
    status: Status
    code: str
    detail: str


def preflight(home: str | Path, dial: bool = False) -> dict[str, Any]:
    """Run every check on ``home``; ``ok`` is false when any check failed."""
    home = Path(home)
    checks: list[Check] = []
    config = _config(home, checks)
    loaded = _genesis(home, checks)
    genesis, digest = loaded if loaded is not None else (None, None)
    me = _key(home, genesis, checks) if genesis is not None else None
    if config is not None and genesis is not None and me is not None:
        _peers(config, genesis, me, checks)
        _hosts(config, checks)
        _ports(config, checks)
        if dial:
            _dial(config, checks)
    failed = [c for c in checks if c.status == "fail"]
    return {
        "home": str(home),
        "ok": not failed,
        "failed": len(failed),
        "warnings": sum(c.status == "warn" for c in checks),
        "genesis_hash": digest,
        "checks": [asdict(c) for c in checks],
    }


def _config(home: Path, checks: list[Check]) -> NodeConfig | None:
    try:
        config = load_config(home)
    except SkillchainError as exc:
        checks.append(Check("config", "fail", exc.code, exc.message))
        return None
    checks.append(Check("config", "ok", "ok", f"{home / 'config.json'}: {config.moniker}"))
    return config


def _genesis(home: Path, checks: list[Check]) -> tuple[Genesis, str] | None:
    try:
        genesis, digest = load_genesis(home / "genesis.json")
    except SkillchainError as exc:
        checks.append(Check("genesis", "fail", exc.code, exc.message))
        return None
    checks.append(
        Check(
            "genesis",
            "ok",
            "ok",
            f"chain {genesis.chain_id}, {len(genesis.validators)} validators, hash {digest.hex()}: "
            "compare it with every other bureau's",
        )
    )
    if genesis.development_keys:
        checks.append(
            Check(
                "genesis",
                "warn",
                "development_keys",
                "this genesis was made on one machine with every key (`genesis new`): a lab, "
                "not a network of bureaus; build one with `genesis init` from bureau cards",
            )
        )
    return genesis, digest.hex()


def _key(home: Path, genesis: Genesis, checks: list[Check]) -> str | None:
    path = home / "validator.key"
    try:
        signer = load_key(path, genesis.crypto_suite)
    except SkillchainError as exc:
        checks.append(Check("key", "fail", exc.code, exc.message))
        return None
    me = signer.public_key.hex()
    names = {v.public_key: v.name for v in genesis.validators}
    if me not in names:
        checks.append(
            Check(
                "key",
                "fail",
                "key_not_validator",
                f"{path} ({me[:16]}...) is not a validator of this genesis: wrong key, or a "
                "genesis built without your card",
            )
        )
        return None
    checks.append(Check("key", "ok", "ok", f"{path} is validator {names[me]!r}"))
    if stat.S_IMODE(os.stat(path).st_mode) & 0o077:
        checks.append(
            Check("key", "warn", "key_readable", f"{path} is readable by others: chmod 600 it")
        )
    return me


def _peers(config: NodeConfig, genesis: Genesis, me: str, checks: list[Check]) -> None:
    others = {v.public_key: v.name for v in genesis.validators if v.public_key != me}
    listed = Counter(p.public_key for p in config.peers)
    problems = []
    if me in listed:
        problems.append("config lists this node's own key as a peer")
    missing = [f"{others[k]!r}" for k in others if k not in listed]
    if missing:
        problems.append(f"no peer entry for validator(s) {', '.join(missing)}")
    strangers = [k[:16] + "..." for k in listed if k not in others and k != me]
    if strangers:
        problems.append(f"peer key(s) {', '.join(strangers)} are not genesis validators")
    twice = [k[:16] + "..." for k, n in listed.items() if n > 1]
    if twice:
        problems.append(f"peer key(s) {', '.join(twice)} listed twice")
    addresses = Counter([(p.host, p.port) for p in config.peers] + [_own_link(config)])
    shared = [f"{h}:{p}" for (h, p), n in addresses.items() if n > 1]
    if shared:
        problems.append(f"two validators at {', '.join(shared)}")
    if problems:
        checks.append(
            Check(
                "peers",
                "fail",
                "peers_mismatch",
                "; ".join(problems)
                + ": rewrite config.json with `skillchain genesis config` from the cards",
            )
        )
    else:
        checks.append(
            Check("peers", "ok", "ok", f"{len(config.peers)} peers, one per other validator")
        )


def _own_link(config: NodeConfig) -> tuple[str, int]:
    return (config.p2p_host, config.p2p_port)


def _hosts(config: NodeConfig, checks: list[Check]) -> None:
    unresolved = []
    for peer in config.peers:
        try:
            socket.getaddrinfo(peer.host, peer.port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError, ValueError):
            unresolved.append(peer.host)
    if unresolved:
        checks.append(
            Check(
                "hosts",
                "fail",
                "host_unresolvable",
                f"peer host(s) {', '.join(sorted(set(unresolved)))} do not resolve here: fix "
                "DNS or /etc/hosts, or use IP addresses",
            )
        )
    remote = [p.host for p in config.peers if host_kind(p.host) != "loopback"]
    loop = [p.host for p in config.peers if host_kind(p.host) == "loopback"]
    if remote and host_kind(config.p2p_host) == "loopback":
        checks.append(
            Check(
                "hosts",
                "fail",
                "loopback_bind",
                f"p2p_host {config.p2p_host} is loopback but peers are on other machines: "
                "they cannot reach this node; bind the card's address or 0.0.0.0",
            )
        )
    if loop and remote:
        checks.append(
            Check(
                "hosts",
                "warn",
                "loopback_peer",
                f"{len(loop)} peer(s) on loopback while others are remote: only this machine "
                "can host them",
            )
        )
    names = sorted({p.host for p in config.peers if host_kind(p.host) == "name"})
    if names:
        checks.append(
            Check(
                "hosts",
                "warn",
                "peer_names",
                f"peers given by name ({', '.join(names)}): the link listener reserves "
                "handshake slots for validators by IP address; prefer fixed addresses",
            )
        )
    if not any(c.name == "hosts" and c.status == "fail" for c in checks):
        checks.append(Check("hosts", "ok", "ok", "every peer host resolves"))


def _ports(config: NodeConfig, checks: list[Check]) -> None:
    for what, host, port in (
        ("link", config.p2p_host, config.p2p_port),
        ("rpc", config.rpc_host, config.rpc_port),
    ):
        problem = _bind_problem(host, port)
        if problem is None:
            checks.append(Check("ports", "ok", "ok", f"{what} {host}:{port} is free"))
        else:
            checks.append(Check("ports", "fail", problem[0], f"{what} {host}:{port}: {problem[1]}"))


def _bind_problem(host: str, port: int) -> tuple[str, str] | None:
    """Bind like ``asyncio.start_server`` (SO_REUSEADDR, every resolved address)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError, ValueError):
        return ("host_unresolvable", "the host does not resolve here")
    for family, kind, proto, _, address in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return ("port_in_use", "in use by another process (a node already running?)")
                if exc.errno == errno.EADDRNOTAVAIL:
                    return (
                        "not_local_address",
                        "not an address of this machine (behind NAT? bind 0.0.0.0 with "
                        "`genesis config --bind 0.0.0.0`)",
                    )
                if exc.errno == errno.EACCES:
                    return ("port_denied", "a port below 1024 needs privileges; choose another")
                return ("bind_failed", exc.strerror or str(exc))
    return None


def _dial(config: NodeConfig, checks: list[Check]) -> None:
    silent = []
    for peer in config.peers:
        try:
            socket.create_connection((peer.host, peer.port), timeout=DIAL_TIMEOUT_S).close()
        except (OSError, UnicodeError, ValueError):
            silent.append(f"{peer.host}:{peer.port}")
    if silent:
        checks.append(
            Check(
                "dial",
                "warn",
                "peer_unreachable",
                f"no answer from {', '.join(silent)}: not started yet, or a firewall between "
                "(the link port must be open to every other bureau)",
            )
        )
    else:
        checks.append(Check("dial", "ok", "ok", f"all {len(config.peers)} peers accept links"))
