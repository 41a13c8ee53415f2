"""``skillchain genesis new``: a fresh network of N validator homes on this machine.

Each home gets its own random validator key, a config listing the other
validators' link addresses, and a copy of the genesis. Actor keys (the
provincial admin, the bureaus, the sample providers and organizers) are
written to ``OUT/keys/<actor id>.key`` for the operator to hand out — or,
with ``dev_keys``, derived from public labels exactly like the repository's
``genesis.json`` (never for production).
"""

from __future__ import annotations

import json
import random
import socket
from dataclasses import dataclass
from pathlib import Path

from chain.crypto import DEFAULT_SUITE, Signer, get_suite
from chain.genesis import parse_genesis
from cli.jiangxi import CITIES, dev_signer, jiangxi_genesis
from node.config import NodeConfig, PeerAddress, write_config
from node.keys import write_key

__all__ = ["Network", "free_base_port", "new_network"]


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
) -> Network:
    """Create ``validators`` homes under ``out``; see the module docstring."""
    root = Path(out)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty; choose a new directory or remove it")
    suite = get_suite(suite_name)
    made: dict[str, Signer] = {}

    def key_for(label: str) -> Signer:
        if label not in made:
            made[label] = dev_signer(label, suite_name) if dev_keys else suite.generate()
        return made[label]

    document = jiangxi_genesis(validators, chain_id, suite_name, key_for=key_for)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    parse_genesis(text)  # a generator bug must not produce an unusable network
    root.mkdir(parents=True, exist_ok=True)
    genesis_path = root / "genesis.json"
    genesis_path.write_text(text)
    for label, signer in made.items():
        if label.startswith("actor/"):
            write_key(root / "keys" / f"{label.removeprefix('actor/')}.key", signer)

    codes = list(CITIES)[:validators]
    p2p = {code: base_port + 2 * i for i, code in enumerate(codes)}
    homes = []
    for i, code in enumerate(codes):
        home = root / f"node{i}"
        home.mkdir()
        (home / "genesis.json").write_text(text)
        write_key(home / "validator.key", key_for(f"validator/{code}"))
        peers = tuple(
            PeerAddress(
                public_key=key_for(f"validator/{other}").public_key.hex(),
                host="127.0.0.1",
                port=p2p[other],
            )
            for other in codes
            if other != code
        )
        write_config(
            home,
            NodeConfig(
                moniker=f"node{i}-{code}", p2p_port=p2p[code], rpc_port=p2p[code] + 1, peers=peers
            ),
        )
        homes.append(home)
    urls = [f"http://127.0.0.1:{p2p[c] + 1}" for c in codes]
    return Network(root, homes, genesis_path, urls)


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
