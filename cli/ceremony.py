"""``genesis init`` and ``genesis config``: a network built from bureau cards.

The ceremony, in the order the runbook (``docs/runbook-genesis.md``) walks it:

1. each bureau makes its validator and officer keys on its own machines and a
   signed public card (``cli.cards``);
2. one coordinator collects the cards and runs ``build_genesis``: the
   validators and bureau actors come from the cards, the admin's public key
   from the province, the catalogue, policy and funds from a template (the
   built-in Jiangxi one by default). No secret is read or written, and the
   file never says ``development_keys``;
3. every bureau checks the genesis hash out of band and runs
   ``write_bureau_home``: its own ``config.json`` (binding its link and RPC
   ports, listing every other card as a peer) next to the genesis;
4. ``skillchain node preflight`` (``cli.preflight``) checks the home before
   the node starts.

``check_cards`` holds the rules a set of cards must meet to be one network;
they are checked again at step 3, so a card swapped on the way is caught by
the bureau that uses it. Every refusal is a ``CeremonyError`` with a stable
code; what is allowed but unwise comes back as warnings.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chain.genesis import Genesis, load_genesis, parse_genesis
from chain.validators import faults_tolerated, quorum_size
from cli.cards import BureauCard, CeremonyError, bind_host, host_kind, load_card
from cli.jiangxi import (
    ADMIN_ID,
    ADMIN_NAME,
    GENESIS_TIME,
    PROVINCE_CODE,
    bureau_actor,
    catalogue_sections,
)
from node.config import NodeConfig, PeerAddress, write_config
from node.keys import load_key, write_key

__all__ = [
    "Built",
    "LoadedCard",
    "build_genesis",
    "bureau_config",
    "check_cards",
    "load_cards",
    "sizing_warning",
    "write_bureau_home",
]

TEMPLATE_SECTIONS = ("cities", "occupations", "policy", "funds", "params")
"""What ``--template`` contributes; validators, actors and keys never come from it."""


@dataclass(frozen=True)
class LoadedCard:
    """A checked card and the file it came from (errors name the file)."""

    source: str
    card: BureauCard


@dataclass
class Built:
    """What ``build_genesis`` made: the document, its hash, and what to warn about."""

    document: dict[str, Any]
    text: str
    hash_hex: str
    warnings: list[str] = field(default_factory=list)


def load_cards(
    paths: Sequence[str | Path], card_dirs: Sequence[str | Path] = ()
) -> list[LoadedCard]:
    """Cards from files and from every ``*.card.json`` in each directory, each checked."""
    files = [Path(p) for p in paths]
    for directory in card_dirs:
        found = sorted(Path(directory).glob("*.card.json"))
        if not found:
            raise CeremonyError("no_cards", f"{directory} holds no *.card.json files")
        files += found
    unique = list(dict.fromkeys(p.resolve() for p in files))
    if not unique:
        raise CeremonyError("no_cards", "give the bureaus' cards with --card FILE or --cards DIR")
    return [LoadedCard(str(p), load_card(p)) for p in unique]


def check_cards(cards: Sequence[LoadedCard], allow_loopback: bool = False) -> list[str]:
    """Refuse a set of cards that cannot be one network; return warnings.

    One suite; distinct validator and officer keys; distinct monikers and
    cities; no two listeners on one host:port; no loopback host unless every
    bureau is on this one machine and ``allow_loopback`` says that is meant.
    """
    suites = {c.card.suite for c in cards}
    if len(suites) > 1:
        raise CeremonyError(
            "suite_mismatch",
            f"cards use different crypto suites ({', '.join(sorted(suites))}); one chain has one "
            "suite: the bureaus with the other suite make new keys (`keys new --suite ...`)",
        )
    _refuse_duplicates(cards)
    warnings = _check_hosts(cards, allow_loopback)
    sizing = sizing_warning(len(cards))
    return warnings + ([sizing] if sizing else [])


def _refuse_duplicates(cards: Sequence[LoadedCard]) -> None:
    seen_keys: dict[str, str] = {}
    for c in cards:
        for role, key in [("validator", c.card.public_key)] + [
            ("officer", k) for k in c.card.officer_public_keys
        ]:
            if key in seen_keys:
                raise CeremonyError(
                    "duplicate_key",
                    f"{c.source}: {role} key {key[:16]}... is also {seen_keys[key]}; every "
                    "bureau makes its own keys, and a validator key is never an officer key",
                )
            seen_keys[key] = f"a key of {c.source}"
    _refuse_same(cards, "duplicate_moniker", "moniker", lambda c: _fold(c.card.moniker))
    _refuse_same(cards, "duplicate_city", "city", lambda c: c.card.region_code)
    listeners: dict[tuple[str, int], str] = {}
    for c in cards:
        for what, address in (("p2p", c.card.p2p_address), ("rpc", c.card.rpc_address)):
            if address in listeners:
                raise CeremonyError(
                    "duplicate_address",
                    f"{c.source}: {what} address {address[0]}:{address[1]} is also "
                    f"{listeners[address]}; bureaus sharing a host need distinct ports",
                )
            listeners[address] = f"the {what} address of {c.source}"


def _refuse_same(cards: Sequence[LoadedCard], code: str, what: str, key: Any) -> None:
    owners: dict[str, str] = {}
    for c in cards:
        value = key(c)
        if value in owners:
            raise CeremonyError(
                code, f"{c.source} and {owners[value]} name the same {what} {value!r}"
            )
        owners[value] = c.source


def _check_hosts(cards: Sequence[LoadedCard], allow_loopback: bool) -> list[str]:
    kinds = Counter(host_kind(c.card.host) for c in cards)
    loopback = [c.source for c in cards if host_kind(c.card.host) == "loopback"]
    warnings = []
    if loopback and len(cards) > 1:
        if len(loopback) < len(cards):
            raise CeremonyError(
                "loopback_host",
                f"{', '.join(loopback)} give a loopback host, which only its own machine can "
                "dial, while other cards give network addresses; ask those bureaus for cards "
                "with the address the others reach them at",
            )
        if not allow_loopback:
            raise CeremonyError(
                "loopback_host",
                "every card gives a loopback host: the network can then only run on one "
                "machine. Ask the bureaus for cards with their servers' addresses, or pass "
                "--allow-loopback for a lab on this machine",
            )
        warnings.append(
            f"all {len(cards)} bureaus are on loopback (--allow-loopback): a one-machine lab, "
            "not a network of bureaus"
        )
    if kinds["name"]:
        warnings.append(
            f"{kinds['name']} card(s) give a DNS name: links reserve handshake slots for "
            "validators by IP address, so a name shares the general pool; prefer fixed addresses"
        )
    hosts = Counter(c.card.host for c in cards if host_kind(c.card.host) != "loopback")
    shared = sorted(h for h, n in hosts.items() if n > 1)
    if shared:
        warnings.append(
            f"several bureaus on one host ({', '.join(shared)}): one machine's failure takes "
            "all of them down"
        )
    return warnings


def sizing_warning(n: int) -> str | None:
    """Why ``n`` validators is not 3f+1, or None when it is (4, 7, 10, 13, ...)."""
    f = faults_tolerated(n)
    if n == 3 * f + 1 and f > 0:
        return None
    if f == 0:
        return (
            f"{n} validator(s) tolerate no faulty bureau (f = 0): one down halts the chain; "
            "4 is the smallest network that survives one"
        )
    return (
        f"{n} validators tolerate f = {f} faulty bureaus, as {3 * f + 1} would: the "
        f"{n - 3 * f - 1} beyond 3f+1 add no fault tolerance and raise the quorum to "
        f"{quorum_size(n)} of {n} (fine when every bureau must hold a copy, as in Jiangxi)"
    )


def build_genesis(
    cards: Sequence[LoadedCard],
    chain_id: str,
    admin_public_key: str,
    genesis_time: int = GENESIS_TIME,
    template: str | Path | None = None,
    allow_loopback: bool = False,
) -> Built:
    """Genesis from checked cards; see the module docstring. Validates the result."""
    warnings = check_cards(cards, allow_loopback)
    sections = _template_sections(template)
    suite = cards[0].card.suite
    if admin_public_key in {k for c in cards for k in _card_keys(c.card)}:
        raise CeremonyError("duplicate_key", "the admin key is also a bureau's key")
    unknown = [c.source for c in cards if c.card.region_code not in sections["cities"]]
    if unknown:
        raise CeremonyError(
            "unknown_city",
            f"{', '.join(unknown)} name a city the genesis does not list "
            f"(known: {', '.join(sorted(sections['cities']))})",
        )
    ordered = sorted(cards, key=lambda c: c.card.region_code)
    document = {
        "chain_id": chain_id,
        "crypto_suite": suite,
        "genesis_time": genesis_time,
        "note": (
            f"Built by `skillchain genesis init` from {len(cards)} bureau cards; every secret "
            "stayed with its owner."
        ),
        "cities": sections["cities"],
        "validators": [
            {
                "name": c.card.moniker,
                "region_code": c.card.region_code,
                "public_key": c.card.public_key,
                "host": c.card.host,  # in state: nodes dial it with no peers entry
                "p2p_port": c.card.p2p_port,
            }
            for c in ordered
        ],
        "actors": [
            {
                "id": ADMIN_ID,
                "role": "admin",
                "name": ADMIN_NAME,
                "region_code": PROVINCE_CODE,
                "public_keys": [admin_public_key],
            }
        ]
        + [bureau_actor(c.card.region_code, list(c.card.officer_public_keys)) for c in ordered],
        "occupations": sections["occupations"],
        "policy": sections["policy"],
        "funds": sections["funds"],
    }
    if "params" in sections:
        document["params"] = sections["params"]
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    _, digest = parse_genesis(text, "the genesis built from the cards")
    missing = sorted(set(sections["cities"]) - {c.card.region_code for c in cards})
    if missing:
        warnings.append(
            f"{len(missing)} cit(ies) have no bureau card ({', '.join(missing)}): they get no "
            "bureau actor, and no transaction adds one later (registry.register_actor takes "
            "providers and organizers only)"
        )
    return Built(document, text, digest.hex(), warnings)


def _card_keys(card: BureauCard) -> list[str]:
    return [card.public_key, *card.officer_public_keys]


def _template_sections(template: str | Path | None) -> dict[str, Any]:
    if template is None:
        return catalogue_sections()
    load_genesis(template)  # valid as a whole, or refused naming each field
    raw = json.loads(Path(template).read_text(encoding="utf-8"))
    return {k: raw[k] for k in TEMPLATE_SECTIONS if k in raw}


def bureau_config(
    genesis: Genesis,
    cards: Sequence[LoadedCard],
    me: BureauCard,
    bind: str | None = None,
    rpc_bind: str | None = None,
) -> NodeConfig:
    """``me``'s config.json: its listeners, and every other validator of genesis as a peer.

    The cards must be exactly the genesis validators (a card missing, or one
    for a key genesis does not list, is refused), so every bureau's peers
    are the same network.
    """
    by_key = {c.card.public_key: c for c in cards}
    in_genesis = {v.public_key: v for v in genesis.validators}
    strangers = [c.source for k, c in by_key.items() if k not in in_genesis]
    if strangers:
        raise CeremonyError(
            "not_in_genesis",
            f"{', '.join(strangers)}: key not among the genesis validators; "
            "is this the card the coordinator used?",
        )
    missing = [f"{v.name} ({v.region_code})" for k, v in in_genesis.items() if k not in by_key]
    if missing:
        raise CeremonyError(
            "card_missing",
            f"no card for validator(s) {', '.join(missing)}; ask the coordinator for every card",
        )
    if me.public_key not in by_key:
        raise CeremonyError("not_in_genesis", "--me is not one of the genesis validators")
    peers = tuple(
        PeerAddress(public_key=c.card.public_key, host=c.card.host, port=c.card.p2p_port)
        for c in sorted(cards, key=lambda c: c.card.region_code)
        if c.card.public_key != me.public_key
    )
    p2p_host = bind_host(bind) if bind else me.host
    return NodeConfig(
        moniker=me.moniker,
        p2p_host=p2p_host,
        p2p_port=me.p2p_port,
        rpc_host=bind_host(rpc_bind) if rpc_bind else p2p_host,
        rpc_port=me.rpc_port,
        peers=peers,
    )


def write_bureau_home(
    home: str | Path,
    genesis_path: str | Path,
    config: NodeConfig,
    me: BureauCard,
    key_path: str | Path | None = None,
    overwrite: bool = False,
) -> list[str]:
    """Write HOME/config.json and HOME/genesis.json; place or check HOME/validator.key.

    Returns warnings (a key still to be placed). Refuses to replace a
    different genesis or config unless ``overwrite``, and never replaces a key.
    """
    home = Path(home)
    genesis_bytes = Path(genesis_path).read_bytes()
    target = home / "genesis.json"
    if target.exists() and target.read_bytes() != genesis_bytes and not overwrite:
        raise CeremonyError(
                "home_exists",
                f"{target} holds another genesis; a node's data belongs to one chain. "
                "Use a new --home (or --force, after moving data/ away)",
            )
    if (home / "config.json").exists() and not overwrite:
        raise CeremonyError(
            "home_exists", f"{home / 'config.json'} exists; pass --force to replace it"
        )
    suite = me.suite
    key_file = home / "validator.key"
    warnings = []
    if key_path is not None:
        signer = load_key(key_path, suite)
        if signer.public_key.hex() != me.public_key:
            raise CeremonyError(
                "key_mismatch", f"{key_path} is not the key of this card ({me.public_key[:16]}...)"
            )
        if key_file.exists():
            if load_key(key_file, suite).public_key != signer.public_key:
                raise CeremonyError("key_mismatch", f"{key_file} holds another key; move it away")
        elif Path(key_path).resolve() != key_file.resolve():
            write_key(key_file, signer)
    elif key_file.exists():
        if load_key(key_file, suite).public_key.hex() != me.public_key:
            raise CeremonyError(
                "key_mismatch", f"{key_file} is not the key of this card ({me.public_key[:16]}...)"
            )
    else:
        warnings.append(f"no {key_file} yet: copy your validator key there (mode 0600)")
    home.mkdir(parents=True, exist_ok=True)
    (home / "genesis.json").write_bytes(genesis_bytes)
    write_config(home, config)
    return warnings


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()

