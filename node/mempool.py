"""The mempool: admitted txs waiting for a block, bounded and fair between senders.

Admission runs the checks that need no execution — size, strict decoding,
body schema, signature, the sender's role, the expiry window, duplicates — so
a block proposal never carries a tx that could have been refused for free.
Contract rules (overlap, caps, eligibility) are left to execution, which
records a rejection receipt as evidence.

One admission rule: what the contracts check (expiry window, seen-once,
permission, body schema with the personal-data scan) is ``contracts.check_tx``
itself, called by ``ContractAdmission`` on the head state for the next block's
height, so a tx admitted at head h is not refused for expiry when executed at
h+1 (only once the chain has passed its ``expires``). The window is the live
``tx_window_heights``, which ``registry.set_params`` changes: the parameters
are read once per height, in ``on_height`` (called after each commit), never
per tx; pending txs the new height's window no longer takes (expired, or too
far ahead after the window shrank) leave the pool there. The pool itself adds
only what the contracts cannot know: chain id, duplicates in the pool, its
bounds and the signature. Order is cheapest refusal first: the window (no state
read) before the signature (~0.1 ms), the signature before the body is parsed
(up to ~3 ms for 100 sessions), so a keyless client cannot make us parse.

Fairness: txs are queued per sender and a batch takes them round-robin, so one
platform's nightly upload of 100,000 sessions cannot starve a bureau's claim
approval. When the pool is more than half full, a sender already holding more
than its fair share (half the capacity divided among the active senders, at
least ``MIN_SHARE``) is told "busy" while others are still admitted.

Signature verdicts are cached by (tx hash, signature): the hash excludes the
signature, so caching by hash alone would let a forged copy ride on a good
one's verdict.

Parsed bodies: the admission check may return ``Parsed(body)``, the tx's body
as the contracts parsed it; the entry keeps it until the tx leaves the pool
(commit or expiry), and ``parsed_body(tx_hash)`` hands it to the executor so
a node parses each body once, both for the blocks it proposes and for the
blocks it verifies (looked up by hash: the hash covers kind and body). Memory:
the pool is bounded in wire bytes (``max_bytes``), and a parsed body costs
about 1.4x its wire size on top of the decoded ``Tx`` (~5.5x), because it
shares the decoded strings and byte strings and adds only its records and
tuples (tracemalloc, one 100-session ``learning.record_sessions`` tx: 15.3 kB
wire, 84 kB decoded, +22 kB parsed). A full pool of such txs thus holds
about 1.4 GiB of decoded txs plus 0.35 GiB of parsed bodies.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import contracts
from chain.crypto import CryptoSuite
from chain.errors import DecodeError
from chain.types import Tx, tx_hash, verify_tx_signature
from contracts.model import Params

__all__ = [
    "Admission",
    "AdmissionRule",
    "ContractAdmission",
    "Mempool",
    "MempoolLimits",
    "Parsed",
    "SignatureCache",
]

MIN_SHARE = 1_000


@dataclass(frozen=True, slots=True)
class MempoolLimits:
    """How much a pool holds; every figure bounds something a client controls."""

    max_txs: int = 50_000
    max_bytes: int = 256 * 1024 * 1024
    max_tx_bytes: int = 2 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Admission:
    """The outcome of offering one tx: ``code`` is "" when admitted."""

    tx_hash: bytes | None
    code: str
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.code == ""


@dataclass(frozen=True, slots=True)
class Parsed:
    """An admission check's "admit", carrying the parsed body to keep with the entry.

    The pool never looks inside ``body``; only a body that parsed without error may
    be returned (a failed parse is a refusal).
    """

    body: object


Verdict = tuple[str, str] | Parsed | None
"""An admission check's answer: (code, message) refuses, ``Parsed`` or None admits."""


