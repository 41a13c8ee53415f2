"""The structures every part of skillchain exchanges: txs, blocks, votes, receipts.

All are frozen records with one canonical encoding (``chain.records``). Hashes
and signing payloads are functions of a crypto suite, because the suite is
chosen by genesis, not by the type.

Identity rules worth knowing:

* A tx's hash covers everything but its signature, so re-signing or mangling a
  signature never makes "another" tx: the mempool and the tx index deduplicate
  on this hash, and replay protection (nonce + expiry) rests on it.
* A block's hash is its header's hash; the header commits to the txs through
  ``tx_root`` and to their outcomes through ``receipts_root``.
* A vote signs ``[phase, height, view, block_hash]`` under the vote tag and the
  chain id, so a PREPARE can never be counted as a COMMIT and a devnet vote is
  worthless on the provincial chain.
"""

from __future__ import annotations

from dataclasses import field
from enum import IntEnum
from typing import Any, NewType

from chain.codec import Value, encode
from chain.crypto import TAG_BLOCK, TAG_RECEIPT, TAG_TX, TAG_VOTE, CryptoSuite, Signer
from chain.records import Bytes32, Record, kept_encoding, record

__all__ = [
    "ZERO_HASH",
    "Block",
    "BlockHeader",
    "CommitCertificate",
    "Event",
    "Fen",
    "Height",
    "Phase",
    "Receipt",
    "ReceiptStatus",
    "Seconds",
    "Timestamp",
    "Tx",
    "View",
    "Vote",
    "header_hash",
    "receipt_leaf",
    "sign_tx",
    "sign_vote",
    "tx_hash",
    "tx_payload",
    "verify_tx_signature",
    "verify_vote",
    "vote_payload",
]

Height = NewType("Height", int)
View = NewType("View", int)
Timestamp = NewType("Timestamp", int)
"""Unix seconds, UTC."""
Seconds = NewType("Seconds", int)
Fen = NewType("Fen", int)
"""Money in fen (1/100 yuan): integers only, never floats."""

ZERO_HASH = bytes(32)
"""Parent of the first block's genesis link and the root of empty trees."""


@record
class Tx(Record):
    """A signed request from one actor: ``kind`` is ``"<contract>.<action>"``.

    ``_encoded`` and ``_hash`` are not wire fields but memos, because a tx of
    tens of KB is needed as bytes, hashed and checked many times per node:
    ``_encoded`` is the canonical encoding, kept from the bytes the tx was
    decoded from or made on first use (see ``chain.records``); ``_hash`` is
    ``(suite, tx_hash)`` from the first ``tx_hash``. Neither survives
    ``dataclasses.replace`` or construction, so they cannot disagree with the
    fields (a body is never mutated: txs are values).
    """

    chain_id: str
    kind: str
    sender: bytes
    nonce: int
    expires: int
    body: Any
    signature: bytes
    _encoded: bytes | None = kept_encoding()
    _hash: tuple[CryptoSuite, bytes] | None = field(
        default=None, init=False, repr=False, compare=False
    )


def _bin_size(data: bytes) -> int:
    """Bytes msgpack spends on ``data`` as a bin (bin 8, bin 16 or bin 32)."""
    size = len(data)
    return size + (2 if size < 0x100 else 3 if size < 0x10000 else 5)


def tx_payload(tx: Tx) -> bytes:
    """What a tx's signature and hash cover: every field but the signature.

    That is ``encode`` of the first six fields, cut from the tx's canonical
    bytes: a 6-item array header in place of the 7-item one (0x97 -> 0x96),
    and the trailing signature dropped.
    """
    if type(tx.signature) is not bytes:  # not a wire-valid tx; encode what it holds
        return encode([tx.chain_id, tx.kind, tx.sender, tx.nonce, tx.expires, tx.body])
    data = tx.encode()
    return b"\x96" + data[1 : len(data) - _bin_size(tx.signature)]


def tx_hash(suite: CryptoSuite, tx: Tx) -> bytes:
    """The tx's identity (signature excluded; see the module docstring), computed once."""
    kept = tx._hash
    if kept is not None and kept[0] is suite:
        return kept[1]
    digest = suite.tagged_hash(TAG_TX, tx_payload(tx))
    object.__setattr__(tx, "_hash", (suite, digest))
    return digest


