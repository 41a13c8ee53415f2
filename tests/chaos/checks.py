"""End-of-run checks, black box over the RPC only (what an auditor could do too).

Each check reads every node's chain through ``/v1/blocks`` and returns
numbers rather than raising, so the long run can print a report and the
tests can assert on the same figures:

* agreement — the same block hash and state root at every height that two
  nodes both have (a fork or a divergent execution shows up here);
* acknowledged txs — every tx a client was told is committed appears exactly
  once in the chain; no tx hash appears twice anywhere (double apply);
* conflicting signatures — across all nodes' stored commit certificates, no
  validator index appears as a signer for two different block hashes at one
  (height, view), plus the evidence each node reports in ``/v1/status``;
* catch-up — all nodes within one block of the tip (``wait_converged``).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from cli.devnet import node_status

__all__ = [
    "ChainReport",
    "check_chains",
    "fetch_chain",
    "get_json",
    "signer_indices",
    "wait_converged",
]

PAGE = 100


def get_json(url: str, path: str, timeout_s: float = 30) -> Any:
    with urllib.request.urlopen(url + path, timeout=timeout_s) as answer:
        return json.loads(answer.read())


def signer_indices(bitmap_hex: str) -> list[int]:
    """Validator indices set in a certificate's signer bitmap (LSB first per byte)."""
    bitmap = bytes.fromhex(bitmap_hex)
    return [i for i in range(8 * len(bitmap)) if bitmap[i // 8] >> (i % 8) & 1]


def fetch_chain(url: str, top: int) -> list[dict[str, Any]]:
    """Blocks 1..top of one node as JSON views (raises if the node lacks any)."""
    blocks: list[dict[str, Any]] = []
    start = 1
    while start <= top:
        page = get_json(url, f"/v1/blocks?from={start}&to={min(top, start + PAGE - 1)}")
        if not page["blocks"]:
            raise AssertionError(f"{url} returned no blocks from {start} (head {page['head']})")
        blocks.extend(page["blocks"])
        start += len(page["blocks"])
    return blocks[:top]


def wait_converged(urls: list[str], timeout_s: float = 60, slack: int = 1) -> float:
    """Seconds until every node answers and is within ``slack`` blocks of the tip.

    Raises ``AssertionError`` with the heights seen when ``timeout_s`` passes.
    """
    started = time.monotonic()
    heights: list[int | None] = []
    while time.monotonic() - started < timeout_s:
        heights = [(s or {}).get("height") for s in (node_status(u) for u in urls)]
        if all(h is not None for h in heights):
            known = [h for h in heights if h is not None]
            if max(known) - min(known) <= slack:
                return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"nodes not within {slack} block(s) after {timeout_s:.0f}s: {heights}")


@dataclass
class ChainReport:
    """What the checks found; all counters must be zero for a green run."""

    heights: list[int] = field(default_factory=list)
    compared_heights: int = 0
    divergent_heights: list[int] = field(default_factory=list)
    acked: int = 0
    lost: list[str] = field(default_factory=list)
    double_applied: list[str] = field(default_factory=list)
    conflicting_certificates: int = 0
    evidence: int = 0
    txs_in_chain: int = 0

    @property
    def conflicting_signatures(self) -> int:
        return self.conflicting_certificates + self.evidence

    @property
    def ok(self) -> bool:
        return (
            not (self.divergent_heights or self.lost or self.double_applied)
            and self.conflicting_signatures == 0
        )

    def summary(self) -> dict[str, Any]:
        return {
            "heights": self.heights,
            "compared_heights": self.compared_heights,
            "divergent_heights": self.divergent_heights[:10],
            "acked": self.acked,
            "lost": len(self.lost),
            "double_applied": len(self.double_applied),
            "conflicting_signatures": self.conflicting_signatures,
            "evidence": self.evidence,
            "txs_in_chain": self.txs_in_chain,
        }


def check_chains(urls: list[str], acked: set[str], nodes: list[int] | None = None) -> ChainReport:
    """Run every chain check over the nodes ``nodes`` (default: all) of ``urls``."""
    nodes = list(range(len(urls))) if nodes is None else nodes
    report = ChainReport(acked=len(acked))
    statuses = [get_json(urls[i], "/v1/status") for i in nodes]
    report.heights = [s["height"] for s in statuses]
    report.evidence = sum(s.get("evidence", 0) for s in statuses)
    chains = {i: fetch_chain(urls[i], report.heights[k]) for k, i in enumerate(nodes)}

    longest = max(chains.values(), key=len)
    report.compared_heights = len(longest)
    for index in range(len(longest)):
        views = [c[index]["header"] for c in chains.values() if len(c) > index]
        if len({(h["hash"], h["state_root"]) for h in views}) != 1:
            report.divergent_heights.append(index + 1)

    counts = Counter(tx["hash"] for block in longest for tx in block["txs"])
    report.txs_in_chain = sum(counts.values())
    report.double_applied = sorted(digest for digest, n in counts.items() if n > 1)
    report.lost = sorted(digest for digest in acked if counts.get(digest, 0) != 1)

    signed: dict[tuple[int, int, int], set[str]] = defaultdict(set)
    for chain in chains.values():
        for block in chain:
            cert = block["certificate"]
            if cert is None:
                continue
            for signer in signer_indices(cert["signers"]):
                signed[(cert["height"], cert["view"], signer)].add(cert["block_hash"])
    report.conflicting_certificates = sum(1 for hashes in signed.values() if len(hashes) > 1)
    return report


def is_unreachable(exc: BaseException) -> bool:
    return isinstance(exc, urllib.error.URLError | OSError | TimeoutError)
