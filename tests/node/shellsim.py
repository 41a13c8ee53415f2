"""The node shell in the deterministic simulator: real drivers, real replicas, a virtual world.

``tests/consensus/sim.py`` proves the replica; this proves the shell around
it. Each simulated validator is the production ``node.consensus_driver.
ConsensusDriver`` with the production ``Replica`` inside, wired to
collaborators the simulator owns: a toy application (``ShellHost``, a
``DriverHost`` over ``tests.consensus.toyapp.ToyApp`` whose txs carry toy
signatures, so a tampered body is detectable and, committed, is fatal like
in the real executor), links that encode every frame to canonical bytes and
decode it on arrival over a lossy, delaying network, a journal that loses
what was not synced when its node crashes, and a virtual clock per node
(optionally skewed). ``fatal`` raises, so an honest driver that stops itself
is a failed run.

Byzantine validators (at most f) run an honest driver too, so their lies fit
the current height, and twist what leaves them (``ShellByzantine``):

    tamper_bodies   flip one tx signature in every block body they send
                    (proposals, VIEW-CHANGE / NEW-VIEW, catch-up answers),
                    re-signing the message (signatures cover headers only)
    catchup_flood   signed catch-up requests for heights 1 and 2, alternating,
                    many per virtual second, to every honest node
    evidence_flood  two conflicting signed votes for every view up to
                    ``max_view_ahead`` at the current height
    garbage         undecodable frames, bad previews, unknown frame kinds

Checkers, on every step: the replica simulator's safety checker (one digest
per slot, agreement, valid certificates) over what honest drivers actually
put on the wire; no honest fail-stop; bytes an honest node sends one peer in
answers bounded per virtual second; evidence held per node bounded; and
liveness (every honest node reaches the target height). Shell mutants
(``node.mutations``) plant one wrong line each in the driver; ``run_sim
--shell`` hunts each until a checker fires.
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NoReturn

from chain.codec import Value, decode, encode
from chain.crypto import Signer
from chain.errors import InputError
from chain.types import ZERO_HASH, Block, BlockHeader, CommitCertificate, Phase, Tx, sign_vote
from chain.validators import Validator, ValidatorSet
from consensus import (
    CatchUpRequest,
    CatchUpResponse,
    CertifiedBlock,
    Config,
    NewView,
    PreparedCertificate,
    PrePrepare,
    Tip,
    ViewChange,
    decode_message,
    encode_message,
    sign_message,
)
from node import mutations
from node.consensus_driver import ConsensusDriver, DriverSettings
from node.evidence import MAX_EVIDENCE
from node.executor import MAX_FUTURE_DRIFT_S
from node.faults import Faults
from tests.consensus.checkers import Checker, Violation
from tests.consensus.toyapp import FastSuite, ToyApp

__all__ = ["SHELL_BEHAVIOURS", "ShellOptions", "ShellResult", "ShellSimulation", "run_shell_seed"]

CHAIN_ID = "skillchain-shellsim"
WALL_BASE_S = 1_700_000_000
TICK_MS = 10
DELIVER, TICK, DEFER, RESTART, NOISE = range(5)
SHELL_BEHAVIOURS = ("tamper_bodies", "catchup_flood", "evidence_flood", "garbage")
ANSWER_BYTES_PER_S = 64 << 20
"""What an honest node may send one peer in catch-up answers per virtual second.

The replica's own budget is far lower (``consensus`` catch-up byte bucket); this
is the checker's line, set so that a shell that answers every request fails it
under ``catchup_flood`` while honest catch-up after a wipe passes."""
MAX_EVIDENCE_HELD = MAX_EVIDENCE
"""Evidence entries one node may hold: the node's documented cap (``node.evidence``)."""


def _toy_signature(body: Value) -> bytes:
    return hashlib.sha256(b"toy-tx" + encode(body)).digest()[:16]


def _is_signed(tx: Tx) -> bool:
    return tx.signature == _toy_signature(tx.body)


