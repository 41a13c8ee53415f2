"""``skillchain genesis new``: a fresh development network of N validator homes.

Each home gets its own random validator key, a config listing the other
validators' link addresses, and a copy of the genesis. Actor keys (the
provincial admin, the bureaus, the sample providers and organizers) are
written to ``OUT/keys/<actor id>.key`` — or, with ``dev_keys``, derived from
public labels exactly like the repository's ``genesis.json``.

Every secret of the network is made here, in one directory, so the genesis
says ``"development_keys": true`` either way: it is a lab or a demo, never a
network of bureaus (those are built from bureau cards by ``genesis init``,
``cli.ceremony``, and no other path sets that flag).

By default every node is on 127.0.0.1 (node i links on base+2i, RPC on
base+2i+1). ``hosts`` puts node i on ``hosts[i]`` for a lab of several
machines: then nodes on distinct hosts share the base ports, and only nodes
sharing a host count up from the base; each home is copied to its machine
and started there with ``skillchain node start``.
"""

from __future__ import annotations

import json
import random
import socket
from dataclasses import dataclass
from pathlib import Path

from chain.crypto import DEFAULT_SUITE, Signer, get_suite
from chain.genesis import parse_genesis
from cli.cards import CeremonyError, host_kind, normalize_host
from cli.jiangxi import CITIES, DEV_NOTE, dev_signer, jiangxi_genesis
from node.config import NodeConfig, PeerAddress, load_config, write_config
from node.keys import write_key

__all__ = ["Network", "enable_tls", "free_base_port", "new_network", "parse_hosts"]

RANDOM_KEYS_NOTE = (
    "Development genesis made by `skillchain genesis new`: its keys are random but were all "
    "made on one machine and written to one directory, so this is a lab network, never a "
    "network of bureaus (build that with `skillchain genesis init` from bureau cards). "
    "Entries marked illustrative carry unconfirmed amounts and hours (see DOMAIN.md)."
)


@dataclass(frozen=True)
class Network:
    """Where ``new_network`` put things."""

    root: Path
    homes: list[Path]
    genesis_path: Path
    rpc_urls: list[str]


def new_network(
    out: str | Path,
    validators: int = 4,
    chain_id: str = "jiangxi-skills-dev",
    suite_name: str = DEFAULT_SUITE,
    base_port: int = 26650,
    dev_keys: bool = False,
    hosts: list[str] | None = None,
    consensus: dict[str, int] | None = None,
    tls: bool = False,
) -> Network:
    """Create ``validators`` homes under ``out``; see the module docstring.

    ``consensus`` sets genesis ``consensus`` timing (``chain.genesis.ConsensusParams``),
    e.g. ``{"empty_block_interval_s": 1}`` for a lab chain that makes a block a second
    even when idle."""
    placed = _placement(validators, base_port, hosts)
    root = Path(out)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty; choose a new directory or remove it")
    suite = get_suite(suite_name)
    made: dict[str, Signer] = {}

    def key_for(label: str) -> Signer:
        if label not in made:
            made[label] = dev_signer(label, suite_name) if dev_keys else suite.generate()
        return made[label]

    note = DEV_NOTE if dev_keys else RANDOM_KEYS_NOTE
    document = jiangxi_genesis(validators, chain_id, suite_name, key_for=key_for, note=note)
    if consensus:
        document["consensus"] = dict(consensus)
    codes = list(CITIES)[:validators]
    link = {key_for(f"validator/{c}").public_key.hex(): placed[i] for i, c in enumerate(codes)}
    for entry in document["validators"]:  # addresses in state: nodes dial the chain's set
        entry["host"], entry["p2p_port"] = link[entry["public_key"]]
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    parse_genesis(text)  # a generator bug must not produce an unusable network
    root.mkdir(parents=True, exist_ok=True)
    genesis_path = root / "genesis.json"
    genesis_path.write_text(text)
    for label, signer in made.items():
        if label.startswith("actor/"):
            write_key(root / "keys" / f"{label.removeprefix('actor/')}.key", signer)

    host = {code: placed[i][0] for i, code in enumerate(codes)}
    p2p = {code: placed[i][1] for i, code in enumerate(codes)}
    homes = []
    for i, code in enumerate(codes):
        home = root / f"node{i}"
        home.mkdir()
        (home / "genesis.json").write_text(text)
        write_key(home / "validator.key", key_for(f"validator/{code}"))
        peers = tuple(
            PeerAddress(
                public_key=key_for(f"validator/{other}").public_key.hex(),
                host=host[other],
                port=p2p[other],
            )
            for other in codes
            if other != code
        )
        write_config(
            home,
            NodeConfig(
                moniker=f"node{i}-{code}",
                p2p_host=host[code],
                p2p_port=p2p[code],
                rpc_host=host[code],
                rpc_port=p2p[code] + 1,
                peers=peers,
            ),
        )
        homes.append(home)
    if tls:
        enable_tls(root, homes, [host[c] for c in codes])
    scheme = "https" if tls else "http"
    urls = [f"{scheme}://{_url_host(host[c])}:{p2p[c] + 1}" for c in codes]
    return Network(root, homes, genesis_path, urls)


