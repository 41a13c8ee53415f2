"""What an action knows besides state and body: the block and the calling actor."""

from __future__ import annotations

from dataclasses import dataclass

from chain.crypto import CryptoSuite
from contracts.model import Actor

__all__ = ["BlockContext", "Call"]


@dataclass(frozen=True, slots=True)
class BlockContext:
    """The block being executed: the only source of "now" the contracts have.

    ``suite`` and ``chain_id`` are the chain's, for the few rules that check a
    signature inside a body (a rotated validator key's proof of possession);
    without them such a body is rejected (``bad_possession``)."""

    height: int
    time: int
    proposer: bytes
    suite: CryptoSuite | None = None
    chain_id: str = ""


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
