"""Compact proposals (issue 15): a proposal crosses each link as its header and tx hashes.

Every replica already holds a proposal's txs: they reached it by gossip just
before (the primary flushes its gossip before it proposes). Sending the full
bodies again to every peer in each PRE-PREPARE and NEW-VIEW was the largest
share of a validator's upload. So the driver sends a proposal as

    ["k", [stripped, hashes, digest]]

``stripped`` is the signed message with an empty body, ``hashes`` the block's
tx hashes in order, and ``digest`` the SHA-256 of the full message's bytes.
The receiver rebuilds the message from its mempool; if txs are missing it asks
the sender for just those (``["n", [height, view, hashes]]``, answered by
``["x", [height, view, raw txs]]``); if the rebuilt bytes do not hash to
``digest`` (a tx it holds under that hash carries another valid signature,
SM2 signatures being randomized), or the sender's answer leaves a gap, it
asks for the whole message (``["n", [height, view, []]]``, answered with the
usual ``["c", message]`` frame). The rebuilt message is handed to the replica
exactly as if it had arrived whole, so every check (signature, body, size)
is the replica's as before: safety does not depend on this module, and a
primary that withholds txs costs at most the view change its silence would.

Budgets: one pending rebuild per sender (a newer compact replaces it), at most
``MAX_HASHES`` hashes, and a sender answers at most ``ANSWERS_PER_SLOT``
requests per (peer, height, view) from the last ``KEPT`` proposals it sent.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from chain.codec import Value
from chain.crypto import CryptoSuite
from chain.errors import DecodeError
from chain.types import Block, Tx, tx_hash
from consensus.messages import Message, NewView, PrePrepare, decode_message, encode_message

__all__ = ["ANSWERS_PER_SLOT", "KEPT", "MAX_HASHES", "CompactProposals"]

MAX_HASHES = 100_000
"""Tx hashes one compact proposal may list (``max_block_txs``' upper bound)."""
KEPT = 4
"""Proposals a sender keeps to answer requests for missing txs."""
ANSWERS_PER_SLOT = 2
"""Requests answered per (peer, height, view): the txs, then the whole message."""

Frame = list[Value]
Lookup = Callable[[bytes], "tuple[Tx, int] | None"]


def _block_of(msg: Message) -> Block | None:
    if isinstance(msg, PrePrepare):
        return msg.block
    if isinstance(msg, NewView):
        return msg.pre_prepare.block
    return None


def _with_block(msg: PrePrepare | NewView, block: Block) -> PrePrepare | NewView:
    if isinstance(msg, PrePrepare):
        return dataclasses.replace(msg, block=block)
    return dataclasses.replace(msg, pre_prepare=dataclasses.replace(msg.pre_prepare, block=block))


@dataclass
class _Pending:
    stripped: PrePrepare | NewView
    hashes: list[bytes]
    found: dict[bytes, Tx]
    digest: bytes
    asked_full: bool = False


class CompactProposals:
    """Both ends of compact proposals for one driver (see the module docstring)."""

    def __init__(self, suite: CryptoSuite, lookup: Lookup) -> None:
        self.suite = suite
        self._lookup = lookup
        self._sent: OrderedDict[tuple[int, int], tuple[bytes, Block]] = OrderedDict()
        self._answered: dict[tuple[bytes, int, int], int] = {}
        self._pending: dict[bytes, _Pending] = {}
        self.rebuilt = self.fetched = self.full_asked = 0

    # -- sending ------------------------------------------------------------------------

    def outgoing(self, msg: Message) -> Frame | None:
        """The compact frame for a proposal with txs (kept to answer requests), or None."""
        block = _block_of(msg)
        if block is None or not block.txs or not isinstance(msg, PrePrepare | NewView):
            return None
        full = encode_message(msg)
        self._sent[(msg.height, msg.view)] = (full, block)
        while len(self._sent) > KEPT:
            self._sent.popitem(last=False)
        stripped = encode_message(_with_block(msg, Block(block.header, ())))
        hashes = [tx_hash(self.suite, tx) for tx in block.txs]
        return ["k", [stripped, hashes, hashlib.sha256(full).digest()]]

    def on_need(self, peer: bytes, body: Value) -> Frame | None:
        """A peer lacks txs of a proposal we sent: the txs, or (``[]``) the whole message."""
        if not (isinstance(body, list) and len(body) == 3 and isinstance(body[2], list)):
            raise DecodeError("need: expected [height, view, hashes]")
        height, view, wanted = body
        kept = self._sent.get((height, view)) if type(height) is type(view) is int else None
        if kept is None:
            return None
        slot = (peer, height, view)
        if self._answered.get(slot, 0) >= ANSWERS_PER_SLOT:
            return None
        self._answered[slot] = self._answered.get(slot, 0) + 1
        while len(self._answered) > 64 * KEPT:
            self._answered.pop(next(iter(self._answered)))
        full, block = kept
        if not wanted:
            return ["c", full]
        want = {h for h in wanted if isinstance(h, bytes)}
        txs = [tx.encode() for tx in block.txs if tx_hash(self.suite, tx) in want]
        return ["x", [height, view, txs]]

    # -- receiving ------------------------------------------------------------------------

    def on_compact(self, peer: bytes, body: Value) -> tuple[Message | None, Frame | None]:
        """A compact proposal: (the rebuilt message, or None) and a request to send, if any."""
        if not (isinstance(body, list) and len(body) == 3):
            raise DecodeError("compact proposal: expected [message, hashes, digest]")
        stripped_bytes, hashes, digest = body
        if not (isinstance(stripped_bytes, bytes) and isinstance(hashes, list)
                and isinstance(digest, bytes) and len(digest) == 32
                and len(hashes) <= MAX_HASHES
                and all(isinstance(h, bytes) and len(h) == 32 for h in hashes)):
            raise DecodeError("compact proposal: malformed")
        stripped = decode_message(stripped_bytes)
        block = _block_of(stripped)
        if block is None or block.txs or not isinstance(stripped, PrePrepare | NewView):
            raise DecodeError("compact proposal: not a proposal with an empty body")
        pending = _Pending(stripped, list(hashes), {}, digest)
        for digest_ in hashes:
            entry = self._lookup(digest_)
            if entry is not None:
                pending.found[digest_] = entry[0]
        self._pending[peer] = pending
        missing = [h for h in hashes if h not in pending.found]
        if missing:
            self.fetched += 1
            return None, ["n", [stripped.height, stripped.view, missing]]
        return self._finish(peer, pending)

    def on_txs(self, peer: bytes, body: Value) -> tuple[Message | None, Frame | None]:
        """The sender's answer with the txs we lacked."""
        if not (isinstance(body, list) and len(body) == 3 and isinstance(body[2], list)):
            raise DecodeError("txs answer: expected [height, view, txs]")
        height, view, raws = body
        pending = self._pending.get(peer)
        if pending is None or (pending.stripped.height, pending.stripped.view) != (height, view):
            return None, None
        wanted = set(pending.hashes)
        for raw in raws:
            if not isinstance(raw, bytes):
                raise DecodeError("txs answer: a tx is not bytes")
            tx = Tx.decode(raw)
            digest = tx_hash(self.suite, tx)
            if digest in wanted:
                pending.found.setdefault(digest, tx)
        if any(h not in pending.found for h in pending.hashes):
            return None, self._ask_full(pending)
        return self._finish(peer, pending)

    def _finish(self, peer: bytes, pending: _Pending) -> tuple[Message | None, Frame | None]:
        header = _block_of(pending.stripped).header  # type: ignore[union-attr]
        block = Block(header, tuple(pending.found[h] for h in pending.hashes))
        msg = _with_block(pending.stripped, block)
        if hashlib.sha256(encode_message(msg)).digest() != pending.digest:
            return None, self._ask_full(pending)
        del self._pending[peer]
        self.rebuilt += 1
        return msg, None

    def _ask_full(self, pending: _Pending) -> Frame | None:
        if pending.asked_full:
            return None
        pending.asked_full = True
        self.full_asked += 1
        return ["n", [pending.stripped.height, pending.stripped.view, []]]
