"""Safety checkers the simulator runs on every step (after tigerbeetle's state checker).

They look only at what honest replicas sign, send and commit, plus one
white-box fact (a replica's view within one incarnation), and raise
``Violation`` the moment a property breaks, so the failing step is the last
one in the trace.
"""

from __future__ import annotations

from collections.abc import Callable

from chain.crypto import CryptoSuite
from chain.errors import CertificateError
from chain.types import Block, CommitCertificate, Vote, header_hash, verify_vote
from chain.validators import ValidatorSet, verify_certificate
from consensus import NewView, PrePrepare, ProposalSeen, ViewChange, is_valid_proposal_evidence

__all__ = ["Checker", "Violation"]


class Violation(Exception):
    """A safety or liveness property failed in the simulation."""


class Checker:
    """Global view of honest behaviour; one per simulation."""

    def __init__(
        self, suite: CryptoSuite, chain_id: str, validators: Callable[[int], ValidatorSet]
    ) -> None:
        self.suite = suite
        self.chain_id = chain_id
        self.validators = validators
        self.decided: dict[int, bytes] = {}
        self.roots: dict[int, bytes] = {}
        self.signed: dict[tuple[bytes, str, int, int, int], bytes] = {}
        self.vc_promise: dict[tuple[bytes, int], int] = {}
        self.evidence = 0
        self.proposal_evidence = 0
        self.liars: set[bytes] = set()
        """Keys of the Byzantine validators: the only ones evidence may name."""
        self.lock: dict[int, tuple[int, bytes]] = {}
        self.prepares: dict[int, list[tuple[int, bytes]]] = {}
        self.commits: dict[tuple[int, int, bytes], set[bytes]] = {}

    def on_signed(self, key: bytes, msg: object) -> None:
        """An honest key signed ``msg``: one digest per (height, view, phase), promises kept."""
        slot = _slot_of(self.suite, msg)
        if slot is None:
            return
        kind, height, view, phase, digest = slot
        if kind == "vote" and phase == 1:
            self._check_lock(height, view, digest)
            self.prepares.setdefault(height, []).append((view, digest))
        elif kind == "vote":
            self._count_commit(key, height, view, digest)
        earlier = self.signed.setdefault((key, kind, height, view, phase), digest)
        if earlier != digest:
            raise Violation(
                f"honest {key.hex()[:8]} signed two {kind} digests at height {height} view {view}"
            )
        if kind == "vc":
            if view > self.vc_promise.get((key, height), -1):
                self.vc_promise[(key, height)] = view
        elif view < self.vc_promise.get((key, height), -1):
            raise Violation(
                f"honest {key.hex()[:8]} signed {kind} in view {view} at height {height} "
                f"after asking for view {self.vc_promise[(key, height)]}"
            )

    def on_commit(self, key: bytes, block: Block, cert: CommitCertificate, root: bytes) -> None:
        """Agreement, equal roots and a valid certificate for every honest commit."""
        height = block.header.height
        digest = header_hash(self.suite, block.header)
        if cert.block_hash != digest or cert.height != height:
            raise Violation(f"height {height}: certificate is for another block")
        try:
            verify_certificate(self.suite, self.chain_id, self.validators(height), cert)
        except CertificateError as exc:
            raise Violation(f"height {height}: committed with a bad certificate: {exc}") from None
        if self.decided.setdefault(height, digest) != digest:
            raise Violation(f"height {height}: two honest replicas decided different blocks")
        if self.roots.setdefault(height, root) != root:
            raise Violation(f"height {height}: state roots differ")
        self._lock(height, cert.view, digest)

    def _count_commit(self, key: bytes, height: int, view: int, digest: bytes) -> None:
        """q - f honest COMMITs make a block committable: it must survive view changes."""
        voters = self.commits.setdefault((height, view, digest), set())
        voters.add(key)
        valset = self.validators(height)
        if key in valset and len(voters) == valset.quorum - valset.f:
            self._lock(height, view, digest)

    def _lock(self, height: int, view: int, digest: bytes) -> None:
        if view < self.lock.get(height, (view + 1, b""))[0]:
            self.lock[height] = (view, digest)
            for later, prepared in self.prepares.get(height, []):
                self._check_lock(height, later, prepared)

    def _check_lock(self, height: int, view: int, digest: bytes) -> None:
        """PBFT's lemma: once a block is decided in view v, or q - f honest replicas sent
        COMMIT for it there (any quorum of VIEW-CHANGEs then reports it), no honest
        PREPARE goes to another block in a later view. Checked early, before it can
        become a disagreement."""
        lock = self.lock.get(height)
        if lock is not None and view > lock[0] and digest != lock[1]:
            raise Violation(
                f"height {height}: honest PREPARE in view {view} for a block other than "
                f"the one decided in view {lock[0]}"
            )

    def on_evidence(self, vote_a: Vote, vote_b: Vote) -> None:
        """Reported evidence must be two validly signed, conflicting votes of one voter."""
        same_slot = (vote_a.voter, vote_a.height, vote_a.view, vote_a.phase) == (
            vote_b.voter, vote_b.height, vote_b.view, vote_b.phase)
        if not same_slot or vote_a.block_hash == vote_b.block_hash:
            raise Violation("evidence of two votes that do not conflict")
        if not (verify_vote(self.suite, self.chain_id, vote_a)
                and verify_vote(self.suite, self.chain_id, vote_b)):
            raise Violation("evidence with a bad signature")
        self._check_accused(vote_a.voter, vote_a.height)
        self.evidence += 1

    def on_proposal_evidence(self, a: ProposalSeen, b: ProposalSeen) -> None:
        """Reported proposal evidence: one primary's two signed blocks for one slot."""
        valset = self.validators(a.height)
        if not is_valid_proposal_evidence(self.suite, self.chain_id, a, b, valset):
            raise Violation(f"height {a.height}: invalid proposal evidence")
        self._check_accused(a.proposer, a.height)
        self.proposal_evidence += 1

    def _check_accused(self, key: bytes, height: int) -> None:
        if key not in self.liars:
            raise Violation(f"height {height}: evidence against honest {key.hex()[:8]}")


def _slot_of(suite: CryptoSuite, msg: object) -> tuple[str, int, int, int, bytes] | None:
    """(kind, height, view, phase, digest) of a signed consensus message, or None."""
    if isinstance(msg, Vote):
        return ("vote", msg.height, msg.view, msg.phase, msg.block_hash)
    if isinstance(msg, PrePrepare):
        return ("proposal", msg.height, msg.view, 0, header_hash(suite, msg.block.header))
    if isinstance(msg, NewView):
        pp = msg.pre_prepare
        return ("proposal", pp.height, pp.view, 0, header_hash(suite, pp.block.header))
    if isinstance(msg, ViewChange):
        return ("vc", msg.height, msg.view, 0, suite.hash(msg.encode()))
    return None
