"""Drives the sans-I/O replica: links in, actions out, in order, with the WAL in between.

Theory of operation
-------------------
Every replica action list is performed strictly in order through one work
queue (no recursion: an action may yield more events, which queue behind).
``Persist`` records are appended to the write-ahead log and the log is
fsynced once before the next ``Send``/``Broadcast`` — one sync per burst,
never a vote on the wire that is not on disk.

The driver owns no I/O of its own: it takes its collaborators as
constructor arguments — the application (``DriverHost``: chain, executor,
mempool; the ``Node`` in production), the links (``LinkNetwork``), the
journal (``Journal``), the clock (``Clock``) and a ``defer`` callback that
runs a function soon, after pending I/O — so the deterministic simulator
(``tests/consensus/shellsim.py``) drives this very code on a virtual clock
with Byzantine peers. Time reaches it only through ``tick()``.

``BuildProposal`` is answered after a short wait that lets txs accumulate:
once ``block_interval_ms`` has passed *since the previous height began* with
txs pending. With none, the primary waits: an idle chain makes no block
(issue 14; the replica holds its progress timer while idle, told by
``on_pending_work``), unless the chain's freshness interval
(``DriverSettings.empty_block_interval_s``, genesis ``consensus``; default
off) is set: then at most one empty block per interval, counted from the
parent block's time. The links' heartbeats carry each peer's committed
height (``LinkNetwork.peer_tips``, never stored); every ``TIP_CHECK_S`` the
driver hands those ahead of us to the replica, so a replica that missed
blocks while the chain was idle learns it is behind. A
replica whose txs wait at view 0 for half a base timeout without a proposal
re-sends them to its peers once per height (``DriverHost.regossip``) if
they came to a height that was idle: the primary may have missed their
gossip, and on an idle chain no later height would make another validator
primary (under load the next height's primary has them anyway).
Counting from the previous height's start, not from this one's, paces
proposals at most one per interval without adding the interval to every
height: under load a height takes longer than the interval anyway, so the
next block is proposed at once and carries what arrived meanwhile; a tx
then waits for about one height, not one height plus the interval.

Proposal previews. Executing a block is most of a height's work, and
"execute, then vote" puts the replicas' execution after the primary's: on a
machine where validators share cores, one core idles while the primary
executes. So the primary, once it has picked its txs and the block time,
first flushes its pending gossip and sends each replica a *preview*
(``node.preview.Preview``, link frame ``["p", preview]``) and only then
executes. A replica that holds all those txs executes them at once
(``Executor.speculate``), and verifying the proposal when it comes costs
only the checks. A preview is a hint, never a vote: it is taken only from the
primary of the replica's current (height, view), once per (height, view), and
only when it lists distinct txs within our block limits (count and bytes), so
a Byzantine primary can cost a replica no more than one proposal would; a
preview that does not match the proposal wastes that execution and changes
nothing (``verify`` re-executes). The replica first admits gossip queued
before the preview (a bounded amount), so it usually holds every tx. A
preview for the height after next (its primary committed the parent before
we did) is kept, one at a time, and taken up right after our own commit.

The peers' clock. A block's time is its primary's wall clock, and a replica
refuses a proposal dated more than ``MAX_FUTURE_DRIFT_S`` past its own
clock. A replica whose clock is slow therefore refuses every proposal and
stops voting — silently, before this was counted. So every proposal we
verify is a sample of its primary's clock: ``clock_offset_s`` is the median,
over the validators we heard from recently, of (our clock - their block
time), read at verification; a refusal for time is counted
(``proposals_refused_for_time``) and a large offset logged as a warning at
a bounded rate. Operators run NTP (README: "Clocks").

Catch-up requests are served by the replica itself from our store (it gets a
``BlockSource``); catch-up responses are verified by the replica against the
validator set of each height before a ``Commit`` reaches us.

Faults. Frames a peer sends that fail a check are dropped and counted
against it (``node.faults``). An exception while performing an action is
ours (disk, bug): the driver calls ``fatal`` (the process ends, exit 70).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import statistics
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from chain.codec import Value
from chain.errors import DecodeError, InputError
from chain.types import Block, CommitCertificate, Tx, Vote
from chain.validators import ValidatorSet
from consensus.actions import (
    Action,
    Broadcast,
    BuildProposal,
    Commit,
    Config,
    Persist,
    ReportEvidence,
    ReportFault,
    ReportProposalEvidence,
    RequestCatchUp,
    Send,
    SetTimer,
    Tip,
    VerifyBlock,
)
from consensus.messages import CertifiedBlock, Message, decode_message, encode_message
from consensus.proposals import is_primary_of
from consensus.replica import Replica
from node import crashpoints, mutations
from node.byzantine import Byzantine
from node.compact import CompactProposals
from node.evidence import EvidenceBook
from node.executor import MAX_FUTURE_DRIFT_S
from node.faults import Faults
from node.health import PeerTips
from node.preview import Preview

if TYPE_CHECKING:
    from chain.crypto import CryptoSuite, Signer
    from chain.genesis import ConsensusParams
    from node.metrics import Metrics

__all__ = [
    "Clock",
    "ConsensusDriver",
    "DriverHost",
    "DriverSettings",
    "Journal",
    "LinkNetwork",
    "SystemClock",
    "driver_settings",
    "fail_stop",
]

log = logging.getLogger("skillchain.consensus")

TICK_S = 0.01
TIP_CHECK_S = 1.0
"""How often the peers' announced tips (link heartbeats) are compared with ours."""
WAL_PRUNE_EVERY = 200
WAL_PRUNE_BYTES = 64 * 1024 * 1024
CONSENSUS_CONFIG = Config(base_timeout_ms=3_000, max_timeout_ms=30_000, catch_up_batch=64)
CLOCK_WARN_S = 10
"""Offset from the peers' median clock beyond which the log warns (a third of the
tolerance: time to fix NTP before proposals are refused)."""
CLOCK_WARN_EVERY_S = 60
CLOCK_SAMPLES = 64
"""Validators whose latest block time we keep (a bounded dict; a set has at most 64)."""