class AdmissionRule(Protocol):
    """What the contracts decide about admission, for the block after the head."""

    def on_height(self, height: int) -> None:
        """The head is now ``height``: read what admission needs from its state, once."""

    def check_expiry(self, tx: Tx) -> tuple[str, str] | None:
        """The replay window alone (no state read): (code, message) or None."""

    def keeps(self, expires: int) -> bool:
        """Whether the next block takes a tx with this ``expires`` (window only)."""

    def check(self, tx: Tx, digest: bytes) -> Verdict:
        """The whole contract admission rule for ``tx`` (its hash is ``digest``)."""


class ContractAdmission:
    """``contracts.check_tx`` on the head state, with the live parameters read once
    per height; ``state`` returns the committed state's reader."""

    def __init__(self, state: Callable[[], contracts.StateReader]) -> None:
        self._state = state
        self._next_height = 1
        self._params: Params | None = None
        self._bounds = (1, 0)

    def on_height(self, height: int) -> None:
        self._read(height)

    def _read(self, height: int) -> Params:
        params = contracts.get_params(contracts.Overlay(self._state()))
        self._next_height, self._params = height + 1, params
        self._bounds = contracts.expiry_bounds(height + 1, params)
        return params

    def _live(self) -> Params:
        """The parameters for the next block (read now if no height was announced yet)."""
        return self._params if self._params is not None else self._read(self._next_height - 1)

    def check_expiry(self, tx: Tx) -> tuple[str, str] | None:
        result = contracts.check_expiry(tx.expires, self._next_height, self._live())
        return None if result.ok else (result.code, result.message)

    def keeps(self, expires: int) -> bool:
        self._live()
        low, high = self._bounds
        return low <= expires <= high

    def check(self, tx: Tx, digest: bytes) -> Verdict:
        result = contracts.check_tx(self._state(), tx, digest, self._next_height, self._live())
        return Parsed(result.body) if result.ok else (result.code, result.message)


class SignatureCache:
    """Recent signature verdicts, so each tx is verified once per node."""

    def __init__(self, suite: CryptoSuite, capacity: int = 200_000) -> None:
        self._suite = suite
        self._capacity = capacity
        self._good: OrderedDict[bytes, None] = OrderedDict()
        self.verified = 0

    def check(self, tx: Tx, digest: bytes) -> bool:
        key = digest + tx.signature
        if key in self._good:
            return True
        self.verified += 1
        if not verify_tx_signature(self._suite, tx):
            return False
        self._good[key] = None
        if len(self._good) > self._capacity:
            self._good.popitem(last=False)
        return True


