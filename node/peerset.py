"""Whom a node dials and accepts: the validator set in force and the one scheduled.

Theory of operation. The chain keeps every validator's link address next to
its key (``contracts.get_validator_address``: from genesis, from the proposal
that added it, or from its own ``registry.set_validator_address``). A node
dials every validator of the set in force for the next height and of the set
once all scheduled changes apply, so a validator that is about to join is
linked before its first height, and one that was removed or rotated away is
dropped at the commit that takes it out. ``config.json``'s ``peers`` override
the chain's address for their keys (a lab, NAT: the address a node must use is
not the one the others use); a key only in ``peers`` and not in either set is
not dialled (it would be refused at the handshake). A key with no address
anywhere is not dialled either: genesis without hosts needs ``peers``.

``Membership`` answers, after each commit, whether this node's key is in the
set (``/v1/status``), and from which height it was removed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import contracts
from chain.validators import ValidatorSet

__all__ = ["Membership", "PeerSet", "compute_peer_set", "find_removal"]

Address = tuple[str, int]


@dataclass(frozen=True, slots=True)
class PeerSet:
    """What the links need from the chain after one commit."""

    members: frozenset[bytes]
    """Keys we accept links from: the set in force next height and the scheduled one."""
    dial: dict[bytes, Address]
    """The members we dial (not ourselves), with the address in force for each."""


def compute_peer_set(
    state: contracts.StateReader, overrides: dict[bytes, Address], me: bytes
) -> PeerSet:
    """Members and their addresses from ``state``, ``overrides`` (config peers) first."""
    view = contracts.Overlay(state)
    keys = [v.public_key for v in contracts.validator_set_at(view).validators]
    keys += [v.public_key for v in contracts.get_validators_ahead(view)]
    dial: dict[bytes, Address] = {}
    for key in keys:
        if key == me or key in dial:
            continue
        if key in overrides:
            dial[key] = overrides[key]
        elif (found := contracts.get_validator_address(view, key)) is not None:
            dial[key] = (found.host, found.p2p_port)
    return PeerSet(frozenset(keys), dial)


def find_removal(
    me: bytes, head: int, valset_at: Callable[[int], ValidatorSet]
) -> int | None:
    """The first height whose set no longer holds ``me``, if it held it at height 1.

    A binary search over past sets (``log2(head)`` historic reads), exact when the
    key was a member from genesis until its removal; a key that joined later and
    was removed while this node was down is reported as removed at an unknown
    height (None), and ``Membership`` learns later removals as they commit.
    """
    if me in valset_at(head + 1) or me not in valset_at(1):
        return None
    low, high = 1, head + 1  # member at low, not at high
    while high - low > 1:
        mid = (low + high) // 2
        if me in valset_at(mid):
            low = mid
        else:
            high = mid
    return high


class Membership:
    """Whether our key is in the set for the next height, and when it left."""

    def __init__(self, me: bytes, member: bool, removed_at: int | None) -> None:
        self.me = me
        self.member = member
        self.removed_at = removed_at

    def on_set(self, next_height: int, valset: ValidatorSet) -> bool:
        """The set for ``next_height`` is known; True when this commit removed us."""
        member = self.me in valset
        removed = self.member and not member
        if removed:
            self.removed_at = next_height
        elif member:
            self.removed_at = None
        self.member = member
        return removed