class Clock(Protocol):
    """Where the driver reads time: a monotonic clock for timers, the wall clock for
    block times (``SystemClock`` in production, a virtual one in the simulator)."""

    def monotonic(self) -> float: ...
    def wall(self) -> float: ...


class SystemClock:
    """The process clocks."""

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()


class LinkNetwork(Protocol):
    """The validator links as the driver uses them (``node.links.PeerNetwork``)."""

    def send(self, peer: bytes, value: Value) -> None: ...
    def broadcast(self, value: Value) -> None: ...
    def connected(self) -> set[bytes]: ...
    def peer_tips(self) -> dict[bytes, int]: ...


class Journal(Protocol):
    """The consensus write-ahead log (``storage.wal.WriteAheadLog``)."""

    def replay(self) -> list[bytes]: ...
    def append(self, record: bytes, sync: bool = True) -> None: ...
    def sync(self) -> None: ...
    def reset(self, keep: list[bytes]) -> None: ...
    def size_bytes(self) -> int: ...
    def close(self) -> None: ...


class DriverHost(Protocol):
    """What the driver needs from the application side of the node (``Node``)."""

    suite: CryptoSuite
    chain_id: str
    signer: Signer
    faults: Faults

    def head_tip(self) -> Tip: ...
    def next_validator_set(self) -> ValidatorSet: ...
    def validators_at(self, height: int) -> ValidatorSet: ...
    def certified_block(self, height: int) -> CertifiedBlock | None: ...
    def check_body(self, block: Block) -> bool: ...
    def verify_block(self, block: Block, now_s: int) -> None: ...
    def commit_block(self, block: Block, certificate: CommitCertificate) -> None: ...
    def parent_time(self) -> int: ...
    def pending_txs(self) -> int: ...
    def take_batch(self) -> list[tuple[Tx, bytes]]: ...
    def build_block(self, view: int, time_s: int, batch: Sequence[tuple[Tx, bytes]]) -> Block: ...
    def speculate(
        self, height: int, time_s: int, proposer: bytes, txs: Sequence[tuple[Tx, bytes]]
    ) -> None: ...
    def mempool_entry(self, digest: bytes) -> tuple[Tx, int] | None: ...
    def max_block_bytes(self) -> int: ...
    def on_gossip(self, items: Value) -> None: ...
    def flush_gossip(self) -> None: ...
    def admit_gossip_now(self) -> None: ...
    def regossip(self) -> None: ...