class SignedToyApp(ToyApp):
    """``ToyApp`` whose txs carry toy signatures and whose blocks carry a wall time."""

    def build_at(self, height: int, view: int, parent_hash: bytes, time_s: int) -> Block:
        self.counter += 1
        values = [self.epoch, self.counter * 7]
        txs = tuple(
            Tx(self.chain_id, "toy.add", self.key, i, 0, v, _toy_signature(v))
            for i, v in enumerate(values)
        )
        header = BlockHeader(
            self.chain_id, height, view, time_s, parent_hash, self.key,
            hashlib.sha256(encode(values)).digest(), ZERO_HASH,
            _state_root(self.roots[-1], values), ZERO_HASH,
        )
        return Block(header, txs)

    def is_valid_body(self, block: Block) -> bool:
        """Tx root and every toy signature (what the real ``Executor`` checks)."""
        values = [tx.body for tx in block.txs]
        if block.header.tx_root != hashlib.sha256(encode(values)).digest():
            return False
        return all(_is_signed(tx) for tx in block.txs)


def _state_root(previous: bytes, values: list[int]) -> bytes:
    return hashlib.sha256(previous + encode(values)).digest()


class _Crash(BaseException):  # noqa: N818 -- a signal; BaseException so the driver lets it by
    """The process dies here: raised out of the driver mid-action."""


class _Failed(BaseException):  # noqa: N818 -- carries a Violation past the driver's handler
    """A checker failed inside a driver call (the driver treats ``Exception`` as fatal)."""


class BlockRejected(InputError):
    code = "block_rejected"


class ShellHost:
    """A ``DriverHost`` over a toy application (see the module docstring)."""

    def __init__(self, sim: ShellSimulation, signer: Signer, app: SignedToyApp) -> None:
        self.sim = sim
        self.suite = sim.suite
        self.chain_id = CHAIN_ID
        self.signer = signer
        self.faults = Faults()
        self.app = app

    def head_tip(self) -> Tip:
        return Tip(self.app.height, self.app.hashes[-1])

    def next_validator_set(self) -> ValidatorSet:
        return self.sim.valset

    def validators_at(self, height: int) -> ValidatorSet:
        return self.sim.valset

    def certified_block(self, height: int) -> CertifiedBlock | None:
        return self.app.source()(height)

    def check_body(self, block: Block) -> bool:
        return self.app.is_valid_body(block)

    def verify_block(self, block: Block, now_s: int) -> None:
        if block.header.time > now_s + MAX_FUTURE_DRIFT_S:
            raise BlockRejected(f"time {block.header.time} is ahead of our clock ({now_s})")
        if not (self.app.verify(block) and self.app.is_valid_body(block)):
            raise BlockRejected("block does not re-execute to its roots")

    def commit_block(self, block: Block, certificate: CommitCertificate) -> None:
        """Like ``Executor.commit``: a body that does not verify is a fatal surprise."""
        if not (self.app.verify(block) and self.app.is_valid_body(block)):
            raise RuntimeError(f"certified block {block.header.height} does not verify")
        self.app.apply(CertifiedBlock(block, certificate))
        self.sim.on_commit(self, block, certificate)

    def parent_time(self) -> int:
        return self.app.chain[-1].block.header.time if self.app.chain else WALL_BASE_S

    def pending_txs(self) -> int:
        return 1  # always busy: a block every ``block_interval_ms``

    def take_batch(self) -> list[tuple[Tx, bytes]]:
        digest = hashlib.sha256(b"batch%d" % self.sim.seq).digest()
        return [(Tx(CHAIN_ID, "toy.add", self.signer.public_key, 0, 0, 0, b""), digest)]

    def build_block(self, view: int, time_s: int, batch: Sequence[tuple[Tx, bytes]]) -> Block:
        tip = self.head_tip()
        return self.app.build_at(tip.height + 1, view, tip.block_hash, time_s)

    def speculate(self, height: int, time_s: int, proposer: bytes, txs: object) -> None:
        pass  # the toy mempool never holds the listed txs

    def mempool_entry(self, digest: bytes) -> tuple[Tx, int] | None:
        return None

    def max_block_bytes(self) -> int:
        return 1 << 20

    def on_gossip(self, items: Value) -> None:
        pass

    def flush_gossip(self) -> None:
        pass

    def admit_gossip_now(self) -> None:
        pass

    def regossip(self) -> None:
        pass


class MemoryJournal:
    """A ``Journal`` that loses unsynced records on a crash, like a file without fsync."""

    def __init__(self) -> None:
        self.synced: list[bytes] = []
        self.unsynced: list[bytes] = []

    def replay(self) -> list[bytes]:
        return list(self.synced)

    def append(self, record: bytes, sync: bool = True) -> None:
        self.unsynced.append(record)
        if sync:
            self.sync()

    def sync(self) -> None:
        self.synced += self.unsynced
        self.unsynced = []

    def reset(self, keep: list[bytes]) -> None:
        self.synced, self.unsynced = list(keep), []

    def size_bytes(self) -> int:
        return sum(len(r) for r in self.synced) + sum(len(r) for r in self.unsynced)

    def close(self) -> None:
        pass

    def crash(self) -> None:
        self.unsynced = []


