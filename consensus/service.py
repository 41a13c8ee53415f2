"""The replica's dealings with heights other than its own: buffering and catch-up.

Messages for the next height are kept (bounded per sender) until we get
there; messages from further ahead tell us we are behind, so we ask for
certified blocks. A VIEW-CHANGE or request from a replica behind us is
answered with the blocks it lacks, read from the node's store. Every
answer and request is rate-limited per peer, so no peer can make us work
more than once per base timeout for the same thing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chain.types import header_hash
from consensus.actions import Action, Config, RequestCatchUp, Send, Tip
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
"""Blocks per catch-up response stop here (at least one is always sent)."""

if TYPE_CHECKING:
    from chain.crypto import CryptoSuite, Signer
    from chain.types import Block, CommitCertificate
    from chain.validators import ValidatorSet
    from consensus.replica import BlockSource

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

    def _init_service(self) -> None:
        self._future: dict[bytes, list[Message]] = {}
        self._pending: list[CertifiedBlock] = []
        self._pending_from: bytes | None = None
        self._last_catch_up_ms: int | None = None
        self._helped: dict[bytes, tuple[int, int]] = {}

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
            # auditor's follower); the per-peer rate limit bounds the work.
            if msg.from_height >= self.height:
                return []
            if not verify_message(self.suite, self.chain_id, msg):
                return []
            return self._help_behind(msg.sender, msg.from_height)
        if msg.sender not in self.valset:
            return []
        return self._on_catch_up_response(msg)

    def _on_catch_up_response(self, msg: CatchUpResponse) -> list[Action]:
        """Queue certified blocks from our height on; each is checked when its turn comes."""
        useful = [item for item in msg.blocks if item.block.header.height >= self.height]
        if not useful or not verify_message(self.suite, self.chain_id, msg):
            return []
        useful.sort(key=lambda item: item.block.header.height)
        self._pending = useful
        self._pending_from = msg.sender
        return self._try_catch_up()

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
        block_hash = header_hash(self.suite, item.block.header)
        actions = self._decide(item.block, block_hash, item.certificate)
        peer = self._pending_from
        if not self._pending and peer is not None:
            self._pending_from = None
            actions += self._request_catch_up(peers=(peer,), force=True,
                                              from_height=self.height + 1)
        return actions

    # ------------------------------------------------------ old heights

    def _on_old_message(self, sender: bytes, msg: Message) -> list[Action]:
        """A VIEW-CHANGE from a past height: its sender is stuck; send what it lacks."""
        if not isinstance(msg, ViewChange) or msg.sender not in self.valset:
            return []
        return self._help_behind(msg.sender, msg.height)

    def _help_behind(self, peer: bytes, from_height: int) -> list[Action]:
        """Send ``peer`` our decided blocks from ``from_height`` (rate-limited per peer)."""
        if self._blocks is None or peer == self.me:
            return []
        last = self._helped.get(peer)
        if last is not None and last[0] == from_height and (
            self._now - last[1] < self.config.base_timeout_ms
        ):
            return []
        end = min(self.height, from_height + self.config.catch_up_batch)
        items: list[CertifiedBlock] = []
        size = 0
        for height in range(max(from_height, 1), end):
            item = self._blocks(height)
            if item is None:
                break
            size += len(item.block.encode())
            if items and size > CATCH_UP_BYTES:
                break  # the receiver refuses messages over MAX_MESSAGE_BYTES
            items.append(item)
        if not items:
            return []
        self._helped[peer] = (from_height, self._now)
        unsigned = CatchUpResponse(tuple(items), b"", b"")
        return [Send(peer, sign_message(self.signer, self.chain_id, unsigned))]