def sign_tx(signer: Signer, chain_id: str, kind: str, nonce: int, expires: int, body: Value) -> Tx:
    """Build and sign a tx from ``signer``'s key.

    The body is encoded once: the tx's bytes are the signed payload with the
    signature appended (and the array header grown from six items to seven).
    """
    payload = encode([chain_id, kind, signer.public_key, nonce, expires, body])
    signature = signer.sign(TAG_TX, chain_id, payload)
    tx = Tx(chain_id, kind, signer.public_key, nonce, expires, body, signature)
    object.__setattr__(tx, "_encoded", b"\x97" + payload[1:] + encode(signature))
    return tx


def verify_tx_signature(suite: CryptoSuite, tx: Tx) -> bool:
    """True when the tx is signed by its sender for its own chain id."""
    return suite.verify(tx.sender, TAG_TX, tx.chain_id, tx_payload(tx), tx.signature)


@record
class BlockHeader(Record):
    """What consensus agrees on; the roots are of the state after executing the block."""

    chain_id: str
    height: int
    view: int
    time: int
    parent_hash: Bytes32
    proposer: bytes
    tx_root: Bytes32
    receipts_root: Bytes32
    state_root: Bytes32
    validators_hash: Bytes32


def header_hash(suite: CryptoSuite, header: BlockHeader) -> bytes:
    """The block's identity."""
    return suite.tagged_hash(TAG_BLOCK, header.encode())


@record
class Block(Record):
    """A header and the txs it orders; receipts are recomputed, not carried."""

    header: BlockHeader
    txs: tuple[Tx, ...]


class Phase(IntEnum):
    """Which PBFT round a vote belongs to; part of what is signed."""

    PREPARE = 1
    COMMIT = 2


@record
class Vote(Record):
    """One validator's signed PREPARE or COMMIT for a block at (height, view)."""

    phase: int
    height: int
    view: int
    block_hash: Bytes32
    voter: bytes
    signature: bytes


def vote_payload(phase: int, height: int, view: int, block_hash: bytes) -> bytes:
    """What a vote signs; also what a certificate's signatures cover (phase COMMIT)."""
    return encode([phase, height, view, block_hash])


def sign_vote(
    signer: Signer, chain_id: str, phase: Phase, height: int, view: int, block_hash: bytes
) -> Vote:
    """A vote by ``signer``."""
    payload = vote_payload(int(phase), height, view, block_hash)
    signature = signer.sign(TAG_VOTE, chain_id, payload)
    return Vote(int(phase), height, view, block_hash, signer.public_key, signature)


def verify_vote(suite: CryptoSuite, chain_id: str, vote: Vote) -> bool:
    """True when ``vote`` is signed by its voter for this chain."""
    payload = vote_payload(vote.phase, vote.height, vote.view, vote.block_hash)
    return suite.verify(vote.voter, TAG_VOTE, chain_id, payload, vote.signature)


@record
class CommitCertificate(Record):
    """A quorum of COMMIT signatures over one header hash.

    ``signers`` is a bitmap over the validator set in force at ``height``
    (bit i of byte i // 8, least significant first, is validator i), and
    ``signatures`` lists the signatures of the set bits in index order.
    """

    height: int
    view: int
    block_hash: Bytes32
    signers: bytes
    signatures: tuple[bytes, ...]


class ReceiptStatus(IntEnum):
    """Outcome of one tx. Rejected txs stay in the block as evidence."""

    ACCEPTED = 0
    REJECTED = 1


@record
class Event(Record):
    """A fact a contract emits for indexers and streams (``kind`` names it)."""

    kind: str
    data: Any


@record
class Receipt(Record):
    """The outcome of one tx: status, stable error code ("" when accepted), events."""

    status: int
    code: str
    events: tuple[Event, ...]


def receipt_leaf(receipt: Receipt) -> bytes:
    """The Merkle leaf data of a receipt (tagged, so it cannot pose as a tx)."""
    return encode([TAG_RECEIPT, receipt.to_wire()])
