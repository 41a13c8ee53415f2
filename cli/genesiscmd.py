"""The commands of a real network's genesis: ``genesis bureau|init|config``, ``node preflight``.

``cli.main`` registers them in its ``genesis`` and ``node`` groups. This
module does not import ``cli.main`` at import time (it registers us), so the
shared helpers are looked up when a command runs.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

__all__ = ["genesis_bureau", "genesis_config", "genesis_init", "node_preflight"]

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object (for scripts)."
)
card_options = [
    click.option(
        "--card",
        "card_files",
        multiple=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="A bureau's card (repeat for each bureau).",
    ),
    click.option(
        "--cards",
        "card_dirs",
        multiple=True,
        type=click.Path(file_okay=False, path_type=Path),
        help="A directory of cards: every *.card.json in it.",
    ),
]


def _with_cards(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(card_options):
        command = option(command)
    return command


def friendly(command: Callable[..., Any]) -> Callable[..., Any]:
    """``cli.main.friendly_errors``, looked up when the command runs."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from cli.main import friendly_errors

        return friendly_errors(command)(*args, **kwargs)

    return wrapper


def _emit(data: dict[str, Any], as_json: bool, human: Callable[[dict[str, Any]], str]) -> None:
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    click.echo(human(data))
    for warning in data.get("warnings", []):
        click.echo(f"warning: {warning}", err=True)


def _public_key(key_file: Path | None, hex_key: str | None, what: str, option: str) -> str:
    """A public key from a key file (only its public part is used) or from hex."""
    from cli.cards import CeremonyError
    from node.keys import load_key

    if (key_file is None) == (hex_key is None):
        raise CeremonyError("bad_option", f"give exactly one of {option}-key FILE or "
                            f"{option}-public-key HEX for the {what}")
    if key_file is not None:
        return load_key(key_file).public_key.hex()
    assert hex_key is not None
    try:
        return bytes.fromhex(hex_key).hex()
    except ValueError:
        raise CeremonyError("bad_option", f"{option}-public-key is not hex") from None


# -- genesis bureau -------------------------------------------------------------------


@click.command("bureau")
@click.option(
    "--key",
    "key_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="This bureau's validator key (made with `skillchain keys new`); it signs the card.",
)
@click.option(
    "--officer-key",
    "officer_keys",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A key file of the bureau's officers (only its public key is read; repeatable).",
)
@click.option(
    "--officer-public-key",
    "officer_hex",
    multiple=True,
    help="An officer public key in hex, when the key lives on another machine (repeatable).",
)
@click.option("--moniker", required=True, help="Display name of the validator, e.g. 南昌.")
@click.option("--city", required=True, help="The bureau's 6-digit division code, e.g. 360100.")
@click.option(
    "--host",
    required=True,
    help="Address the other bureaus dial (an IP address is best; not 0.0.0.0).",
)
@click.option("--p2p-port", type=click.IntRange(1, 65535), default=26656, show_default=True)
@click.option("--rpc-port", type=click.IntRange(1, 65535), default=8545, show_default=True)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The card file."
)
@json_option
@friendly
def genesis_bureau(
    key_path: Path,
    officer_keys: tuple[Path, ...],
    officer_hex: tuple[str, ...],
    moniker: str,
    city: str,
    host: str,
    p2p_port: int,
    rpc_port: int,
    out: Path,
    as_json: bool,
) -> None:
    """Write this bureau's public card for the genesis coordinator.

    The card names the validator's public key, moniker, city, host and ports,
    and the officers' public keys, signed by the validator key. It never holds
    a secret: send it to the coordinator by any channel, and confirm its
    public key by phone or letter (`skillchain keys show validator.key`).

    \b
    Example (on the bureau's validator server):
      skillchain keys new --out /srv/skillchain/validator.key
      skillchain keys new --out officer.key        # where the officers sign
      skillchain genesis bureau --key /srv/skillchain/validator.key \\
          --officer-key officer.key --moniker 南昌 --city 360100 \\
          --host 10.1.2.3 --p2p-port 26656 --rpc-port 8545 --out nanchang.card.json
    """
    from cli.cards import CeremonyError, make_card, write_card
    from node.keys import load_key

    signer = load_key(key_path)
    officers = [load_key(p, signer.suite.name).public_key for p in officer_keys]
    for text in officer_hex:
        try:
            officers.append(bytes.fromhex(text))
        except ValueError:
            raise CeremonyError("bad_card", f"--officer-public-key {text!r} is not hex") from None
    if not officers:
        raise CeremonyError(
            "bad_card",
            "a bureau needs at least one officer key (it attests, settles and votes on "
            "governance): make one with `skillchain keys new --out officer.key` and pass "
            "--officer-key officer.key",
        )
    from cli.jiangxi import CITIES

    card = make_card(signer, moniker, city, host, p2p_port, rpc_port, officers)
    write_card(out, card)
    warnings = [] if city in CITIES else [
        f"{city} is not a Jiangxi city code: `genesis init` refuses it unless its --template "
        "lists that city"
    ]
    data = {"path": str(out), **card.model_dump(mode="json"), "warnings": warnings}
    _emit(
        data,
        as_json,
        lambda d: (
            f"wrote {d['path']}: {d['moniker']} ({d['region_code']}) at {d['host']}, "
            f"links :{d['p2p_port']}, rpc :{d['rpc_port']}\n"
            f"validator public key: {d['public_key']}\n"
            "send the card to the coordinator; keep the key files where they are"
        ),
    )


