"""The node runtime: one asyncio task owns the replica; everything else feeds it.

Theory of operation
-------------------
The replica (``consensus``) is a pure state machine; this module is its I/O
shell. Inputs — frames from validator links, timer ticks, finished proposals
and verifications — become replica events, and the actions the replica
returns are carried out **in order**. Order matters for one rule above all:
a ``Persist`` action is written and fsynced to the consensus log before any
later ``Send``/``Broadcast`` in the same list leaves the process, so a vote
that reaches a peer is always a vote this node will remember after a crash.

Commits go through the executor (one synced LevelDB batch per height). After
a commit the runtime tells the mempool (drop included txs, expire old ones),
wakes RPC callers waiting for those txs, feeds the stream subscribers, and
updates metrics.

Txs admitted over RPC are gossiped to the other validators in small batches
every ``GOSSIP_INTERVAL_S`` so any primary can include them; each node
verifies each tx signature once (cached by hash and signature).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import os
import signal
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

import contracts
from chain.codec import Value
from chain.errors import SkillchainError
from chain.genesis import load_genesis
from chain.types import Block, CommitCertificate, ReceiptStatus, Tx
from chain.validators import ValidatorSet
from consensus.actions import Tip
from consensus.messages import CertifiedBlock, max_block_bytes
from node.byzantine import Byzantine
from node.config import NodeConfig, load_config
from node.consensus_driver import TICK_S, ConsensusDriver, driver_settings, fail_stop
from node.errors import LogFileError, listening
from node.evidence import MAX_PAGE, EvidenceBook
from node.executor import Execution, Executor
from node.health import Readiness, assess
from node.keys import load_key
from node.links import PeerNetwork
from node.listeners import connection_allowance, raise_fd_limit
from node.logs import LogSetup, configure_logging
from node.mempool import Admission, ContractAdmission, Mempool, MempoolLimits
from node.metrics import Metrics
from node.metrics_http import start_metrics
from node.ops import POLL_S, Operations
from node.peerset import Membership, PeerSet, compute_peer_set, find_removal
from node.queries import run_query
from node.rpc import RpcSettings, start_rpc
from node.tls import link_tls, rpc_context
from node.version import package_version
from storage.store import Store, TxLocation
from storage.wal import WriteAheadLog

__all__ = ["Node", "run_node"]

log = logging.getLogger("skillchain.node")

GOSSIP_INTERVAL_S = 0.02
MAX_GOSSIP_BATCH = 2_000
MAX_GOSSIP_FRAME_BYTES = 8 << 20
"""Bytes of txs in one gossip frame: a peer refuses frames over
``node.links.MAX_FRAME_BYTES`` (20 MiB), and 2,000 txs of 40 KB would be 80 MB."""
ADMIT_SLICE_S = 0.005
"""Admission work done in one go before the loop serves anything else.

