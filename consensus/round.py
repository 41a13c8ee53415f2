"""The replica's memory of one height, dropped whole when the height is decided.

Kept apart from the transitions so that ``replica.py`` reads as protocol, and
so that a new height is simply a fresh ``HeightState``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chain.types import Block, Vote
from consensus.messages import NewView, PreparedCertificate, PrePrepare, ViewChange
from consensus.votes import VoteBook

__all__ = ["HeightState"]


@dataclass(slots=True)
class HeightState:
    """Everything a replica knows about its current height."""

    votes: VoteBook = field(default_factory=VoteBook)
    proposals: dict[int, PrePrepare] = field(default_factory=dict)
    """The accepted proposal of each view (from its primary, checked)."""
    proposal_hashes: dict[int, bytes] = field(default_factory=dict)
    blocks: dict[bytes, Block] = field(default_factory=dict)
    """Every block of this height we hold, by hash: proposals and prepared blocks."""
    verified: dict[bytes, bool] = field(default_factory=dict)
    verifying: set[bytes] = field(default_factory=set)
    mine: dict[tuple[int, int], Vote] = field(default_factory=dict)
    """Our own signed votes by (view, phase): the double-signing guard."""
    my_proposals: dict[int, PrePrepare | NewView] = field(default_factory=dict)
    my_view_changes: dict[int, ViewChange] = field(default_factory=dict)
    prepared: PreparedCertificate | None = None
    """Our highest prepared certificate, reported in every VIEW-CHANGE."""
    view_changes: dict[int, dict[bytes, ViewChange]] = field(default_factory=dict)
    highest_vc: dict[bytes, int] = field(default_factory=dict)
    """The highest view each validator asked for: drives the f+1 join rule."""
    building: int | None = None
    """The view whose BuildProposal is outstanding."""
    new_view_proof: tuple[ViewChange, ...] = ()
    evidence: set[tuple[bytes, int, int]] = field(default_factory=set)
    """Slots (voter, view, phase) reported as equivocation at this height."""
    evidence_per_voter: dict[bytes, int] = field(default_factory=dict)
    """Reports per voter at this height (at most ``replica.MAX_EVIDENCE_PER_VOTER``)."""
    decided: bytes | None = None

    def prepared_view(self) -> int:
        """View of our prepared certificate, -1 when we hold none."""
        return -1 if self.prepared is None else self.prepared.view
