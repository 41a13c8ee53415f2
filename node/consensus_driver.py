"""Drives the sans-I/O replica: links in, actions out, in order, with the WAL in between.

Theory of operation
-------------------
Every replica action list is performed strictly in order through one work
queue (no recursion: an action may yield more events, which queue behind).
``Persist`` records are appended to the write-ahead log and the log is
fsynced once before the next ``Send``/``Broadcast`` — one sync per burst,
never a vote on the wire that is not on disk.

``BuildProposal`` is answered after a short wait that lets txs accumulate:
once ``block_interval_ms`` has passed *since the previous height began* with
txs pending, or ``IDLE_BLOCK_MS`` with none (an empty block keeps the
replicas' progress timers quiet; it must stay below the base timeout).
Counting from the previous height's start, not from this one's, paces
proposals at most one per interval without adding the interval to every
height: under load a height takes longer than the interval anyway, so the
next block is proposed at once and carries what arrived meanwhile; a tx
then waits for about one height, not one height plus the interval.

Proposal previews. Executing a block is most of a height's work, and
"execute, then vote" puts the replicas' execution after the primary's: on a
machine where validators share cores, one core idles while the primary
executes. So the primary, once it has picked its txs and the block time,
first flushes its pending gossip and sends each replica a *preview* — link
frame ``["p", [height, view, time, [tx hash, ...]]]`` — and only then
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

Catch-up requests are served by the replica itself from our store (it gets a
``BlockSource``); catch-up responses are verified by the replica against the
validator set of each height before a ``Commit`` reaches us.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from typing import TYPE_CHECKING, Any, NoReturn

import contracts
from chain.codec import Value
from chain.errors import DecodeError, InputError
from chain.types import Vote
from chain.validators import ValidatorSet
from consensus.actions import (
    Action,
    Broadcast,
    BuildProposal,
    Commit,
    Config,
    Persist,
    ReportEvidence,
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
from node import crashpoints
from node.byzantine import Byzantine
from node.links import PeerNetwork
from storage.wal import WriteAheadLog

if TYPE_CHECKING:
    from node.metrics import Metrics
    from node.runtime import Node

__all__ = ["ConsensusDriver"]

log = logging.getLogger("skillchain.consensus")

TICK_S = 0.01
IDLE_BLOCK_MS = 1_000
WAL_PRUNE_EVERY = 200
WAL_PRUNE_BYTES = 64 * 1024 * 1024
CONSENSUS_CONFIG = Config(base_timeout_ms=3_000, max_timeout_ms=30_000, catch_up_batch=64)


def _fail_stop(what: str) -> NoReturn:
    """Log the exception and end the process: a validator that hit an invariant
    failure or a storage error must not keep voting from a state it cannot trust.
    Everything acknowledged is already durable; a restart replays the WAL."""
    log.critical("fatal error while %s; stopping the node", what, exc_info=True)
    logging.shutdown()
    os._exit(70)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("proposal task failed", exc_info=task.exception())


class _HistoricReader:
    """State values as of a committed version (for validator sets of past heights)."""

    def __init__(self, tree: Any, version: int) -> None:
        self._tree, self._version = tree, version

    def get(self, key: bytes) -> bytes | None:
        return self._tree.get(key, self._version)


class ConsensusDriver:
    """The replica's I/O: timers, WAL, links, executor calls."""

    def __init__(self, node: Node) -> None:
        self.node = node
        store = node.store
        self.wal = WriteAheadLog(node.home / "consensus.wal")
        head = store.head
        self._valsets: dict[int, ValidatorSet] = {}
        self.replica = Replica(
            node.suite,
            node.chain_id,
            node.signer,
            self._validators_for,
            CONSENSUS_CONFIG,
            Tip(head.height, head.block_hash),
            self.wal.replay(),
            self._certified_block,
        )
        peers = {bytes.fromhex(p.public_key): (p.host, p.port) for p in node.config.peers}
        self.links = PeerNetwork(
            node.suite,
            node.signer,
            node.chain_id,
            node.genesis_hash,
            peers,
            self._is_validator,
            self._on_frame,
        )
        self._queue: deque[Action] = deque()
        self._dirty = False
        self._proposal: asyncio.Task[None] | None = None
        self._height_started = (0.0, 0.0)  # monotonic starts of the previous and this height
        self._previewed = (-1, -1)  # the last (height, view) a preview was acted on
        self._early_preview: tuple[bytes, Value] | None = None  # one for the next height
        self._tasks: list[asyncio.Task[None]] = []
        self.evidence: list[dict[str, Any]] = []
        self.byzantine = Byzantine.from_env(node.suite, node.chain_id, node.signer)
        self.byzantine.peers = sorted(peers)
        self.view_changes = 0
        self._last_view = (0, 0)

    # -- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        config = self.node.config
        await self.links.start(config.p2p_host, config.p2p_port)
        self._perform(self.replica.start(self._now_ms()))
        self._tasks.append(asyncio.create_task(self._tick_loop()))

    async def stop(self) -> None:
        for task in [*self._tasks, *([self._proposal] if self._proposal else [])]:
            task.cancel()
        await self.links.stop()
        self.wal.close()

    # -- inputs ---------------------------------------------------------------------

    @staticmethod
    def _now_ms() -> int:
        return int(time.monotonic() * 1000)

    def _validators_for(self, height: int) -> ValidatorSet:
        head = self.node.store.head.height
        if height == head + 1:
            return self.node.executor.validator_set()
        if height not in self._valsets:
            state = contracts.Overlay(_HistoricReader(self.node.store.tree, max(0, height - 1)))
            self._valsets[height] = contracts.validator_set_at(state)
        return self._valsets[height]

    def _is_validator(self, key: bytes) -> bool:
        return key in self.node.executor.validator_set()

    def _certified_block(self, height: int) -> CertifiedBlock | None:
        store = self.node.store
        block, cert = store.block(height), store.certificate(height)
        return None if block is None or cert is None else CertifiedBlock(block, cert)

    def _on_frame(self, sender: bytes, value: Value) -> None:
        if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)):
            return
        kind, body = value
        if kind == "t":
            self.node.on_gossip(body)
        elif kind == "p":
            self._on_preview(sender, body)
        elif kind == "c" and isinstance(body, bytes):
            try:
                message = decode_message(body)
            except DecodeError as exc:
                log.warning("garbage consensus message from %s: %s", sender.hex()[:12], exc)
                return
            self._perform(self.replica.on_message(sender, message))

    def _on_preview(self, sender: bytes, body: Value) -> None:
        """Execute the txs the primary is about to propose (see the module docstring)."""
        if not (isinstance(body, list) and len(body) == 4 and isinstance(body[3], list)):
            return
        height, view, time_s, hashes = body
        node = self.node
        config = node.config
        if type(height) is int and height == node.store.head.height + 2:
            # Sent by a primary that committed the parent before we did (its COMMIT
            # quorum came first): keep it until our own commit (``_commit``).
            self._early_preview = (sender, body)
            return
        if (
            type(height) is not int
            or type(view) is not int
            or type(time_s) is not int
            or (height, view) != (node.store.head.height + 1, self.replica.view)
            or (height, view) == self._previewed
            or not 0 < len(hashes) <= config.max_block_txs
            or not is_primary_of(node.executor.validator_set(), height, view, sender)
        ):
            return
        node.admit_gossip_now()
        txs, total, seen = [], 0, set()
        for digest in hashes:
            entry = node.mempool.entry(digest) if type(digest) is bytes else None
            if entry is None or digest in seen:
                return  # not all here (or a repeat): verify the proposal the usual way
            seen.add(digest)
            total += entry[1]
            if total > node.max_block_bytes():
                return  # more than a block: no speculation costs more than a proposal
            txs.append((entry[0], digest))
        self._previewed = (height, view)
        node.executor.speculate(height, time_s, sender, txs)

    async def _tick_loop(self) -> None:
        # The replica reads time only from ticks, and computes every deadline
        # from the last time it saw: feed it the clock on every tick, not just
        # when a timer is due, or new deadlines are set from a stale "now".
        while True:
            await asyncio.sleep(TICK_S)
            self._perform(self.replica.on_tick(self._now_ms()))

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
                _fail_stop(f"performing {type(action).__name__}")
            finally:
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
            pass  # the tick loop feeds the replica the clock every TICK_S
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
        return []

    def _send(self, message: Message, to: bytes | None) -> None:
        """Sync the WAL, then send (one peer, or all when ``to`` is None)."""
        if isinstance(message, Vote):
            crashpoints.hit("before_vote_send")
        self._sync_wal()
        for peer, frame in self.byzantine.outgoing(message, to):
            if peer is None:
                self.links.broadcast(frame)
            else:
                self.links.send(peer, frame)

    def _verify(self, action: VerifyBlock) -> list[Action]:
        try:
            self.node.executor.verify(action.block, int(time.time()))
            ok = True
        except InputError as exc:
            log.warning("refusing proposal %s: %s", action.block_hash.hex()[:12], exc)
            ok = False
        return self.replica.on_block_verified(action.block_hash, ok)

    def _commit(self, action: Commit) -> list[Action]:
        crashpoints.hit("before_apply")
        execution = self.node.executor.commit(action.block, action.certificate)
        self._height_started = (self._height_started[1] or time.monotonic(), time.monotonic())
        self._prune_wal(action.block.header.height)
        self.node.on_committed(execution)
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
        if height % WAL_PRUNE_EVERY == 0 or self.wal.path.stat().st_size > WAL_PRUNE_BYTES:
            self._sync_wal()
            self.wal.reset([])

    def _record_evidence(self, action: ReportEvidence) -> None:
        a, b = action.vote_a, action.vote_b
        log.warning(
            "evidence: validator %s signed two blocks at height %d view %d phase %d",
            a.voter.hex()[:12],
            a.height,
            a.view,
            a.phase,
        )
        self.evidence.append(
            {
                "kind": "votes",
                "voter": a.voter.hex(),
                "height": a.height,
                "view": a.view,
                "phase": a.phase,
                "votes": [a.encode().hex(), b.encode().hex()],
            }
        )

    def _record_proposal_evidence(self, action: ReportProposalEvidence) -> None:
        """Two blocks proposed by one primary for one slot (``is_valid_proposal_evidence``)."""
        a, b = action.proposal_a, action.proposal_b
        log.warning(
            "evidence: primary %s proposed two blocks at height %d view %d",
            a.proposer.hex()[:12],
            a.height,
            a.view,
        )
        self.evidence.append(
            {
                "kind": "proposals",
                "proposer": a.proposer.hex(),
                "height": a.height,
                "view": a.view,
                "proposals": [a.encode().hex(), b.encode().hex()],
            }
        )

    def _schedule_proposal(self, action: BuildProposal) -> None:
        if self._proposal is not None and not self._proposal.done():
            self._proposal.cancel()
        self._proposal = asyncio.get_running_loop().create_task(self._propose(action))
        self._proposal.add_done_callback(_log_failure)

    async def _propose(self, action: BuildProposal) -> None:
        node = self.node
        now = time.monotonic()
        # Pace from the start of the previous height (see the module docstring);
        # the empty-block wait counts from now, so an idle chain stays quiet.
        anchor = self._height_started[0] if self._height_started[1] else now
        busy_at = anchor + node.config.block_interval_ms / 1000
        idle_at = now + IDLE_BLOCK_MS / 1000
        while True:
            now = time.monotonic()
            if now >= (busy_at if len(node.mempool) else idle_at):
                break
            await asyncio.sleep(0.01)
        if node.store.head.height + 1 != action.height:
            return  # the height moved on (catch-up) while we waited
        batch = node.mempool.take(node.config.max_block_txs, node.max_block_bytes())
        time_s = max(int(time.time()), node.executor.parent_time())
        if batch and node.config.preview_proposals:
            node.flush_gossip()  # the replicas get our txs before the preview that lists them
            self.links.broadcast(["p", [action.height, action.view, time_s,
                                        [digest for _, digest in batch]]])
            await asyncio.sleep(0)  # let the link pumps send it before we execute
            await asyncio.sleep(0)
            if node.store.head.height + 1 != action.height:
                return
        execution = node.executor.propose(action.view, time_s, node.signer.public_key, batch)
        self._perform(self.replica.on_proposal_ready(execution.block))

    def _track_view(self) -> None:
        current = (self.replica.height, self.replica.view)
        if current[0] == self._last_view[0] and current[1] > self._last_view[1]:
            self.view_changes += current[1] - self._last_view[1]
        self._last_view = current

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
            "syncing": replica.height > self.node.store.head.height + 1,
        }

    def update_metrics(self, metrics: Metrics) -> None:
        metrics.view = self.replica.view
        metrics.view_changes = self.view_changes
        metrics.peers_connected = len(self.links.connected())
        metrics.evidence = len(self.evidence)
