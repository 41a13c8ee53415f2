"""Per-peer byte budgets on the replica's virtual clock (a token bucket in bytes).

Used for catch-up answers (``consensus.service``): what one peer can make us
send is bounded by ``burst + rate * t`` bytes, whatever it asks for. A peer
with credit left gets an answer up to its credit (at least one block, so the
bucket may go into debt by less than one block); a peer without credit is
refused before any block is read. The clock is the replica's (``on_tick``), so
the budget is as deterministic as everything else in the replica.

Peers are the keys of authenticated links (validators, followers); at most
``MAX_PEERS`` buckets are kept, the least recently used dropped beyond that
(a dropped bucket comes back full, which only a peer owning more than
``MAX_PEERS`` link identities could exploit).
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["MAX_PEERS", "ByteBudget"]

MAX_PEERS = 1024
"""Buckets kept; no validator set is larger (``messages.MAX_LIST_ITEMS``)."""


class ByteBudget:
    """Token buckets in bytes, one per peer key."""

    __slots__ = ("_buckets", "burst_bytes", "rate_bytes_per_s")

    def __init__(self, burst_bytes: int, rate_bytes_per_s: int) -> None:
        self.burst_bytes = burst_bytes
        self.rate_bytes_per_s = rate_bytes_per_s
        self._buckets: OrderedDict[bytes, tuple[int, int]] = OrderedDict()
        """peer -> (bytes of credit, may be negative; ms of the last refill)."""

    def credit(self, peer: bytes, now_ms: int) -> int:
        """Bytes ``peer`` may still pull now (at most the burst; <= 0: refuse)."""
        tokens, last_ms = self._buckets.get(peer, (self.burst_bytes, now_ms))
        elapsed_ms = max(0, now_ms - last_ms)
        tokens = min(self.burst_bytes, tokens + elapsed_ms * self.rate_bytes_per_s // 1000)
        self._store(peer, tokens, max(now_ms, last_ms))
        return tokens

    def spend(self, peer: bytes, size_bytes: int, now_ms: int) -> None:
        """Charge ``size_bytes`` sent to ``peer`` (after ``credit`` at the same time)."""
        tokens = self.credit(peer, now_ms)
        self._store(peer, tokens - size_bytes, now_ms)

    def _store(self, peer: bytes, tokens: int, at_ms: int) -> None:
        self._buckets[peer] = (tokens, at_ms)
        self._buckets.move_to_end(peer)
        while len(self._buckets) > MAX_PEERS:
            self._buckets.popitem(last=False)
