"""A seeded, single-process PBFT simulator on a virtual clock (after tigerbeetle's VOPR).

n unchanged ``Replica`` objects talk through a network that drops, duplicates,
reorders and delays messages and partitions replicas (both ways or one way)
until the global stabilisation time (GST); honest replicas crash and restart
from whatever their journal held at the crash point; up to f Byzantine
replicas lie (``byzantine.py``). Checkers run on every step; after GST the
honest replicas must keep deciding blocks within a bounded number of
timeouts and converge. The seed fixes everything, so a trace hash pins it.

Rerun one failing seed: ``python -m tests.consensus.run_sim --seed S --n N``.
"""

from __future__ import annotations

import hashlib
import heapq
import random
import struct
from dataclasses import dataclass, field

from chain.crypto import CryptoSuite, Signer, get_suite
from chain.errors import DecodeError
from chain.validators import Validator, ValidatorSet
from consensus import (
    Broadcast,
    BuildProposal,
    CertifiedBlock,
    Commit,
    Config,
    Persist,
    Replica,
    ReportEvidence,
    ReportProposalEvidence,
    RequestCatchUp,
    Send,
    SetTimer,
    Tip,
    VerifyBlock,
    decode_message,
    encode_journal,
    encode_message,
    mutations,
)
from tests.consensus.byzantine import BEHAVIOURS, Byzantine
from tests.consensus.checkers import Checker, Violation
from tests.consensus.toyapp import FastSuite, ToyApp

__all__ = ["SimOptions", "SimResult", "Simulation", "Violation", "run_seed"]

CHAIN_ID = "skillchain-sim"
DELIVER, TIMER, APP, RESTART, NOISE, PARTITION, HEAL = range(7)


