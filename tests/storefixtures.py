"""Helpers that build real blocks and commits against a real Store (no mocks)."""

from __future__ import annotations

from chain.blocks import receipts_root, tx_root
from chain.crypto import get_suite
from chain.types import (
    Block,
    BlockHeader,
    Receipt,
    ReceiptStatus,
    Tx,
    header_hash,
    sign_tx,
    tx_hash,
)
from chain.validators import Validator, ValidatorSet, build_certificate, sign_commit
from storage.store import Store

SUITE = get_suite("ed25519-sha256")
CHAIN = "store-test"
GENESIS_HASH = SUITE.hash(b"store-test-genesis")
VALIDATOR = SUITE.signer_from_seed(b"\x11" * 32)
CLIENT = SUITE.signer_from_seed(b"\x22" * 32)
VALSET = ValidatorSet([Validator(VALIDATOR.public_key, "v0", "360100")])


def open_store(path) -> Store:
    return Store.open(path, SUITE, CHAIN, GENESIS_HASH)


def ensure_genesis(store: Store) -> None:
    if store.head is None:
        update = store.tree.compute(0, 0, {})
        store.commit_genesis(GENESIS_HASH, update, {})


def put_txs(height: int, puts: dict[bytes, bytes | None], count: int) -> tuple[Tx, ...]:
    """``count`` signed ``test.put`` txs that together carry ``puts``."""
    items = sorted(puts.items())
    return tuple(
        sign_tx(
            CLIENT,
            CHAIN,
            "test.put",
            height * 1_000_000 + i,
            height + 10,
            [[k, v] for k, v in chunk],
        )
        for i, chunk in enumerate(_chunks(items, count))
    )


def commit_puts(store: Store, puts: dict[bytes, bytes | None], txs_per_block: int = 1, txs=None):
    """Commit one block of ``test.put`` txs carrying ``puts``; return the block."""
    head = store.head
    height = head.height + 1
    txs = txs if txs is not None else put_txs(height, puts, txs_per_block)
    hashes = [tx_hash(SUITE, tx) for tx in txs]
    receipts = [Receipt(int(ReceiptStatus.ACCEPTED), "", ()) for _ in txs]
    update = store.tree.compute(head.height, height, dict(puts))
    header = BlockHeader(
        CHAIN,
        height,
        0,
        1_767_225_600 + height,
        head.block_hash,
        VALIDATOR.public_key,
        tx_root(SUITE, txs, hashes),
        receipts_root(SUITE, receipts),
        update.root,
        VALSET.hash(SUITE),
    )
    block = Block(header, txs)
    digest = header_hash(SUITE, header)
    cert = build_certificate(
        VALSET,
        height,
        0,
        digest,
        {VALIDATOR.public_key: sign_commit(VALIDATOR, CHAIN, height, 0, digest)},
    )
    store.commit(block, cert, receipts, hashes, update, dict(puts))
    return block


def _chunks(items, parts):
    parts = max(1, min(parts, len(items)))
    size = -(-len(items) // parts) if items else 0
    return [items[i : i + size] for i in range(0, len(items), size)] if items else [[]]
