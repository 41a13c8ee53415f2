"""``skillchain query``: the contracts' queries and chain reads over a node's RPC."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import click

__all__ = ["query"]

DEFAULT_NODE = "http://127.0.0.1:26651"

node_option = click.option("--node", default=DEFAULT_NODE, show_default=True, help="Node RPC URL.")
proof_option = click.option(
    "--proof", is_flag=True, help="Attach state proofs against the certified root."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")


def _run(coro_factory: Any, as_json: bool) -> None:
    from cli.main import friendly_errors
    from node.client import Client

    @friendly_errors
    def run(as_json: bool) -> None:
        async def go() -> Any:
            async with Client(coro_factory.node) as client:
                return await coro_factory(client)

        answer = asyncio.run(go())
        click.echo(json.dumps(answer, ensure_ascii=False, indent=None if as_json else 2))

    run(as_json=as_json)


def _query(node: str, name: str, as_json: bool, **params: Any) -> None:
    async def call(client: Any) -> Any:
        return await client.query(name, **{k: v for k, v in params.items() if v is not None})

    call.node = node  # type: ignore[attr-defined]
    _run(call, as_json)


@click.group()
def query() -> None:
    """Read the chain: contract queries (optionally with proofs), txs, blocks, status.

    \b
    Examples:
      skillchain query progress --class demo-01 --trainee <hex> --proof
      skillchain query tx <hash>
    """


@query.command("progress")
@click.option("--class", "class_id", required=True)
@click.option("--trainee", required=True, help="The trainee's pseudonym (64 hex characters).")
@proof_option
@node_option
@json_option
def progress(class_id: str, trainee: str, proof: bool, node: str, as_json: bool) -> None:
    """A trainee's credited hours in a class, with the sessions behind them."""
    _query(
        node,
        "progress",
        as_json,
        **{"class": class_id, "trainee": trainee, "proof": "1" if proof else None},
    )


@query.command("class")
@click.option("--class", "class_id", required=True)
@proof_option
@node_option
@json_option
def class_(class_id: str, proof: bool, node: str, as_json: bool) -> None:
    """A class and its trainees."""
    _query(node, "class", as_json, **{"class": class_id, "proof": "1" if proof else None})


@query.command("claim")
@click.option("--claim", required=True, help="Claim id (the filing tx's hash).")
@proof_option
@node_option
@json_option
def claim(claim: str, proof: bool, node: str, as_json: bool) -> None:
    """A subsidy claim and its certificate."""
    _query(node, "claim", as_json, claim=claim, proof="1" if proof else None)


@query.command("provider-stats")
@click.option("--provider", required=True)
@node_option
@json_option
def provider_stats(provider: str, node: str, as_json: bool) -> None:
    """A platform's statistics (credited and rejected sessions, face-check failures)."""
    _query(node, "provider_stats", as_json, provider=provider)


@query.command("city-stats")
@click.option("--city", required=True, help="Division code, e.g. 360100.")
@node_option
@json_option
def city_stats(city: str, node: str, as_json: bool) -> None:
    """A city's statistics and fund balances."""
    _query(node, "city_stats", as_json, city=city)


@query.command("tx")
@click.argument("digest")
@node_option
@json_option
def tx_status(digest: str, node: str, as_json: bool) -> None:
    """Status and receipt of a tx."""

    async def call(client: Any) -> Any:
        return await client.tx(digest)

    call.node = node  # type: ignore[attr-defined]
    _run(call, as_json)


@query.command("block")
@click.argument("height", type=int)
@node_option
@json_option
def block(height: int, node: str, as_json: bool) -> None:
    """A block with its certificate and receipts."""

    async def call(client: Any) -> Any:
        return await client.block(height)

    call.node = node  # type: ignore[attr-defined]
    _run(call, as_json)


@query.command("status")
@node_option
@json_option
def status(node: str, as_json: bool) -> None:
    """The node's height, view, peers and mempool."""

    async def call(client: Any) -> Any:
        return await client.status()

    call.node = node  # type: ignore[attr-defined]
    _run(call, as_json)
