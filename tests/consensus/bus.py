"""A tiny synchronous driver for focused replica tests: real Ed25519, no faults unless asked.

Messages go through a FIFO; application requests are answered at once by the
toy application; a replica can be taken down (its traffic dropped) and
restarted from its journal. Unlike the simulator it is meant to be read
alongside a test, so it does the obvious thing everywhere.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from chain.crypto import get_suite
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
    Tip,
    VerifyBlock,
)
from tests.consensus.toyapp import ToyApp

__all__ = ["CHAIN", "SUITE", "Bus", "make_signers"]

SUITE = get_suite("ed25519-sha256")
CHAIN = "skillchain-test"


def make_signers(n: int, offset: int = 0) -> list:
    """Deterministic keys, sorted like the validator set sorts them."""
    signers = [SUITE.signer_from_seed(bytes([i + 1 + offset]) * 32) for i in range(n)]
    return sorted(signers, key=lambda s: s.public_key)


class Bus:
    """n replicas wired together in one process."""

    def __init__(self, n: int, config: Config | None = None,
                 provider: Callable[[int], ValidatorSet] | None = None) -> None:
        self.signers = make_signers(n)
        self.valset = ValidatorSet(Validator(s.public_key, f"v{i}", "360000")
                                   for i, s in enumerate(self.signers))
        self.provider = provider or (lambda height: self.valset)
        self.config = config or Config(base_timeout_ms=1000, max_timeout_ms=8000)
        self.apps = [ToyApp(SUITE, CHAIN, s.public_key) for s in self.signers]
        self.journals: list[list[bytes]] = [[] for _ in self.signers]
        self.replicas = [self._new_replica(i) for i in range(n)]
        self.index = {s.public_key: i for i, s in enumerate(self.signers)}
        self.queue: deque[tuple[int, bytes, object]] = deque()
        self.down: set[int] = set()
        self.evidence: list[ReportEvidence | ReportProposalEvidence] = []
        self.log: list[tuple[int, object]] = []
        self.now = 0
        self.drop: Callable[[object], bool] | None = None
        """Messages for which this returns True are lost."""
        self.max_height = 3
        """Primaries build no block above this, so that delivery settles."""

    def _new_replica(self, i: int) -> Replica:
        app = self.apps[i]
        return Replica(SUITE, CHAIN, self.signers[i], self.provider, self.config,
                       tip=Tip(app.height, app.hashes[-1]), journal=list(self.journals[i]),
                       blocks=app.source(), body_check=app.is_valid_body)

    def start(self) -> None:
        for i, replica in enumerate(self.replicas):
            if i not in self.down:
                self.perform(i, replica.start(self.now))

    def restart(self, i: int) -> list:
        """Rebuild replica ``i`` from its journal and durable chain; return start's actions."""
        self.down.discard(i)
        self.apps[i].restart()
        self.replicas[i] = self._new_replica(i)
        actions = self.replicas[i].start(self.now)
        self.perform(i, actions)
        return actions

    def perform(self, i: int, actions: list) -> None:
        for action in actions:
            self.log.append((i, action))
            self._perform_one(i, action)

    def _perform_one(self, i: int, action: object) -> None:
        replica, app = self.replicas[i], self.apps[i]
        me = self.signers[i].public_key
        if isinstance(action, Persist):
            self.journals[i].append(action.data)
        elif isinstance(action, Broadcast):
            for j in range(len(self.signers)):
                if j != i:
                    self.queue.append((j, me, action.msg))
        elif isinstance(action, Send):
            self.queue.append((self.index[action.to], me, action.msg))
        elif isinstance(action, RequestCatchUp):
            for peer in action.peers:
                self.queue.append((self.index[peer], me, action.request))
        elif isinstance(action, BuildProposal):
            if action.height > self.max_height:
                return
            block = app.build(action.height, action.view, action.parent_hash)
            self.perform(i, replica.on_proposal_ready(block))
        elif isinstance(action, VerifyBlock):
            self.perform(i, replica.on_block_verified(action.block_hash, app.verify(action.block)))
        elif isinstance(action, Commit):
            app.apply(CertifiedBlock(action.block, action.certificate))
            self.perform(i, replica.on_committed(action.block.header.height))
        elif isinstance(action, ReportEvidence | ReportProposalEvidence):
            self.evidence.append(action)

    def deliver_all(self, max_steps: int = 100_000) -> None:
        """Deliver queued messages until none are left (to down replicas: dropped)."""
        for _ in range(max_steps):
            if not self.queue:
                return
            dst, sender, msg = self.queue.popleft()
            if dst not in self.down and not (self.drop and self.drop(msg)):
                self.perform(dst, self.replicas[dst].on_message(sender, msg))
        raise AssertionError("messages never settled")

    def tick(self, now_ms: int) -> None:
        """Advance every live replica's clock to ``now_ms``, then deliver."""
        self.now = now_ms
        for i, replica in enumerate(self.replicas):
            if i not in self.down:
                self.perform(i, replica.on_tick(now_ms))
        self.deliver_all()

    def primary(self, view: int, height: int = 1) -> int:
        """Index of the primary of (height, view)."""
        return (height + view) % len(self.signers)

    def heights(self) -> list[int]:
        return [app.height for app in self.apps]

    def run_without(self, absent: int, height: int, rounds: int = 40) -> None:
        """Everyone but ``absent`` reaches ``height`` (timers fire where it is primary)."""
        self.max_height = height
        self.down.add(absent)
        self.start()
        self.deliver_all()
        for step in range(1, rounds):
            if min(h for i, h in enumerate(self.heights()) if i != absent) >= height:
                break
            self.tick(step * 20_000)
