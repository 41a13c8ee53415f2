"""The evidence a node keeps: deduplicated, bounded, persisted, paginated.

The replica reports equivocation (``ReportEvidence``: two votes of one
validator for one slot; ``ReportProposalEvidence``: two blocks signed by one
primary for one height and view), each pair already signature-checked. The
``EvidenceBook`` keeps them for operators and supervisors (``/v1/evidence``),
and holds the line against a validator that floods conflicting votes for every
view (issue 13, finding 4: 2,046 entries in 30 s, in memory only):

* **Deduplicated**: one entry per (kind, validator, height, view, phase); a
  proposal pair has phase 0.
* **Bounded per validator**: ``MAX_EVIDENCE_PER_VALIDATOR`` (16) entries. A
  validator's further evidence is refused: its first proofs are as conclusive
  as any later one, and refusing (rather than replacing) keeps what was
  shown stable and the store unchurned by a flood.
* **Bounded in total**: ``MAX_EVIDENCE`` (1,024) entries, room for 64
  validators at their cap. When full, the oldest entry of the validator with
  the most entries is evicted for a validator that has fewer: the first proof
  against another validator is worth more than the seventeenth against one
  already proven. A newcomer with as many as the largest is refused.
* **Persisted**: every accepted entry is written to the store
  (``Store.put_evidence``, prefix ``e/``) in a small batch of its own, with
  the entry it evicts; the book is reloaded on start, so a restart loses none.
* **Paginated**: entries carry a sequence number, increasing forever (also
  across restarts), which orders them and is the cursor:
  ``page(after, limit)`` returns up to ``MAX_PAGE`` (100) entries with a
  larger number, oldest first, and ``next`` (the last number) when more
  follow. Evictions remove entries but never reorder the rest.

The replica bounds its side too (``consensus.replica.MAX_EVIDENCE_PER_VOTER``
reports per validator per height, votes only for views up to
``max_view_ahead`` ahead), so the book's caps are reached slowly and cheaply.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from chain.codec import decode, encode
from chain.errors import CorruptStoreError, DecodeError
from chain.types import Vote
from consensus.messages import ProposalSeen

__all__ = [
    "MAX_EVIDENCE",
    "MAX_EVIDENCE_PER_VALIDATOR",
    "MAX_PAGE",
    "EvidenceBook",
    "EvidenceEntry",
    "EvidenceLog",
]

MAX_EVIDENCE: Final = 1_024
"""Entries kept in total (about 1 KB each: two signed records and their slot)."""
MAX_EVIDENCE_PER_VALIDATOR: Final = 16
"""Entries kept per validator; its later evidence is refused."""
MAX_PAGE: Final = 100
"""Entries per ``/v1/evidence`` page at most (``?limit=`` above it is lowered to it)."""

VOTES: Final = "votes"
PROPOSALS: Final = "proposals"


class EvidenceLog(Protocol):
    """Where entries persist (``storage.store.Store``)."""

    def put_evidence(self, seq: int, data: bytes, evict: Sequence[int] = ()) -> None: ...
    def evidence_items(self) -> Iterator[tuple[int, bytes]]: ...


@dataclass(frozen=True, slots=True)
class EvidenceEntry:
    """Two signed records of one validator for one slot, and where the book keeps them."""

    seq: int
    kind: str
    validator: bytes
    height: int
    view: int
    phase: int
    proofs: tuple[bytes, bytes]
    """The encoded ``Vote`` (kind votes) or ``ProposalSeen`` (kind proposals) records."""

    @property
    def slot(self) -> tuple[str, bytes, int, int, int]:
        return (self.kind, self.validator, self.height, self.view, self.phase)

    def encode(self) -> bytes:
        return encode([self.kind, self.validator, self.height, self.view, self.phase,
                       list(self.proofs)])

    @classmethod
    def decode(cls, seq: int, data: bytes) -> EvidenceEntry:
        """An entry read back from the store (``CorruptStoreError`` if it is not one)."""
        try:
            kind, validator, height, view, phase, proofs = decode(data)
            a, b = proofs
            fields = (kind, validator, height, view, phase, a, b)
            types = (str, bytes, int, int, int, bytes, bytes)
            if kind not in (VOTES, PROPOSALS) or not all(
                type(v) is t for v, t in zip(fields, types, strict=True)
            ):
                raise ValueError("wrong field types")
        except (DecodeError, ValueError, TypeError) as exc:
            raise CorruptStoreError(f"stored evidence entry {seq} is corrupt: {exc}") from None
        return cls(seq, kind, validator, height, view, phase, (a, b))

    def to_json(self) -> dict[str, Any]:
        """The ``/v1/evidence`` form (the record pairs in hex, checkable offline)."""
        who = "voter" if self.kind == VOTES else "proposer"
        answer: dict[str, Any] = {
            "id": self.seq,
            "kind": self.kind,
            who: self.validator.hex(),
            "height": self.height,
            "view": self.view,
        }
        if self.kind == VOTES:
            answer["phase"] = self.phase
        answer[self.kind] = [proof.hex() for proof in self.proofs]
        return answer


class EvidenceBook:
    """The node's evidence (see the module docstring); ``log`` None keeps it in memory."""

    def __init__(
        self,
        log: EvidenceLog | None = None,
        per_validator: int = MAX_EVIDENCE_PER_VALIDATOR,
        total: int = MAX_EVIDENCE,
    ) -> None:
        self._log = log
        self.per_validator = per_validator
        self.total = total
        self._entries: dict[int, EvidenceEntry] = {}  # by seq, in seq order
        self._slots: set[tuple[str, bytes, int, int, int]] = set()
        self._by_validator: dict[bytes, list[int]] = {}
        self.refused = 0
        """Reports not kept (duplicate slot, or over a cap), since start."""
        self._next_seq = 1
        if log is not None:
            self._load(EvidenceEntry.decode(seq, data) for seq, data in log.evidence_items())

    def _load(self, entries: Iterable[EvidenceEntry]) -> None:
        for entry in entries:
            self._remember(entry)
            self._next_seq = max(self._next_seq, entry.seq + 1)

    def __len__(self) -> int:
        return len(self._entries)

    # -- adding ----------------------------------------------------------------

    def add_votes(self, a: Vote, b: Vote) -> bool:
        """Keep two conflicting votes of one validator; False when not kept."""
        return self._add(VOTES, a.voter, a.height, a.view, a.phase, (a.encode(), b.encode()))

    def add_proposals(self, a: ProposalSeen, b: ProposalSeen) -> bool:
        """Keep two proposals signed by one primary for one slot; False when not kept."""
        return self._add(PROPOSALS, a.proposer, a.height, a.view, 0, (a.encode(), b.encode()))

    def _add(
        self, kind: str, validator: bytes, height: int, view: int, phase: int,
        proofs: tuple[bytes, bytes],
    ) -> bool:
        entry = EvidenceEntry(self._next_seq, kind, validator, height, view, phase, proofs)
        if entry.slot in self._slots or self._count(validator) >= self.per_validator:
            self.refused += 1
            return False
        evict: list[int] = []
        if len(self._entries) >= self.total:
            victim = self._eviction_for(validator)
            if victim is None:
                self.refused += 1
                return False
            evict.append(victim)
        if self._log is not None:
            self._log.put_evidence(entry.seq, entry.encode(), evict)
        for seq in evict:
            self._forget(seq)
        self._remember(entry)
        self._next_seq += 1
        return True

    def _eviction_for(self, newcomer: bytes) -> int | None:
        """The oldest entry of the validator with the most entries, if it has more than
        ``newcomer`` (ties: the validator whose oldest entry is oldest)."""
        if not self._by_validator:
            return None
        most = max(self._by_validator.values(), key=lambda seqs: (len(seqs), -seqs[0]))
        if len(most) <= self._count(newcomer):
            return None
        return most[0]

    def _count(self, validator: bytes) -> int:
        return len(self._by_validator.get(validator, ()))

    def _remember(self, entry: EvidenceEntry) -> None:
        self._entries[entry.seq] = entry
        self._slots.add(entry.slot)
        self._by_validator.setdefault(entry.validator, []).append(entry.seq)

    def _forget(self, seq: int) -> None:
        entry = self._entries.pop(seq)
        self._slots.discard(entry.slot)
        seqs = self._by_validator[entry.validator]
        seqs.remove(seq)
        if not seqs:
            del self._by_validator[entry.validator]

    # -- reading ---------------------------------------------------------------

    def page(self, after: int = 0, limit: int = MAX_PAGE) -> dict[str, Any]:
        """Entries numbered above ``after``, oldest first, at most ``limit`` (1..MAX_PAGE);
        ``next`` is the cursor for the following page, None on the last one."""
        limit = max(1, min(limit, MAX_PAGE))
        chosen = [e for seq, e in self._entries.items() if seq > after][: limit + 1]
        more = len(chosen) > limit
        chosen = chosen[:limit]
        cursor = str(chosen[-1].seq) if more and chosen else None
        return {"evidence": [e.to_json() for e in chosen], "next": cursor,
                "total": len(self._entries)}

    def entries(self) -> list[dict[str, Any]]:
        """Every entry kept, oldest first (``page`` for the RPC)."""
        return [e.to_json() for e in self._entries.values()]