Admission costs ~0.2 ms for a one-session tx and ~3 ms for a 100-session one
(decode, signature, schema); a 2,000-tx gossip batch admitted in one call held
every consensus message behind it for ~0.4 s, and 64 large txs at a time still
delayed vote rounds by ~0.2 s each. Slicing by time bounds the delay whatever
the txs' size.
"""
MAX_GOSSIP_BACKLOG = 20_000
MAX_GOSSIP_BACKLOG_BYTES = 64 << 20
"""Gossiped txs (and their bytes) waiting for admission; beyond either a peer's
batch is dropped (the tx stays in its origin's mempool: delayed, not lost)."""
ADMIT_NOW_BYTES = 4 << 20
"""Queued gossip a preview admits at once before it is read (~0.1 s of work)."""
SUBSCRIBER_QUEUE = 1_000
NEXT_KEY_FILE = "validator.next.key"
"""A rotated key waiting for its height (docs/runbook-rotate-key.md)."""
NOT_A_VALIDATOR = "not_a_validator"
STOP_TIMEOUT_S = 10.0
"""SIGTERM to exit, at most: a stop that waits on a wedged link task (or a client that
never reads) must not keep the process, and its port, for ever; every committed
height and every vote is on disk before it is acknowledged, so nothing is lost."""


class Node:
    """A validator node over its home directory."""

    def __init__(self, home: str | Path) -> None:
        self.home = Path(home)
        self.config: NodeConfig = load_config(self.home)
        self.genesis, self.genesis_hash = load_genesis(self.home / "genesis.json")
        self.suite = self.genesis.suite
        self.chain_id = self.genesis.chain_id
        self.signer = load_key(self.home / "validator.key", self.genesis.crypto_suite)
        self.link_tls = link_tls(self.home, self.config)  # bad files: bad_config, at start
        self.rpc_tls = rpc_context(self.home, self.config)
        self.store = Store.open(self.home / "data", self.suite, self.chain_id, self.genesis_hash)
        self.executor = Executor(self.store, self.genesis, self.genesis_hash)
        self._take_next_key()  # a rotated key in force: sign with validator.next.key
        self.counters = Metrics()
        self.faults = self.counters.faults  # what outsiders did wrong (node/__init__.py)
        self.mempool = Mempool(
            self.suite,
            self.chain_id,
            self.executor.signatures,
            ContractAdmission(lambda: self.store.state),  # contracts.check_tx, live params
            lambda digest: self.store.tx_location(digest) is not None,
            MempoolLimits(
                max_txs=self.config.mempool_max_txs,
                max_tx_bytes=self.max_block_bytes() - 64 * 1024,  # must fit a block
            ),
        )
        self.executor.parsed_bodies = self.mempool.parsed_body  # parse each body once
        self.mempool.on_height(self.store.head.height)
        self._gossip: list[bytes] = []
        self._incoming: deque[bytes] = deque()
        self._incoming_bytes = 0
        self._incoming_ready = asyncio.Event()
        self._waiters: dict[bytes, list[asyncio.Future[TxLocation]]] = defaultdict(list)
        self._admitted_at: dict[bytes, float] = {}
        self._subscribers: list[asyncio.Queue[dict[str, Any]]] = []
        self._valsets: dict[int, ValidatorSet] = {}
        self.peer_set = self._compute_peer_set()
        me, head = self.signer.public_key, self.store.head.height
        self.membership = Membership(
            me, me in self.executor.validator_set(), find_removal(me, head, self.validators_at)
        )
        self.byzantine = Byzantine.from_env(self.suite, self.chain_id, self.signer)
        self.byzantine.peers = sorted(self._peer_addresses())
        self.consensus = ConsensusDriver(
            self,
            self._links,
            WriteAheadLog(self.home / "consensus.wal"),
            driver_settings(
                self.genesis.consensus,
                block_interval_ms=self.config.block_interval_ms,
                max_block_txs=self.config.max_block_txs,
                preview_proposals=self.config.preview_proposals,
            ),
            defer=lambda callback: asyncio.get_running_loop().call_soon(callback),
            byzantine=self.byzantine,
            evidence=EvidenceBook(self.store),  # persisted, reloaded here (node.evidence)
        )
        self.ops = Operations(self, self.consensus.peer_tips, self.home / "data")
        self._runner: web.AppRunner | None = None
        self._metrics_runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        config = self.config
        self.links.set_tip(self.store.head.height)
        with listening("p2p", config.p2p_host, config.p2p_port, "p2p_host/p2p_port"):
            await self.links.start(config.p2p_host, config.p2p_port)
        self.consensus.start()
        self._tasks.append(asyncio.create_task(self._tick_loop()))
        rpc_settings = RpcSettings.from_config(config, connection_allowance())
        with listening("rpc", config.rpc_host, config.rpc_port, "rpc_host/rpc_port"):
            self._runner = await start_rpc(
                self, dataclasses.replace(rpc_settings, ssl_context=self.rpc_tls)
            )
        if config.metrics_port is not None:
            self._metrics_runner = await start_metrics(
                self, config.metrics_host, config.metrics_port
            )
        self._tasks.append(asyncio.create_task(self._gossip_loop()))
        self._tasks.append(asyncio.create_task(self._admit_loop()))
        self._tasks.append(asyncio.create_task(self._ops_loop()))
        log.info(
            "node %s up: height %d, rpc %s:%d",
            self.config.moniker,
            self.store.head.height,
            self.config.rpc_host,
            self.config.rpc_port,
        )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for waiters in self._waiters.values():  # answer ?wait=commit callers now
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(TimeoutError())
        await self.links.stop()
        self.consensus.close()
        for runner in (self._runner, self._metrics_runner):
            if runner is not None:
                await runner.cleanup()
        self.store.close()
        self._stopped.set()

    # -- admission and gossip ---------------------------------------------------

    def submit(self, raw: bytes) -> Admission:
        """Admit a tx from a client and queue it for gossip; a node whose key is not in
        the set in force or scheduled refuses (its txs would never commit)."""
        if self.signer.public_key not in self.peer_set.members:
            return Admission(None, NOT_A_VALIDATOR, self._not_a_validator())
        admission = self.mempool.admit_bytes(raw)
        if admission.ok:
            self._gossip.append(raw)
            self._admitted_at[admission.tx_hash] = time.monotonic()
        return admission

    def max_block_bytes(self) -> int:
        """Our cap on a block's bytes: the config's, within the protocol's for the
        validator set in force (``consensus.messages.max_block_bytes``)."""
        return min(
            self.config.max_block_bytes, max_block_bytes(len(self.executor.validator_set()))
        )

    def mempool_has(self, digest: bytes) -> bool:
        return digest in self.mempool

    def on_gossip(self, items: Value) -> None:
        """Txs another validator admitted: queued here, admitted (without re-gossip)
        by ``_admit_loop`` a slice at a time, so consensus messages never wait
        behind a whole batch."""
        if not isinstance(items, list):
            return
        for raw in items[:MAX_GOSSIP_BATCH]:
            if not isinstance(raw, bytes):
                continue
            if (
                len(self._incoming) >= MAX_GOSSIP_BACKLOG
                or self._incoming_bytes + len(raw) > MAX_GOSSIP_BACKLOG_BYTES
            ):
                break
            self._incoming.append(raw)
            self._incoming_bytes += len(raw)
        self._incoming_ready.set()

    def _admit_next(self) -> int:
        raw = self._incoming.popleft()
        self._incoming_bytes -= len(raw)
        self.mempool.admit_bytes(raw)
        return len(raw)

    def admit_gossip_now(self) -> None:
        """Admit queued gossip now, up to ``ADMIT_NOW_BYTES`` (a preview lists its txs)."""
        budget = ADMIT_NOW_BYTES
        while self._incoming and budget > 0:
            budget -= self._admit_next()

    def regossip(self) -> None:
        """Queue the txs a block would take for gossip again (the driver asks once
        per height when they waited without a proposal: see node.consensus_driver)."""
        self._gossip.extend(tx.encode() for tx, _ in self.take_batch())

    def flush_gossip(self) -> None:
        """Send every tx queued for gossip now (a preview is about to list them), in
        frames of at most ``MAX_GOSSIP_BATCH`` txs and ``MAX_GOSSIP_FRAME_BYTES``."""
        pending, self._gossip = self._gossip, []
        batch: list[bytes] = []
        size = 0
        for raw in pending:
            if batch and (
                len(batch) >= MAX_GOSSIP_BATCH or size + len(raw) > MAX_GOSSIP_FRAME_BYTES
            ):
                self.links.broadcast(["t", batch])
                batch, size = [], 0
            batch.append(raw)
            size += len(raw)
        if batch:
            self.links.broadcast(["t", batch])

    async def _admit_loop(self) -> None:
        incoming = self._incoming
        while True:
            await self._incoming_ready.wait()
            while incoming:
                deadline = time.perf_counter() + ADMIT_SLICE_S
                while incoming and time.perf_counter() < deadline:
                    self._admit_next()
                await asyncio.sleep(0)
            self._incoming_ready.clear()

    async def _gossip_loop(self) -> None:
        while True:
            await asyncio.sleep(GOSSIP_INTERVAL_S)
            self.flush_gossip()

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                self.consensus.tick()
            except Exception:  # ours: the driver answers a peer's faults itself
                fail_stop("ticking the consensus driver")
            self.ops.after_tick()

    async def _ops_loop(self) -> None:
        while True:
            await asyncio.sleep(POLL_S)
            self.ops.poll()

    # -- what the consensus driver needs (``node.consensus_driver.DriverHost``) ----

    def _peer_addresses(self) -> dict[bytes, tuple[str, int]]:
        return {bytes.fromhex(p.public_key): (p.host, p.port) for p in self.config.peers}

    def _compute_peer_set(self) -> PeerSet:
        """Members and dial addresses from state, config peers first (``node.peerset``)."""
        return compute_peer_set(self.store.state, self._peer_addresses(), self.signer.public_key)

    def _follow_validator_set(self, execution: Execution) -> None:
        """After a commit that touched the set or an address: redial, re-check membership."""
        if not any(key.startswith((b"valset", b"valaddr/")) for key in execution.changes):
            return
        self.peer_set = self._compute_peer_set()
        self.links.set_peers(self.peer_set.dial)
        height = execution.block.header.height
        if self.membership.on_set(height + 1, self.executor.validator_set()):
            log.warning("this node's key %s is not a validator from height %d: it refuses "
                        "txs now%s", self.signer.public_key.hex()[:16], height + 1,
                        self._next_key_hint())

    def _next_key_hint(self) -> str:
        path = self.home / NEXT_KEY_FILE
        if not path.exists():
            return ""
        try:
            next_key = load_key(path, self.genesis.crypto_suite).public_key
        except Exception:  # a bad file is the operator's to fix: say so, keep running
            return f"; {NEXT_KEY_FILE} does not load"
        if next_key in self.executor.validator_set():
            return f"; restart the node to sign with {NEXT_KEY_FILE} (docs/runbook-rotate-key.md)"
        return ""

    def _take_next_key(self) -> None:
        """At start: when the set in force holds ``validator.next.key`` and not
        ``validator.key``, the rotation happened; sign with the next key from now on
        and move the WAL of the old key aside (it holds only votes the old key made,
        which count for no height from here on). See docs/runbook-rotate-key.md."""
        path = self.home / NEXT_KEY_FILE
        if not path.exists():
            return
        next_signer = load_key(path, self.genesis.crypto_suite)
        valset = self.executor.validator_set()
        if self.signer.public_key in valset or next_signer.public_key not in valset:
            return
        log.warning("validator key rotated: %s left the set, signing with %s (%s) from now",
                    self.signer.public_key.hex()[:16], next_signer.public_key.hex()[:16],
                    NEXT_KEY_FILE)
        wal = self.home / "consensus.wal"
        if wal.exists():
            wal.rename(self.home / f"consensus.wal.{self.signer.public_key.hex()[:16]}")
        self.signer = next_signer

    def _not_a_validator(self) -> str:
        removed = self.membership.removed_at
        when = f" since height {removed}" if removed is not None else ""
        return (f"this node is not a validator{when}: send txs to a validator's RPC "
                "(the set is at GET /v1/validators)")

    def _links(self, on_frame: Callable[[bytes, Value], None]) -> PeerNetwork:
        self.links = PeerNetwork(
            self.suite,
            self.signer,
            self.chain_id,
            self.genesis_hash,
            self.peer_set.dial,
            lambda key: key in self.peer_set.members,
            on_frame,
            self.faults,
            tls=self.link_tls,
            heartbeat_s=self.config.link_heartbeat_ms / 1000,
            silence_s=self.config.link_silence_ms / 1000,
        )
        return self.links

    def head_tip(self) -> Tip:
        head = self.store.head
        return Tip(head.height, head.block_hash)

    def next_validator_set(self) -> ValidatorSet:
        return self.executor.validator_set()

    def validators_at(self, height: int) -> ValidatorSet:
        """The set in force at ``height`` (fixed by the committed state after height-1)."""
        if height == self.store.head.height + 1:
            return self.executor.validator_set()
        if height not in self._valsets:
            state = contracts.Overlay(_HistoricReader(self.store.tree, max(0, height - 1)))
            self._valsets[height] = contracts.validator_set_at(state)
        return self._valsets[height]

    def certified_block(self, height: int) -> CertifiedBlock | None:
        block, cert = self.store.block(height), self.store.certificate(height)
        return None if block is None or cert is None else CertifiedBlock(block, cert)

    def check_body(self, block: Block) -> bool:
        return self.executor.check_body(block)

    def verify_block(self, block: Block, now_s: int) -> None:
        self.executor.verify(block, now_s)

    def commit_block(self, block: Block, certificate: CommitCertificate) -> None:
        started = time.perf_counter()
        self.on_committed(self.executor.commit(block, certificate))
        self.ops.on_commit(
            block.header.height, len(block.txs), (time.perf_counter() - started) * 1000
        )

    def parent_time(self) -> int:
        return self.executor.parent_time()

    def pending_txs(self) -> int:
        return len(self.mempool)

    def take_batch(self) -> list[tuple[Tx, bytes]]:
        return self.mempool.take(self.config.max_block_txs, self.max_block_bytes())

    def build_block(self, view: int, time_s: int, batch: Sequence[tuple[Tx, bytes]]) -> Block:
        return self.executor.propose(view, time_s, self.signer.public_key, batch).block

    def speculate(
        self, height: int, time_s: int, proposer: bytes, txs: Sequence[tuple[Tx, bytes]]
    ) -> None:
        self.executor.speculate(height, time_s, proposer, txs)

    def mempool_entry(self, digest: bytes) -> tuple[Tx, int] | None:
        return self.mempool.entry(digest)

    # -- commits ----------------------------------------------------------------

    def on_committed(self, execution: Execution) -> None:
        """Called by the consensus driver after the executor wrote a height."""
        block, hashes, receipts = execution.block, execution.tx_hashes, execution.receipts
        height = block.header.height
        self.mempool.remove(hashes)
        self.mempool.on_height(height)
        now = time.monotonic()
        rows = zip(block.txs, hashes, receipts, strict=True)
        for index, (tx, digest, receipt) in enumerate(rows):
            status = "accepted" if receipt.status == ReceiptStatus.ACCEPTED else "rejected"
            self.counters.committed[(tx.kind, status)] += 1
            admitted = self._admitted_at.pop(digest, None)
            if admitted is not None:
                self.counters.observe_latency((now - admitted) * 1000)
            for waiter in self._waiters.pop(digest, ()):
                if not waiter.done():
                    waiter.set_result(TxLocation(height, index))
        self.counters.height = height
        self._follow_validator_set(execution)
        self.links.set_tip(height)  # announced in link heartbeats (``peer_tips``)
        if height % 100 == 0:  # forget admissions of txs that expired unseen (bounded memory)
            self._admitted_at = {d: t for d, t in self._admitted_at.items() if d in self.mempool}
        self._publish(block, receipts, hashes)

    def _publish(self, block: Block, receipts: list, hashes: list[bytes]) -> None:
        if not self._subscribers:
            return
        event = {
            "type": "block",
            "height": block.header.height,
            "time": block.header.time,
            "txs": len(block.txs),
            "tx_hashes": [digest.hex() for digest in hashes],
            "events": [[e.kind, e.data] for r in receipts for e in r.events][:1000],
        }
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                self._subscribers.remove(queue)

    async def wait_committed(self, digest: bytes, timeout_s: float) -> TxLocation | None:
        location = self.store.tx_location(digest)
        if location is not None:
            return location
        future: asyncio.Future[TxLocation] = asyncio.get_running_loop().create_future()
        self._waiters[digest].append(future)
        try:
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            return None

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(SUBSCRIBER_QUEUE)
        self._subscribers.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        with contextlib.suppress(ValueError):
            self._subscribers.remove(queue)

    # -- reads for the RPC ---------------------------------------------------------

    def status(self) -> dict[str, Any]:
        head = self.store.head
        return {
            "chain_id": self.chain_id,
            "moniker": self.config.moniker,
            "validator": self.signer.public_key.hex(),
            "is_validator": self.membership.member,
            "removed_at": self.membership.removed_at,
            "height": head.height,
            "head_hash": head.block_hash.hex(),
            "state_root": head.state_root.hex(),
            **self.consensus.status(),
            "mempool_txs": len(self.mempool),
            "mempool_bytes": self.mempool.size_bytes,
            **self.ops.status_fields(),
        }

    # -- operations (``node.ops``, ``node.health``) ----------------------------------

    def health(self) -> dict[str, Any]:
        return {"alive": True, "version": package_version()}

    def readiness_now(self) -> Readiness:
        keys = {v.public_key for v in self.executor.validator_set().validators}
        return assess(
            self.store.head.height,
            self.consensus.peer_tips,
            keys,
            self.signer.public_key,
            self.linked_validators(),
        )

    def readiness(self) -> dict[str, Any]:
        return self.readiness_now().to_json()

    def linked_validators(self) -> set[bytes]:
        """Validators with a link up in both directions (we send to them, they to us)."""
        stats = self.links.peer_stats()
        return {k for k, s in stats.items() if s.connected_out and s.connections_in}

    def validator_names(self) -> dict[bytes, str]:
        """The other validators of the set in force, by key (bureau names: public)."""
        me = self.signer.public_key
        return {
            v.public_key: v.name
            for v in self.executor.validator_set().validators
            if v.public_key != me
        }

    def view_state(self) -> tuple[int, int, int]:
        replica = self.consensus.replica
        return replica.height, replica.view, self.consensus.view_changes

    def wal_bytes(self) -> int:
        return self.consensus.wal.size_bytes()

    def last_block_time(self) -> int:
        return self.executor.parent_time()

    def validators(self) -> list[dict[str, Any]]:
        return [
            {"public_key": v.public_key.hex(), "name": v.name, "region_code": v.region_code}
            for v in self.executor.validator_set().validators
        ]

    def evidence(self, after: int = 0, limit: int = MAX_PAGE) -> dict[str, Any]:
        """One page of the evidence book (``node.evidence``): entries after the cursor."""
        return self.consensus.evidence.page(after, limit)

    def metrics(self) -> str:
        """Prometheus text for /metrics (gauges refreshed on read)."""
        self.counters.mempool_txs = len(self.mempool)
        self.counters.mempool_bytes = self.mempool.size_bytes
        self.counters.signatures_verified = self.executor.signatures.verified
        self.counters.speculations = self.executor.speculations
        self.counters.speculation_hits = self.executor.speculation_hits
        self.consensus.update_metrics(self.counters)
        lines = self.links.metric_lines() + self.ops.metric_lines()
        return self.counters.render() + "".join(f"{line}\n" for line in lines)

    def query(self, name: str, params: dict[str, str]) -> dict[str, Any]:
        return run_query(self.store, name, params)


class _HistoricReader:
    """State values as of a committed version (for validator sets of past heights)."""

    def __init__(self, tree: Any, version: int) -> None:
        self._tree, self._version = tree, version

    def get(self, key: bytes) -> bytes | None:
        return self._tree.get(key, self._version)


async def _serve(home: Path, logs: LogSetup) -> None:
    node = Node(home)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, logs.reopen)  # never stops the node
    try:
        await node.start()
    except BaseException as exc:
        if isinstance(exc, SkillchainError):  # the CLI prints it too, as error[code]
            log.error("cannot start: error[%s]: %s", exc.code, exc.message)
        with contextlib.suppress(Exception):  # the start's error is the one to report
            await node.stop()  # a port in use, say: close the store before it is shown
        raise
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping")
    started = time.monotonic()
    try:
        await asyncio.wait_for(node.stop(), STOP_TIMEOUT_S)
    except TimeoutError:
        log.warning(
            "stopping took more than %.0f s; exiting now (everything acknowledged is already "
            "durable)", STOP_TIMEOUT_S,
        )
        logging.shutdown()
        os._exit(0)  # what is left may not even end when cancelled: do not wait for it
    took = time.monotonic() - started
    if took >= STOP_TIMEOUT_S:
        log.warning("stopping took %.1f s (a task ignored the first cancellation)", took)
    log.info("stopped")


def run_node(home: str | Path, log_level: str | None = None, log_format: str | None = None) -> None:
    """Run a validator until SIGTERM/SIGINT; SIGHUP reopens the log file (``node.logs``).

    ``log_level`` and ``log_format`` override the config's ``log_level``/``log_format``.
    """
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # until the loop handles it: never fatal
    home = Path(home)
    config = load_config(home)
    path = None if config.log_file == "-" else home / config.log_file
    try:
        logs = configure_logging(
            log_level or config.log_level, log_format or config.log_format, path
        )
    except OSError as exc:
        raise LogFileError(
            f"cannot open the log file {path}: {exc.strerror}; check log_file in config.json "
            "and that the node's user may write there"
        ) from None
    log.info("skillchain %s starting in %s", package_version(), home)
    tune_gc()
    raise_fd_limit()  # before LevelDB or any socket opens (node/listeners.py)
    asyncio.run(_serve(home, logs))


def tune_gc() -> None:
    """Make the cyclic collector rare.

    Decoding a block allocates ~10^5 short-lived objects, all freed by reference
    counting; with the default thresholds a collection ran every 700 allocations
    and decoding took twice as long (measured on a 2,000-tx block).
    """
    gc.freeze()
    gc.set_threshold(200_000, 50, 100)
