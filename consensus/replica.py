"""The PBFT replica: a sans-I/O state machine, events in, actions out.

Theory of operation
-------------------
One block is decided per height. A height runs through views; the primary of
(height, view) is ``validators[(height + view) % n]`` of the set in force at
that height. Within a view the replica walks the ordered ``Step`` enum, and
only forwards (each ``enter_<step>`` refuses a stale entry):

    VIEW_CHANGE  asked for this view; waiting for the primary's NEW-VIEW
    PROPOSE      in the view; waiting for the proposal and the app's verdict
    PREPARE      sent PREPARE for the verified proposal; waiting for a quorum
    COMMIT       prepared (quorum of PREPAREs, persisted); sent COMMIT
    DECIDED      a quorum of COMMITs (any view) or a certified catch-up block;
                 emitted ``Commit``; waiting for ``on_committed``

    event                                   transition
    start / on_committed(h)                 -> (h+1, 0, PROPOSE)
    verified proposal in current view       PROPOSE -> PREPARE
    quorum of PREPAREs in current view      PREPARE -> COMMIT
    quorum of COMMITs for a known block     any -> DECIDED
    certified block from catch-up           any -> DECIDED
    timeout / on_request_stuck              (h, v, *) -> (h, v+1, VIEW_CHANGE)
    f+1 others in views above ours          (h, v, *) -> (h, v', VIEW_CHANGE)
    valid NEW-VIEW for view v' >= v         -> (h, v', PROPOSE)

Safety rests on three rules: every signed message is persisted before it is
sent (``Persist`` precedes ``Broadcast``), a replica signs at most one digest
per (height, view, phase) (``HeightState.mine``, restored from the journal),
and a NEW-VIEW must re-propose the highest prepared block of its proof
(``viewchange``). The replica never reads a clock or a random source: time
arrives through ``on_tick`` and the runtime answers ``SetTimer``.

Quiet when idle (issue 14). PBFT needs no empty blocks: nothing is lost if a
height waits for its first tx. So while a replica is *idle* — view 0 of its
height, no proposal seen, and the application says no work is pending
(``on_pending_work(False)``) — its progress timer is held: an idle chain
writes no block and changes no view. When work appears the timer starts
afresh from that moment, so the primary gets a whole timeout to propose it. A
replica never told about work (the simulator) counts as always busy. A
replica that missed blocks while idle learns of them from its peers' tips
(``on_peer_tip``: announced on the links, never stored).

The progress timer is renewed when a height advances within a view: a
proposal goes to verification, it is verified (``on_block_verified`` brings
the time verification ended: it runs in the application, and may take longer
than a timeout for a big block on a shared core), the view is prepared. So a
slow but progressing height does not change the view and throw the work
away. The renewals are bounded (three per view), so a slow or malicious
primary delays a view change by at most three timeouts. Half-way to each
deadline the replica sends again what it signed in the view (``_resend_due``),
so one lost frame costs half a timeout, not a view change.

Accountability: two votes of one validator for one slot, and two proposals
signed by one primary for one (height, view), are reported as evidence. For
the latter every replica relays the proposal it accepted (``ProposalSeen``),
so a primary that shows different blocks to different replicas is caught
(``proposals``). Evidence costs bounded work: the first vote of each slot is
checked (views up to ``max_view_ahead`` ahead only), at most
``MAX_EVIDENCE_PER_VOTER`` equivocations of one validator are reported per
height, and a conflicting vote is not even signature-checked once its slot is
proven or its voter's reports are spent.

Bodies are checked before they are kept. A PRE-PREPARE's signature covers the
header hash, a tx hash excludes the tx's signature, and a certificate covers
the header only: so a peer can pair a genuine header with a body carrying a
mangled tx, and the header hash and tx root still match. Every body that
arrives from outside (PRE-PREPARE, VIEW-CHANGE, NEW-VIEW, catch-up) passes the
application's ``BodyCheck`` (tx root, every tx signature, size and depth
limits) before it is stored or decided; one that fails is dropped, never
stored (so a later good body for the same hash is still taken), and reported
as ``ReportFault(peer, "bad_body")`` against the peer whose signature covers
it (for a stale NEW-VIEW, which is not checked whole, the link it came on).
Blocks we built or journaled ourselves are not checked again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import IntEnum

from chain.crypto import CryptoSuite, Signer
from chain.types import ZERO_HASH, Block, CommitCertificate, Phase, Vote, header_hash
from chain.validators import ValidatorSet, build_certificate
from consensus import mutations
from consensus.actions import (
    Action,
    Broadcast,
    BuildProposal,
    Commit,
    Config,
    HeightDone,
    Persist,
    Prepared,
    ReportEvidence,
    ReportFault,
    SetTimer,
    Tip,
    VerifyBlock,
    decode_journal,
)
from consensus.leaders import benched, schedule
from consensus.messages import (
    CatchUpRequest,
    CatchUpResponse,
    CertifiedBlock,
    Message,
    NewView,
    PreparedCertificate,
    PrePrepare,
    ProposalSeen,
    ViewChange,
    sign_message,
    sign_vote,
    verify_message,
)
from consensus.proposals import ProposalMixin
from consensus.round import HeightState
from consensus.service import ServiceMixin
from consensus.viewchange import (
    compute_is_quorate,
    compute_join_view,
    compute_timeout_ms,
    highest_prepared,
    is_valid_new_view,
    is_valid_view_change,
    primary_index,
)

__all__ = ["MAX_EVIDENCE_PER_VOTER", "BlockSource", "BodyCheck", "Replica", "Step",
           "ValidatorProvider"]

ValidatorProvider = Callable[[int], ValidatorSet]
"""Height -> the validator set in force there (fixed by the state after height-1)."""
BlockSource = Callable[[int], CertifiedBlock | None]
"""Height -> a decided block with its certificate, from the node's store (or None)."""
BodyCheck = Callable[[Block], bool]
"""True when a block's body matches its header: the txs give the header's tx root,
every tx signature verifies, and the block is within the size and nesting limits
(``node.executor.Executor.check_body``). No re-execution: that is ``VerifyBlock``."""

