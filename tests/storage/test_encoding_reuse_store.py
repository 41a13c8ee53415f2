"""Stored blocks: spliced from kept tx bytes, yet byte for byte the generic encoding.

``Store.commit`` writes ``Block.encode()``, which splices each tx's kept bytes
(``chain.records``); a block read back keeps its txs' slices of the stored
bytes. Either way the stored bytes must be exactly ``encode(block.to_wire())``,
since the block's tx root and every tx hash are taken over them.
"""

from __future__ import annotations

import dataclasses

import pytest

from chain.codec import encode
from chain.crypto import TAG_TX
from chain.types import Tx, tx_hash
from storage.store import Store
from tests.storefixtures import SUITE, commit_puts, ensure_genesis, open_store, put_txs


def _raw_block(store: Store, height: int) -> bytes:
    return store._db.get(b"b/" + height.to_bytes(8, "big"))


@pytest.mark.parametrize("count", [1, 15, 16, 17])
@pytest.mark.parametrize("form", ["memory", "decoded"])
def test_stored_block_bytes_are_the_generic_encoding(tmp_path, count, form):
    store = open_store(tmp_path / "db")
    ensure_genesis(store)
    puts = {b"k%03d" % i: b"v" * i for i in range(count)}
    txs = put_txs(1, puts, count)
    if form == "decoded":
        txs = tuple(Tx.decode(tx.encode()) for tx in txs)
    else:
        txs = tuple(dataclasses.replace(tx) for tx in txs)  # no kept bytes yet
    block = commit_puts(store, puts, txs=txs)
    assert len(block.txs) == count
    raw = _raw_block(store, 1)
    assert raw == encode(block.to_wire())
    read = store.block(1)
    assert read == block and read.encode() == raw
    for tx in read.txs:
        assert tx._encoded == encode(tx.to_wire())
        payload = encode([tx.chain_id, tx.kind, tx.sender, tx.nonce, tx.expires, tx.body])
        assert tx_hash(SUITE, tx) == SUITE.tagged_hash(TAG_TX, payload)
    store.close()