class SimClock:
    def __init__(self, sim: ShellSimulation, skew_s: int) -> None:
        self.sim, self.skew_s = sim, skew_s

    def monotonic(self) -> float:
        return self.sim.now / 1000

    def wall(self) -> float:
        return WALL_BASE_S + self.sim.now / 1000 + self.skew_s


class SimLinks:
    """A ``LinkNetwork``: frames become canonical bytes and cross the simulated network."""

    def __init__(self, sim: ShellSimulation, index: int,
                 on_frame: Callable[[bytes, Value], None]) -> None:
        self.sim, self.index, self.on_frame = sim, index, on_frame

    def send(self, peer: bytes, value: Value) -> None:
        self.sim.transmit(self.index, self.sim.index_of[peer], value)

    def broadcast(self, value: Value) -> None:
        for node in self.sim.nodes:
            if node.index != self.index:
                self.sim.transmit(self.index, node.index, value)

    def connected(self) -> set[bytes]:
        return {n.key for n in self.sim.nodes if n.index != self.index}

    def peer_tips(self) -> dict[bytes, int]:
        """What heartbeats would have told us: each running peer's committed height."""
        return {n.key: n.app.height for n in self.sim.nodes
                if n.index != self.index and n.driver is not None}


@dataclass
class ShellOptions:
    n: int = 4
    seed: int = 0
    target_blocks: int = 30
    byzantine: int = 0
    behaviours: tuple[str, ...] = ()
    drop: float = 0.0
    max_delay_ms: int = 10
    crash_every_ms: int = 0
    """Mean virtual time between crashes of one honest node (0: never). The node
    crashes right after the first frame it sends once a crash is due, so what it
    had not synced is lost; the schedule is on the clock, not per message sent,
    because a per-message chance let a liar that makes honest nodes answer more
    (``catchup_flood``) crash them more often: seed 85, n = 7 crashed 308 times
    in 45 s with the flood, 42 in 15 s without, which tests the crash model,
    not the shell."""
    wipe_rate: float = 0.0
    """Chance a crash also wipes the node's chain (its journal is kept)."""
    skew_s: dict[int, int] = field(default_factory=dict)
    """Clock skew per node index (seconds; negative is slow)."""
    mutants: frozenset[str] = frozenset()
    time_limit_ms: int = 120_000
    config: Config = field(default_factory=lambda: Config(
        base_timeout_ms=300, max_timeout_ms=4800, catch_up_batch=16, leader_window=12))

    @classmethod
    def from_seed(cls, seed: int, n: int, target_blocks: int = 30, **over: object
                  ) -> ShellOptions:
        """A mixed scenario: f Byzantine shells with 1-3 behaviours, loss, crashes, wipes."""
        rng = random.Random(seed * 104_729 + n)
        f = (n - 1) // 3
        opts = cls(
            n=n, seed=seed, target_blocks=target_blocks, byzantine=f,
            behaviours=tuple(sorted(rng.sample(SHELL_BEHAVIOURS, rng.randint(1, 3)))),
            drop=rng.choice([0.0, 0.01, 0.05]), max_delay_ms=rng.choice([5, 10, 30]),
            crash_every_ms=rng.choice([0, 4000, 1500]), wipe_rate=rng.choice([0.0, 0.3, 0.6]),
        )
        for key, value in over.items():
            setattr(opts, key, value)
        return opts


@dataclass
class ShellResult:
    seed: int
    n: int
    blocks: int
    events: int
    violation: str | None = None
    faults: dict[str, int] = field(default_factory=dict)
    """Drops counted by honest nodes, by kind (summed)."""

    @property
    def ok(self) -> bool:
        return self.violation is None


@dataclass
class SimNode:
    index: int
    signer: Signer
    app: SignedToyApp
    journal: MemoryJournal = field(default_factory=MemoryJournal)
    host: ShellHost | None = None
    driver: ConsensusDriver | None = None
    incarnation: int = 0
    crash_due_ms: int | None = None
    """When this incarnation crashes at its next send (``ShellOptions.crash_every_ms``)."""
    byzantine: ShellByzantine | None = None

    @property
    def key(self) -> bytes:
        return self.signer.public_key


