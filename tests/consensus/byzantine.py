"""Byzantine behaviours: an honest replica inside, its output twisted on the way out.

Running the real replica inside keeps a Byzantine node's lies plausible (it
knows the height, the view and the blocks), and the twists cover what the
issue lists: an equivocating primary, votes for wrong roots, garbage and
oversized bytes, replayed old messages, VIEW-CHANGE floods with huge views,
messages signed for another chain id, fake catch-up answers, and silence.
"""

from __future__ import annotations

import dataclasses
import random

from chain.types import Phase, Vote, header_hash, sign_vote
from chain.validators import build_certificate
from consensus import (
    CatchUpResponse,
    CertifiedBlock,
    Message,
    NewView,
    PrePrepare,
    ProposalSeen,
    ViewChange,
    sign_message,
)
from consensus.messages import MAX_MESSAGE_BYTES, TAG_PREPREPARE, proposal_payload

__all__ = ["BEHAVIOURS", "Byzantine"]

OVERSIZED = bytes(MAX_MESSAGE_BYTES + 1)
"""One byte over the consensus message limit; rejected before any parsing."""

BEHAVIOURS = (
    "silent", "equivocate", "wrong_votes", "garbage", "replay", "vc_flood", "other_chain",
    "fake_catch_up", "ignore_prepared", "bad_root",
)


class Byzantine:
    """Twists one node's traffic; ``node`` is the simulator's node (replica, app, signer)."""

    def __init__(self, node: object, behaviours: set[str], rng: random.Random) -> None:
        self.node = node
        self.behaviours = behaviours
        self.rng = rng
        self.seen: list[Message] = []

    def outgoing(self, msg: Message, peers: list[int]) -> list[tuple[int, object]]:
        """(peer, message-or-bytes) pairs to send instead of broadcasting ``msg``."""
        if "silent" in self.behaviours:
            return []
        out: list[tuple[int, object]] = [(p, msg) for p in peers]
        if "equivocate" in self.behaviours and isinstance(msg, PrePrepare | NewView):
            twin = self._twin_proposal(msg)
            # By peer index, not position: the simulator asks one peer at a time.
            out = [(p, twin if p % 2 else msg) for p in peers]
        if "ignore_prepared" in self.behaviours and isinstance(msg, NewView):
            twin = self._twin_proposal(msg)
            out = [(p, twin) for p in peers]
        if "bad_root" in self.behaviours and isinstance(msg, PrePrepare):
            out = [(p, self._bad_root(msg)) for p in peers]
        if "wrong_votes" in self.behaviours and isinstance(msg, Vote):
            out = [(p, self._wrong_vote(msg) if self.rng.random() < 0.5 else msg) for p in peers]
        if "other_chain" in self.behaviours:
            out += [(p, self._other_chain(msg)) for p in peers[:1]]
        return out

    def on_received(self, msg: Message) -> None:
        if len(self.seen) < 500:
            self.seen.append(msg)
        elif self.rng.random() < 0.1:
            self.seen[self.rng.randrange(500)] = msg

    def noise(self, peers: list[int]) -> list[tuple[int, object]]:
        """Unprompted mischief, sent on the Byzantine node's own clock."""
        out: list[tuple[int, object]] = []
        peer = self.rng.choice(peers)
        if "garbage" in self.behaviours:
            out.append((peer, self._garbage()))
        if "replay" in self.behaviours and self.seen:
            out.append((peer, self.rng.choice(self.seen)))
        if "vc_flood" in self.behaviours:
            out += [(p, self._flood_view_change()) for p in peers]
        if "fake_catch_up" in self.behaviours:
            out += [(p, self._fake_catch_up()) for p in peers]
        return out

    # ------------------------------------------------------------ twists

    def _replica(self):  # type: ignore[no-untyped-def]
        return self.node.replica  # type: ignore[attr-defined]

    def _twin_proposal(self, msg: PrePrepare | NewView) -> Message:
        """The same slot, a different valid block: equivocation (and, in a NEW-VIEW,
        a block that ignores the prepared certificates)."""
        rep = self._replica()
        pp = msg.pre_prepare if isinstance(msg, NewView) else msg
        block = self.node.app.build(pp.height, pp.view, rep.tip.block_hash, salt=3)  # type: ignore[attr-defined]
        twin = sign_message(rep.signer, rep.chain_id, dataclasses.replace(pp, block=block))
        if isinstance(msg, NewView):
            forged = dataclasses.replace(msg, pre_prepare=twin)
            return sign_message(rep.signer, rep.chain_id, forged)
        return twin

    def _bad_root(self, pp: PrePrepare) -> PrePrepare:
        """The proposal with a state root re-execution cannot reproduce."""
        rep = self._replica()
        header = dataclasses.replace(pp.block.header, state_root=self.rng.randbytes(32))
        block = dataclasses.replace(pp.block, header=header)
        return sign_message(rep.signer, rep.chain_id, dataclasses.replace(pp, block=block))

    def _wrong_vote(self, vote: Vote) -> Vote:
        rep = self._replica()
        digest = self.rng.randbytes(32)
        return sign_vote(rep.signer, rep.chain_id, Phase(vote.phase), vote.height, vote.view,
                         digest)

    def _other_chain(self, msg: Message) -> Message:
        rep = self._replica()
        if isinstance(msg, Vote):
            return sign_vote(rep.signer, "other-chain", Phase(msg.phase), msg.height, msg.view,
                             msg.block_hash)
        if isinstance(msg, ProposalSeen):  # a relay we "saw", signed for another chain
            digest = self.rng.randbytes(32)
            payload = proposal_payload(msg.height, msg.view, digest, msg.proposer)
            signature = rep.signer.sign(TAG_PREPREPARE, "other-chain", payload)
            return dataclasses.replace(msg, block_hash=digest, proposer_signature=signature)
        return sign_message(rep.signer, "other-chain", msg)

    def _garbage(self) -> bytes:
        kind = self.rng.randrange(4)
        if kind == 3:
            return OVERSIZED
        if kind == 0:
            return self.rng.randbytes(self.rng.randrange(1, 200))
        if kind == 1:
            return b"\x92\x02" + self.rng.randbytes(self.rng.randrange(1, 100))
        return b"\xc6\x7f\xff\xff\xff" + bytes(64)

    def _flood_view_change(self) -> ViewChange:
        rep = self._replica()
        huge = self.rng.choice([rep.view + 2, rep.view + 10, 10**9, 2**62])
        unsigned = ViewChange(rep.height, huge, rep.height - 1, None, b"", b"")
        return sign_message(rep.signer, rep.chain_id, unsigned)  # type: ignore[return-value]

    def _fake_catch_up(self) -> CatchUpResponse:
        """A made-up block on the common tip, "certified" by this node alone."""
        rep = self._replica()
        app = self.node.app  # type: ignore[attr-defined]
        block = app.make_block(rep.height, 0, rep.tip.block_hash, [666, self.rng.randrange(99)],
                               self.rng.randbytes(32))
        digest = header_hash(rep.suite, block.header)
        vote = sign_vote(rep.signer, rep.chain_id, Phase.COMMIT, rep.height, 0, digest)
        cert = build_certificate(rep.valset, rep.height, 0, digest, {rep.me: vote.signature})
        unsigned = CatchUpResponse((CertifiedBlock(block, cert),), b"", b"")
        return sign_message(rep.signer, rep.chain_id, unsigned)  # type: ignore[return-value]
