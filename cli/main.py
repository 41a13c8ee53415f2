"""``skillchain``: the one command for operators, platforms and auditors.

Every command takes ``--json`` for scripts; errors print ``error[<code>]:``
with what to do next and exit non-zero, never a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from chain.crypto import DEFAULT_SUITE, suite_names
from chain.errors import SkillchainError

__all__ = ["main"]


def emit(data: dict[str, Any], as_json: bool, human: Callable[[dict[str, Any]], str]) -> None:
    """Print ``data`` as one JSON line or as ``human(data)``."""
    click.echo(json.dumps(data, ensure_ascii=False) if as_json else human(data))


def friendly_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn our typed errors into ``error[code]: message`` and exit status 2."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except SkillchainError as exc:
            _fail(exc.code, exc.message, kwargs.get("as_json", False))
        except (FileExistsError, FileNotFoundError) as exc:
            _fail("file_error", str(exc), kwargs.get("as_json", False))
        except TimeoutError as exc:
            _fail("timeout", str(exc), kwargs.get("as_json", False))

    return wrapper


def _fail(code: str, message: str, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"code": code, "message": message}, ensure_ascii=False))
    else:
        click.echo(f"error[{code}]: {message}", err=True)
    sys.exit(2)


json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object (for scripts)."
)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``--version``: the package version and the formats this build reads and speaks."""
    if not value or ctx.resilient_parsing:
        return
    from node.version import build_info

    info = build_info()
    click.echo(
        f"skillchain {info['version']} (store format {info['store_format']}, "
        f"link protocol {info['link_protocol']}, Python {info['python']})"
    )
    ctx.exit()


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Print the version, store format and link protocol, and exit.",
)
def main() -> None:
    """skillchain: the Jiangxi vocational-training subsidy ledger.

    \b
    Start here:
      make demo                                   a 4-validator network with a realistic workload
      skillchain genesis new --out net            a fresh local network (homes, keys, genesis)
      skillchain devnet up --dir net              start every validator of that network
      skillchain keys new --out me.key            a key for a platform or an officer
    """


# -- keys ---------------------------------------------------------------------


@main.group()
def keys() -> None:
    """Create and inspect key files (written with owner-only permissions)."""


@keys.command("new")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the key file.",
)
@click.option(
    "--suite",
    type=click.Choice(suite_names()),
    default=DEFAULT_SUITE,
    show_default=True,
    help="Crypto suite; must match the chain's genesis.",
)
@json_option
@friendly_errors
def keys_new(out: Path, suite: str, as_json: bool) -> None:
    """Create a new key file.

    \b
    Example:
      skillchain keys new --out platform.key
    """
    from node.keys import new_key

    signer = new_key(out, suite)
    data = {"path": str(out), "suite": suite, "public_key": signer.public_key.hex()}
    emit(
        data, as_json, lambda d: f"wrote {d['path']} ({d['suite']})\npublic key: {d['public_key']}"
    )


@keys.command("show")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@json_option
@friendly_errors
def keys_show(path: Path, as_json: bool) -> None:
    """Show the suite and public key of a key file (never the secret)."""
    from node.keys import load_key

    signer = load_key(path)
    data = {"path": str(path), "suite": signer.suite.name, "public_key": signer.public_key.hex()}
    emit(data, as_json, lambda d: f"{d['path']}: {d['suite']} {d['public_key']}")


@keys.command("possession")
@click.option("--old-key", "old_key", required=True,
              help="Hex public key of the validator key being replaced (validator.key).")
