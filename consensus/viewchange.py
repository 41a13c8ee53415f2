"""View-change rules as pure functions: proofs checked, the re-proposal chosen.

Why a NEW-VIEW is safe: a block decided in view v had a quorum of COMMITs,
so at least f+1 honest replicas held a prepared certificate for it, and they
report their highest one in every VIEW-CHANGE they send. Any quorum of
VIEW-CHANGEs for a later view shares an honest member with them, so the
highest prepared certificate among any quorum is for the decided block, and
the new primary must re-propose exactly that block. Receivers re-check the
whole proof; they trust nothing the new primary says about it.
"""

from __future__ import annotations

from chain.crypto import CryptoSuite
from chain.types import Phase, Vote, header_hash, verify_vote
from chain.validators import ValidatorSet
from consensus import mutations
from consensus.actions import Config
from consensus.messages import NewView, PreparedCertificate, ViewChange, verify_message

__all__ = [
    "compute_is_quorate",
    "compute_join_view",
    "compute_timeout_ms",
    "highest_prepared",
    "is_valid_new_view",
    "is_valid_prepared",
    "is_valid_view_change",
    "primary_index",
]


def primary_index(height: int, view: int, n: int) -> int:
    """Index of the primary of (height, view) in a set of ``n``: rotates every height."""
    return (height + view) % n


def compute_timeout_ms(config: Config, consecutive_view_changes: int) -> int:
    """Progress timeout: doubled per consecutive view change, capped."""
    exponent = min(consecutive_view_changes, 30)
    return min(config.base_timeout_ms << exponent, config.max_timeout_ms)


def _is_prepare_for(vote: Vote, height: int, view: int, block_hash: bytes) -> bool:
    return (vote.phase == Phase.PREPARE and vote.height == height and vote.view == view
            and vote.block_hash == block_hash)


def is_valid_prepared(
    suite: CryptoSuite, chain_id: str, valset: ValidatorSet, height: int,
    cert: PreparedCertificate,
) -> bool:
    """True when a quorum of distinct members signed PREPARE for the block in ``cert.view``."""
    if cert.block.header.height != height or cert.block.header.chain_id != chain_id:
        return False
    block_hash = header_hash(suite, cert.block.header)
    voters: set[bytes] = set()
    for vote in cert.prepares:
        if vote.voter in voters or vote.voter not in valset:
            continue
        if _is_prepare_for(vote, height, cert.view, block_hash) and verify_vote(
            suite, chain_id, vote
        ):
            voters.add(vote.voter)
    return len(voters) >= valset.quorum


def is_valid_view_change(
    suite: CryptoSuite, chain_id: str, valset: ValidatorSet, vc: ViewChange
) -> bool:
    """Signed by a member, for a view after 0, with a valid earlier prepared certificate."""
    if vc.sender not in valset or vc.view < 1 or vc.last_committed + 1 != vc.height:
        return False
    if not verify_message(suite, chain_id, vc):
        return False
    cert = vc.prepared
    if cert is None:
        return True
    return cert.view < vc.view and is_valid_prepared(suite, chain_id, valset, vc.height, cert)


def highest_prepared(view_changes: tuple[ViewChange, ...]) -> PreparedCertificate | None:
    """The prepared certificate of the highest view among ``view_changes`` (None if none)."""
    best: PreparedCertificate | None = None
    for vc in view_changes:
        cert = vc.prepared
        if cert is not None and (best is None or cert.view > best.view):
            best = cert
    return best


def is_valid_new_view(
    suite: CryptoSuite, chain_id: str, valset: ValidatorSet, nv: NewView, primary: bytes
) -> bool:
    """The whole NEW-VIEW proof: signer, quorum of valid VIEW-CHANGEs, forced re-proposal."""
    pp = nv.pre_prepare
    if nv.sender != primary or pp.sender != primary or pp.view != nv.view:
        return False
    if pp.height != nv.height or not verify_message(suite, chain_id, nv):
        return False
    if not verify_message(suite, chain_id, pp):
        return False
    senders: set[bytes] = set()
    for vc in nv.view_changes:
        if vc.height != nv.height or vc.view != nv.view or vc.sender in senders:
            return False
        if not is_valid_view_change(suite, chain_id, valset, vc):
            return False
        senders.add(vc.sender)
    if len(senders) < valset.quorum:
        return False
    return _is_forced_block(suite, nv)


def _is_forced_block(suite: CryptoSuite, nv: NewView) -> bool:
    """A prepared block must be re-proposed unchanged; without one, any block will do."""
    if mutations.is_enabled("new_view_without_certificates"):
        return True
    best = highest_prepared(nv.view_changes)
    if best is None:
        return True
    return header_hash(suite, best.block.header) == header_hash(suite, nv.pre_prepare.block.header)


def compute_join_view(others_views: list[int], current_view: int, f: int) -> int | None:
    """The view to join when f+1 other replicas are beyond ``current_view``, else None.

    Taking the lowest of the f+1 highest views guarantees at least one honest
    replica is at or beyond it, so f liars cannot drag anyone anywhere.
    """
    ahead = sorted((v for v in others_views if v > current_view), reverse=True)
    if len(ahead) < f + 1:
        return None
    return ahead[f]


def compute_is_quorate(highest_views: dict[bytes, int], view: int, quorum: int) -> bool:
    """True when a quorum of validators asked for ``view`` or a later one.

    Until then a replica waiting in VIEW_CHANGE only repeats its message on
    timeout: one that ran ahead alone (its timer fired first, or it restarted
    with short timeouts) must wait for the others rather than leapfrog them
    forever once every timeout has reached the cap (PBFT starts the view-change
    timer only on 2f+1 VIEW-CHANGEs for the same reason).
    """
    return sum(1 for v in highest_views.values() if v >= view) >= quorum