@dataclass(frozen=True)
class DriverSettings:
    """The node configuration the driver reads."""

    block_interval_ms: int = 200
    max_block_txs: int = 2_000
    preview_proposals: bool = True
    consensus: Config = CONSENSUS_CONFIG
    empty_block_interval_s: int = 0
    """At most one empty block per this many seconds on an idle chain; 0: none."""


def driver_settings(
    params: ConsensusParams,
    *,
    block_interval_ms: int | None = None,
    max_block_txs: int = 2_000,
    preview_proposals: bool = True,
) -> DriverSettings:
    """The driver's settings: timing from the genesis ``consensus`` section (every
    validator must agree on it), ``block_interval_ms`` overridable per node (it
    paces only this node's own proposals)."""
    return DriverSettings(
        block_interval_ms=(
            params.block_interval_ms if block_interval_ms is None else block_interval_ms
        ),
        max_block_txs=max_block_txs,
        preview_proposals=preview_proposals,
        consensus=dataclasses.replace(
            CONSENSUS_CONFIG,
            base_timeout_ms=params.base_timeout_ms,
            max_timeout_ms=params.max_timeout_ms,
            leader_window=params.leader_window_heights,
        ),
        empty_block_interval_s=params.empty_block_interval_s,
    )


def fail_stop(what: str) -> NoReturn:
    """Log the exception and end the process: a validator that hit an invariant
    failure or a storage error must not keep voting from a state it cannot trust.
    Everything acknowledged is already durable; a restart replays the WAL."""
    log.critical("fatal error while %s; stopping the node", what, exc_info=True)
    logging.shutdown()
    os._exit(70)