@click.option("--new-key", "new_key", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The new key file (validator.next.key), which signs.")
@click.option("--chain-id", required=True, help="The chain id in genesis.json.")
@json_option
@friendly_errors
def keys_possession(old_key: str, new_key: Path, chain_id: str, as_json: bool) -> None:
    """Sign the proof of possession a validator key rotation needs.

    Prints the new public key and the `possession` signature for
    `skillchain tx registry rotate-validator-key` (docs/runbook-rotate-key.md).

    \b
    Example:
      skillchain keys show validator.key          # the old public key
      skillchain keys possession --old-key <hex> --new-key validator.next.key \\
          --chain-id jiangxi-skills
    """
    from chain.codec import encode
    from contracts import TAG_KEY_POSSESSION
    from node.keys import load_key

    try:
        old = bytes.fromhex(old_key)
    except ValueError:
        raise click.UsageError("--old-key must be a hex public key") from None
    signer = load_key(new_key)
    proof = signer.sign(TAG_KEY_POSSESSION, chain_id, encode([old, signer.public_key]))
    data = {"old_key": old.hex(), "new_key": signer.public_key.hex(), "possession": proof.hex()}
    emit(data, as_json, lambda d: f"new key: {d['new_key']}\npossession: {d['possession']}")


# -- genesis ----------------------------------------------------------------------


@main.group()
def genesis() -> None:
    """Create or check genesis files."""


@genesis.command("new")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="New directory for the network (homes node0..nodeN-1, keys/, genesis.json).",
)
@click.option(
    "--validators",
    type=click.IntRange(1, 12),
    default=4,
    show_default=True,
    help="How many bureaus run validators (Nanchang first, Ganjiang New Area last).",
)
@click.option("--chain-id", default="jiangxi-skills-dev", show_default=True)
@click.option("--suite", type=click.Choice(suite_names()), default=DEFAULT_SUITE, show_default=True)
@click.option(
    "--base-port",
    type=click.IntRange(1024, 65000),
    default=26650,
    show_default=True,
    help="Node i links on base+2i and serves RPC on base+2i+1.",
)
@click.option(
    "--dev-keys", is_flag=True, help="Derive keys from public labels (tests and demos only)."
)
@click.option(
    "--hosts",
    help="h1,h2,...: node i on host i, for a lab of several machines (default all 127.0.0.1).",
)
@click.option(
    "--tls", is_flag=True,
    help="TLS 1.3 links and HTTPS RPC: a self-signed certificate per node, bundled.",
)
@json_option
@friendly_errors
def genesis_new(
    out: Path,
    validators: int,
    chain_id: str,
    suite: str,
    base_port: int,
    dev_keys: bool,
    hosts: str | None,
    tls: bool,
    as_json: bool,
) -> None:
    """Create a fresh development network: genesis, validator homes and every key.

    Every secret is written under OUT and the genesis says development_keys:
    a lab or a demo. A network of bureaus is built from their cards instead
    (`genesis bureau`, `genesis init`, `genesis config`; docs/runbook-genesis.md).

    \b
    Example:
      skillchain genesis new --out net --validators 4
      skillchain devnet up --dir net
      skillchain genesis new --out lab --validators 4 --hosts 10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.4
    """
    from cli.netgen import new_network, parse_hosts

    host_list = parse_hosts(hosts) if hosts is not None else None
    network = new_network(out, validators, chain_id, suite, base_port, dev_keys, host_list, tls=tls)
    data = {
        "root": str(network.root),
        "genesis": str(network.genesis_path),
        "homes": [str(h) for h in network.homes],
        "rpc": network.rpc_urls,
    }
    emit(
        data,
        as_json,
        lambda d: (
            f"network in {d['root']}: {len(d['homes'])} validator homes, genesis {d['genesis']}\n"
            f"actor keys in {d['root']}/keys/\n"
            f"start it with: skillchain devnet up --dir {d['root']}"
        ),
    )


@genesis.command("check")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@json_option
@friendly_errors
def genesis_check(path: Path, as_json: bool) -> None:
    """Validate a genesis file and print its hash."""
    from chain.genesis import load_genesis

    doc, digest = load_genesis(path)
    data = {
        "chain_id": doc.chain_id,
        "suite": doc.crypto_suite,
        "hash": digest.hex(),
        "validators": len(doc.validators),
        "occupations": len(doc.occupations),
        "development_keys": doc.development_keys,
    }
    emit(
        data,
        as_json,
        lambda d: (
            f"{path}: valid. chain {d['chain_id']} ({d['suite']}), {d['validators']} validators, "
            f"{d['occupations']} occupation entries\nhash {d['hash']}"
            + ("\nWARNING: development keys — not for production" if d["development_keys"] else "")
        ),
    )