# -- genesis init -------------------------------------------------------------------


@click.command("init")
@_with_cards
@click.option(
    "--chain-id",
    required=True,
    help="The network's name: lower-case letters, digits and '-', e.g. jiangxi-skills.",
)
@click.option(
    "--admin-key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The provincial admin's key file (only its public key is read).",
)
@click.option("--admin-public-key", help="The provincial admin's public key in hex.")
@click.option(
    "--genesis-time",
    type=click.IntRange(0),
    default=None,
    help="Unix seconds; the first block is later. Default: 2026-01-01T00:00:00Z.",
)
@click.option(
    "--template",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A genesis whose cities, occupations, policy, funds and params to use "
    "(its keys are ignored). Default: the built-in Jiangxi catalogue.",
)
@click.option(
    "--allow-loopback",
    is_flag=True,
    help="Accept cards that all give a loopback host: a lab on one machine.",
)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="genesis.json"
)
@json_option
@friendly
def genesis_init(
    card_files: tuple[Path, ...],
    card_dirs: tuple[Path, ...],
    chain_id: str,
    admin_key: Path | None,
    admin_public_key: str | None,
    genesis_time: int | None,
    template: Path | None,
    allow_loopback: bool,
    out: Path,
    as_json: bool,
) -> None:
    """Build genesis from the bureaus' cards (no secret involved).

    Run by the coordinator (the provincial department) once every card is in.

    Refuses cards that cannot be one network, each with a stable code:
    bad_card (malformed or badly signed), suite_mismatch, duplicate_key,
    duplicate_moniker, duplicate_city, duplicate_address (two listeners on
    one host:port), loopback_host (loopback hosts, unless all are and
    --allow-loopback), unknown_city. Warns when the number of validators is
    not 3f+1. Prints the genesis hash every bureau must confirm.

    \b
    Example:
      skillchain genesis init --cards cards/ --chain-id jiangxi-skills \\
          --admin-public-key <hex> --out genesis.json
    """
    from cli.ceremony import build_genesis, load_cards
    from cli.jiangxi import GENESIS_TIME

    cards = load_cards(card_files, card_dirs)
    admin = _public_key(admin_key, admin_public_key, "provincial admin", "--admin")
    built = build_genesis(
        cards,
        chain_id,
        admin,
        GENESIS_TIME if genesis_time is None else genesis_time,
        template,
        allow_loopback,
    )
    if out.exists():
        raise FileExistsError(f"{out} already exists; choose another --out or remove it")
    out.write_text(built.text, encoding="utf-8")
    n = len(cards)
    data = {
        "path": str(out),
        "chain_id": chain_id,
        "hash": built.hash_hex,
        "validators": n,
        "f": (n - 1) // 3,
        "quorum": 2 * n // 3 + 1,
        "warnings": built.warnings,
    }
    _emit(
        data,
        as_json,
        lambda d: (
            f"wrote {d['path']}: chain {d['chain_id']}, {d['validators']} validators "
            f"(f = {d['f']}, quorum {d['quorum']})\n"
            f"genesis hash {d['hash']}\n"
            "send genesis.json and every card to each bureau; each confirms this hash with "
            "`skillchain genesis check genesis.json` before writing its config"
        ),
    )


# -- genesis config -----------------------------------------------------------------