class ConsensusDriver:
    """The replica's I/O: ticks, WAL, links, application calls; see the module docstring."""

    def __init__(
        self,
        host: DriverHost,
        links: Callable[[Callable[[bytes, Value], None]], LinkNetwork],
        journal: Journal,
        settings: DriverSettings,
        clock: Clock | None = None,
        defer: Callable[[Callable[[], None]], None] | None = None,
        fatal: Callable[[str], NoReturn] = fail_stop,
        byzantine: Byzantine | None = None,
        evidence: EvidenceBook | None = None,
    ) -> None:
        self.host = host
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self._defer = defer or (lambda callback: callback())
        self._fatal = fatal
        self.wal = journal
        self.replica = Replica(
            host.suite,
            host.chain_id,
            host.signer,
            self._validators_for,
            settings.consensus,
            host.head_tip(),
            self.wal.replay(),
            host.certified_block,
            body_check=self._check_body,  # bodies from peers, before they are kept
        )
        self.links = links(self.on_frame)
        self._queue: deque[Action] = deque()
        self._dirty = False
        self._build: BuildProposal | None = None  # waiting to be proposed (``tick``)
        self._build_at = (0.0, 0.0)  # (busy deadline, idle deadline) of ``_build``
        self._work = True  # what the replica was last told (``_tell_work``)
        self._work_since: tuple[int, float] | None = None  # (height, when txs began to wait)
        self._regossiped = 0  # the last height whose waiting txs we re-sent
        self._tips_checked = float("-inf")
        self._height_started = (0.0, 0.0)  # monotonic starts of the previous and this height
        self._previewed = (-1, -1)  # the last (height, view) a preview was acted on
        self._early_preview: tuple[bytes, Preview] | None = None  # one for the next height
        self.evidence = evidence if evidence is not None else EvidenceBook()  # node.evidence
        self.byzantine = byzantine or Byzantine(host.suite, host.chain_id, host.signer, set())
        self.compact = CompactProposals(host.suite, host.mempool_entry)  # node.compact
        self.view_changes = 0
        self._last_view = (0, 0)
        self.refused_for_time = 0
        self._peer_clocks: dict[bytes, float] = {}  # proposer -> our clock - its block time
        self._clock_warned_at = -CLOCK_WARN_EVERY_S
        self.peer_tips = PeerTips()  # read-only: the peers' heads, for /ready (node.health)

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        """Start the replica (links are started by their owner)."""
        self._perform(self.replica.start(self._now_ms()))

    def close(self) -> None:
        self._build = None
        self.wal.close()

    # -- inputs ---------------------------------------------------------------------

    def _now_ms(self) -> int:
        return int(self.clock.monotonic() * 1000)

    def _validators_for(self, height: int) -> ValidatorSet:
        if height == self.host.head_tip().height + 1:
            return self.host.next_validator_set()
        return self.host.validators_at(height)

    def _check_body(self, block: Block) -> bool:
        """A peer's block body against its header (the host checks; see ``Replica``)."""
        if mutations.is_enabled("store_body_unchecked"):
            return True
        return self.host.check_body(block)

    def is_validator(self, key: bytes) -> bool:
        return key in self.host.next_validator_set()

    def on_frame(self, sender: bytes, value: Value) -> None:
        """One decoded link frame from an authenticated validator."""
        if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)):
            self.host.faults.drop("link", "bad_frame", sender)
            return
        kind, body = value
        if kind == "t":
            self.host.on_gossip(body)
        elif kind == "p":
            try:
                preview = Preview.from_wire(body)
            except DecodeError:
                self.host.faults.drop("link", "bad_preview", sender)
                return
            self._on_preview(sender, preview)
        elif kind in ("k", "n", "x"):
            self._on_compact_frame(sender, kind, body)
        elif kind == "c" and isinstance(body, bytes):
            try:
                message = decode_message(body)
            except DecodeError as exc:
                if mutations.is_enabled("fatal_on_garbage"):
                    self._fatal("decoding a peer's message")
                self.host.faults.drop("consensus", "undecodable", sender)
                log.debug("garbage consensus message from %s: %s", sender.hex()[:12], exc)
                return
            self.peer_tips.note_message(sender, message)
            self._perform(self.replica.on_message(sender, message))
        else:
            self.host.faults.drop("link", "unknown_frame", sender)

    def _is_primary_of(self, height: int, view: int, key: bytes) -> bool:
        """The replica's schedule (leader reputation) at its height; the rotation otherwise
        (the store may be ahead of the replica for a moment, after a commit)."""
        if height == self.replica.height:
            return self.replica.primary_of(view) == key
        return is_primary_of(self.host.next_validator_set(), height, view, key)

    def _on_compact_frame(self, sender: bytes, kind: str, body: Value) -> None:
        """A compact proposal, a peer's request for its txs, or the txs (``node.compact``)."""
        message: Message | None = None
        try:
            if kind == "n":
                answer = self.compact.on_need(sender, body)
            elif kind == "k":
                self.host.admit_gossip_now()  # txs gossiped just before are usually queued
                message, answer = self.compact.on_compact(sender, body)
            else:
                message, answer = self.compact.on_txs(sender, body)
        except DecodeError:
            self.host.faults.drop("link", "bad_compact", sender)
            return
        if answer is not None:
            self.links.send(sender, answer)
        if message is not None:
            self._perform(self.replica.on_message(sender, message))

    def _on_preview(self, sender: bytes, preview: Preview) -> None:
        """Execute the txs the primary is about to propose (see the module docstring)."""
        host = self.host
        head = host.head_tip().height
        height, view = preview.height, preview.view
        if height == head + 2:
            # Sent by a primary that committed the parent before we did (its COMMIT
            # quorum came first): keep it until our own commit (``_commit``).
            self._early_preview = (sender, preview)
            return
        if (
            (height, view) != (head + 1, self.replica.view)
            or (height, view) == self._previewed
            or len(preview.tx_hashes) > self.settings.max_block_txs
            or not self._is_primary_of(height, view, sender)
        ):
            return
        host.admit_gossip_now()
        txs, total, seen = [], 0, set()
        for digest in preview.tx_hashes:
            entry = host.mempool_entry(digest)
            if entry is None or digest in seen:
                return  # not all here (or a repeat): verify the proposal the usual way
            seen.add(digest)
            total += entry[1]
            if total > host.max_block_bytes():
                return  # more than a block: no speculation costs more than a proposal
            txs.append((entry[0], digest))
        self._previewed = (height, view)
        host.speculate(height, preview.time, sender, txs)

    def tick(self) -> None:
        """Feed the replica the clock, and propose when a waiting proposal is due.

        The replica reads time only from ticks, and computes every deadline from
        the last time it saw: feed it the clock on every tick, not just when a
        timer is due, or new deadlines are set from a stale "now".
        """
        self._tell_work()
        self._perform(self.replica.on_tick(self._now_ms()))
        now = self.clock.monotonic()
        if self._build is not None:
            busy_at, idle_at = self._build_at
            due = busy_at if self.host.pending_txs() else idle_at
            if now >= due:
                action, self._build = self._build, None
                self._propose(action)
        if now - self._tips_checked >= TIP_CHECK_S:
            self._tips_checked = now
            behind = self.replica.height
            for peer, tip in sorted(self.links.peer_tips().items()):
                self.peer_tips.note_head(peer, tip)  # /ready on an idle chain (node.health)
                if tip >= behind:  # the replica asks at most once per base timeout
                    self._perform(self.replica.on_peer_tip(peer, tip))

    def _tell_work(self) -> None:
        """Tell the replica when txs start or stop waiting (or a fresh block is due)."""
        pending = self.host.pending_txs() > 0
        fresh = self.settings.empty_block_interval_s
        work = pending or bool(
            fresh and self.clock.wall() >= self.host.parent_time() + fresh
        )
        if work != self._work:
            self._work = work
            self._perform(self.replica.on_pending_work(work))
        self._maybe_regossip(pending)

    def _maybe_regossip(self, pending: bool) -> None:
        """Re-send waiting txs once per height if no proposal came (module docstring)."""
        replica = self.replica
        if not pending or replica.view != 0 or 0 in replica.round.proposals:
            self._work_since = None
            return
        now = self.clock.monotonic()
        half_ms = self.settings.consensus.base_timeout_ms / 2
        if self._work_since is None or self._work_since[0] != replica.height:
            self._work_since = (replica.height, now)
            return
        waited_ms = (now - self._work_since[1]) * 1000
        # Only txs that came to an idle height: under load txs wait from the height's
        # start, and a slow height would re-send a whole block to every peer (the WAN
        # lab saw ~200 copies of a tx at saturation).
        idle_ms = (self._work_since[1] - self._height_started[1]) * 1000
        if waited_ms >= half_ms and idle_ms >= half_ms and self._regossiped != replica.height:
            self._regossiped = replica.height
            self.host.regossip()

    # -- performing actions ----------------------------------------------------------

    def _perform(self, actions: list[Action]) -> None:
        """Carry out ``actions`` (and whatever they lead to) strictly in order."""
        running = bool(self._queue)
        self._queue.extend(actions)
        if running:
            return  # an outer call is draining the queue
        while self._queue:
            action = self._queue[0]
            try:
                more = self._do(action)
            except Exception:  # our bug or a broken disk: stop rather than diverge
                self._queue.clear()
                self._fatal(f"performing {type(action).__name__}")
            self._queue.popleft()
            self._queue.extend(more)  # results of an answered action are later events
        self._sync_wal()
        self._track_view()

    def _sync_wal(self) -> None:
        if self._dirty:
            crashpoints.hit("before_wal_sync")
            self.wal.sync()
            self._dirty = False
            crashpoints.hit("after_wal_sync")

    def _do(self, action: Action) -> list[Action]:
        if isinstance(action, Persist):
            self.wal.append(action.data, sync=False)
            self._dirty = True
        elif isinstance(action, Send):
            self._send(action.msg, action.to)
        elif isinstance(action, Broadcast):
            self._send(action.msg, None)
        elif isinstance(action, SetTimer):
            pass  # ``tick`` feeds the replica the clock every TICK_S
        elif isinstance(action, BuildProposal):
            self._schedule_proposal(action)
        elif isinstance(action, VerifyBlock):
            return self._verify(action)
        elif isinstance(action, Commit):
            return self._commit(action)
        elif isinstance(action, RequestCatchUp):
            self._sync_wal()
            frame = ["c", encode_message(action.request)]
            for peer in action.peers:
                self.links.send(peer, frame)
        elif isinstance(action, ReportEvidence):
            self._record_evidence(action)
        elif isinstance(action, ReportProposalEvidence):
            self._record_proposal_evidence(action)
        elif isinstance(action, ReportFault):
            self.host.faults.drop("consensus", action.kind, action.peer)
        return []

    def _send(self, message: Message, to: bytes | None) -> None:
        """Sync the WAL, then send (one peer, or all when ``to`` is None)."""
        if isinstance(message, Vote):
            crashpoints.hit("before_vote_send")
        if not mutations.is_enabled("send_before_sync"):
            self._sync_wal()
        compact = None if self.byzantine.modes else self.compact.outgoing(message)
        if compact is not None:
            if to is None:
                self.links.broadcast(compact)
            else:
                self.links.send(to, compact)
            return
        for peer, frame in self.byzantine.outgoing(message, to):
            if peer is None:
                self.links.broadcast(frame)
            else:
                self.links.send(peer, frame)

    def _verify(self, action: VerifyBlock) -> list[Action]:
        block = action.block
        now_s = int(self.clock.wall())
        self._sample_clock(block.header.proposer, block.header.time, now_s)
        try:
            self.host.verify_block(block, now_s)
            ok = True
        except InputError as exc:
            if block.header.time > now_s + MAX_FUTURE_DRIFT_S:
                self.refused_for_time += 1
            log.warning("refusing proposal %s: %s", action.block_hash.hex()[:12], exc)
            ok = False
        return self.replica.on_block_verified(action.block_hash, ok, self._now_ms())

    def _commit(self, action: Commit) -> list[Action]:
        crashpoints.hit("before_apply")
        self.host.commit_block(action.block, action.certificate)
        now = self.clock.monotonic()
        self._height_started = (self._height_started[1] or now, now)
        self._prune_wal(action.block.header.height)
        crashpoints.hit("after_apply")
        actions = self.replica.on_committed(action.block.header.height)
        early, self._early_preview = self._early_preview, None
        if early is not None:  # before ``actions``: they may verify that very proposal
            self._on_preview(*early)
        return actions

    def _prune_wal(self, height: int) -> None:
        """Drop decided heights from the WAL now and then.

        The replica restores only records of the height after the store's head;
        once a height is durable in the store (just now) and before the replica
        moves on (it has signed nothing for the next height yet), every record
        in the log is history.
        """
        if height % WAL_PRUNE_EVERY == 0 or self.wal.size_bytes() > WAL_PRUNE_BYTES:
            self._sync_wal()
            self.wal.reset([])

    def _record_evidence(self, action: ReportEvidence) -> None:
        """Two votes of one validator for one slot, kept in the bounded book (logged
        only when kept, so a flood cannot flood the log either)."""
        a, b = action.vote_a, action.vote_b
        if not self.evidence.add_votes(a, b):
            return
        log.warning(
            "evidence: validator %s signed two blocks at height %d view %d phase %d",
            a.voter.hex()[:12],
            a.height,
            a.view,
            a.phase,
        )

    def _record_proposal_evidence(self, action: ReportProposalEvidence) -> None:
        """Two blocks proposed by one primary for one slot (``is_valid_proposal_evidence``)."""
        a, b = action.proposal_a, action.proposal_b
        if not self.evidence.add_proposals(a, b):
            return
        log.warning(
            "evidence: primary %s proposed two blocks at height %d view %d",
            a.proposer.hex()[:12],
            a.height,
            a.view,
        )

    # -- proposing ----------------------------------------------------------------------

    def _schedule_proposal(self, action: BuildProposal) -> None:
        """Wait (in ``tick``) until the proposal is due; a newer request replaces it."""
        now = self.clock.monotonic()
        # Pace from the start of the previous height (see the module docstring);
        # the empty-block wait counts from now, so an idle chain stays quiet.
        anchor = self._height_started[0] if self._height_started[1] else now
        self._build = action
        fresh = self.settings.empty_block_interval_s
        if fresh and action.view == 0:
            idle_at = now + max(0.0, self.host.parent_time() + fresh - self.clock.wall())
        else:  # after a view change a block is owed at once, empty or not
            idle_at = float("inf") if action.view == 0 else now
        self._build_at = (anchor + self.settings.block_interval_ms / 1000, idle_at)

    def _propose(self, action: BuildProposal) -> None:
        host = self.host
        if host.head_tip().height + 1 != action.height:
            return  # the height moved on (catch-up) while we waited
        batch = host.take_batch()
        time_s = max(int(self.clock.wall()), host.parent_time())
        if not (batch and self.settings.preview_proposals):
            self._execute_proposal(action, time_s, batch)
            return
        host.flush_gossip()  # the replicas get our txs before the preview that lists them
        digests = tuple(digest for _, digest in batch)
        self.links.broadcast(["p", Preview(action.height, action.view, time_s, digests).to_wire()])
        # Let the link pumps send the preview before we execute (two turns of the loop).
        self._defer(lambda: self._defer(lambda: self._execute_proposal(action, time_s, batch)))

    def _execute_proposal(
        self, action: BuildProposal, time_s: int, batch: list[tuple[Tx, bytes]]
    ) -> None:
        if self.host.head_tip().height + 1 != action.height:
            return
        try:
            block = self.host.build_block(action.view, time_s, batch)
        except Exception:
            self._fatal("building a proposal")
        self._perform(self.replica.on_proposal_ready(block))

    def _track_view(self) -> None:
        current = (self.replica.height, self.replica.view)
        if current[0] == self._last_view[0] and current[1] > self._last_view[1]:
            self.view_changes += current[1] - self._last_view[1]
        self._last_view = current

    # -- the peers' clock -------------------------------------------------------------

    def _sample_clock(self, proposer: bytes, block_time: int, now_s: int) -> None:
        """Remember (our clock - ``proposer``'s block time); warn if we drift."""
        if proposer == self.host.signer.public_key:
            return
        self._peer_clocks.pop(proposer, None)
        self._peer_clocks[proposer] = now_s - block_time
        while len(self._peer_clocks) > CLOCK_SAMPLES:
            self._peer_clocks.pop(next(iter(self._peer_clocks)))
        offset = self.clock_offset_s()
        monotonic = self.clock.monotonic()
        if (
            offset is not None
            and abs(offset) > CLOCK_WARN_S
            and monotonic - self._clock_warned_at >= CLOCK_WARN_EVERY_S
        ):
            self._clock_warned_at = monotonic
            log.warning(
                "our clock is %+d s off the other validators' (median of their block times; "
                "proposals dated more than %d s past our clock are refused): check NTP",
                offset,
                MAX_FUTURE_DRIFT_S,
            )

    def clock_offset_s(self) -> int | None:
        """Our clock minus the peers' (median over proposers heard from), or None."""
        if not self._peer_clocks:
            return None
        return int(statistics.median_low(self._peer_clocks.values()))

    # -- reads ------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        replica = self.replica
        return {
            "consensus_height": replica.height,
            "view": replica.view,
            "step": replica.step.name.lower(),
            "view_changes": self.view_changes,
            "peers_connected": len(self.links.connected()),
            "validators": len(replica.valset),
            "evidence": len(self.evidence),
            "syncing": replica.height > self.host.head_tip().height + 1,
            "clock_offset_s": self.clock_offset_s(),
            "clock_tolerance_s": MAX_FUTURE_DRIFT_S,
            "proposals_refused_for_time": self.refused_for_time,
            "compact_proposals": {
                "rebuilt": self.compact.rebuilt,
                "fetched_txs": self.compact.fetched,
                "asked_whole": self.compact.full_asked,
            },
        }

    def update_metrics(self, metrics: Metrics) -> None:
        metrics.view = self.replica.view
        metrics.view_changes = self.view_changes
        metrics.peers_connected = len(self.links.connected())
        metrics.evidence = len(self.evidence)
        metrics.proposals_refused_for_time = self.refused_for_time
        metrics.clock_offset_s = self.clock_offset_s() or 0
