"""Vote bookkeeping for one height: tallies by distinct validator, and evidence.

A quorum is a number of distinct validators, never of messages: a network
that duplicates, or a peer that repeats itself, must not move a replica one
step closer to a decision. The first vote of a validator for a (view, phase)
is the one that counts; a second one for another block is evidence of
equivocation and is kept, as a pair, for the application.
"""

from __future__ import annotations

from chain.types import Vote
from consensus import mutations

__all__ = ["VoteBook"]

Slot = tuple[int, int]
"""(view, phase)."""


class VoteBook:
    """Verified votes of one height, indexed for quorum checks."""

    __slots__ = ("_first", "_messages", "_tally")

    def __init__(self) -> None:
        self._first: dict[Slot, dict[bytes, Vote]] = {}
        self._tally: dict[tuple[int, int, bytes], dict[bytes, Vote]] = {}
        self._messages: dict[tuple[int, int, bytes], int] = {}

    def is_known(self, vote: Vote) -> bool:
        """True when this validator's counted vote for the slot is for the same block.

        Such a vote needs no signature check: it cannot change any tally.
        """
        first = self._first.get((vote.view, vote.phase), {}).get(vote.voter)
        return first is not None and first.block_hash == vote.block_hash

    def first(self, vote: Vote) -> Vote | None:
        """This validator's counted vote for the slot of ``vote`` (None: it has none)."""
        return self._first.get((vote.view, vote.phase), {}).get(vote.voter)

    def note_duplicate(self, vote: Vote, phase: int | None = None) -> None:
        """Count a repeated message; only the planted quorum bug looks at this count."""
        key = (vote.view, vote.phase if phase is None else phase, vote.block_hash)
        self._messages[key] = self._messages.get(key, 0) + 1

    def add(self, vote: Vote, phase: int | None = None) -> Vote | None:
        """Record a verified vote; return the earlier conflicting vote, if any.

        ``phase`` overrides the slot the vote is filed under (planted bug only).
        """
        phase = vote.phase if phase is None else phase
        voters = self._first.setdefault((vote.view, phase), {})
        first = voters.get(vote.voter)
        if first is not None:
            self.note_duplicate(vote, phase)
            return first if first.block_hash != vote.block_hash else None
        voters[vote.voter] = vote
        key = (vote.view, phase, vote.block_hash)
        self._tally.setdefault(key, {})[vote.voter] = vote
        self._messages[key] = self._messages.get(key, 0) + 1
        return None

    def count(self, view: int, phase: int, block_hash: bytes) -> int:
        """How many distinct validators voted for ``block_hash`` in the slot."""
        key = (view, phase, block_hash)
        if mutations.is_enabled("count_messages_not_signers"):
            return self._messages.get(key, 0)
        return len(self._tally.get(key, ()))

    def votes(self, view: int, phase: int, block_hash: bytes) -> dict[bytes, Vote]:
        """The counted votes for ``block_hash`` in the slot, keyed by voter."""
        return self._tally.get((view, phase, block_hash), {})

    def candidates(self, phase: int) -> list[tuple[int, bytes]]:
        """Every (view, block hash) that has any vote of ``phase``."""
        return [(view, digest) for view, ph, digest in self._tally if ph == phase]
