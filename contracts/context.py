"""What an action knows besides state and body: the block and the calling actor."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.model import Actor

__all__ = ["BlockContext", "Call"]


@dataclass(frozen=True, slots=True)
class BlockContext:
    """The block being executed: the only source of "now" the contracts have."""

    height: int
    time: int
    proposer: bytes


@dataclass(frozen=True, slots=True)
class Call:
    """One tx as an action sees it: block, sender's actor and key, tx hash."""

    block: BlockContext
    actor: Actor
    sender: bytes
    tx_hash: bytes

    @property
    def time(self) -> int:
        return self.block.time

    @property
    def height(self) -> int:
        return self.block.height
