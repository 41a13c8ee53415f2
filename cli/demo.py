"""``make demo``: a fresh 4-validator network and a month of training on it.

Creates ``var/demo`` (removing a previous demo network after stopping it),
starts the validators as separate processes, runs ``cli.workload``, then reads
every block back over the RPC and summarises what the chain recorded — not
what the workload intended — including each fraud attempt by its rejection
code. The network is left running for exploration; the summary says how to
query and stop it.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

import click

from cli.devnet import devnet_down, devnet_up
from cli.netgen import free_base_port, new_network
from cli.workload import Workload
from node.client import Client

__all__ = ["run_demo", "summarise_chain"]


async def summarise_chain(url: str) -> dict[str, Any]:
    """Aggregate every committed block's txs and receipts (read back over RPC)."""
    summary: dict[str, Any] = {"blocks": 0, "txs": 0, "accepted": 0, "rejected": 0}
    rejected_by_code: Counter[str] = Counter()
    sessions_rejected: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    credited_s = sessions_credited = paid_fen = claims_paid = 0
    async with Client(url) as client:
        head = (await client.status())["height"]
        summary["blocks"] = head
        start = 1
        while start <= head:  # an answer is cut in bytes: go on from its ``to``
            answer = await client._call(
                "GET", "/v1/blocks", params={"from": start, "to": min(head, start + 99)}
            )
            start = answer["to"] + 1
            for block in answer["blocks"]:
                for tx, receipt in zip(block["txs"], block["receipts"], strict=True):
                    summary["txs"] += 1
                    kinds[tx["kind"]] += 1
                    summary[receipt["status"]] += 1
                    if receipt["status"] == "rejected":
                        rejected_by_code[receipt["code"]] += 1
                    for event in receipt["events"]:
                        data = event["data"]
                        if event["kind"] == "learning.session_credited":
                            sessions_credited += 1
                            credited_s += data[2]
                        elif event["kind"] == "learning.session_rejected":
                            sessions_rejected[data[1]] += 1
                        elif event["kind"] == "settlement.claim_paid":
                            claims_paid += 1
                            paid_fen += data[1]
    summary.update(
        kinds=dict(kinds),
        rejected_txs_by_code=dict(rejected_by_code),
        sessions_credited=sessions_credited,
        credited_hours=round(credited_s / 3600, 1),
        sessions_rejected_by_code=dict(sessions_rejected),
        claims_paid=claims_paid,
        paid_yuan=paid_fen / 100,
    )
    return summary


def run_demo(root: Path, validators: int, trainees: int, suite: str) -> dict[str, Any]:
    if (root / "devnet.json").exists():
        devnet_down(root)
    if root.exists():
        shutil.rmtree(root)
    click.echo(f"creating a {validators}-validator network in {root} ({suite}) ...")
    base_port = free_base_port(validators)  # never collide with another network here
    network = new_network(root, validators, suite_name=suite, base_port=base_port)
    click.echo("starting validators (one OS process each) ...")
    devnet_up(root)
    click.echo(f"running the workload: {trainees} trainees, 3 platforms, 6 classes ...")
    started = time.monotonic()
    workload = Workload(root, network.rpc_urls, trainees=trainees, progress=click.echo)
    report = asyncio.run(workload.run())
    elapsed = time.monotonic() - started
    summary = asyncio.run(summarise_chain(network.rpc_urls[0]))
    summary.update(
        workload_seconds=round(elapsed, 1),
        intended_fraud=dict(report.fraud_attempts),
        rpc=network.rpc_urls,
        root=str(root),
    )
    return summary


def print_summary(s: dict[str, Any]) -> None:
    click.echo("")
    click.echo("=== skillchain demo: what the chain recorded ===")
    click.echo(
        f"blocks {s['blocks']}, txs {s['txs']} ({s['accepted']} accepted, "
        f"{s['rejected']} rejected and kept as evidence), {s['workload_seconds']} s"
    )
    click.echo(
        f"learning sessions credited: {s['sessions_credited']} ({s['credited_hours']} hours)"
    )
    click.echo(f"claims paid: {s['claims_paid']}, total ¥{s['paid_yuan']:,.2f}")
    click.echo("fraud attempts stopped by the contracts:")
    for code, count in sorted(
        {**s["sessions_rejected_by_code"], **s["rejected_txs_by_code"]}.items()
    ):
        click.echo(f"  {code:32s} {count}")
    click.echo("")
    click.echo("the network is still running:")
    click.echo(f"  curl {s['rpc'][0]}/v1/status")
    click.echo(f"  curl '{s['rpc'][0]}/v1/query/class?class=demo-01'")
    click.echo(f"  .venv/bin/skillchain devnet status --dir {s['root']}")
    click.echo(f"  .venv/bin/skillchain devnet down --dir {s['root']}      # stop it")