class ShellSimulation:
    """The world: drivers, network, clock, checkers."""

    def __init__(self, opts: ShellOptions) -> None:
        self.opts = opts
        self.rng = random.Random(opts.seed)
        self.suite = FastSuite()
        signers = [self.suite.signer_from_seed(self.rng.randbytes(32)) for _ in range(opts.n)]
        signers.sort(key=lambda s: s.public_key)
        self.valset = ValidatorSet(Validator(s.public_key, f"v{i}", "360000")
                                   for i, s in enumerate(signers))
        self.nodes = [SimNode(i, s, SignedToyApp(self.suite, CHAIN_ID, s.public_key))
                      for i, s in enumerate(signers)]
        self.index_of = {node.key: node.index for node in self.nodes}
        self.checker = Checker(self.suite, CHAIN_ID, lambda h: self.valset)
        self.queue: list[tuple[int, int, int, int, int, object]] = []
        self.now = 0
        self.seq = 0
        self.events = 0
        self.answers: dict[tuple[int, int, int], int] = {}  # (src, dst, second) -> bytes
        for i in self.rng.sample(range(opts.n), opts.byzantine):
            self.nodes[i].byzantine = ShellByzantine(self, self.nodes[i],
                                                     set(opts.behaviours))
        self.honest = [n for n in self.nodes if n.byzantine is None]
        self.checker.liars = {n.key for n in self.nodes if n.byzantine is not None}

    # -------------------------------------------------------------- setup

    def _boot(self, node: SimNode) -> None:
        node.incarnation += 1
        if self.opts.crash_every_ms and node.byzantine is None:
            node.crash_due_ms = self.now + int(self.rng.expovariate(1 / self.opts.crash_every_ms))
        node.app.restart()
        node.host = ShellHost(self, node.signer, node.app)
        settings = DriverSettings(block_interval_ms=50, max_block_txs=100,
                                  consensus=self.opts.config)
        node.driver = ConsensusDriver(
            node.host,
            lambda on_frame, i=node.index: SimLinks(self, i, on_frame),
            node.journal,
            settings,
            clock=SimClock(self, self.opts.skew_s.get(node.index, 0)),
            defer=lambda callback, i=node.index: self._push(self.now, DEFER, i, 0,
                                                             (node.incarnation, callback)),
            fatal=self._fatal_for(node),
        )
        node.driver.start()
        self._push(self.now + TICK_MS, TICK, node.index, 0, node.incarnation)

    def _fatal_for(self, node: SimNode) -> Callable[[str], NoReturn]:
        def fatal(what: str) -> NoReturn:
            if node.byzantine is not None:
                raise _Crash  # a liar that stops itself is just down
            raise _Failed(f"node {node.index} fail-stopped while {what} "
                            f"(byzantine peers: {sorted(self.opts.behaviours)})")
        return fatal

    # ------------------------------------------------------------ running

    def run(self) -> ShellResult:
        previous = set(mutations.ENABLED)
        mutations.ENABLED.clear()
        mutations.ENABLED.update(self.opts.mutants)
        quiet = logging.getLogger("skillchain")
        level, quiet.level = quiet.level, logging.CRITICAL  # drivers log every refusal
        violation = None
        try:
            self._main_loop()
        except (Violation, _Failed) as exc:
            violation = str(exc)
        finally:
            quiet.setLevel(level)
            mutations.ENABLED.clear()
            mutations.ENABLED.update(previous)
        faults: dict[str, int] = {}
        for node in self.honest:
            if node.host is not None:
                for (_, kind), count in node.host.faults.dropped.items():
                    faults[kind] = faults.get(kind, 0) + count
        return ShellResult(self.opts.seed, self.opts.n, self.low(), self.events, violation,
                           faults)

    def low(self) -> int:
        return min(n.app.height for n in self.honest)

    def _main_loop(self) -> None:
        for node in self.nodes:
            try:
                self._boot(node)
            except _Crash:
                self._crash(node)
            if node.byzantine is not None:
                self._push(self.rng.randint(20, 80), NOISE, node.index, 0, None)
        while self.low() < self.opts.target_blocks:
            if self.now > self.opts.time_limit_ms or not self.queue:
                raise Violation(f"liveness: honest nodes at height {self.low()} after "
                                f"{self.now} ms (target {self.opts.target_blocks})")
            self._step()

    def _push(self, at: int, kind: int, a: int, b: int, payload: object) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (at, self.seq, kind, a, b, payload))

    def _step(self) -> None:
        at, _, kind, a, b, payload = heapq.heappop(self.queue)
        self.now = at
        self.events += 1
        node = self.nodes[a]
        try:
            if kind == RESTART:
                self._boot(node)
            else:
                self._deliver(node, kind, b, payload)
        except _Crash:
            self._crash(node)

    def _deliver(self, node: SimNode, kind: int, b: int, payload: object) -> None:
        driver = node.driver
        if driver is None:
            return
        if kind == DELIVER:
            driver.on_frame(self.nodes[b].key, decode(payload))  # type: ignore[arg-type]
        elif kind == TICK and payload == node.incarnation:
            driver.tick()
            self._push(self.now + TICK_MS, TICK, node.index, 0, node.incarnation)
        elif kind == DEFER and payload[0] == node.incarnation:  # type: ignore[index]
            payload[1]()  # type: ignore[index]
        elif kind == NOISE and node.byzantine is not None:
            node.byzantine.noise()
            self._push(self.now + self.rng.randint(20, 120), NOISE, node.index, 0, None)
        self._check_node(node)

    def _check_node(self, node: SimNode) -> None:
        if node.byzantine is not None or node.driver is None:
            return
        held = len(node.driver.evidence)
        if held > MAX_EVIDENCE_HELD:
            raise Violation(f"node {node.index} holds {held} evidence entries")

    # ------------------------------------------------------------- network

    def transmit(self, src: int, dst: int, value: Value) -> None:
        """Encode, let the sender's twist and the lossy network act, then deliver."""
        node = self.nodes[src]
        frames = [value] if node.byzantine is None else node.byzantine.twist(value)
        for frame in frames:
            self._observe(node, dst, frame)
            self._wire(src, dst, encode(frame))
        if node.byzantine is None and node.crash_due_ms is not None and (
                self.now >= node.crash_due_ms):
            raise _Crash  # right after the frame left: what was not synced is lost

    def _wire(self, src: int, dst: int, data: bytes) -> None:
        if self.rng.random() < self.opts.drop:
            return
        self._push(self.now + self.rng.randint(1, self.opts.max_delay_ms), DELIVER, dst, src,
                   data)

    def _observe(self, node: SimNode, dst: int, frame: Value) -> None:
        """What honest nodes put on the wire: signed slots, and answer bytes per peer."""
        if node.byzantine is not None or not (isinstance(frame, list) and frame[0] in "ck"):
            return
        wire = frame[1] if frame[0] == "c" else frame[1][0]  # type: ignore[index]
        message = decode_message(wire)  # type: ignore[arg-type]
        try:
            self.checker.on_signed(node.key, message)
        except Violation as exc:
            raise _Failed(str(exc)) from None
        if isinstance(message, CatchUpResponse):
            slot = (node.index, dst, self.now // 1000)
            self.answers[slot] = self.answers.get(slot, 0) + len(frame[1])  # type: ignore[arg-type]
            if self.answers[slot] > ANSWER_BYTES_PER_S:
                raise _Failed(f"node {node.index} sent node {dst} more than "
                              f"{ANSWER_BYTES_PER_S} bytes of catch-up answers in a second")

    def on_commit(self, host: ShellHost, block: Block, cert: CommitCertificate) -> None:
        node = self.nodes[self.index_of[host.signer.public_key]]
        if node.byzantine is None:
            try:
                self.checker.on_commit(node.key, block, cert, node.app.roots[-1])
            except Violation as exc:
                raise _Failed(str(exc)) from None

    # -------------------------------------------------------------- faults

    def _crash(self, node: SimNode) -> None:
        """Lose what was not synced; maybe lose the chain too (journal kept); restart."""
        node.driver = None
        node.journal.crash()
        keepers = [n for n in self.honest if n is not node and n.app.height >= node.app.height]
        f = (self.opts.n - 1) // 3
        # Wipe only while f + 1 other honest nodes hold what this one held: with the
        # chain lost everywhere but at the liars, no protocol can recover it.
        if len(keepers) > f and self.rng.random() < self.opts.wipe_rate:
            fresh = SignedToyApp(self.suite, CHAIN_ID, node.key)
            fresh.epoch = node.app.epoch
            node.app = fresh
        self._push(self.now + self.rng.randint(10, 500), RESTART, node.index, 0, None)


class ShellByzantine:
    """Twists one node's outgoing frames and makes noise (see the module docstring)."""

    def __init__(self, sim: ShellSimulation, node: SimNode, behaviours: set[str]) -> None:
        self.sim, self.node, self.behaviours = sim, node, behaviours
        self.rng = random.Random(sim.opts.seed * 31 + node.index)
        self.flip = 0

    def twist(self, frame: Value) -> list[Value]:
        if "tamper_bodies" in self.behaviours and isinstance(frame, list) and frame[0] == "x":
            height, view, raws = frame[1]  # type: ignore[misc]
            return [["x", [height, view, [_tampered_tx(Tx.decode(r)).encode() for r in raws]]]]
        if "tamper_bodies" not in self.behaviours or not (
                isinstance(frame, list) and frame[0] == "c"):
            return [frame]
        message = decode_message(frame[1])  # type: ignore[arg-type]
        tampered = self._tamper(message)
        return [["c", encode_message(tampered)]] if tampered is not None else [frame]

    def _tamper(self, msg: object) -> object | None:
        signer = self.node.signer
        if isinstance(msg, PrePrepare):
            return dataclasses.replace(msg, block=_tampered(msg.block))  # signs the header only
        if isinstance(msg, CatchUpResponse):
            blocks = tuple(CertifiedBlock(_tampered(b.block), b.certificate) for b in msg.blocks)
            return sign_message(signer, CHAIN_ID, dataclasses.replace(msg, blocks=blocks))
        if isinstance(msg, ViewChange) and msg.prepared is not None:
            prepared = PreparedCertificate(msg.prepared.view, _tampered(msg.prepared.block),
                                           msg.prepared.prepares)
            return sign_message(signer, CHAIN_ID, dataclasses.replace(msg, prepared=prepared))
        if isinstance(msg, NewView):
            pp = dataclasses.replace(msg.pre_prepare, block=_tampered(msg.pre_prepare.block))
            return sign_message(signer, CHAIN_ID, dataclasses.replace(msg, pre_prepare=pp))
        return None

    def noise(self) -> None:
        sim, me = self.sim, self.node
        honest = [n for n in sim.nodes if n.byzantine is None]
        if "catchup_flood" in self.behaviours:
            for i in range(20):
                request = sign_message(me.signer, CHAIN_ID, CatchUpRequest(1 + i % 2, b"", b""))
                for peer in honest:
                    sim._wire(me.index, peer.index, encode(["c", encode_message(request)]))
        if "evidence_flood" in self.behaviours and me.driver is not None:
            height = me.driver.replica.height
            span = me.driver.settings.consensus.max_view_ahead + 1
            for view in ((self.flip + k) % span for k in range(8)):  # all views, in turns
                for phase in (Phase.PREPARE, Phase.COMMIT):
                    for _ in range(2):
                        vote = sign_vote(me.signer, CHAIN_ID, phase, height, view,
                                         self.rng.randbytes(32))
                        for peer in honest:
                            sim._wire(me.index, peer.index, encode(["c", encode_message(vote)]))
            self.flip += 8
        if "garbage" in self.behaviours:
            for frame in (["c", self.rng.randbytes(40)], ["p", [1, 2, 3, [b"x"]]], ["?", 1], 7):
                for peer in honest:
                    sim._wire(me.index, peer.index, encode(frame))


def _tampered(block: Block) -> Block:
    """``block`` with its first tx's signature flipped: same header, same tx root."""
    if not block.txs:
        return block
    return Block(block.header, (_tampered_tx(block.txs[0]), *block.txs[1:]))


def _tampered_tx(tx: Tx) -> Tx:
    """``tx`` with its signature flipped (its hash, which excludes it, unchanged)."""
    flipped = bytes([tx.signature[0] ^ 1]) + tx.signature[1:] if tx.signature else b"x"
    return dataclasses.replace(tx, signature=flipped)


def run_shell_seed(seed: int, n: int, target_blocks: int = 30, **over: object) -> ShellResult:
    """Run one seed's random shell scenario; see ``ShellOptions.from_seed``."""
    return ShellSimulation(ShellOptions.from_seed(seed, n, target_blocks, **over)).run()
