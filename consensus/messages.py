"""Consensus wire messages: frozen records, signed per type, in one tagged union.

Every message is signed by its sender under its own domain tag and the chain
id (``CryptoSuite.sign``), so a PRE-PREPARE can never pose as a VIEW-CHANGE and
a devnet message is worthless on the provincial chain. PREPARE and COMMIT are
``chain.types.Vote``: their signatures are exactly what a ``CommitCertificate``
carries, so a certificate is assembled from votes without re-signing.

A PRE-PREPARE's signature covers only (height, view, block hash, sender), not
the block: the primary's word on a slot can then be relayed in a few dozen
bytes (``ProposalSeen``, which carries the primary's signature and none of
its own), and two of them for one slot with different hashes are evidence
anyone can check (``consensus.proposals``).

On the wire a message is ``[kind, body]``; ``decode_message`` is strict and
raises only ``DecodeError`` (the peer's fault), for any bytes whatsoever.
"""

from __future__ import annotations

import dataclasses
from typing import Final

from chain.codec import decode, encode
from chain.crypto import CryptoSuite, Signer
from chain.errors import DecodeError
from chain.records import Bytes32, Record, keep_encodings, record
from chain.types import Block, CommitCertificate, Vote, header_hash, sign_vote, verify_vote

__all__ = [
    "MAX_BATCH_BLOCKS",
    "MAX_LIST_ITEMS",
    "MAX_KEY_BYTES",
    "MAX_MESSAGE_BYTES",
    "max_block_bytes",
    "MAX_SIGNATURE_BYTES",
    "TAG_CATCH_UP_REQUEST",
    "TAG_CATCH_UP_RESPONSE",
    "TAG_NEW_VIEW",
    "TAG_PREPREPARE",
    "TAG_VIEW_CHANGE",
    "CatchUpRequest",
    "CatchUpResponse",
    "CertifiedBlock",
    "Message",
    "NewView",
    "PrePrepare",
    "PreparedCertificate",
    "ProposalSeen",
    "ViewChange",
    "Vote",
    "decode_message",
    "encode_message",
    "message_sender",
    "proposal_payload",
    "seen_proposal",
    "sign_message",
    "sign_vote",
    "signed_payload",
    "verify_message",
    "verify_proposal",
]

TAG_PREPREPARE: Final = b"skillchain/consensus/preprepare/v1"
TAG_VIEW_CHANGE: Final = b"skillchain/consensus/view-change/v1"
TAG_NEW_VIEW: Final = b"skillchain/consensus/new-view/v1"
TAG_CATCH_UP_REQUEST: Final = b"skillchain/consensus/catch-up-request/v1"
TAG_CATCH_UP_RESPONSE: Final = b"skillchain/consensus/catch-up-response/v1"

MAX_MESSAGE_BYTES: Final = 16 * 1024 * 1024
"""A NEW-VIEW may carry up to n blocks (prepared certificates) plus its own."""

_NEW_VIEW_OVERHEAD: Final = 256 * 1024
"""Room in a NEW-VIEW for everything but blocks: votes, keys, signatures, headers."""


