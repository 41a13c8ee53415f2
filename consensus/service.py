"""The replica's dealings with heights other than its own: buffering and catch-up.

Messages for the next height are kept (bounded per sender) until we get
there; messages from further ahead tell us we are behind, so we ask for
certified blocks. A VIEW-CHANGE or request from a replica behind us is
answered with the blocks it lacks, read from the node's store.

Budgets (issue 13, finding 3). What one peer can make us send is bounded in
bytes, whatever heights it asks for: a token bucket per peer (``consensus.
budget``) on the replica's clock, charged to the peer whose authenticated link
carried the request (not to the key that signed it: anyone may sign with fresh
keys), with a burst of ``Config.catch_up_burst_bytes`` (8 MiB: one full answer)
and ``Config.catch_up_rate_bytes_per_s`` (8 MiB/s) after it. A request over
budget is dropped before any block is read and reported
(``ReportFault(peer, "catch_up_rate")``). Why 8 MiB/s: a node applies blocks
far slower than that (it re-executes each: ~0.3 ms of CPU per tx, so a full
~3.9 MiB block of a 4-validator set takes a second or more), so a wiped
validator catching up, which asks for the next batch as soon as it applied one
and asks several peers, is never held back by the budget (``bench_catchup``:
~185 blocks/s); a peer that only asks pulls at most 8 MiB/s from each honest
node, and an answer costs the same whether it asks from height 1 or 2. Each
block is charged at least ``CATCH_UP_BLOCK_COST_BYTES`` (32 KiB), because with
small blocks the cost is reading and decoding them, not their bytes: a liar
then makes us read at most 256 blocks/s, where 8 MiB/s of 2 KB blocks was
4,000 (measured: 120 answers/s per honest node, commits fell to 0.7 of
normal; with the floor, 1.0). A repeat
of the same height within a base timeout is still skipped (an honest stuck
node repeats its VIEW-CHANGE), without a fault.

An answer is byte-bounded: its blocks and certificates stop at
``CATCH_UP_BYTES`` (8 MiB, half of ``MAX_MESSAGE_BYTES``) or at the peer's
credit if lower, and at ``Config.catch_up_batch`` blocks; the first block is
always sent (a block is at most ``max_block_bytes`` < 8 MiB), so one answer is
under 16 MiB, the limit a receiver decodes.

Bodies (issue 13, finding 2). A catch-up block is decided only with a full
certificate *and* a body that matches its header (the application's
``BodyCheck``: tx root, every tx signature, size and depth limits), since a tx
hash excludes its signature and a certified header can be paired with a
mangled tx. A bad body is the sender's fault: the batch is dropped, the
sender reported (``ReportFault(peer, "bad_body")``) and the other validators
are asked (at most once per base timeout, so a liar cannot make us flood them).
An answer that brings nothing we lack (a faster peer already did) is compared
with our own first block of it: one store read and a byte comparison, and
only a body that differs under our certified header is checked, so a liar is
caught even when it loses the race.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chain.types import header_hash
from consensus.actions import Action, Config, ReportFault, RequestCatchUp, Send, Tip
from consensus.budget import ByteBudget
from consensus.catchup import is_valid_certified_block
from consensus.messages import (
    MAX_MESSAGE_BYTES,
    CatchUpRequest,
    CatchUpResponse,
    CertifiedBlock,
    Message,
    ViewChange,
    sign_message,
    verify_message,
)

CATCH_UP_BYTES = MAX_MESSAGE_BYTES // 2
"""Bytes of blocks and certificates per catch-up response (at least one block is sent)."""
CATCH_UP_BLOCK_COST_BYTES = 32 * 1024
"""What one block sent costs a peer's budget at least: reading and decoding a block
from the store costs more than its bytes when blocks are small (8 MiB/s of 2 KB
blocks was 4,000 block reads per second), so a peer pulls at most 256 blocks/s."""

if TYPE_CHECKING:
    from chain.crypto import CryptoSuite, Signer
    from chain.types import Block, CommitCertificate
    from chain.validators import ValidatorSet
    from consensus.replica import BlockSource, BodyCheck

__all__ = ["ServiceMixin"]


class ServiceMixin:
    """Future buffer, catch-up requests and answers; mixed into ``Replica``."""

    suite: CryptoSuite
    chain_id: str
    signer: Signer
    me: bytes
    config: Config
    tip: Tip
    height: int
    valset: ValidatorSet
    _now: int
    _blocks: BlockSource | None
    _body_check: BodyCheck

    def _init_service(self) -> None:
        self._future: dict[bytes, list[Message]] = {}
        self._pending: list[CertifiedBlock] = []
        self._pending_from: bytes | None = None
        self._last_catch_up_ms: int | None = None
        self._last_retry_ms: int | None = None
        self._helped: dict[bytes, tuple[int, int]] = {}
        self._budget = ByteBudget(
            self.config.catch_up_burst_bytes, self.config.catch_up_rate_bytes_per_s
        )

    # The replica provides these.
    def on_message(self, sender: bytes, msg: Message) -> list[Action]:
        raise NotImplementedError

    def _decide(
        self, block: Block, block_hash: bytes, cert: CommitCertificate
    ) -> list[Action]:
        raise NotImplementedError

    def _is_decided(self) -> bool:
        raise NotImplementedError

    # ------------------------------------------------------------ future

    def on_peer_tip(self, sender: bytes, height: int) -> list[Action]:
        """A peer says it has committed ``height`` (link tip announcement, unsigned).

        An idle chain sends no consensus messages, so a replica that missed
        blocks (partitioned, restarted) learns it is behind only from this. A
        lie costs one catch-up request to the liar, at most once per base
        timeout (``_request_catch_up``), and a certified answer or nothing.
        """
        if height < self.height:
            return []
        return self._request_catch_up(peers=(sender,))

    def _on_future_message(self, sender: bytes, msg: Message) -> list[Action]:
        """Keep next-height messages for later; further ahead means we are behind."""
        height = msg.height  # type: ignore[union-attr]
        if height == self.height + 1:
            queue = self._future.setdefault(sender, [])
            if len(queue) < self.config.future_buffer_per_sender:
                queue.append(msg)
            return []
        return self._request_catch_up(peers=(sender,))

    def _drain_future(self) -> list[Action]:
        """Replay buffered messages that are for the height we just entered."""
        buffered, self._future = self._future, {}
        actions: list[Action] = []
        for sender, queue in buffered.items():
            for msg in queue:
                actions += self.on_message(sender, msg)
        return actions

    # --------------------------------------------------------- catch-up

    def _request_catch_up(
        self, peers: tuple[bytes, ...] = (), force: bool = False, from_height: int = 0
    ) -> list[Action]:
        """Ask peers for certified blocks from our height (or ``from_height``) on.

        At most once per base timeout, unless ``force``: a request triggered by a
        peer's message must not let that peer make us flood the others.
        """
        last = self._last_catch_up_ms
        if not force and last is not None and self._now - last < self.config.base_timeout_ms:
            return []
        others = tuple(v.public_key for v in self.valset.validators if v.public_key != self.me)
        targets = tuple(p for p in peers if p != self.me) or others
        if not targets:
            return []
        self._last_catch_up_ms = self._now
        start = max(from_height, self.height)
        unsigned = CatchUpRequest(start, b"", b"")
        request = sign_message(self.signer, self.chain_id, unsigned)
        return [RequestCatchUp(start, targets, request)]  # type: ignore[arg-type]

    def _on_catch_up_message(
        self, sender: bytes, msg: CatchUpRequest | CatchUpResponse
    ) -> list[Action]:
        if isinstance(msg, CatchUpRequest):
            # Anyone on an authenticated link may ask (a removed validator, an
            # auditor's follower); the budget of that link's peer bounds the work.
            if msg.from_height >= self.height:
                return []
            if self._budget.credit(sender, self._now) <= 0:
                return [ReportFault(sender, "catch_up_rate")]
            if not verify_message(self.suite, self.chain_id, msg):
                return []
            return self._help_behind(sender, msg.sender, msg.from_height)
        if msg.sender not in self.valset:
            return []
        return self._on_catch_up_response(msg)

    def _on_catch_up_response(self, msg: CatchUpResponse) -> list[Action]:
        """Queue certified blocks from our height on; each is checked when its turn comes."""
        useful = [item for item in msg.blocks if item.block.header.height >= self.height]
        if not useful:
            return self._check_stale_answer(msg)
        if not verify_message(self.suite, self.chain_id, msg):
            return []
        useful.sort(key=lambda item: item.block.header.height)
        self._pending = useful
        self._pending_from = msg.sender
        return self._try_catch_up()

    def _check_stale_answer(self, msg: CatchUpResponse) -> list[Action]:
        """An answer with nothing we lack (another peer was faster): compare its first
        block with ours, so a liar is caught even when it loses the race.

        One store read and a byte comparison; signatures are checked only when the
        body differs from ours under our own certified header.
        """
        if not msg.blocks or self._blocks is None:
            return []
        item = msg.blocks[0]
        height = item.block.header.height
        ours = self._blocks(height) if 0 < height < self.height else None
        if ours is None or item.block.encode() == ours.block.encode():
            return []
        if header_hash(self.suite, item.block.header) != header_hash(self.suite, ours.block.header):
            return []  # another block altogether: its certificate cannot be valid
        if not verify_message(self.suite, self.chain_id, msg) or self._body_check(item.block):
            return []
        return [ReportFault(msg.sender, "bad_body")]

    def _try_catch_up(self) -> list[Action]:
        """Decide the next queued block if it extends our tip with a full certificate.

        When the block taken is the last one queued, the next batch is asked for at
        once from the peer that sent this one (it had more than we have): a node far
        behind then fetches batch after batch at the speed it can apply them, not
        one batch per base timeout. Only valid certified blocks lead here, so a peer
        cannot use it to make us send requests faster than the chain grows.
        """
        while self._pending and self._pending[0].block.header.height < self.height:
            self._pending.pop(0)
        if not self._pending or self._is_decided():
            return []
        item = self._pending.pop(0)
        if not is_valid_certified_block(self.suite, self.chain_id, self.valset, self.tip, item):
            self._pending = []
            return []
        if not self._body_check(item.block):
            return self._on_bad_catch_up_body()
        block_hash = header_hash(self.suite, item.block.header)
        actions = self._decide(item.block, block_hash, item.certificate)
        peer = self._pending_from
        if not self._pending and peer is not None:
            self._pending_from = None
            actions += self._request_catch_up(peers=(peer,), force=True,
                                              from_height=self.height + 1)
        return actions

    def _on_bad_catch_up_body(self) -> list[Action]:
        """A certified header with a body that does not match it: drop the batch,
        report its sender, ask the others (at most once per base timeout)."""
        liar, self._pending_from = self._pending_from, None
        self._pending = []
        if liar is None:
            return []
        actions: list[Action] = [ReportFault(liar, "bad_body")]
        last = self._last_retry_ms
        if last is not None and self._now - last < self.config.base_timeout_ms:
            return actions
        others = tuple(
            v.public_key for v in self.valset.validators if v.public_key not in (self.me, liar)
        )
        if not others:
            return actions
        self._last_retry_ms = self._now
        return actions + self._request_catch_up(peers=others, force=True)

    # ------------------------------------------------------ old heights

    def _on_old_message(self, sender: bytes, msg: Message) -> list[Action]:
        """A VIEW-CHANGE from a past height: its sender is stuck; send what it lacks."""
        if not isinstance(msg, ViewChange) or msg.sender not in self.valset:
            return []
        return self._help_behind(sender, msg.sender, msg.height)

    def _help_behind(self, link: bytes, peer: bytes, from_height: int) -> list[Action]:
        """Send ``peer`` our decided blocks from ``from_height``, within the byte budget
        of ``link``, the peer whose link carried the request (module docstring)."""
        if self._blocks is None or peer == self.me:
            return []
        last = self._helped.get(peer)
        if last is not None and last[0] == from_height and (
            self._now - last[1] < self.config.base_timeout_ms
        ):
            return []
        credit = self._budget.credit(link, self._now)
        if credit <= 0:
            return [ReportFault(link, "catch_up_rate")]
        items, charge = self._answer_items(self._blocks, from_height, credit)
        if not items:
            return []
        self._budget.spend(link, charge, self._now)
        self._helped[peer] = (from_height, self._now)
        if len(self._helped) > 1024:  # keys of authenticated links; bounded all the same
            self._helped.pop(next(iter(self._helped)))
        unsigned = CatchUpResponse(tuple(items), b"", b"")
        return [Send(peer, sign_message(self.signer, self.chain_id, unsigned))]

    def _answer_items(
        self, blocks: BlockSource, from_height: int, credit: int
    ) -> tuple[list[CertifiedBlock], int]:
        """Decided blocks from ``from_height``, and what they cost the peer's budget.

        Stops at ``CATCH_UP_BYTES`` of blocks and certificates (the receiver
        refuses messages over ``MAX_MESSAGE_BYTES``), at ``credit`` (each block
        charged at least ``CATCH_UP_BLOCK_COST_BYTES``) and at ``catch_up_batch``
        blocks; the first block is always taken.
        """
        end = min(self.height, from_height + self.config.catch_up_batch)
        items: list[CertifiedBlock] = []
        size = charge = 0
        for height in range(max(from_height, 1), end):
            item = blocks(height)
            if item is None:
                break
            cost = len(item.block.encode()) + len(item.certificate.encode())
            floored = max(cost, CATCH_UP_BLOCK_COST_BYTES)
            if items and (size + cost > CATCH_UP_BYTES or charge + floored > credit):
                break
            items.append(item)
            size += cost
            charge += floored
        return items, charge
