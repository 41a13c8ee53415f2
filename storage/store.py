"""The node's LevelDB: blocks, certificates, receipts, tx index, state, head.

Theory of operation
-------------------
One LevelDB per node. Everything a committed height adds — the block, its
certificate, its receipts, the tx index entries, the state-tree nodes, the
flat table of latest state values, and the new head pointer — goes into **one
write batch written with sync**. LevelDB applies a batch atomically and its
log replays whole batches only, so after a kill at any instant a reopen sees
either the old head with all of its data or the new head with all of its
data, never a mix. That is the whole crash-consistency argument; nothing else
in this module may write chain data outside ``commit``.

One exception, by design: evidence of equivocation (``node.evidence``) is not
part of any height. It is written with ``put_evidence`` in a small batch of
its own (one entry, and the entries it evicts), never in the commit batch, so
a flood of evidence cannot delay or bloat a height's write. That batch is not
synced on its own: LevelDB has written it to its log when ``put_evidence``
returns (it survives a kill of the process), and the next height's synced
batch makes it durable against a power cut too.

Key layout (one-byte namespaces keep scans cheap and prefixes unambiguous)::

    m/meta            [magic, format, chain_id, genesis_hash]  written once
    m/head            [height, block_hash, state_root]
    b/<height:8>      block                     c/<height:8>  certificate
    r/<height:8>      receipts of that block    h/<hash>      height by block hash
    x/<tx hash>       [height, index]           v/<key>       latest state value
    s/...             authenticated state tree (storage.state_tree)
    e/<seq:8>         one evidence entry (node.evidence; outside the commit batch)

Heights are 8-byte big-endian so that byte order is numeric order.

Height 0 is genesis: it has no block, only state (and a head pointing at the
genesis hash), so replay and the first proposal both start from a stored root.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import plyvel

from chain.codec import decode, encode
from chain.crypto import CryptoSuite
from chain.errors import CorruptStoreError, DecodeError, ForeignStoreError, StorageError
from chain.types import Block, CommitCertificate, Receipt, header_hash
from storage.state_tree import StateTree, TreeUpdate

__all__ = ["STORE_FORMAT", "Head", "StateSnapshot", "Store", "TxLocation"]

_MAGIC = "skillchain-store"
_FORMAT = 1
STORE_FORMAT = _FORMAT
"""The on-disk layout this build reads and writes (refused when another: ``_check_meta``)."""
_META = b"m/meta"
_HEAD = b"m/head"


def _h(height: int) -> bytes:
    return height.to_bytes(8, "big")


@dataclass(frozen=True, slots=True)
class Head:
    """The last committed height (0 = genesis only)."""

    height: int
    block_hash: bytes
    state_root: bytes


@dataclass(frozen=True, slots=True)
class TxLocation:
    """Where a committed tx sits."""

    height: int
    index: int


class StateSnapshot:
    """Reads of the latest committed state values (the executor's base view)."""

    __slots__ = ("_db", "_path")

    def __init__(self, db: plyvel.DB, path: Path) -> None:
        self._db = db
        self._path = path

    def get(self, key: bytes) -> bytes | None:
        try:
            return self._db.get(b"v/" + key)
        except plyvel.Error as exc:
            raise _translate(exc, self._path) from None


class Store:
    """A node's LevelDB, opened for one chain (identified by its genesis hash)."""

    def __init__(self, db: plyvel.DB, path: Path, suite: CryptoSuite) -> None:
        self._db = db
        self.path = path
        self.suite = suite
        self.tree = StateTree(db.prefixed_db(b"s/"), suite, label=f"{path}: state tree")
        self.state = StateSnapshot(db, path)
        self._head = self._read_head()

    # -- opening -------------------------------------------------------------

    @classmethod
    def open(
        cls, path: str | Path, suite: CryptoSuite, chain_id: str, genesis_hash: bytes
    ) -> Store:
        """Open or create the store at ``path`` for the chain of ``genesis_hash``.

        Refuses (``ForeignStoreError``) a directory holding something else or
        another chain's data, and (``CorruptStoreError``) a damaged database,
        each with a message naming the directory and what to do.
        """
        path = Path(path)
        fresh = not path.exists() or not any(path.iterdir())
        if not fresh and not (path / "CURRENT").exists():
            raise ForeignStoreError(
                f"{path} is not empty and is not a LevelDB directory; "
                "point --home at a new directory or remove it"
            )
        db = _open_db(path)
        try:
            _check_meta(db, path, chain_id, genesis_hash, create=fresh)
            return cls(db, path, suite)
        except plyvel.Error as exc:
            db.close()
            raise _translate(exc, path) from None
        except BaseException:
            db.close()
            raise

    def close(self) -> None:
        self._db.close()

    # -- head and genesis ----------------------------------------------------

    @property
    def head(self) -> Head | None:
        """The committed head, or None before genesis was written."""
        return self._head

    def _read_head(self) -> Head | None:
        raw = self._get(_HEAD)
        if raw is None:
            return None
        value = self._decode(raw, "head pointer")
        try:
            height, block_hash, state_root = value
            return Head(int(height), bytes(block_hash), bytes(state_root))
        except (TypeError, ValueError):
            raise CorruptStoreError(f"{self.path}: head pointer is malformed") from None

    def commit_genesis(
        self, genesis_hash: bytes, update: TreeUpdate, changes: Mapping[bytes, bytes | None]
    ) -> Head:
        """Write the genesis state as height 0 (once)."""
        if self._head is not None:
            raise StorageError(f"{self.path}: genesis state is already written")
        head = Head(0, genesis_hash, update.root)
        with self._batch() as batch:
            self._put_state(batch, update, changes)
            batch.put(_HEAD, encode([0, genesis_hash, update.root]))
        self._head = head
        return head

    # -- committing a height ---------------------------------------------------

    def commit(
        self,
        block: Block,
        certificate: CommitCertificate,
        receipts: Sequence[Receipt],
        tx_hashes: Sequence[bytes],
        update: TreeUpdate,
        changes: Mapping[bytes, bytes | None],
    ) -> Head:
        """Persist one committed height atomically and durably (see module docstring)."""
        height = block.header.height
        expected = 1 if self._head is None else self._head.height + 1
        if height != expected or update.version != height:
            raise StorageError(f"commit of height {height} out of order; expected {expected}")
        if update.root != block.header.state_root:
            raise StorageError(f"height {height}: state update root differs from the header")
        block_hash = header_hash(self.suite, block.header)
        with self._batch() as batch:
            batch.put(b"b/" + _h(height), block.encode())
            batch.put(b"c/" + _h(height), certificate.encode())
            batch.put(b"r/" + _h(height), encode([r.to_wire() for r in receipts]))
            batch.put(b"h/" + block_hash, _h(height))
            for index, tx_id in enumerate(tx_hashes):
                batch.put(b"x/" + tx_id, encode([height, index]))
            self._put_state(batch, update, changes)
            batch.put(_HEAD, encode([height, block_hash, update.root]))
        self._head = Head(height, block_hash, update.root)
        return self._head

    def _put_state(
        self, batch: plyvel.WriteBatch, update: TreeUpdate, changes: Mapping[bytes, bytes | None]
    ) -> None:
        self.tree.write(update, _PrefixedBatch(batch, b"s/"))
        for key, value in changes.items():
            if value is None:
                batch.delete(b"v/" + key)
            else:
                batch.put(b"v/" + key, value)

    # -- reads -----------------------------------------------------------------

    def block(self, height: int) -> Block | None:
        raw = self._get(b"b/" + _h(height))
        return None if raw is None else self._decode_record(Block, raw, f"block {height}")

    def block_height_by_hash(self, block_hash: bytes) -> int | None:
        raw = self._get(b"h/" + block_hash)
        return None if raw is None else int.from_bytes(raw, "big")

    def certificate(self, height: int) -> CommitCertificate | None:
        raw = self._get(b"c/" + _h(height))
        if raw is None:
            return None
        return self._decode_record(CommitCertificate, raw, f"certificate {height}")

    def receipts(self, height: int) -> list[Receipt] | None:
        raw = self._get(b"r/" + _h(height))
        if raw is None:
            return None
        value = self._decode(raw, f"receipts {height}")
        try:
            return [Receipt.from_wire(item) for item in value]
        except (DecodeError, TypeError) as exc:
            raise CorruptStoreError(f"{self.path}: receipts of height {height}: {exc}") from None

    def tx_location(self, tx_id: bytes) -> TxLocation | None:
        raw = self._get(b"x/" + tx_id)
        if raw is None:
            return None
        height, index = self._decode(raw, "tx index entry")
        return TxLocation(height, index)

    def state_items(self) -> Iterator[tuple[bytes, bytes]]:
        """Every latest state value, in key order (for checks and exports)."""
        try:
            with self._db.iterator(prefix=b"v/") as it:
                for key, value in it:
                    yield key[2:], value
        except plyvel.Error as exc:
            raise _translate(exc, self.path) from None

    # -- evidence (not part of any height; see the module docstring) ----------

    def put_evidence(self, seq: int, data: bytes, evict: Sequence[int] = ()) -> None:
        """Write evidence entry ``seq`` and delete the entries ``evict``, in one small
        batch of their own (never the commit batch)."""
        try:
            with self._db.write_batch(transaction=True) as batch:
                for old in evict:
                    batch.delete(b"e/" + _h(old))
                batch.put(b"e/" + _h(seq), data)
        except plyvel.Error as exc:
            raise _translate(exc, self.path) from None

    def evidence_items(self) -> Iterator[tuple[int, bytes]]:
        """Every stored evidence entry as (seq, data), in seq order."""
        try:
            with self._db.iterator(prefix=b"e/") as it:
                for key, value in it:
                    yield int.from_bytes(key[2:], "big"), value
        except plyvel.Error as exc:
            raise _translate(exc, self.path) from None

    def approximate_size(self) -> int:
        """Bytes the database occupies on disk."""
        return sum(f.stat().st_size for f in self.path.iterdir() if f.is_file())

    # -- plumbing --------------------------------------------------------------

    def _get(self, key: bytes) -> bytes | None:
        try:
            return self._db.get(key)
        except plyvel.Error as exc:
            raise _translate(exc, self.path) from None

    def _decode(self, raw: bytes, what: str):  # noqa: ANN202 - decoded value
        try:
            return decode(raw)
        except DecodeError as exc:
            raise CorruptStoreError(f"{self.path}: stored {what} is corrupt: {exc}") from None

    def _decode_record(self, cls, raw: bytes, what: str):  # noqa: ANN001, ANN202
        try:
            return cls.decode(raw)
        except DecodeError as exc:
            raise CorruptStoreError(f"{self.path}: stored {what} is corrupt: {exc}") from None

    def _batch(self) -> _SyncedBatch:
        return _SyncedBatch(self._db, self.path)


class _SyncedBatch:
    """A write batch written with sync, errors translated."""

    def __init__(self, db: plyvel.DB, path: Path) -> None:
        self._batch = db.write_batch(sync=True, transaction=True)
        self._path = path

    def __enter__(self) -> plyvel.WriteBatch:
        return self._batch.__enter__()

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._batch.__exit__(*exc_info)
        except plyvel.Error as exc:
            raise _translate(exc, self._path) from None


class _PrefixedBatch:
    """Puts into a shared batch under a key prefix (the tree's namespace)."""

    __slots__ = ("_batch", "_prefix")

    def __init__(self, batch: plyvel.WriteBatch, prefix: bytes) -> None:
        self._batch = batch
        self._prefix = prefix

    def put(self, key: bytes, value: bytes) -> None:
        self._batch.put(self._prefix + key, value)

    def delete(self, key: bytes) -> None:
        self._batch.delete(self._prefix + key)


def _open_db(path: Path) -> plyvel.DB:
    try:
        os.makedirs(path, exist_ok=True)
        return plyvel.DB(
            str(path),
            create_if_missing=True,
            paranoid_checks=True,
            # Tree nodes are read at random: a bloom filter saves disk probes for
            # absent keys and a block cache keeps hot nodes; a larger write buffer
            # delays compaction, which measured as much CPU as the tree itself.
            # No compression: tree nodes are mostly hashes, and snappy on every
            # compaction cost CPU for little space. In a 4-validator benchmark on
            # 2 cores the background (compaction) threads used 60% less CPU, and
            # p50/p99 at 900 tx/s fell from 511/1,676 ms to 232/811 ms.
            bloom_filter_bits=10,
            lru_cache_size=64 << 20,
            write_buffer_size=32 << 20,
            compression=None,
        )
    except plyvel.Error as exc:
        raise _translate(exc, path) from None
    except OSError as exc:
        raise StorageError(f"cannot open data directory {path}: {exc.strerror}") from None


def _check_meta(
    db: plyvel.DB, path: Path, chain_id: str, genesis_hash: bytes, create: bool
) -> None:
    raw = db.get(_META)
    if raw is None:
        if not create:
            raise ForeignStoreError(
                f"{path} is a LevelDB directory but not a skillchain store; use a new directory"
            )
        db.put(_META, encode([_MAGIC, _FORMAT, chain_id, genesis_hash]), sync=True)
        return
    try:
        magic, fmt, stored_chain, stored_genesis = decode(raw)
    except (DecodeError, ValueError, TypeError):
        raise CorruptStoreError(f"{path}: store metadata is corrupt") from None
    if magic != _MAGIC:
        raise ForeignStoreError(f"{path} is not a skillchain store")
    if fmt != _FORMAT:
        raise ForeignStoreError(f"{path} has store format {fmt}; this node reads {_FORMAT}")
    if stored_chain != chain_id or stored_genesis != genesis_hash:
        raise ForeignStoreError(
            f"{path} holds chain {stored_chain!r} with genesis {stored_genesis.hex()[:16]}…, "
            f"not {chain_id!r} with genesis {genesis_hash.hex()[:16]}…; "
            "start with the genesis this directory was made for, or a new directory"
        )


def _translate(exc: plyvel.Error, path: Path) -> StorageError:
    if isinstance(exc, plyvel.CorruptionError):
        return CorruptStoreError(f"{path}: LevelDB reports corruption: {exc}")
    if isinstance(exc, plyvel.IOError):
        return StorageError(f"{path}: LevelDB I/O error: {exc}")
    return StorageError(f"{path}: LevelDB error: {exc}")
