"""What a replica asks its runtime to do, its configuration, and its journal records.

The runtime performs a returned action list **in order**. One rule is safety
critical: a ``Persist`` must be durable (synced) before any ``Send`` or
``Broadcast`` that follows it in the same list leaves the process — that is
how "never sign two different blocks for one (height, view), even across a
crash" survives a power cut.

Journal records are what ``Persist`` carries and what ``Replica.restore``
replays: the replica's own signed messages, its prepared certificate, and an
end-of-height marker. They share the message codec, so a log record is
``[kind, body]`` like a wire message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from chain.codec import decode, encode
from chain.errors import DecodeError
from chain.records import Bytes32, Record, keep_encodings, record
from chain.types import Block, CommitCertificate, Vote
from consensus.messages import (
    CatchUpRequest,
    Message,
    NewView,
    PreparedCertificate,
    PrePrepare,
    ProposalSeen,
    ViewChange,
)

__all__ = [
    "Action",
    "BuildProposal",
    "Broadcast",
    "Commit",
    "Config",
    "HeightDone",
    "JournalRecord",
    "Persist",
    "Prepared",
    "ReportEvidence",
    "ReportFault",
    "ReportProposalEvidence",
    "RequestCatchUp",
    "Send",
    "SetTimer",
    "Tip",
    "VerifyBlock",
    "decode_journal",
    "encode_journal",
]


@dataclass(frozen=True, slots=True)
class Config:
    """Timeouts and bounds; every duration is in virtual or real milliseconds.

    The progress timeout doubles with each consecutive view change at one
    height, up to ``max_timeout_ms``: growth lets a slow network catch up,
    the cap keeps a long outage from making recovery take forever.
    """

    base_timeout_ms: int = 1000
    max_timeout_ms: int = 16000
    max_view_ahead: int = 32
    """VIEW-CHANGEs and votes for views further ahead than this are ignored."""
    future_buffer_per_sender: int = 32
    catch_up_batch: int = 32
    catch_up_burst_bytes: int = 8 << 20
    """Catch-up answer bytes a peer may pull at once: one full answer (``CATCH_UP_BYTES``)."""
    catch_up_rate_bytes_per_s: int = 8 << 20
    """Then this many per second, per peer, whatever heights it asks for (see
    ``consensus.service``: faster than any node applies blocks, so an honest
    node catching up is never slowed; a liar pulls at most this)."""
    leader_window: int = 0
    """Heights of headers that leader reputation reads (``consensus.leaders``);
    0: plain rotation."""


@dataclass(frozen=True, slots=True)
class Tip:
    """The last decided block the application holds durably (height 0: genesis)."""

    height: int
    block_hash: bytes


@record
class Prepared(Record):
    """Journal: this replica holds a prepared certificate at ``height``."""

    height: int
    certificate: PreparedCertificate


@record
class HeightDone(Record):
    """Journal: end-of-height marker; records of heights up to here are history."""

    height: int
    block_hash: Bytes32


JournalRecord = PrePrepare | Vote | ViewChange | NewView | Prepared | HeightDone

_JOURNAL_KINDS: Final[dict[int, type[Record]]] = {
    1: PrePrepare,
    2: Vote,
    3: ViewChange,
    4: NewView,
    10: Prepared,
    11: HeightDone,
}
_JOURNAL_KIND_OF: Final = {cls: kind for kind, cls in _JOURNAL_KINDS.items()}


def encode_journal(rec: JournalRecord) -> bytes:
    """Bytes of one journal record, as the write-ahead log stores them.

    ``[kind, body]`` spelled out so that a block's txs are spliced in from
    their kept bytes (``chain.records``), not encoded again.
    """
    return b"\x92" + encode(_JOURNAL_KIND_OF[type(rec)]) + rec.encode()


def decode_journal(data: bytes) -> JournalRecord:
    """Strictly decode one journal record (``DecodeError`` on any flaw)."""
    value = decode(data)
    if type(value) is not list or len(value) != 2 or type(value[0]) is not int:
        raise DecodeError("journal record: expected [kind, body]")
    cls = _JOURNAL_KINDS.get(value[0])
    if cls is None:
        raise DecodeError(f"journal record: unknown kind {value[0]}")
    rec = cls.from_wire(value[1])
    if cls._splices:
        keep_encodings(rec, data, index=1)
    return rec  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``msg`` to the validator with public key ``to``."""

    to: bytes
    msg: Message


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send ``msg`` to every other validator of the current set."""

    msg: Message


@dataclass(frozen=True, slots=True)
class Persist:
    """Append ``record`` to the write-ahead log and sync before later sends."""

    record: JournalRecord

    @property
    def data(self) -> bytes:
        return encode_journal(self.record)


@dataclass(frozen=True, slots=True)
class BuildProposal:
    """Build a block on ``parent_hash`` for (height, view); answer ``on_proposal_ready``."""

    height: int
    view: int
    parent_hash: bytes


@dataclass(frozen=True, slots=True)
class VerifyBlock:
    """Re-execute ``block`` and compare its roots; answer ``on_block_verified``."""

    block: Block
    block_hash: bytes


@dataclass(frozen=True, slots=True)
class Commit:
    """Apply ``block`` durably with its certificate; answer ``on_committed(height)``."""

    block: Block
    certificate: CommitCertificate


@dataclass(frozen=True, slots=True)
class RequestCatchUp:
    """Send the signed ``request`` to one or more of ``peers`` (we are behind)."""

    from_height: int
    peers: tuple[bytes, ...]
    request: CatchUpRequest


@dataclass(frozen=True, slots=True)
class SetTimer:
    """Call ``on_tick`` at or after ``deadline_ms``; replaces any earlier timer."""

    deadline_ms: int


@dataclass(frozen=True, slots=True)
class ReportEvidence:
    """Two votes by one validator for one (height, view, phase) with different blocks."""

    vote_a: Vote
    vote_b: Vote


@dataclass(frozen=True, slots=True)
class ReportFault:
    """Peer ``peer`` sent something that failed a check; count it against that peer.

    ``kind`` is a short fixed word: ``bad_body`` (a block body that does not
    match its header: tx root, a tx signature, size or depth limits) or
    ``catch_up_rate`` (a catch-up request over the peer's byte budget, dropped).
    The message was dropped; nothing else follows from it.
    """

    peer: bytes
    kind: str


@dataclass(frozen=True, slots=True)
class ReportProposalEvidence:
    """Two proposals signed by one primary for one (height, view) with different blocks.

    Check with ``consensus.proposals.is_valid_proposal_evidence``.
    """

    proposal_a: ProposalSeen
    proposal_b: ProposalSeen


Action = (
    Send | Broadcast | Persist | BuildProposal | VerifyBlock | Commit | RequestCatchUp
    | SetTimer | ReportEvidence | ReportProposalEvidence | ReportFault
)