# -- node and devnet ---------------------------------------------------------------


@main.group()
def node() -> None:
    """Run a validator node."""


@node.command("start")
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The node's home (config.json, genesis.json, validator.key, data/).",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="Overrides log_level in config.json (default INFO).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    help="Overrides log_format in config.json: text for people, json (one object a line) "
    "for log shippers.",
)
@friendly_errors
def node_start(home: Path, log_level: str | None, log_format: str | None) -> None:
    """Run a validator in the foreground until SIGTERM or Ctrl-C.

    The log goes to log_file in config.json (HOME/node.log by default; also to
    the terminal when there is one). SIGHUP reopens it (after logrotate) and
    never stops the node; SIGTERM and Ctrl-C stop it cleanly. Probes: GET
    /health (alive) and /ready (synced and connected to a quorum: 200, else 503).
    Every config key: docs/config.md.

    \b
    Example:
      skillchain node start --home net/node0
      skillchain node start --home net/node0 --log-level DEBUG --log-format json
    """
    from node.runtime import run_node

    run_node(home, log_level.upper() if log_level else None, log_format)


@main.group()
def devnet() -> None:
    """Start, inspect and stop a local network (one OS process per validator)."""


dir_option = click.option(
    "--dir",
    "root",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The network directory made by `genesis new`.",
)


@devnet.command("up")
@dir_option
@json_option
@friendly_errors
def devnet_up_cmd(root: Path, as_json: bool) -> None:
    """Start every validator of the network and wait until all answer."""
    from cli.devnet import devnet_up

    state = devnet_up(root)
    emit(
        state,
        as_json,
        lambda d: "\n".join(
            [f"started {len(d['pids'])} validators"] + [f"  {u}" for u in d["rpc"]]
        ),
    )


@devnet.command("down")
@dir_option
@json_option
@friendly_errors
def devnet_down_cmd(root: Path, as_json: bool) -> None:
    """Stop the validators started by `devnet up`."""
    from cli.devnet import devnet_down

    emit(devnet_down(root), as_json, lambda d: f"stopped {len(d['stopped'])} validators")


@devnet.command("status")
@dir_option
@json_option
@friendly_errors
def devnet_status_cmd(root: Path, as_json: bool) -> None:
    """Height, view and peers of every validator."""
    from cli.devnet import devnet_status

    rows = devnet_status(root)
    emit(
        {"nodes": rows},
        as_json,
        lambda d: "\n".join(
            f"{r['home']}: "
            + (
                f"height {r['height']} view {r['view']} peers {r['peers_connected']} "
                f"mempool {r['mempool_txs']}"
                if r["up"]
                else "DOWN"
            )
            for r in d["nodes"]
        ),
    )


# -- demo ---------------------------------------------------------------------------


@main.command("demo")
@click.option(
    "--dir",
    "root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/demo"),
    show_default=True,
    help="Where the demo network lives.",
)
@click.option("--validators", type=click.IntRange(1, 12), default=4, show_default=True)
@click.option("--trainees", type=click.IntRange(20, 100_000), default=300, show_default=True)
@click.option("--suite", type=click.Choice(suite_names()), default=DEFAULT_SUITE, show_default=True)
@json_option
@friendly_errors
def demo(root: Path, validators: int, trainees: int, suite: str, as_json: bool) -> None:
    """A fresh local network running a month of subsidised training, with fraud attempts."""
    from cli.demo import print_summary, run_demo

    summary = run_demo(root, validators, trainees, suite)
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False))
    else:
        print_summary(summary)


def _register_subcommands() -> None:
    from cli.audit import audit
    from cli.genesiscmd import genesis_bureau, genesis_config, genesis_init, node_preflight
    from cli.querycmd import query
    from cli.tlscmd import tls
    from cli.txcmd import tx

    for command in (genesis_bureau, genesis_init, genesis_config):
        genesis.add_command(command)
    node.add_command(node_preflight)

    main.add_command(tx)
    main.add_command(query)
    main.add_command(audit)
    main.add_command(tls)


_register_subcommands()


if __name__ == "__main__":
    main()