@click.command("config")
@click.option(
    "--genesis",
    "genesis_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The genesis.json from the coordinator (check its hash first).",
)
@_with_cards
@click.option(
    "--me",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="This bureau's own card.",
)
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The node's home on this machine.",
)
@click.option(
    "--key",
    "key_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="This bureau's validator key, copied to HOME/validator.key (0600) unless already there.",
)
@click.option(
    "--bind",
    help="Address the link (and RPC) listeners bind; default the card's host. "
    "0.0.0.0 behind NAT or a load balancer.",
)
@click.option("--rpc-bind", help="Address the RPC binds, when it differs from --bind.")
@click.option(
    "--allow-loopback", is_flag=True, help="As for `genesis init`: a lab on one machine."
)
@click.option("--force", is_flag=True, help="Replace an existing config.json / genesis.json.")
@json_option
@friendly
def genesis_config(
    genesis_path: Path,
    card_files: tuple[Path, ...],
    card_dirs: tuple[Path, ...],
    me: Path,
    home: Path,
    key_path: Path | None,
    bind: str | None,
    rpc_bind: str | None,
    allow_loopback: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Write this bureau's node home from genesis and the cards.

    HOME/config.json gets this bureau's listeners and every other card as a
    peer; HOME/genesis.json a copy of the genesis.

    The cards must be exactly the validators of the genesis, and pass the same
    checks as `genesis init`. Then run `skillchain node preflight --home HOME`.

    \b
    Example:
      skillchain genesis config --genesis genesis.json --cards cards/ \\
          --me cards/nanchang.card.json --home /srv/skillchain \\
          --key /srv/skillchain/validator.key
    """
    from chain.genesis import load_genesis
    from cli.cards import load_card
    from cli.ceremony import bureau_config, check_cards, load_cards, write_bureau_home

    genesis, digest = load_genesis(genesis_path)
    own = load_card(me)
    cards = load_cards((*card_files, me), card_dirs)
    warnings = check_cards(cards, allow_loopback)
    config = bureau_config(genesis, cards, own, bind, rpc_bind)
    warnings += write_bureau_home(home, genesis_path, config, own, key_path, force)
    data = {
        "home": str(home),
        "genesis_hash": digest.hex(),
        "moniker": config.moniker,
        "p2p": f"{config.p2p_host}:{config.p2p_port}",
        "rpc": f"{config.rpc_host}:{config.rpc_port}",
        "peers": len(config.peers),
        "validators": [
            {
                "moniker": c.card.moniker,
                "city": c.card.region_code,
                "public_key": c.card.public_key,
                "address": f"{c.card.host}:{c.card.p2p_port}",
            }
            for c in sorted(cards, key=lambda c: c.card.region_code)
        ],
        "warnings": warnings,
    }
    _emit(
        data,
        as_json,
        lambda d: "\n".join(
            [
                f"wrote {d['home']}/config.json: {d['moniker']} links on {d['p2p']}, rpc on "
                f"{d['rpc']}, {d['peers']} peers",
                f"genesis hash {d['genesis_hash']}",
                "validators (confirm each key with its bureau):",
                *(
                    f"  {v['city']} {v['moniker']:<8} {v['public_key']} {v['address']}"
                    for v in d["validators"]
                ),
                f"next: skillchain node preflight --home {d['home']}",
            ]
        ),
    )


# -- node preflight -----------------------------------------------------------------


@click.command("preflight")
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The node's home (config.json, genesis.json, validator.key).",
)
@click.option(
    "--dial", is_flag=True, help="Also try a TCP connection to every peer (they must be up)."
)
@json_option
@friendly
def node_preflight(home: Path, dial: bool, as_json: bool) -> None:
    """Check this home can run as a validator on this machine.

    Run it before `node start`, and after any change to config or network.

    Checks: config and genesis valid; validator.key is a genesis validator;
    the peers are exactly the other genesis validators; peer hosts resolve;
    the link and RPC ports are free and their hosts belong to this machine;
    with --dial, every peer answers. Exits 2 when a check fails (each with a
    stable code); warnings do not fail.

    \b
    Example:
      skillchain node preflight --home /srv/skillchain --dial
    """
    from cli.preflight import preflight

    report = preflight(home, dial)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
    else:
        marks = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}
        for check in report["checks"]:
            code = "" if check["status"] == "ok" else f"[{check['code']}] "
            click.echo(f"{marks[check['status']]} {check['name']:<8} {code}{check['detail']}")
    if not report["ok"]:
        if not as_json:
            click.echo(
                f"error[preflight_failed]: {report['failed']} check(s) failed; fix them "
                "before `skillchain node start`",
                err=True,
            )
        sys.exit(2)
