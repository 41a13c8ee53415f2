"""A Byzantine validator mode for fault tests (never enabled in production).

``SKILLCHAIN_BYZANTINE="<mode>[,<mode>...]"`` makes this node's outgoing
consensus traffic lie in the chosen ways, while it still runs the honest
replica underneath (so it keeps up and keeps lying at the current height):

    equivocate   as primary, send one proposal to half the peers and a
                 different, equally valid one (another block time) to the rest
                 (two signed proposals: the honest replicas relay what they got
                 and record the pair as evidence)
    wrong_root   with every vote, also send a signed vote for a made-up block
                 (two conflicting votes: the honest nodes must record evidence)
    absurd_view  now and then broadcast a signed VIEW-CHANGE for view 10^12
    replay       re-send old messages of ours at random
    garbage      send undecodable bytes and malformed frames

With no variable set, ``outgoing`` is the identity and costs one branch.
"""

from __future__ import annotations

import os
import random
from collections import deque

from chain.codec import Value
from chain.crypto import CryptoSuite, Signer
from chain.types import Block, BlockHeader, Phase, Vote, sign_vote
from consensus.messages import Message, PrePrepare, ViewChange, encode_message, sign_message

__all__ = ["MODES", "Byzantine"]

ENV = "SKILLCHAIN_BYZANTINE"
MODES = ("equivocate", "wrong_root", "absurd_view", "replay", "garbage")
Frame = list[Value]


class Byzantine:
    """Rewrites outgoing consensus messages according to the enabled modes."""

    def __init__(self, suite: CryptoSuite, chain_id: str, signer: Signer, modes: set[str]) -> None:
        unknown = modes - set(MODES)
        if unknown:
            raise SystemExit(f"{ENV}: unknown modes {sorted(unknown)}; known: {', '.join(MODES)}")
        self.suite, self.chain_id, self.signer, self.modes = suite, chain_id, signer, modes
        self.peers: list[bytes] = []
        self._rng = random.Random(int.from_bytes(signer.public_key[:8], "big"))
        self._sent: deque[Frame] = deque(maxlen=200)

    @classmethod
    def from_env(cls, suite: CryptoSuite, chain_id: str, signer: Signer) -> Byzantine:
        modes = {m.strip() for m in os.environ.get(ENV, "").split(",") if m.strip()}
        return cls(suite, chain_id, signer, modes)

    def outgoing(self, message: Message, to: bytes | None) -> list[tuple[bytes | None, Frame]]:
        """(recipient or None for everyone, frame) pairs to send instead of ``message``."""
        frame: Frame = ["c", encode_message(message)]
        if not self.modes:
            return [(to, frame)]
        out: list[tuple[bytes | None, Frame]] = []
        if "equivocate" in self.modes and isinstance(message, PrePrepare) and to is None:
            out += self._equivocate(message, frame)
        else:
            out.append((to, frame))
        if "wrong_root" in self.modes and isinstance(message, Vote):
            out.append((to, ["c", encode_message(self._wrong_vote(message))]))
        if "absurd_view" in self.modes and self._rng.random() < 0.2:
            out.append((None, ["c", encode_message(self._absurd_view(message))]))
        if "replay" in self.modes and self._sent:
            out.append((None, self._rng.choice(self._sent)))
        if "garbage" in self.modes:
            out.append((None, ["c", self._rng.randbytes(self._rng.randint(1, 200))]))
            out.append((None, ["?", [1, 2, 3]]))
        self._sent.append(frame)
        return out

    def _equivocate(self, message: PrePrepare, frame: Frame) -> list[tuple[bytes | None, Frame]]:
        header = message.block.header
        twin_header = BlockHeader(
            *[getattr(header, f) for f in header._fields[:3]],
            header.time + 1,
            *[getattr(header, f) for f in header._fields[4:]],
        )
        twin = sign_message(
            self.signer,
            self.chain_id,
            PrePrepare(
                message.height, message.view, Block(twin_header, message.block.txs), b"", b""
            ),
        )
        twin_frame: Frame = ["c", encode_message(twin)]
        half = len(self.peers) // 2
        return [(p, frame) for p in self.peers[:half]] + [
            (p, twin_frame) for p in self.peers[half:]
        ]

    def _wrong_vote(self, vote: Vote) -> Vote:
        return sign_vote(
            self.signer,
            self.chain_id,
            Phase(vote.phase),
            vote.height,
            vote.view,
            self._rng.randbytes(32),
        )

    def _absurd_view(self, message: Message) -> ViewChange:
        height = getattr(message, "height", 1)
        return sign_message(
            self.signer,
            self.chain_id,
            ViewChange(height, 10**12, max(0, height - 1), None, b"", b""),
        )