MAX_EVIDENCE_PER_VOTER = 4
"""Equivocations of one validator reported per height. One proves the fault; a few
show it was no accident; beyond, a flood of conflicting votes (one per view the
replica accepts, both phases) would only cost signature checks and storage."""


class Step(IntEnum):
    """Protocol steps within one (height, view), in the only order they may be taken."""

    VIEW_CHANGE = 0
    PROPOSE = 1
    PREPARE = 2
    COMMIT = 3
    DECIDED = 4


class Replica(ServiceMixin, ProposalMixin):
    """One validator's consensus state machine; see the module docstring.

    Drive it with ``start``, then ``on_message``, ``on_tick``,
    ``on_proposal_ready``, ``on_block_verified``, ``on_committed`` and
    ``on_request_stuck``; perform each returned action list in order.
    """

    def __init__(
        self,
        suite: CryptoSuite,
        chain_id: str,
        signer: Signer,
        validators: ValidatorProvider,
        config: Config | None = None,
        tip: Tip | None = None,
        journal: Iterable[bytes] = (),
        blocks: BlockSource | None = None,
        *,
        body_check: BodyCheck,
    ) -> None:
        self.suite = suite
        self.chain_id = chain_id
        self.signer = signer
        self.me = signer.public_key
        self.config = config or Config()
        self._validators = validators
        self._blocks = blocks
        self._body_check = body_check
        self.tip = tip or Tip(0, ZERO_HASH)
        self.height = self.tip.height + 1
        self.view = 0
        self.step = Step.VIEW_CHANGE
        self.valset = validators(self.height)
        self._views = self._recent_views(blocks)  # height -> header view (``leaders``)
        self._decided_view = 0
        self._leaders = self._schedule()
        self.round = HeightState()
        self._now = 0
        self._deadline: int | None = None
        self._resend_at: int | None = None  # half-way to ``_deadline``: resend our votes
        self._consecutive_view_changes = 0
        self._has_work = True  # until the application says otherwise (``on_pending_work``)
        self._init_service()
        self._init_proposals()
        self.restore(journal)

    # ----------------------------------------------------------- events

    def start(self, now_ms: int) -> list[Action]:
        """Begin (or resume after a restart) at the current height; ask peers for news."""
        self._now = now_ms
        actions = self._resume_view()
        return actions + self._request_catch_up(force=True)

    def on_tick(self, now_ms: int) -> list[Action]:
        """Time passes; a due progress timer starts a view change (unless idle)."""
        self._now = max(self._now, now_ms)
        if self._deadline is None or self._now < self._deadline:
            return self._resend_due()
        if self.is_idle():
            return [self._arm_timer()]  # held: nothing to wait for (module docstring)
        self._deadline = None
        if self.step == Step.DECIDED:
            return []
        if self.me not in self.valset:
            return [self._arm_timer(), *self._request_catch_up()]
        actions = self._request_catch_up() if self._future else []
        if self.step == Step.VIEW_CHANGE and not self._is_view_change_quorate():
            return actions + [self._arm_timer(), Broadcast(self.round.my_view_changes[self.view])]
        return actions + self.enter_view_change(self.height, self.view + 1)

    def _resend_due(self) -> list[Action]:
        """Half-way to a view change, send again what we signed in this view.

        A lost frame (a link that broke and came back) would otherwise cost a
        whole view change: a replica one vote short of a quorum waits for the
        timeout. Once per timer; everything resent was journaled when signed.
        """
        if self._resend_at is None or self._now < self._resend_at or self._deadline is None:
            return []
        self._resend_at = None
        actions: list[Action] = [SetTimer(self._deadline)]  # the view change's own tick
        if self.step in (Step.DECIDED, Step.VIEW_CHANGE) or self.is_idle():
            return actions
        view = self.view
        mine = self.round.my_proposals.get(view)
        if mine is not None:
            actions.append(Broadcast(mine))
        actions += [Broadcast(vote) for (v, _), vote in sorted(self.round.mine.items())
                    if v == view]
        return actions

    def on_pending_work(self, pending: bool) -> list[Action]:
        """The application has (``True``) or has no txs waiting to be proposed.

        Idle to busy restarts the progress timer from now: the primary then has
        a whole timeout to propose what just arrived.
        """
        was_idle = self.is_idle()
        self._has_work = pending
        if was_idle and pending:
            return [self._arm_timer()]
        return []

    def is_idle(self) -> bool:
        """Nothing to wait for: view 0, no proposal, no work (module docstring)."""
        return (not self._has_work and self.view == 0 and self.step == Step.PROPOSE
                and 0 not in self.round.proposals)

    def on_request_stuck(self) -> list[Action]:
        """The runtime saw a forwarded request wait too long: suspect censorship."""
        if self.step == Step.DECIDED or self.me not in self.valset:
            return []
        return self.enter_view_change(self.height, self.view + 1)

    def on_proposal_ready(self, block: Block) -> list[Action]:
        """The application built the block asked for by ``BuildProposal``."""
        view = self.round.building
        if view is None or view != self.view or not self._is_extending(block):
            return []
        self.round.building = None
        block_hash = header_hash(self.suite, block.header)
        self.round.verified[block_hash] = True
        unsigned = PrePrepare(self.height, view, block, b"", b"")
        pp = sign_message(self.signer, self.chain_id, unsigned)
        if view == 0:
            self.round.my_proposals[0] = pp
            return self._emit_signed(pp) + self._accept_proposal(pp, block_hash)
        nv = sign_message(
            self.signer, self.chain_id,
            NewView(self.height, view, self.round.new_view_proof, pp, b"", b""),
        )
        self.round.my_proposals[view] = nv
        return self._emit_signed(nv) + self._accept_new_view(nv)

    def on_block_verified(
        self, block_hash: bytes, ok: bool, now_ms: int | None = None
    ) -> list[Action]:
        """The application re-executed a proposal: PREPARE only if its roots matched.

        ``now_ms`` is when verification ended (it may have taken a while)."""
        if now_ms is not None:
            self._now = max(self._now, now_ms)
        self.round.verifying.discard(block_hash)
        if block_hash not in self.round.blocks:
            return []
        self.round.verified[block_hash] = ok
        if ok and self.step == Step.PROPOSE:
            return self._consider_proposal(self.view)
        return []

    def on_committed(self, height: int) -> list[Action]:
        """The application made ``height`` durable: move to the next height."""
        if height != self.height or self.step != Step.DECIDED or self.round.decided is None:
            return []
        self.tip = Tip(height, self.round.decided)
        self._watch.leave(height, self.view + self.config.max_view_ahead)
        self.height = height + 1
        self.valset = self._validators(self.height)
        self._note_decided_view(height)
        self.round = HeightState()
        self._consecutive_view_changes = 0
        self._set_step(0, Step.VIEW_CHANGE)
        remembered = self._journal_ahead.pop(self.height, None)
        if remembered:
            # We signed at this height before our store was wiped (and caught up
            # to it since): resume from what we signed, never sign it afresh.
            for rec in remembered:
                self._restore_one(rec)
            actions = self._resume_view()
        else:
            actions = self.enter_propose(self.height, 0)
        return actions + self._drain_future() + self._try_catch_up()

    def on_message(self, sender: bytes, msg: Message) -> list[Action]:
        """A decoded message from peer ``sender`` (unauthenticated until checked here)."""
        if isinstance(msg, CatchUpRequest | CatchUpResponse):
            return self._on_catch_up_message(sender, msg)
        if isinstance(msg, ProposalSeen):
            return self._on_proposal_seen(sender, msg)
        if msg.height < self.height:
            return self._on_old_message(sender, msg)
        if msg.height > self.height:
            return self._on_future_message(sender, msg)
        if isinstance(msg, Vote):
            return self._on_vote(msg)
        if isinstance(msg, PrePrepare):
            return self._on_pre_prepare(sender, msg)
        if isinstance(msg, ViewChange):
            return self._on_view_change(msg)
        return self._on_new_view(sender, msg)

    # ------------------------------------------------------ transitions

    def _is_stale(self, height: int, view: int, step: Step) -> bool:
        """Only forward moves in (height, view, step) order; a decided height is closed."""
        if height != self.height or self.step == Step.DECIDED:
            return True
        if (
            mutations.is_enabled("view_goes_backwards")
            and view < self.view and step == Step.PROPOSE
        ):
            return False
        return (view, step) <= (self.view, self.step)

    def _set_step(self, view: int, step: Step) -> None:
        self.view = view
        self.step = step

    def enter_view_change(self, height: int, view: int) -> list[Action]:
        """Entered on timeout, on suspected censorship, or when f+1 others are ahead."""
        if self._is_stale(height, view, Step.VIEW_CHANGE) or view <= self.view:
            return []
        if self.me not in self.valset:
            return []
        self._consecutive_view_changes += 1
        self._set_step(view, Step.VIEW_CHANGE)
        vc = self.round.my_view_changes.get(view)
        if vc is None:
            unsigned = ViewChange(height, view, height - 1, self.round.prepared, b"", b"")
            vc = sign_message(self.signer, self.chain_id, unsigned)
            self.round.my_view_changes[view] = vc
        self._note_view_change(vc)
        return [self._arm_timer(), *self._emit_signed(vc), *self._check_new_view(view)]

    def enter_propose(self, height: int, view: int) -> list[Action]:
        """Entered at view 0 of a new height, or on a valid NEW-VIEW for ``view``."""
        if self._is_stale(height, view, Step.PROPOSE):
            return []
        self._set_step(view, Step.PROPOSE)
        actions: list[Action] = [self._arm_timer()]
        if self._is_primary(view):
            actions += self._propose(view)
        if view in self.round.proposals:
            actions += self._consider_proposal(view)
        return actions

    def enter_prepare(self, height: int, view: int) -> list[Action]:
        """Entered once our PREPARE for the verified proposal of ``view`` is out."""
        if self._is_stale(height, view, Step.PREPARE):
            return []
        self._set_step(view, Step.PREPARE)
        return [self._arm_timer(), *self._check_prepared(view, self.round.proposal_hashes[view])]

    def enter_commit(self, height: int, view: int) -> list[Action]:
        """Entered once prepared in ``view`` (certificate persisted, COMMIT sent)."""
        if self._is_stale(height, view, Step.COMMIT):
            return []
        self._set_step(view, Step.COMMIT)
        return [self._arm_timer(), *self._check_decided(view, self.round.proposal_hashes[view])]

    def enter_decided(self, height: int, view: int) -> list[Action]:
        """Entered when a block of this height is final; nothing more is signed here."""
        if height != self.height or self.step == Step.DECIDED:
            return []
        self._set_step(view, Step.DECIDED)
        self._deadline = self._resend_at = None
        return []

    # ---------------------------------------------------------- proposal

    def _propose(self, view: int) -> list[Action]:
        """As primary: resend what we already signed for ``view``, or ask for a block."""
        mine = self.round.my_proposals.get(view)
        if isinstance(mine, PrePrepare):
            return [Broadcast(mine), *self._accept_proposal(mine, self._hash(mine.block))]
        if isinstance(mine, NewView):
            return [Broadcast(mine), *self._accept_new_view(mine)]
        if view == 0:
            self.round.building = 0
            return [BuildProposal(self.height, 0, self.tip.block_hash)]
        return []

    def _on_pre_prepare(self, sender: bytes, pp: PrePrepare) -> list[Action]:
        """A view-0 proposal, from its primary itself; later views come inside a NEW-VIEW.

        The signature does not cover the txs (only the header hash), so a copy
        relayed by anyone else, who could have swapped them, is not taken.
        """
        if pp.view != 0 or sender != pp.sender or pp.sender != self._primary(0):
            return []
        if 0 in self.round.proposals:
            return self._on_second_proposal(pp)
        if not self._is_extending(pp.block) or not verify_message(self.suite, self.chain_id, pp):
            return []
        if not self._body_check(pp.block):
            return [ReportFault(sender, "bad_body")]
        block_hash = self._hash(pp.block)
        return self._relay(pp, block_hash) + self._accept_proposal(pp, block_hash)

    def _accept_proposal(self, pp: PrePrepare, block_hash: bytes) -> list[Action]:
        """Remember a checked proposal; act on it if it is for where we are."""
        self.round.proposals[pp.view] = pp
        self.round.proposal_hashes[pp.view] = block_hash
        actions = self._store_block(block_hash, pp.block)
        if pp.view == self.view and self.step == Step.PROPOSE:
            return actions + self._consider_proposal(pp.view)
        if mutations.is_enabled("view_goes_backwards") and pp.view < self.view:
            return actions + self.enter_propose(self.height, pp.view)
        return actions

    def _consider_proposal(self, view: int) -> list[Action]:
        """Ask the application to verify the proposal, or PREPARE once it has."""
        block_hash = self.round.proposal_hashes.get(view)
        if block_hash is None or self.step != Step.PROPOSE or view != self.view:
            return []
        if self.me not in self.valset:
            return []  # not a validator at this height: follow, never vote
        verdict = self.round.verified.get(block_hash)
        if verdict is None:
            if block_hash in self.round.verifying:
                return []
            self.round.verifying.add(block_hash)
            return [self._arm_timer(), VerifyBlock(self.round.blocks[block_hash], block_hash)]
        if not verdict or self._is_conflicting(view, Phase.PREPARE, block_hash):
            return []
        return self._send_vote(Phase.PREPARE, view, block_hash) + self.enter_prepare(
            self.height, view
        )

    # ------------------------------------------------------------- votes

    def _on_vote(self, vote: Vote) -> list[Action]:
        """Tally a checked vote by distinct voter; keep equivocation as evidence."""
        if vote.phase not in (Phase.PREPARE, Phase.COMMIT) or vote.voter not in self.valset:
            return []
        if vote.view > self.view + self.config.max_view_ahead:
            return []
        book = self.round.votes
        as_commit = mutations.is_enabled("prepare_as_commit") and vote.phase == Phase.PREPARE
        if book.is_known(vote):
            book.note_duplicate(vote)
            return self._after_vote(vote)
        earlier = book.first(vote)
        if earlier is not None:
            return self._on_conflicting_vote(earlier, vote)
        if not verify_message(self.suite, self.chain_id, vote):
            return []
        book.add(vote)
        actions: list[Action] = []
        if as_commit:
            book.add(vote, Phase.COMMIT)
            actions += self._check_decided(vote.view, vote.block_hash)
        return actions + self._after_vote(vote)

    def _after_vote(self, vote: Vote) -> list[Action]:
        if vote.phase == Phase.PREPARE:
            return self._check_prepared(vote.view, vote.block_hash)
        return self._check_decided(vote.view, vote.block_hash)

    def _on_conflicting_vote(self, earlier: Vote, vote: Vote) -> list[Action]:
        """A second block from one validator for one slot: evidence, once per slot and
        at most ``MAX_EVIDENCE_PER_VOTER`` per validator and height.

        The first vote is the one that counts, so a conflicting one changes no
        tally; its signature is checked only when it is going to be reported.
        """
        key = (vote.voter, vote.view, vote.phase)
        reported = self.round.evidence_per_voter.get(vote.voter, 0)
        if key in self.round.evidence or reported >= MAX_EVIDENCE_PER_VOTER:
            return []
        if not verify_message(self.suite, self.chain_id, vote):
            return []
        self.round.evidence.add(key)
        self.round.evidence_per_voter[vote.voter] = reported + 1
        return [ReportEvidence(earlier, vote)]

    def _is_conflicting(self, view: int, phase: Phase, block_hash: bytes) -> bool:
        """True when we already signed another digest for (height, view, phase)."""
        mine = self.round.mine.get((view, int(phase)))
        return mine is not None and mine.block_hash != block_hash

    def _send_vote(self, phase: Phase, view: int, block_hash: bytes) -> list[Action]:
        """Sign (once) and send our vote; the journal gets it before the network does."""
        mine = self.round.mine.get((view, int(phase)))
        if mine is not None:
            return [Broadcast(mine)] if mine.block_hash == block_hash else []
        vote = sign_vote(self.signer, self.chain_id, phase, self.height, view, block_hash)
        self.round.mine[(view, int(phase))] = vote
        self.round.votes.add(vote)
        return self._emit_signed(vote)

    def _check_prepared(self, view: int, block_hash: bytes) -> list[Action]:
        """A quorum of PREPAREs for our proposal in the current view: persist, COMMIT."""
        if view != self.view or self.step != Step.PREPARE:
            return []
        if self.round.proposal_hashes.get(view) != block_hash:
            return []
        if self.round.votes.count(view, Phase.PREPARE, block_hash) < self.valset.quorum:
            return []
        prepares = self.round.votes.votes(view, Phase.PREPARE, block_hash)
        cert = PreparedCertificate(
            view, self.round.blocks[block_hash], tuple(prepares[k] for k in sorted(prepares))
        )
        self.round.prepared = cert
        actions: list[Action] = [Persist(Prepared(self.height, cert))]
        actions += self._send_vote(Phase.COMMIT, view, block_hash)
        return actions + self.enter_commit(self.height, view)

    def _check_decided(self, view: int, block_hash: bytes) -> list[Action]:
        """A quorum of COMMITs in any view decides the block, once we hold it."""
        if self.step == Step.DECIDED or block_hash not in self.round.blocks:
            return []
        if self.round.votes.count(view, Phase.COMMIT, block_hash) < self.valset.quorum:
            return []
        votes = self.round.votes.votes(view, Phase.COMMIT, block_hash)
        signatures = {voter: vote.signature for voter, vote in votes.items()}
        cert = build_certificate(self.valset, self.height, view, block_hash, signatures)
        return self._decide(self.round.blocks[block_hash], block_hash, cert)

    def _decide(self, block: Block, block_hash: bytes, cert: CommitCertificate) -> list[Action]:
        """Hand the final block to the application; the end-of-height marker follows."""
        self.round.decided = block_hash
        self._decided_view = block.header.view
        self.enter_decided(self.height, self.view)
        return [Commit(block, cert), Persist(HeightDone(self.height, block_hash))]

    def _store_block(self, block_hash: bytes, block: Block) -> list[Action]:
        """Hold a block of this height; commits that waited for it may now decide.

        Only for bodies we built or journaled, or that passed ``BodyCheck``: the
        first body kept for a hash is the one a decision hands to the application.
        """
        if block_hash in self.round.blocks:
            return []
        self.round.blocks[block_hash] = block
        for view, digest in self.round.votes.candidates(Phase.COMMIT):
            if digest == block_hash:
                actions = self._check_decided(view, digest)
                if actions:
                    return actions
        return []

    # ------------------------------------------------------- view change

    def _on_view_change(self, vc: ViewChange) -> list[Action]:
        """Record a checked VIEW-CHANGE; maybe join the view, maybe issue NEW-VIEW."""
        if vc.view < 1 or vc.view > self.view + self.config.max_view_ahead:
            return []
        if vc.sender in self.round.view_changes.get(vc.view, {}):
            return []
        if not is_valid_view_change(self.suite, self.chain_id, self.valset, vc):
            return []
        if vc.prepared is not None and not self._body_check(vc.prepared.block):
            return [ReportFault(vc.sender, "bad_body")]  # its signature covers the body
        actions = self._note_view_change(vc)
        if self.step != Step.DECIDED:
            others = [v for key, v in self.round.highest_vc.items() if key != self.me]
            target = compute_join_view(others, self.view, self.valset.f)
            if target is not None:
                actions += self.enter_view_change(self.height, target)
        return actions + self._check_new_view(vc.view)

    def _note_view_change(self, vc: ViewChange) -> list[Action]:
        self.round.view_changes.setdefault(vc.view, {})[vc.sender] = vc
        if vc.view > self.round.highest_vc.get(vc.sender, 0):
            self.round.highest_vc[vc.sender] = vc.view
        if vc.prepared is not None:
            return self._store_block(self._hash(vc.prepared.block), vc.prepared.block)
        return []

    def _check_new_view(self, view: int) -> list[Action]:
        """As the new primary with a quorum of VIEW-CHANGEs: re-propose or build."""
        if view != self.view or self.step != Step.VIEW_CHANGE or not self._is_primary(view):
            return []
        if view in self.round.my_proposals or self.round.building == view:
            return []
        received = self.round.view_changes.get(view, {})
        if len(received) < self.valset.quorum:
            return []
        proof = tuple(received[k] for k in sorted(received)[: self.valset.quorum])
        if self.me in received and received[self.me] not in proof:
            proof = (received[self.me], *proof[1:])
        self.round.new_view_proof = proof
        best = highest_prepared(proof)
        if best is None:
            self.round.building = view
            return [BuildProposal(self.height, view, self.tip.block_hash)]
        self.round.building = view
        return self.on_proposal_ready(best.block)

    def _on_new_view(self, sender: bytes, nv: NewView) -> list[Action]:
        """Move to ``nv.view`` once its whole proof and its proposal's body check out."""
        backwards = mutations.is_enabled("view_goes_backwards")
        if nv.view < 1 or nv.view > self.view + self.config.max_view_ahead:
            return []
        if nv.view in self.round.proposals:
            return self._on_second_new_view(nv)
        if not self._is_extending(nv.pre_prepare.block):
            return []
        if nv.view < self.view and not backwards:
            # Too late to vote on, but a quorum of COMMITs may still want this block.
            block = nv.pre_prepare.block
            if not self._body_check(block):
                return [ReportFault(sender, "bad_body")]  # unchecked message: its link's fault
            return self._store_block(self._hash(block), block)
        primary = self._primary(nv.view)
        if not is_valid_new_view(self.suite, self.chain_id, self.valset, nv, primary):
            return []
        if not self._body_check(nv.pre_prepare.block):
            return [ReportFault(nv.sender, "bad_body")]
        return self._relay(nv.pre_prepare, self._hash(nv.pre_prepare.block)) + (
            self._accept_new_view(nv))

    def _accept_new_view(self, nv: NewView) -> list[Action]:
        pp = nv.pre_prepare
        block_hash = self._hash(pp.block)
        self.round.proposals[nv.view] = pp
        self.round.proposal_hashes[nv.view] = block_hash
        actions = self._store_block(block_hash, pp.block)
        return actions + self.enter_propose(self.height, nv.view)

    # ----------------------------------------------------------- helpers

    def _is_decided(self) -> bool:
        return self.step == Step.DECIDED

    def _hash(self, block: Block) -> bytes:
        return header_hash(self.suite, block.header)

    def _primary(self, view: int) -> bytes:
        if self._leaders:
            return self._leaders[view % len(self._leaders)]
        index = primary_index(self.height, view, len(self.valset))
        return self.valset.validators[index].public_key

    def primary_of(self, view: int) -> bytes:
        """The primary of (our height, ``view``), leader reputation included."""
        return self._primary(view)

    # ---------------------------------------------------- leader reputation

    def _recent_views(self, blocks: BlockSource | None) -> dict[int, int]:
        """The header views of the last ``leader_window`` decided heights, from the store."""
        window = self.config.leader_window
        views: dict[int, int] = {}
        if window <= 0 or blocks is None:
            return views
        for height in range(max(1, self.height - window), self.height):
            item = blocks(height)
            if item is not None:
                views[height] = item.block.header.view
        return views

    def _note_decided_view(self, height: int) -> None:
        """Remember the decided header's view; recompute the schedule for the new height."""
        window = self.config.leader_window
        if window <= 0:
            return
        self._views[height] = self._decided_view
        for old in [h for h in self._views if h < self.height - window]:
            del self._views[old]
        self._leaders = self._schedule()

    def _schedule(self) -> tuple[bytes, ...]:
        """Primaries of this height by view, or () for plain rotation (``leaders``)."""
        window = self.config.leader_window
        if window <= 0 or not len(self.valset):
            return ()
        skip = benched(self.valset, self.height, self._views, window)
        return schedule(self.valset, self.height, skip) if skip else ()

    def _is_primary(self, view: int) -> bool:
        return self._primary(view) == self.me

    def _is_extending(self, block: Block) -> bool:
        """A block for our chain, at our height, on our tip."""
        header = block.header
        return (header.height == self.height and header.chain_id == self.chain_id
                and header.parent_hash == self.tip.block_hash)

    def _arm_timer(self) -> SetTimer:
        timeout = compute_timeout_ms(self.config, self._consecutive_view_changes)
        self._deadline = self._now + timeout
        self._resend_at = self._now + timeout // 2
        return SetTimer(self._resend_at)

    def _emit_signed(self, msg: Message) -> list[Action]:
        """Journal, then send: a crash between the two must not lose what we signed."""
        persist, send = Persist(msg), Broadcast(msg)  # type: ignore[arg-type]
        if mutations.is_enabled("persist_after_send"):
            return [send, persist]
        return [persist, send]

    # ----------------------------------------------------------- restore

    def restore(self, journal: Iterable[bytes]) -> None:
        """Replay our own journal: signed messages and prepared certificate of this height.

        Records of earlier heights are history (the application holds those
        blocks); records of this height rebuild the double-signing guard and
        the view we had reached, which never goes back after a restart.
        """
        self._journal_ahead: dict[int, list[object]] = {}
        for data in journal:
            rec = decode_journal(data)
            if rec.height == self.height:
                self._restore_one(rec)
            elif rec.height > self.height:  # our store was wiped; the journal was not
                self._journal_ahead.setdefault(rec.height, []).append(rec)

    def _restore_one(self, rec: object) -> None:
        r = self.round
        if isinstance(rec, Vote):
            r.mine[(rec.view, rec.phase)] = rec
            r.votes.add(rec)
        elif isinstance(rec, PrePrepare | NewView):
            r.my_proposals[rec.view] = rec
        elif isinstance(rec, ViewChange):
            r.my_view_changes[rec.view] = rec
            self._note_view_change(rec)
        elif isinstance(rec, Prepared) and rec.certificate.view > r.prepared_view():
            r.prepared = rec.certificate
            self._store_block(self._hash(rec.certificate.block), rec.certificate.block)
        view = getattr(rec, "view", None)
        if view is None and isinstance(rec, Prepared):
            view = rec.certificate.view
        if view is not None and view > self.view:
            self.view = view

    def _resume_view(self) -> list[Action]:
        """After start or restart: rejoin the view we had reached, resending what we signed."""
        view = self.view
        vc = self.round.my_view_changes.get(view)
        if view > 0 and vc is not None and not self._has_voted_in(view):
            self._set_step(view, Step.VIEW_CHANGE)
            return [self._arm_timer(), Broadcast(vc), *self._check_new_view(view)]
        self._set_step(view, Step.VIEW_CHANGE)
        resend: list[Action] = [
            Broadcast(vote) for (v, _), vote in sorted(self.round.mine.items()) if v == view
        ]
        return self.enter_propose(self.height, view) + resend

    def _is_view_change_quorate(self) -> bool:
        """A quorum asked for our view or later (see ``compute_is_quorate``)."""
        if self.view not in self.round.my_view_changes:
            return True
        return compute_is_quorate(self.round.highest_vc, self.view, self.valset.quorum)

    def _has_voted_in(self, view: int) -> bool:
        return any(v == view for v, _ in self.round.mine) or view in self.round.my_proposals
