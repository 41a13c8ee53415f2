"""The LevelDB store: atomic commits, crash consistency, refusing foreign data."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import plyvel
import pytest

from chain.errors import CorruptStoreError, ForeignStoreError, StorageError
from chain.types import Block, header_hash
from storage.state_tree import StateTree
from storage.store import Store
from tests.storefixtures import (
    CHAIN,
    SUITE,
    commit_puts,
    ensure_genesis,
    open_store,
)

REPO = Path(__file__).resolve().parent.parent


def test_commit_and_read_back(tmp_path):
    store = open_store(tmp_path / "db")
    ensure_genesis(store)
    block = commit_puts(store, {b"a": b"1", b"b": b"2"}, txs_per_block=2)
    digest = header_hash(SUITE, block.header)
    assert store.head.height == 1 and store.head.block_hash == digest
    assert store.block(1) == block
    assert store.block_height_by_hash(digest) == 1
    assert store.certificate(1).block_hash == digest
    assert len(store.receipts(1)) == 2
    from chain.types import tx_hash

    loc = store.tx_location(tx_hash(SUITE, block.txs[1]))
    assert (loc.height, loc.index) == (1, 1)
    assert store.state.get(b"a") == b"1"
    commit_puts(store, {b"a": None, b"c": b"3"})
    assert store.state.get(b"a") is None
    assert store.tree.get(b"a", 1) == b"1" and store.tree.get(b"a", 2) is None
    assert dict(store.state_items()) == {b"b": b"2", b"c": b"3"}
    store.close()
    again = open_store(tmp_path / "db")
    assert again.head.height == 2 and again.block(2).header.height == 2
    again.close()


def test_out_of_order_commit_is_refused(tmp_path):
    store = open_store(tmp_path / "db")
    ensure_genesis(store)
    block = commit_puts(store, {b"a": b"1"})
    with pytest.raises(StorageError, match="out of order"):
        store.commit(block, store.certificate(1), [], [], store.tree.compute(1, 1, {}), {})
    store.close()


def test_foreign_and_other_chain_directories_are_refused(tmp_path):
    store = open_store(tmp_path / "db")
    store.close()
    with pytest.raises(ForeignStoreError, match="holds chain 'store-test'"):
        Store.open(tmp_path / "db", SUITE, CHAIN, SUITE.hash(b"other genesis"))
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("hello")
    with pytest.raises(ForeignStoreError, match="not a LevelDB directory"):
        open_store(tmp_path / "notes")
    plain = plyvel.DB(str(tmp_path / "plain"), create_if_missing=True)
    plain.put(b"x", b"y")
    plain.close()
    with pytest.raises(ForeignStoreError, match="not a skillchain store"):
        open_store(tmp_path / "plain")


def test_corrupt_table_file_is_refused_with_its_directory(tmp_path):
    path = tmp_path / "db"
    store = open_store(path)
    ensure_genesis(store)
    for i in range(30):
        commit_puts(store, {b"k%d" % j: os.urandom(200) for j in range(i * 50, i * 50 + 50)})
    store._db.compact_range()
    store.close()
    tables = sorted(path.glob("*.ldb"))
    assert tables
    for table in tables:
        data = bytearray(table.read_bytes())
        for i in range(100, len(data) - 100, 97):
            data[i] ^= 0xFF
        table.write_bytes(bytes(data))
    with pytest.raises((CorruptStoreError, StorageError)) as err:
        reopened = open_store(path)
        for height in range(1, 31):
            reopened.block(height)
        for _ in reopened.state_items():
            pass
    assert str(path) in str(err.value)


def test_a_damaged_state_tree_node_names_the_database(tmp_path):
    path = tmp_path / "db"
    store = open_store(path)
    ensure_genesis(store)
    commit_puts(store, {b"k%d" % j: b"v" for j in range(200)})
    tree_db = store._db.prefixed_db(b"s/")
    node_key = min((key for key, _ in tree_db.iterator(prefix=b"n")), key=len)
    value = bytearray(tree_db.get(node_key))
    value[-1] ^= 0xFF
    tree_db.put(node_key, bytes(value))
    store.tree._cache.clear()
    with pytest.raises(CorruptStoreError) as err:
        store.tree.prove(b"k1", store.head.height)
    assert str(path) in str(err.value) and "fails its checksum" in str(err.value)


def _recomputed_root(store: Store, tmp: Path) -> bytes:
    scratch = plyvel.DB(str(tmp), create_if_missing=True)
    tree = StateTree(scratch, SUITE)
    update = tree.compute(0, 1, dict(store.state_items()))
    scratch.close()
    return update.root


def test_sigkill_at_random_moments_never_leaves_a_mixed_head(tmp_path):
    """50+ kills: every reopen has a complete head whose root matches a recomputation."""
    path = tmp_path / "db"
    rng = random.Random(20261127)
    acknowledged = 0
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for round_no in range(52):
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.crash_child", str(path), str(round_no)],
            stdout=subprocess.PIPE,
            cwd=REPO,
            env=env,
            text=True,
        )
        target = rng.randint(1, 6)
        deadline = time.monotonic() + 30
        seen = 0
        while seen < target and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            acknowledged = max(acknowledged, int(line.split()[1]))
            seen += 1
        time.sleep(rng.random() * 0.05)
        child.send_signal(signal.SIGKILL)
        child.wait()
        for line in child.stdout:  # acknowledgements printed before the kill landed
            acknowledged = max(acknowledged, int(line.split()[1]))
        child.stdout.close()
        assert seen > 0, "child committed nothing"

        store = open_store(path)
        head = store.head
        assert head.height >= acknowledged, "an acknowledged commit was lost"
        block: Block = store.block(head.height)
        assert header_hash(SUITE, block.header) == head.block_hash
        assert block.header.state_root == head.state_root == store.tree.root(head.height)
        assert store.certificate(head.height).block_hash == head.block_hash
        assert store.block(head.height + 1) is None
        assert _recomputed_root(store, tmp_path / f"scratch{round_no}") == head.state_root
        store.close()
    assert acknowledged >= 52


# -- evidence: its own small batches, outside the heights ------------------------


def test_evidence_is_written_in_its_own_batch_and_read_back_in_order(tmp_path):
    store = open_store(tmp_path / "db")
    ensure_genesis(store)
    head = store.head
    for seq in (3, 1, 2):
        store.put_evidence(seq, b"entry %d" % seq)
    store.put_evidence(4, b"entry 4", evict=[1, 3])
    assert list(store.evidence_items()) == [(2, b"entry 2"), (4, b"entry 4")]
    assert store.head == head, "evidence is no part of a height"
    commit_puts(store, {b"a": b"1"})
    assert list(store.evidence_items()) == [(2, b"entry 2"), (4, b"entry 4")]
    assert store.state.get(b"a") == b"1"
    store.close()
    reopened = open_store(tmp_path / "db")
    assert list(reopened.evidence_items()) == [(2, b"entry 2"), (4, b"entry 4")]
    assert reopened.head.height == 1
    reopened.close()


def test_evidence_survives_a_kill_of_the_process(tmp_path):
    """Not synced on its own, but in LevelDB's log when ``put_evidence`` returns."""
    path = tmp_path / "db"
    ensure_genesis(store := open_store(path))
    store.close()
    code = (
        "import sys, time\n"
        "from tests.storefixtures import open_store\n"
        f"store = open_store({str(path)!r})\n"
        "for seq in range(1, 51):\n"
        "    store.put_evidence(seq, b'x' * 500)\n"
        "print('written', flush=True)\n"
        "time.sleep(60)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, cwd=REPO,
                             env=env, text=True)
    try:
        assert child.stdout.readline().strip() == "written"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    reopened = open_store(path)
    assert [seq for seq, _ in reopened.evidence_items()] == list(range(1, 51))
    reopened.close()