def parse_hosts(text: str) -> list[str]:
    """``h1,h2,...`` as normalized hosts; ``CeremonyError`` (``bad_hosts``) when malformed."""
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise CeremonyError("bad_hosts", f"--hosts {text!r} has an empty entry")
    try:
        return [normalize_host(item) for item in items]
    except ValueError as exc:
        raise CeremonyError("bad_hosts", f"--hosts: {exc}") from None


def _placement(
    validators: int, base_port: int, hosts: list[str] | None
) -> list[tuple[str, int]]:
    """(host, link port) of each node: see the module docstring."""
    if hosts is None:
        hosts = ["127.0.0.1"]
    if len(hosts) not in (1, validators):
        raise CeremonyError(
            "bad_hosts",
            f"--hosts names {len(hosts)} hosts for {validators} validators: give one per "
            "validator (repeat a host to put several on it) or a single host for all",
        )
    if len(hosts) == 1:
        hosts = hosts * validators
    kinds = {host_kind(h) == "loopback" for h in hosts}
    if len(kinds) > 1:
        raise CeremonyError(
            "loopback_host",
            "--hosts mixes loopback and network addresses: a loopback node is reachable only "
            "from its own machine; give every node the address the others reach it at",
        )
    seen: dict[str, int] = {}
    placed = []
    for h in hosts:
        index = seen.get(h, 0)
        seen[h] = index + 1
        placed.append((h, base_port + 2 * index))
    if max(p for _, p in placed) + 1 > 65535:
        raise CeremonyError("bad_hosts", "ports above 65535: choose a lower --base-port")
    return placed


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def enable_tls(root: Path, homes: list[Path], hosts: list[str] | None = None) -> None:
    """Give every home a self-signed certificate (``HOME/tls/``) and the bundle of all of
    them as ``tls_ca_file``: links over TLS 1.3 bound to the validator keys, RPC over
    HTTPS (``node/tls.py``). The bundle is also ``ROOT/tls-bundle.pem`` for clients."""
    from node.tls import new_certificate

    names = hosts or ["127.0.0.1"] * len(homes)  # the RPC's host in each certificate
    certs = [
        new_certificate(home / "tls", home.name, (*dict.fromkeys(("localhost", "127.0.0.1", h)),))
        for home, h in zip(homes, names, strict=True)
    ]
    bundle = b"".join(c.cert.read_bytes() for c in certs)
    (root / "tls-bundle.pem").write_bytes(bundle)
    for home in homes:
        (home / "tls" / "peers.pem").write_bytes(bundle)
        config = load_config(home).model_copy(
            update={
                "tls_cert_file": "tls/node.crt",
                "tls_key_file": "tls/node.key",
                "tls_ca_file": "tls/peers.pem",
            }
        )
        write_config(home, NodeConfig.model_validate(config.model_dump()))


def free_base_port(count: int) -> int:
    """A base port with ``2 * count`` free ports above it (best effort), below the
    range the kernel hands out as source ports of outgoing connections.

    A base taken from that (ephemeral) range could be grabbed between the probe
    and the node's bind by any process's outgoing connection — the network's own
    validators dialling each other included — and a node then failed to start.
    """
    low, _ = _ephemeral_range()
    top = max(11_000, min(low, 65_000) - 2 * count)
    rng = random.SystemRandom()
    for _ in range(200):
        base = rng.randrange(10_000, top)
        try:
            for port in range(base, base + 2 * count):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free port range")


def _ephemeral_range() -> tuple[int, int]:
    """The kernel's range of source ports (Linux); the IANA range elsewhere."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 49_152, 65_535
