"""Counting what others did wrong: dropped input by source and kind, faults per peer.

The shell's rule (``node/__init__.py``): a peer's or client's fault is never
our fault. Whatever arrives from outside and fails a check is dropped and
counted here — by where it came from (``rpc``, ``link``, ``consensus``,
``gossip``, ...) and what was wrong with it — and, when the sender is a
validator, also recorded against that validator's key, so an operator can see
which bureau misbehaves (``/metrics``, ``/v1/status``). Counting is cheap and
bounded: kinds are a fixed vocabulary chosen by our code, never by the input,
and peers are validator keys (a bounded set) or ``other``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

__all__ = ["MAX_PEERS_TRACKED", "Faults"]

MAX_PEERS_TRACKED = 256
"""Distinct peer keys with their own fault counters; beyond, counted as ``other``."""


@dataclass
class Faults:
    """Dropped inputs (``dropped``) and faults per validator key (``by_peer``)."""

    dropped: Counter[tuple[str, str]] = field(default_factory=Counter)
    by_peer: Counter[tuple[str, str]] = field(default_factory=Counter)
    _peers: set[str] = field(default_factory=set)

    def drop(self, source: str, kind: str, peer: bytes | None = None, count: int = 1) -> None:
        """Count ``count`` inputs from ``source`` dropped for ``kind``; charge ``peer``."""
        self.dropped[(source, kind)] += count
        if peer is not None:
            self.by_peer[(self._peer_label(peer), kind)] += count

    def against(self, peer: bytes) -> int:
        """Faults recorded against ``peer`` so far (all kinds)."""
        label = peer.hex()[:16]
        return sum(n for (p, _), n in self.by_peer.items() if p == label)

    def _peer_label(self, peer: bytes) -> str:
        label = peer.hex()[:16]
        if label in self._peers:
            return label
        if len(self._peers) < MAX_PEERS_TRACKED:
            self._peers.add(label)
            return label
        return "other"

    def render(self) -> list[str]:
        """Prometheus lines for both counters."""
        lines = [
            "# HELP skillchain_dropped_total Inputs from outside dropped for failing a check.",
            "# TYPE skillchain_dropped_total counter",
        ]
        for (source, kind), n in sorted(self.dropped.items()):
            lines.append(f'skillchain_dropped_total{{source="{source}",kind="{kind}"}} {n}')
        lines += [
            "# HELP skillchain_peer_faults_total Faults recorded against a validator (key prefix).",
            "# TYPE skillchain_peer_faults_total counter",
        ]
        for (peer, kind), n in sorted(self.by_peer.items()):
            lines.append(f'skillchain_peer_faults_total{{peer="{peer}",kind="{kind}"}} {n}')
        return lines