class Mempool:
    """Pending txs by sender, with the admission checks in one place."""

    def __init__(
        self,
        suite: CryptoSuite,
        chain_id: str,
        signatures: SignatureCache,
        rule: AdmissionRule,
        is_committed: Callable[[bytes], bool],
        limits: MempoolLimits | None = None,
    ) -> None:
        self._suite = suite
        self._chain_id = chain_id
        self._signatures = signatures
        self._rule = rule
        self._is_committed = is_committed
        self.limits = limits or MempoolLimits()
        self._txs: dict[bytes, tuple[Tx, int, object | None]] = {}  # tx, size, parsed body
        self._by_sender: dict[bytes, deque[bytes]] = {}
        self._pending: dict[bytes, int] = {}
        self._bytes = 0
        self.head_height = 0

    def __len__(self) -> int:
        return len(self._txs)

    def __contains__(self, digest: object) -> bool:
        return digest in self._txs

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def admit_bytes(self, raw: bytes) -> Admission:
        """Decode and admit one encoded tx."""
        if len(raw) > self.limits.max_tx_bytes:
            return Admission(
                None, "tx_too_large", f"a tx may have at most {self.limits.max_tx_bytes} bytes"
            )
        try:
            tx = Tx.decode(raw)
        except DecodeError as exc:
            return Admission(None, "decode_error", exc.message)
        return self.admit(tx, len(raw))

    def admit(self, tx: Tx, size: int | None = None) -> Admission:
        """Run every stateless check and queue ``tx``; see the module docstring."""
        size = size if size is not None else len(tx.encode())
        digest = tx_hash(self._suite, tx)
        problem = self._refusal(tx, digest, size)
        if problem is not None:
            return Admission(digest, *problem)
        verdict = self._rule.check(tx, digest)
        if isinstance(verdict, tuple):
            return Admission(digest, *verdict)
        self._txs[digest] = (tx, size, None if verdict is None else verdict.body)
        self._by_sender.setdefault(tx.sender, deque()).append(digest)
        self._pending[tx.sender] = self._pending.get(tx.sender, 0) + 1
        self._bytes += size
        return Admission(digest, "")

    def _refusal(self, tx: Tx, digest: bytes, size: int) -> tuple[str, str] | None:
        if tx.chain_id != self._chain_id:
            return "wrong_chain", f"tx is for chain {tx.chain_id!r}, this is {self._chain_id!r}"
        if digest in self._txs or self._is_committed(digest):
            return "duplicate_tx", "this tx is already pending or committed"
        expiry = self._rule.check_expiry(tx)
        if expiry is not None:
            return expiry
        if self._is_full(tx.sender, size):
            return "mempool_full", "the node is busy; retry later"
        if not self._signatures.check(tx, digest):
            return "bad_signature", "signature does not verify for this sender, tx and chain"
        return None

    def _is_full(self, sender: bytes, size: int) -> bool:
        limits = self.limits
        if len(self._txs) >= limits.max_txs or self._bytes + size > limits.max_bytes:
            return True
        if len(self._txs) * 2 < limits.max_txs:
            return False
        active = max(1, len(self._pending))
        share = max(MIN_SHARE, limits.max_txs // (2 * active))
        return self._pending.get(sender, 0) >= share

    def take(self, max_txs: int, max_bytes: int) -> list[tuple[Tx, bytes]]:
        """Up to ``max_txs`` pending txs, round-robin over senders; they stay pending."""
        streams = [iter(q) for q in self._by_sender.values()]
        batch: list[tuple[Tx, bytes]] = []
        total = 0
        while streams and len(batch) < max_txs:
            alive = []
            for stream in streams:
                digest = next((d for d in stream if d in self._txs), None)
                if digest is None:
                    continue
                tx, size, _ = self._txs[digest]
                if len(batch) >= max_txs or total + size > max_bytes:
                    return batch
                batch.append((tx, digest))
                total += size
                alive.append(stream)
            streams = alive
        return batch

    def remove(self, digests: list[bytes]) -> None:
        """Forget txs that were committed (or otherwise resolved)."""
        for digest in digests:
            entry = self._txs.pop(digest, None)
            if entry is None:
                continue
            tx, size, _ = entry
            self._bytes -= size
            left = self._pending[tx.sender] - 1
            if left:
                self._pending[tx.sender] = left
                queue = self._by_sender[tx.sender]
                while queue and queue[0] not in self._txs:  # lazy: drop resolved heads
                    queue.popleft()
            else:
                del self._pending[tx.sender]
                del self._by_sender[tx.sender]

    def on_height(self, height: int) -> None:
        """The head is ``height``: re-read the admission rule's parameters and drop the
        txs the next block can no longer take (expired, or beyond a shrunk window)."""
        self.head_height = height
        self._rule.on_height(height)
        keeps = self._rule.keeps
        self.remove([d for d, (tx, _, _) in self._txs.items() if not keeps(tx.expires)])

    def get(self, digest: bytes) -> Tx | None:
        entry = self._txs.get(digest)
        return None if entry is None else entry[0]

    def entry(self, digest: bytes) -> tuple[Tx, int] | None:
        """A pending tx and its size in bytes."""
        entry = self._txs.get(digest)
        return None if entry is None else (entry[0], entry[1])

    def parsed_body(self, digest: bytes) -> object | None:
        """The body parsed at admission of pending tx ``digest``, if any."""
        entry = self._txs.get(digest)
        return None if entry is None else entry[2]
