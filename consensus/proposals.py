"""Signed proposals per (height, view): a primary that signs two blocks gets caught.

A primary that sends one block to some replicas and another to the rest
signs nothing twice that any single replica sees, unless the replicas tell
each other what they got. So every replica that accepts a proposal relays
its compact signed form (``ProposalSeen``: the slot, the block hash and the
primary's PRE-PREPARE signature) to the others, and each keeps the first
signed hash per slot. A second, different hash with a valid signature of the
same primary is evidence — two ``ProposalSeen`` that anyone holding the
validator set can check with ``is_valid_proposal_evidence``.

Costs on the honest path: a relay of a hash already known is a dictionary
look-up, never a signature check. A signature is checked only when a hash
differs from the one known (and a stored first relay is checked only then,
too). Each validator's relay counts once per slot, so a liar can make us
check at most one signature per slot; slots are kept for a few recent heights
and a bounded range of views only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from chain.crypto import CryptoSuite
from chain.validators import ValidatorSet
from consensus.actions import Action, Broadcast, Config, ReportProposalEvidence
from consensus.messages import Message, NewView, PrePrepare, ProposalSeen, verify_proposal
from consensus.viewchange import primary_index

if TYPE_CHECKING:
    from chain.types import Block
    from consensus.round import HeightState

__all__ = [
    "WINDOW_HEIGHTS",
    "ProposalMixin",
    "ProposalWatch",
    "is_primary_of",
    "is_valid_proposal_evidence",
]

WINDOW_HEIGHTS = 4
"""Relays for heights this far below the current one are still looked at."""

Slot = tuple[int, int]
"""(height, view)."""


def is_valid_proposal_evidence(
    suite: CryptoSuite, chain_id: str, a: ProposalSeen, b: ProposalSeen,
    valset: ValidatorSet | None = None,
) -> bool:
    """True when ``a`` and ``b`` prove that one proposer signed two blocks for one slot.

    With ``valset`` (the set in force at that height) the proposer must also be
    the primary of the slot: anyone else's PRE-PREPARE is no proposal at all.
    """
    if (a.height, a.view, a.proposer) != (b.height, b.view, b.proposer):
        return False
    if a.block_hash == b.block_hash:
        return False
    if valset is not None and not is_primary_of(valset, a.height, a.view, a.proposer):
        return False
    return verify_proposal(suite, chain_id, a) and verify_proposal(suite, chain_id, b)


def is_primary_of(valset: ValidatorSet, height: int, view: int, key: bytes) -> bool:
    """True when ``key`` is the primary of (height, view) under ``valset``."""
    if not len(valset):
        return False
    index = primary_index(height, view, len(valset))
    return valset.validators[index].public_key == key


class ProposalWatch:
    """The first signed proposal hash of each recent slot, and the evidence reported."""

    __slots__ = ("_first", "_relays", "_reported", "_view_caps", "chain_id", "suite")

    def __init__(self, suite: CryptoSuite, chain_id: str) -> None:
        self.suite = suite
        self.chain_id = chain_id
        self._first: dict[Slot, tuple[ProposalSeen, bool]] = {}
        """Slot -> (first proposal, whether its signature has been checked)."""
        self._relays: set[tuple[int, int, bytes]] = set()
        self._reported: set[Slot] = set()
        self._view_caps: dict[int, int] = {}
        """Height -> highest view still looked at, fixed when the height is left."""

    def view_cap(self, height: int) -> int | None:
        """Highest view looked at for a left height (None: not kept)."""
        return self._view_caps.get(height)

    def on_checked(self, seen: ProposalSeen) -> tuple[ProposalSeen, ProposalSeen] | None:
        """A proposal whose signature the replica verified; evidence if it conflicts."""
        return self._note(seen, checked=True)

    def on_relayed(
        self, relayer: bytes, seen: ProposalSeen
    ) -> tuple[ProposalSeen, ProposalSeen] | None:
        """A relay (unchecked); one per relayer and slot is looked at."""
        key = (seen.height, seen.view, relayer)
        if key in self._relays:
            return None
        self._relays.add(key)
        return self._note(seen, checked=False)

    def leave(self, height: int, view_cap: int) -> None:
        """``height`` is decided: keep it (views up to ``view_cap``) and drop old heights."""
        self._view_caps[height] = view_cap
        floor = height - WINDOW_HEIGHTS
        self._view_caps = {h: v for h, v in self._view_caps.items() if h >= floor}
        self._first = {s: e for s, e in self._first.items() if s[0] >= floor}
        self._relays = {r for r in self._relays if r[0] >= floor}
        self._reported = {s for s in self._reported if s[0] >= floor}

    def _note(
        self, seen: ProposalSeen, checked: bool
    ) -> tuple[ProposalSeen, ProposalSeen] | None:
        slot = (seen.height, seen.view)
        known = self._first.get(slot)
        if known is None:
            self._first[slot] = (seen, checked)
            return None
        first, first_checked = known
        if first.block_hash == seen.block_hash:
            if checked and not first_checked:
                self._first[slot] = (seen, True)
            return None
        if slot in self._reported or first.proposer != seen.proposer:
            return None
        if not checked and not verify_proposal(self.suite, self.chain_id, seen):
            return None
        if not first_checked and not verify_proposal(self.suite, self.chain_id, first):
            self._first[slot] = (seen, True)  # the first relay was a forgery
            return None
        self._first[slot] = (first, True)
        self._reported.add(slot)
        return first, seen


class ProposalMixin:
    """Relaying accepted proposals and catching twins; mixed into ``Replica``."""

    suite: CryptoSuite
    chain_id: str
    me: bytes
    config: Config
    height: int
    view: int
    valset: ValidatorSet
    round: HeightState
    _validators: Callable[[int], ValidatorSet]

    def _init_proposals(self) -> None:
        self._watch = ProposalWatch(self.suite, self.chain_id)

    # The replica provides these.
    def _primary(self, view: int) -> bytes:
        raise NotImplementedError

    def _hash(self, block: Block) -> bytes:
        raise NotImplementedError

    def _on_future_message(self, sender: bytes, msg: Message) -> list[Action]:
        raise NotImplementedError

    def _relay(self, pp: PrePrepare, block_hash: bytes) -> list[Action]:
        """Tell the others which proposal we accepted (its signature is checked).

        A follower outside the set keeps quiet: members ignore its relays.
        """
        seen = ProposalSeen(pp.height, pp.view, block_hash, pp.sender, pp.signature)
        evidence = self._proposal_evidence(self._watch.on_checked(seen))
        if self.me not in self.valset:
            return evidence
        return [Broadcast(seen), *evidence]

    def _on_second_proposal(self, pp: PrePrepare) -> list[Action]:
        """The primary proposes again for a view we hold a proposal of: a resend, or a twin."""
        block_hash = self._hash(pp.block)
        if block_hash == self.round.proposal_hashes.get(pp.view):
            return []
        seen = ProposalSeen(pp.height, pp.view, block_hash, pp.sender, pp.signature)
        if not verify_proposal(self.suite, self.chain_id, seen):
            return []
        return self._proposal_evidence(self._watch.on_checked(seen))

    def _on_proposal_seen(self, sender: bytes, seen: ProposalSeen) -> list[Action]:
        """A validator relays the proposal it got: checked only when it conflicts."""
        if seen.height > self.height:
            return self._on_future_message(sender, seen)
        if seen.height == self.height:
            valset, cap = self.valset, self.view + self.config.max_view_ahead
        else:
            cap = self._watch.view_cap(seen.height)  # None: too old
            valset = self._validators(seen.height) if cap is not None else self.valset
        if cap is None or seen.view > cap or sender not in valset:
            return []
        if seen.height == self.height:
            if self._primary(seen.view) != seen.proposer:
                return []
        elif self.config.leader_window > 0:
            if seen.proposer not in valset:  # a past height's schedule is not kept
                return []
        elif not is_primary_of(valset, seen.height, seen.view, seen.proposer):
            return []
        return self._proposal_evidence(self._watch.on_relayed(sender, seen))

    @staticmethod
    def _proposal_evidence(pair: tuple[ProposalSeen, ProposalSeen] | None) -> list[Action]:
        return [] if pair is None else [ReportProposalEvidence(*pair)]

    def _on_second_new_view(self, nv: NewView) -> list[Action]:
        """A NEW-VIEW for a view we hold a proposal of; its proposal alone may be a twin."""
        pp = nv.pre_prepare
        if (nv.sender, pp.sender, pp.view, pp.height) != (
            self._primary(nv.view), nv.sender, nv.view, nv.height
        ):
            return []
        return self._on_second_proposal(pp)