def max_block_bytes(validators: int) -> int:
    """The largest encoded block a network of ``validators`` may commit.

    A NEW-VIEW carries a quorum (2f+1) of VIEW-CHANGEs, each with at most one
    prepared block, and its own PRE-PREPARE's block: 2f+2 blocks that must fit
    ``MAX_MESSAGE_BYTES``, or a block could prepare and then never be carried
    into the next view (a Byzantine primary's way to stall a height). So
    replicas refuse larger blocks, and proposers stay below: ~3.9 MiB for 4
    validators, ~2.6 MiB for 7, ~2 MiB for 12.
    """
    f = max(0, (validators - 1) // 3)
    return (MAX_MESSAGE_BYTES - _NEW_VIEW_OVERHEAD) // (2 * f + 2)

MAX_LIST_ITEMS: Final = 1024
"""No quorum list (votes, view changes) is longer than the largest validator set."""

MAX_BATCH_BLOCKS: Final = 64
"""Blocks per catch-up response: bounds the work one message can cause."""

MAX_KEY_BYTES: Final = 128
MAX_SIGNATURE_BYTES: Final = 128
"""Bounds on a relayed key and signature (every suite's are well below)."""


def _require(cond: bool, message: str) -> None:
    """Refuse a decoded record: a broken invariant is the peer's fault."""
    if not cond:
        raise DecodeError(message)


@record
class PrePrepare(Record):
    """The primary's proposal of ``block`` for (height, view).

    ``view`` may differ from ``block.header.view``: a block prepared in an
    earlier view is re-proposed unchanged (same hash) by a NEW-VIEW.
    """

    height: int
    view: int
    block: Block
    sender: bytes
    signature: bytes

    def _check(self) -> None:
        _require(self.block.header.height == self.height, "pre-prepare: block of another height")


@record
class PreparedCertificate(Record):
    """Proof that ``block`` was prepared in ``view``: a quorum of PREPARE votes."""

    view: int
    block: Block
    prepares: tuple[Vote, ...]

    def _check(self) -> None:
        _require(len(self.prepares) <= MAX_LIST_ITEMS, "prepared certificate: too many votes")


@record
class ViewChange(Record):
    """A replica's move to ``view`` at ``height``, with its highest prepared block."""

    height: int
    view: int
    last_committed: int
    prepared: PreparedCertificate | None
    sender: bytes
    signature: bytes


@record
class NewView(Record):
    """The new primary's proof (a quorum of VIEW-CHANGEs) and its proposal for ``view``."""

    height: int
    view: int
    view_changes: tuple[ViewChange, ...]
    pre_prepare: PrePrepare
    sender: bytes
    signature: bytes

    def _check(self) -> None:
        _require(len(self.view_changes) <= MAX_LIST_ITEMS, "new-view: too many view changes")


@record
class CertifiedBlock(Record):
    """A decided block and the quorum certificate that makes it final."""

    block: Block
    certificate: CommitCertificate


@record
class CatchUpRequest(Record):
    """Ask a peer for decided blocks from ``from_height`` on."""

    from_height: int
    sender: bytes
    signature: bytes


@record
class CatchUpResponse(Record):
    """Decided blocks in height order; each is checked against its certificate."""

    blocks: tuple[CertifiedBlock, ...]
    sender: bytes
    signature: bytes

    def _check(self) -> None:
        _require(len(self.blocks) <= MAX_BATCH_BLOCKS, "catch-up response: too many blocks")


@record
class ProposalSeen(Record):
    """A replica's relay of the primary's signed proposal for (height, view).

    It carries the primary's PRE-PREPARE signature over ``proposal_payload``,
    not a signature of the relaying replica (the link authenticates that one).
    """

    height: int
    view: int
    block_hash: Bytes32
    proposer: bytes
    proposer_signature: bytes

    def _check(self) -> None:
        _require(len(self.proposer) <= MAX_KEY_BYTES, "proposal seen: key too long")
        _require(
            len(self.proposer_signature) <= MAX_SIGNATURE_BYTES,
            "proposal seen: signature too long",
        )


Message = (
    PrePrepare | Vote | ViewChange | NewView | CatchUpRequest | CatchUpResponse | ProposalSeen
)

_KINDS: Final[dict[int, type[Record]]] = {
    1: PrePrepare,
    2: Vote,
    3: ViewChange,
    4: NewView,
    5: CatchUpRequest,
    6: CatchUpResponse,
    7: ProposalSeen,
}
_KIND_OF: Final = {cls: kind for kind, cls in _KINDS.items()}
_TAGS: Final[dict[type[Record], bytes]] = {
    PrePrepare: TAG_PREPREPARE,
    ViewChange: TAG_VIEW_CHANGE,
    NewView: TAG_NEW_VIEW,
    CatchUpRequest: TAG_CATCH_UP_REQUEST,
    CatchUpResponse: TAG_CATCH_UP_RESPONSE,
}


def encode_message(msg: Message) -> bytes:
    """The wire bytes of a message: ``[kind, body]``.

    Spelled out as a 2-item array header, the kind and the body's own bytes,
    so that the txs of a carried block are spliced in from their kept bytes
    (``chain.records``) instead of being encoded again.
    """
    return b"\x92" + encode(_KIND_OF[type(msg)]) + msg.encode()


def decode_message(data: bytes, max_bytes: int = MAX_MESSAGE_BYTES) -> Message:
    """Strictly decode one message; any flaw raises ``DecodeError`` and nothing else."""
    if len(data) > max_bytes:
        raise DecodeError(f"consensus message of {len(data)} bytes exceeds {max_bytes}")
    value = decode(data, max_bytes)
    if type(value) is not list or len(value) != 2 or type(value[0]) is not int:
        raise DecodeError("consensus message: expected [kind, body]")
    cls = _KINDS.get(value[0])
    if cls is None:
        raise DecodeError(f"consensus message: unknown kind {value[0]}")
    msg = cls.from_wire(value[1])
    if cls._splices:
        keep_encodings(msg, data, index=1)
    return msg  # type: ignore[return-value]


def proposal_payload(height: int, view: int, block_hash: bytes, proposer: bytes) -> bytes:
    """What a PRE-PREPARE's signature covers (under ``TAG_PREPREPARE``)."""
    return encode([height, view, block_hash, proposer])


def signed_payload(msg: Message, suite: CryptoSuite) -> bytes:
    """What a (non-vote) message's signature covers.

    Every field but the signature; for a PRE-PREPARE, the compact
    ``proposal_payload`` instead (the block enters through its header hash).
    """
    if isinstance(msg, PrePrepare):
        block_hash = header_hash(suite, msg.block.header)
        return proposal_payload(msg.height, msg.view, block_hash, msg.sender)
    return msg.encode_fields(len(msg._fields) - 1)


def sign_message(signer: Signer, chain_id: str, msg: Message) -> Message:
    """``msg`` with ``sender`` set to the signer and a fresh signature.

    Votes are signed with ``chain.types.sign_vote`` instead, since certificates
    reuse their signatures; a ``ProposalSeen`` is never signed by its sender.
    """
    if isinstance(msg, Vote | ProposalSeen):
        raise TypeError(f"{type(msg).__name__} is not signed with sign_message")
    unsigned = dataclasses.replace(msg, sender=signer.public_key, signature=b"")
    payload = signed_payload(unsigned, signer.suite)
    signature = signer.sign(_TAGS[type(msg)], chain_id, payload)
    return dataclasses.replace(unsigned, signature=signature)


def verify_message(suite: CryptoSuite, chain_id: str, msg: Message) -> bool:
    """True when ``msg`` is signed by its sender (voter, proposer) for this chain and type."""
    if isinstance(msg, Vote):
        return verify_vote(suite, chain_id, msg)
    if isinstance(msg, ProposalSeen):
        return verify_proposal(suite, chain_id, msg)
    payload = signed_payload(dataclasses.replace(msg, signature=b""), suite)
    return suite.verify(msg.sender, _TAGS[type(msg)], chain_id, payload, msg.signature)


def seen_proposal(suite: CryptoSuite, pp: PrePrepare) -> ProposalSeen:
    """The compact, still verifiable form of a PRE-PREPARE."""
    block_hash = header_hash(suite, pp.block.header)
    return ProposalSeen(pp.height, pp.view, block_hash, pp.sender, pp.signature)


def verify_proposal(suite: CryptoSuite, chain_id: str, seen: ProposalSeen) -> bool:
    """True when ``seen.proposer`` signed a PRE-PREPARE of ``seen.block_hash`` for the slot."""
    payload = proposal_payload(seen.height, seen.view, seen.block_hash, seen.proposer)
    return suite.verify(seen.proposer, TAG_PREPREPARE, chain_id, payload, seen.proposer_signature)


def message_sender(msg: Message) -> bytes:
    """The key that signed ``msg``."""
    if isinstance(msg, Vote):
        return msg.voter
    if isinstance(msg, ProposalSeen):
        return msg.proposer
    return msg.sender