@dataclass
class SimOptions:
    """Knobs of one run; ``from_seed`` draws a random fault mix."""

    n: int = 4
    seed: int = 0
    target_blocks: int = 200
    byzantine: int = 0
    behaviours: tuple[str, ...] = ()
    drop: float = 0.0
    duplicate: float = 0.0
    max_delay_ms: int = 10
    partitions: bool = False
    crashes: bool = False
    crash_rate: float = 0.0
    gst_ms: int = 0
    wire: bool = False
    ed25519: bool = False
    mutants: frozenset[str] = frozenset()
    remove_at: int = 0
    """From this height on one validator (a Byzantine one if any) is out of the set."""
    config: Config = field(default_factory=lambda: Config(
        base_timeout_ms=300, max_timeout_ms=4800, catch_up_batch=64))

    @classmethod
    def from_seed(cls, seed: int, n: int, target_blocks: int = 200, **over: object) -> SimOptions:
        """A mixed fault scenario drawn from ``seed``."""
        rng = random.Random(seed * 7919 + n)
        f = (n - 1) // 3
        byz = rng.randint(0, f)
        behaviours = tuple(sorted(rng.sample(BEHAVIOURS, rng.randint(1, 3)))) if byz else ()
        opts = cls(
            n=n, seed=seed, target_blocks=target_blocks, byzantine=byz, behaviours=behaviours,
            drop=rng.choice([0.0, 0.01, 0.05, 0.1]), duplicate=rng.choice([0.0, 0.02, 0.1]),
            max_delay_ms=rng.choice([5, 10, 30]), partitions=rng.random() < 0.5,
            crashes=rng.random() < 0.6, crash_rate=rng.choice([0.0005, 0.002, 0.005]),
            gst_ms=rng.randint(300, 4000), wire=rng.random() < 0.1,
        )
        extra = random.Random(seed * 31 + n + 1)
        if byz and extra.random() < 0.25:
            opts.behaviours = (*opts.behaviours, "bad_root")
        if n > 1 and (byz or n > 4) and extra.random() < 0.3:
            opts.remove_at = extra.randint(2, max(2, target_blocks // 2))
        for key, value in over.items():
            setattr(opts, key, value)
        return opts


@dataclass
class SimResult:
    seed: int
    n: int
    blocks: int
    view_changes: int
    events: int
    trace_hash: str
    evidence: int
    garbage_rejected: int
    violation: str | None = None
    proposal_evidence: int = 0

    @property
    def ok(self) -> bool:
        return self.violation is None


class Node:
    """One validator: replica, application, journal; survives crashes except the replica."""

    def __init__(self, index: int, signer: Signer, app: ToyApp) -> None:
        self.index = index
        self.signer = signer
        self.key = signer.public_key
        self.app = app
        self.journal: list[object] = []
        """Journal records as persisted; encoded to bytes when a restart replays them."""
        self.replica: Replica | None = None
        self.incarnation = 0
        self.byzantine: Byzantine | None = None
        self.deadline: int | None = None
        self.last_view = (0, 0)


class Simulation:
    """The world: nodes, network, clock, checkers."""

    def __init__(self, opts: SimOptions) -> None:
        self.opts = opts
        self.rng = random.Random(opts.seed)
        self.suite: CryptoSuite = get_suite("ed25519-sha256") if opts.ed25519 else FastSuite()
        signers = [self.suite.signer_from_seed(self.rng.randbytes(32)) for _ in range(opts.n)]
        self.valset = ValidatorSet(Validator(s.public_key, f"v{i}", "360000")
                                   for i, s in enumerate(signers))
        signers.sort(key=lambda s: s.public_key)
        self.nodes = [Node(i, s, ToyApp(self.suite, CHAIN_ID, s.public_key))
                      for i, s in enumerate(signers)]
        self.index_of = {node.key: node.index for node in self.nodes}
        self.smaller: ValidatorSet | None = None
        """The set from ``opts.remove_at`` on: one member removed by "governance"."""
        self.checker = Checker(self.suite, CHAIN_ID, self.validators)
        self.queue: list[tuple[int, int, int, int, int, object]] = []
        self.now = 0
        self.seq = 0
        self.events = 0
        self.view_changes = 0
        self.garbage_rejected = 0
        self.blocked: set[tuple[int, int]] = set()
        self.trace = hashlib.blake2b(digest_size=16)
        self.low = 0
        """The lowest height every honest replica holds."""
        self._pick_byzantine()

    # -------------------------------------------------------------- setup

    def validators(self, height: int) -> ValidatorSet:
        """The set in force at ``height``: a member leaves at ``opts.remove_at``."""
        if self.smaller is not None and height >= self.opts.remove_at:
            return self.smaller
        return self.valset

    def _pick_byzantine(self) -> None:
        chosen = self.rng.sample(range(self.opts.n), self.opts.byzantine)
        for i in chosen:
            node = self.nodes[i]
            node.byzantine = Byzantine(node, set(self.opts.behaviours), self.rng)
        self.honest = [node for node in self.nodes if node.byzantine is None]
        self.checker.liars = {node.key for node in self.nodes if node.byzantine is not None}
        if self.opts.remove_at:
            liars = [i for i in range(self.opts.n) if self.nodes[i].byzantine is not None]
            leaving = self.nodes[liars[0] if liars else self.opts.n - 1].key
            self.smaller = ValidatorSet(v for v in self.valset.validators
                                        if v.public_key != leaving)

    def _boot(self, node: Node) -> None:
        """Start (or restart) a node's replica from its durable journal and chain."""
        node.incarnation += 1
        node.deadline = None
        tip = Tip(node.app.height, node.app.hashes[-1])
        node.replica = Replica(
            self.suite, CHAIN_ID, node.signer, self.validators, self.opts.config,
            tip=tip, journal=[encode_journal(r) for r in node.journal],  # type: ignore[arg-type]
            blocks=node.app.source(), body_check=node.app.is_valid_body,
        )
        node.last_view = (node.replica.height, node.replica.view)
        self._perform(node, node.replica.start(self.now))

    # ------------------------------------------------------------ running

    def run(self) -> SimResult:
        """Run until every honest replica holds ``target_blocks`` blocks, or a check fails."""
        violation = None
        try:
            self._run()
        except Violation as exc:
            violation = str(exc)
        return SimResult(
            self.opts.seed, self.opts.n, min(n.app.height for n in self.honest),
            self.view_changes, self.events, self.trace.hexdigest(), self.checker.evidence,
            self.garbage_rejected, violation, self.checker.proposal_evidence,
        )

    def _run(self) -> None:
        previous = set(mutations.ENABLED)
        mutations.ENABLED.clear()
        mutations.ENABLED.update(self.opts.mutants)
        try:
            self._main_loop()
        finally:
            mutations.ENABLED.clear()
            mutations.ENABLED.update(previous)

    def _main_loop(self) -> None:
        for node in self.nodes:
            self._boot(node)
            if node.byzantine is not None:
                self._push(self.rng.randint(20, 80), NOISE, node.index, 0, None)
        self._schedule_faults()
        last_progress, last_min = self.opts.gst_ms, 0
        window = 12 * self.opts.config.max_timeout_ms
        while True:
            low = self.low
            if low >= self.opts.target_blocks:
                return
            if low > last_min:
                last_min, last_progress = low, max(self.now, self.opts.gst_ms)
            if self.now > max(last_progress, self.opts.gst_ms) + window or not self.queue:
                raise Violation(
                    f"liveness: honest replicas stuck at height {low} since t={last_progress}ms "
                    f"(now {self.now}ms, GST {self.opts.gst_ms}ms)"
                )
            self._step()

    def _push(self, at: int, kind: int, a: int, b: int, payload: object) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (at, self.seq, kind, a, b, payload))

    def _step(self) -> None:
        at, _, kind, a, b, payload = heapq.heappop(self.queue)
        self.now = at
        self.events += 1
        self.trace.update(struct.pack(">qBHH", at, kind, a, b))
        node = self.nodes[a]
        if kind == RESTART:
            self._boot(node)
        elif kind == NOISE:
            self._noise(node)
        elif kind == PARTITION:
            self._partition(payload)  # type: ignore[arg-type]
        elif kind == HEAL:
            self.blocked -= payload  # type: ignore[operator]
        elif node.replica is not None and (kind != TIMER or payload[0] == node.incarnation):
            self._deliver(node, kind, b, payload)
        self._check_view(node)

    def _deliver(self, node: Node, kind: int, sender: int, payload: object) -> None:
        replica = node.replica
        assert replica is not None
        if kind == DELIVER:
            msg = self._receive(node, payload)
            if msg is None:
                return
            actions = replica.on_tick(self.now) + replica.on_message(self.nodes[sender].key, msg)
        elif kind == TIMER:
            actions = replica.on_tick(self.now)
        else:
            incarnation, event = payload  # type: ignore[misc]
            if incarnation != node.incarnation:
                return
            actions = self._app_event(node, event)
        self._perform(node, actions)

    def _receive(self, node: Node, payload: object) -> object | None:
        """Decode wire bytes like a runtime would; garbage never reaches the replica."""
        if isinstance(payload, bytes):
            try:
                payload = decode_message(payload)
            except DecodeError:
                self.garbage_rejected += 1
                return None
        if node.byzantine is not None:
            node.byzantine.on_received(payload)  # type: ignore[arg-type]
        return payload

    def _app_event(self, node: Node, event: tuple) -> list:
        replica = node.replica
        assert replica is not None
        if event[0] == "build":
            _, height, view, parent = event
            if height != node.app.height + 1:
                return []
            return replica.on_proposal_ready(node.app.build(height, view, parent))
        if event[0] == "verify":
            _, block, digest = event
            return replica.on_block_verified(digest, node.app.verify(block))
        return replica.on_committed(event[1])

    # ------------------------------------------------------------ actions

    def _perform(self, node: Node, actions: list) -> None:
        """Carry out actions in order; a crash may cut the list anywhere."""
        cut = self._crash_cut(node, len(actions))
        for i, action in enumerate(actions):
            if i == cut:
                self._crash(node)
                return
            self._perform_one(node, action)
        if cut == len(actions) and actions:
            self._crash(node)

    def _perform_one(self, node: Node, action: object) -> None:
        honest = node.byzantine is None
        if isinstance(action, Persist):
            if honest:
                self.checker.on_signed(node.key, action.record)
                node.journal.append(action.record)
        elif isinstance(action, Broadcast):
            self._broadcast(node, action.msg, honest)
        elif isinstance(action, Send):
            self._send(node, self.index_of[action.to], action.msg, honest)
        elif isinstance(action, SetTimer):
            node.deadline = action.deadline_ms
            self._push(action.deadline_ms, TIMER, node.index, 0, (node.incarnation,))
        elif isinstance(action, BuildProposal | VerifyBlock | Commit):
            self._app_action(node, action)
        elif isinstance(action, RequestCatchUp):
            peers = sorted(self.index_of[p] for p in action.peers)
            for peer in self.rng.sample(peers, min(2, len(peers))):
                self._send(node, peer, action.request, honest)
        elif isinstance(action, ReportEvidence) and honest:
            self.checker.on_evidence(action.vote_a, action.vote_b)
        elif isinstance(action, ReportProposalEvidence) and honest:
            self.checker.on_proposal_evidence(action.proposal_a, action.proposal_b)

    def _app_action(self, node: Node, action: object) -> None:
        delay = self.rng.randint(0, 2)
        if isinstance(action, BuildProposal):
            event: tuple = ("build", action.height, action.view, action.parent_hash)
        elif isinstance(action, VerifyBlock):
            event = ("verify", action.block, action.block_hash)
        else:
            assert isinstance(action, Commit)
            item = CertifiedBlock(action.block, action.certificate)
            if action.block.header.height != node.app.height + 1:
                raise Violation(f"node {node.index} committed out of order")
            root = node.app.apply(item)
            if node.byzantine is None:
                self.checker.on_commit(node.key, action.block, action.certificate, root)
                self.low = min(n.app.height for n in self.honest)
            self.trace.update(action.certificate.block_hash)
            event = ("committed", action.block.header.height)
        self._push(self.now + delay, APP, node.index, 0, (node.incarnation, event))

    def _broadcast(self, node: Node, msg: object, honest: bool) -> None:
        if honest:
            self.checker.on_signed(node.key, msg)
        for peer in self.nodes:
            if peer is not node:
                self._send(node, peer.index, msg, honest, checked=True)

    def _send(self, node: Node, to: int, msg: object, honest: bool, checked: bool = False
              ) -> None:
        if honest and not checked:
            self.checker.on_signed(node.key, msg)
        from_byz = node.byzantine
        pairs = [(to, msg)] if from_byz is None else from_byz.outgoing(msg, [to])  # type: ignore[arg-type]
        for peer, payload in pairs:
            self._transmit(node.index, peer, payload)

    def _transmit(self, src: int, dst: int, payload: object) -> None:
        """The lossy network: before GST it drops, duplicates, delays and partitions."""
        faulty = self.now < self.opts.gst_ms
        if faulty and ((src, dst) in self.blocked or self.rng.random() < self.opts.drop):
            return
        if self.opts.wire and not isinstance(payload, bytes):
            payload = encode_message(payload)  # type: ignore[arg-type]
        copies = 2 if faulty and self.rng.random() < self.opts.duplicate else 1
        top = self.opts.max_delay_ms if faulty else 10
        for _ in range(copies):
            self._push(self.now + self.rng.randint(1, top), DELIVER, dst, src, payload)

    # ------------------------------------------------------------- faults

    def _schedule_faults(self) -> None:
        """Partitions come and go until GST; crashed replicas are back by GST."""
        if not self.opts.partitions:
            return
        t = self.rng.randint(0, 500)
        while t < self.opts.gst_ms:
            self._push(t, PARTITION, 0, 0, self.rng.randint(100, 1500))
            t += self.rng.randint(200, 2000)

    def _partition(self, duration_ms: int) -> None:
        """Cut the network in two (both ways), or cut some links one way, for a while."""
        n = self.opts.n
        if self.rng.random() < 0.5:
            side = set(self.rng.sample(range(n), self.rng.randint(1, n - 1)))
            pairs = {(a, b) for a in range(n) for b in range(n) if (a in side) != (b in side)}
        else:
            pairs = {(self.rng.randrange(n), self.rng.randrange(n)) for _ in range(n)}
        pairs = frozenset(pairs - self.blocked)
        self.blocked |= pairs
        self._push(self.now + duration_ms, HEAL, 0, 0, pairs)

    def _noise(self, node: Node) -> None:
        """Byzantine mischief on its own clock."""
        if node.byzantine is None or node.replica is None:
            return
        peers = [p.index for p in self.nodes if p is not node]
        for peer, payload in node.byzantine.noise(peers):
            self._transmit(node.index, peer, payload)
        self._push(self.now + self.rng.randint(20, 120), NOISE, node.index, 0, None)

    def _crash_cut(self, node: Node, count: int) -> int | None:
        """Where in this action list the node crashes, if it does (honest, before GST)."""
        if (not self.opts.crashes or node.byzantine is not None or self.now >= self.opts.gst_ms
                or self.rng.random() >= self.opts.crash_rate):
            return None
        return self.rng.randint(0, count)

    def _crash(self, node: Node) -> None:
        node.replica = None
        node.app.restart()
        downtime = self.rng.randint(10, 1500)
        self._push(min(self.now + downtime, max(self.opts.gst_ms, self.now + 1)), RESTART,
                   node.index, 0, None)

    def _check_view(self, node: Node) -> None:
        """White-box: within one incarnation, (height, view) never goes back."""
        replica = node.replica
        if replica is None or node.byzantine is not None:
            return
        current = (replica.height, replica.view)
        if current < node.last_view:
            raise Violation(f"node {node.index}: view went back from {node.last_view} to {current}")
        if current[0] == node.last_view[0] and current[1] > node.last_view[1]:
            self.view_changes += 1
        node.last_view = current


def run_seed(seed: int, n: int, target_blocks: int = 200, **over: object) -> SimResult:
    """Run one seed's random scenario; see ``SimOptions.from_seed``."""
    return Simulation(SimOptions.from_seed(seed, n, target_blocks, **over)).run()
