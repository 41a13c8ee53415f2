"""The authenticated, versioned state tree (Jellyfish-Merkle-style) over LevelDB.

Theory of operation
-------------------
*What is hashed* is a binary sparse Merkle tree over the 256 bits of
``key_hash = suite.hash(key)`` in which a subtree holding one leaf hashes as
that leaf (see ``chain.state_proof``, which an auditor uses alone). Binary
nodes would cost one LevelDB record per bit of depth, so, like Diem/Aptos'
Jellyfish Merkle tree, *what is stored* are 16-ary internal nodes, one per
nibble of ``key_hash``:

* an internal node keeps, per occupied child slot, either an internal child
  (its version and hash) or a leaf *inline* (its ``key_hash || value_hash``);
  its own hash is the root of the 4-level binary tree over its 16 slots, with
  the same float-up rule applied inside, so it equals the hash of the logical
  binary subtree at that position;
* a 16-ary position holding a single leaf holds that leaf inline in its
  parent, never a chain of internal nodes above it; a deletion that leaves one
  leaf alone re-collapses it upwards. Positions above two leaves that share
  many nibbles do hold chains of one-child internal nodes: the logical tree
  has ``H(x || 0)`` there.

*Versions.* Every committed height is a version. A node's database key is
``(version, nibble path)`` (JMT's ``NodeKey``) and a child reference names the
child's version, so a new version writes only the nodes on changed paths and
shares everything else with older versions: nothing is ever overwritten, and
any written version stays readable. Each version also gets a root record, and
each change a value-history record ``(key_hash, version) -> value or
tombstone``, so ``get`` is one reverse seek, not a tree walk.

*Computing a version* is pure with respect to the database: ``compute`` reads
committed nodes and returns every record of the new version as a
``TreeUpdate``; ``write`` adds them to the caller's batch. Several candidate
blocks can therefore be computed on the same base, and only the committed one
is ever written. A batch of changes is sorted by key hash and applied in one
recursive pass: each touched subtree is rebuilt once, bottom-up, whatever the
number of changes below it, so upper nodes are hashed once per batch.

Why it is fast
--------------
``bench.bench_state_tree`` at 10^6 keys, batches of 1,000 mixed changes, old
and new run side by side: the tree's own (main-thread) CPU went from ~5,400
to ~12,800 keys/s, process CPU (LevelDB's compaction threads included) from
~3,800 to ~6,100. The previous layout had separate leaf records and decoded
nodes into per-entry tuples, rehashing all 15 binary entries on every cache
miss. Each changed key still rewrites ~2.8 nodes; what changed is the cost
of each:

* **Leaves live inside their parent.** There are no leaf records: an update
  reads no leaf and writes one record fewer per key, and a proof reads only
  internal nodes. An inline leaf carries its leaf hash, so nothing is hashed
  to load it.
* **Records carry their computed binary hashes.** After the payloads, a
  record stores the hash of every binary entry that is a real ``H_node``
  (not empty, not a lone leaf floating up), so a cache miss is a LevelDB get
  and slicing, never a rehash. Nodes less than 4 nibbles deep (always cached,
  rewritten by every batch) omit them: that is LevelDB volume for nothing.
* **A node is one flat tuple** of 50 atoms (``_N_*`` below): the 31 hashes of
  its binary levels (16 slots, then 8, 4, 2 and the node's root; None when
  empty), the 16 slot payloads (``b""``, a 40-byte ``version || hash`` or a
  96-byte inline leaf, exactly as stored, so encoding is one ``b"".join``),
  and three masks (occupied slots, leaf slots, stored binary hashes).
  Whether a binary subtree is a lone leaf is a mask test, so no per-entry
  objects exist, a changed slot rehashes only its 4 ancestors, and the
  cyclic GC untracks cached nodes after one look.
* The bounded cache is filled on reads and by ``write`` with exactly the
  nodes it puts in the batch, so the results of speculative computes that are
  never written cannot leak into it; ``write`` also drops the base nodes the
  update superseded, so the cache holds live nodes. (A node key ``(v, path)``
  is referenced only by nodes of version ``v`` written in the same update, so
  even a batch that is written but then dropped leaves only unreachable
  entries behind.)

What remains per key is ~13 hash calls, ~2.8 node copies/encodes and dict
work, plus LevelDB: at 10^6 keys its compaction threads burn about as much
CPU again as the tree (records with hashes are ~2x the old bytes per key).
Opening the DB with ``bench.bench_state_tree.TUNED_DB_OPTIONS`` (64 MiB write
buffer, no compression, bloom filter, 128 MiB block cache) doubled process
CPU keys/s in the benchmark, partly by deferring compaction past its window.
Node records are compact binary with a CRC32 (they are not signed or
exchanged). Proofs, which are exchanged, use the canonical codec
(``StateProof.to_wire``).

*Pruning* of old versions is not implemented: every version is retained.
Because node keys lead with the version, a later pruner can drop stale nodes
by version range once it records, per version, which nodes it superseded.

Record layout inside the tree's namespace (the caller's prefixed DB)::

    n <version:8> <hex nibble path>   b"I" <slots:2> <leaves:2> <slot>* <hash:32>* <crc:4>
                                      | b"U" <slots:2> <leaves:2> <slot>* <crc:4>  (depth < 4)
        <slot> = <version:8> <hash:32>                            (internal child)
               | <key_hash:32> <value_hash:32> <leaf_hash:32>     (inline leaf)
        <hash> = each computed binary entry, in entry order (16..30)
    r <version:8>                     b"\\x00" (empty) | b"I" <version:8> <hash:32>
                                      | b"L" <key_hash:32> <value_hash:32>
    v <key_hash:32> <version:8>       b"\\x01" <value> | b"\\x00" (deleted)
"""

from __future__ import annotations

import gc
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Final

import plyvel

from chain.crypto import TAG_STATE_LEAF, TAG_STATE_NODE, TAG_STATE_VALUE, CryptoSuite
from chain.errors import CorruptStoreError, InputError, StorageError
from chain.state_proof import PLACEHOLDER, StateProof

__all__ = ["MAX_KEY_BYTES", "StateTree", "TreeUpdate"]

MAX_KEY_BYTES: Final = 1024
DEFAULT_CACHE_NODES: Final = 100_000
"""Nodes kept in memory, about 2 KB each with their binary levels.

A tree of 10^5 keys has about 5,000 internal nodes; 10^6 keys about 350,000.
At 10^6 keys the default misses ~0.7 node reads per changed key; caching
every node saved only ~7% of the update time.
"""

_NODE: Final = b"n"
_ROOT: Final = b"r"
_VALUE: Final = b"v"
_INTERNAL: Final = 0x49  # "I": an internal node record with its binary hashes
_UPPER: Final = 0x55  # "U": one without them (near the root, where nodes stay cached)
_HASHES_FROM_DEPTH: Final = 4
"""Records of nodes this many nibbles deep or deeper carry their binary hashes.

The <= 4,369 nodes above are rewritten by nearly every batch and stay cached,
so storing their hashes would only add LevelDB (compaction) work.
"""
_LEAF: Final = 0x4C  # "L"
_PRESENT: Final = b"\x01"
_DELETED: Final = b"\x00"
_EMPTY_ROOT: Final = b"\x00"
_HEX: Final = "0123456789abcdef"
_NIB: Final = {char: index for index, char in enumerate(_HEX)}
_DB_ERRORS: Final = (plyvel.Error, RuntimeError)  # plyvel raises RuntimeError once closed

# A node tuple: [0:31] binary-level hashes, [31:47] slot payloads, then three masks.
_N_PAYLOAD: Final = 31
_N_SLOTS: Final = 47
_N_LEAVES: Final = 48
_N_HASHED: Final = 49
"""Bit ``entry - 16`` set when binary entry ``entry`` is a computed (stored) hash."""
_N_SIZE: Final = 50
_OFFSETS: Final = (0, 16, 24, 28, 30)
_ROOT_ENTRY: Final = 30


_Ints = tuple[int, ...]


def _level_tables() -> tuple[_Ints, _Ints, _Ints, tuple[_Ints, ...]]:
    masks = [1 << slot for slot in range(16)] + [0] * 15
    left = [0] * 31
    right = [0] * 31
    for height in range(1, 5):
        low, high = _OFFSETS[height - 1], _OFFSETS[height]
        for index in range(16 >> height):
            entry = high + index
            left[entry], right[entry] = low + 2 * index, low + 2 * index + 1
            masks[entry] = masks[left[entry]] | masks[right[entry]]
    ancestors = tuple(
        tuple(_OFFSETS[height] + (slot >> height) for height in range(1, 5)) for slot in range(16)
    )
    return tuple(masks), tuple(left), tuple(right), ancestors


_MASK, _LEFT, _RIGHT, _ANCESTORS = _level_tables()
_ALL_INNER: Final = tuple(range(16, 31))
_FRESH: Final = (None,) * _N_PAYLOAD + (b"",) * 16 + (0, 0, 0)
_HASHED_LOW: Final = tuple(
    tuple(16 + bit for bit in range(8) if mask >> bit & 1) for mask in range(256)
)
_HASHED_HIGH: Final = tuple(
    tuple(24 + bit for bit in range(7) if mask >> bit & 1) for mask in range(128)
)

Content = tuple[bytes, bytes, bool]
"""What a slot holds: (payload, hash, is_leaf); the payload is the child's
``version || hash`` or the leaf's ``key_hash || value_hash || leaf hash``."""
Item = tuple[str, bytes, bytes | None, bytes | None]
"""One change: (hex key hash, key hash, leaf payload or None to delete, leaf hash)."""
_SAME: Final = object()
"""``apply_*`` result: the position is unchanged."""


@dataclass(frozen=True, slots=True)
class TreeUpdate:
    """Every record of one computed version, ready for ``StateTree.write``.

    ``nodes`` holds the same new nodes decoded, so that ``write`` can cache
    them, and ``replaced`` the keys of the base nodes they supersede, so that
    ``write`` can drop those from the cache; neither takes part in equality.
    """

    root: bytes
    version: int
    puts: dict[bytes, bytes]
    nodes: dict[bytes, Any] = field(default_factory=dict, compare=False, repr=False)
    replaced: list[bytes] = field(default_factory=list, compare=False, repr=False)


def _ver(version: int) -> bytes:
    return version.to_bytes(8, "big")


def _groups(items: list[Item], depth: int) -> list[tuple[int, list[Item]]]:
    """Split sorted items by their nibble at ``depth``, in nibble order."""
    groups: list[tuple[int, list[Item]]] = []
    start, count = 0, len(items)
    while start < count:
        char = items[start][0][depth]
        end = start + 1
        while end < count and items[end][0][depth] == char:
            end += 1
        groups.append((_NIB[char], items[start:end]))
        start = end
    return groups


def _rehash(
    node: list[Any], entries: Any, node_hash: Any,
    masks: _Ints = _MASK, lefts: _Ints = _LEFT, rights: _Ints = _RIGHT,
    empty: bytes = PLACEHOLDER,
) -> None:
    """Recompute the binary entries ``entries`` (ascending) of ``node`` from below.

    (The tables are bound as defaults: this runs ~4 times per changed key.)
    """
    slots, leaves, hashed = node[_N_SLOTS], node[_N_LEAVES], node[_N_HASHED]
    for entry in entries:
        occupied = slots & masks[entry]
        if not occupied:
            node[entry] = None
            hashed &= ~(1 << (entry - 16))
        elif not occupied & (occupied - 1) and occupied & leaves:
            node[entry] = node[occupied.bit_length() - 1]  # a lone leaf floats up
            hashed &= ~(1 << (entry - 16))
        else:
            node[entry] = node_hash((node[lefts[entry]] or empty) + (node[rights[entry]] or empty))
            hashed |= 1 << (entry - 16)
    node[_N_HASHED] = hashed


def _dirty_entries(dirty: list[int]) -> Any:
    """The binary entries above the changed slots ``dirty``, ascending (memoised by set)."""
    if len(dirty) == 1:
        return _ANCESTORS[dirty[0]]
    mask = 0
    for slot in dirty:
        mask |= 1 << slot
    entries = _DIRTY.get(mask)
    if entries is None:
        entries = _DIRTY[mask] = tuple(sorted({e for slot in dirty for e in _ANCESTORS[slot]}))
    return entries


_DIRTY: dict[int, tuple[int, ...]] = {}
"""At most 2^16 small tuples; in practice the few hundred masks batches produce."""


def _make_proof(siblings: list[bytes | None], leaf: bytes | None) -> StateProof:
    bits = 0
    for sibling in siblings:
        bits = bits << 1 | (sibling is not None)
    depth = len(siblings)
    width = (depth + 7) // 8
    bitmap = (bits << (width * 8 - depth)).to_bytes(width, "big")
    present = tuple(s for s in siblings if s is not None)
    pair = None if leaf is None else (leaf[:32], leaf[32:64])
    return StateProof(depth, bitmap, present, pair)


# -- records -------------------------------------------------------------------------


def _encode_node(node: list[Any], with_hashes: bool) -> bytes:
    slots, leaves, hashed = node[_N_SLOTS], node[_N_LEAVES], node[_N_HASHED]
    if with_hashes:
        stored = _HASHED_LOW[hashed & 0xFF] + _HASHED_HIGH[hashed >> 8]
        kind = _INTERNAL
    else:
        stored, kind = (), _UPPER
    body = b"".join(
        (
            bytes((kind, slots >> 8, slots & 0xFF, leaves >> 8, leaves & 0xFF)),
            *node[_N_PAYLOAD:_N_SLOTS],
            *[node[entry] for entry in stored],
        )
    )
    return body + zlib.crc32(body).to_bytes(4, "big")


def _decode_node(record: bytes, path: str, where: str, node_hash: Any) -> tuple:
    if len(record) < 9 or record[0] not in (_INTERNAL, _UPPER):
        raise CorruptStoreError(f"{where} is malformed")
    slots = int.from_bytes(record[1:3], "big")
    leaves = int.from_bytes(record[3:5], "big")
    if leaves & ~slots or not slots or (slots.bit_count() == 1 and leaves):
        raise CorruptStoreError(f"{where} has an inconsistent layout")
    if zlib.crc32(record[:-4]) != int.from_bytes(record[-4:], "big"):
        raise CorruptStoreError(f"{where} fails its checksum")
    node: list[Any] = [*_FRESH]
    node[_N_SLOTS], node[_N_LEAVES] = slots, leaves
    offset = 5
    for slot in range(16):
        if not slots >> slot & 1:
            node[_N_PAYLOAD + slot] = b""
        elif leaves >> slot & 1:
            payload = record[offset : offset + 96]
            if not payload[:32].hex().startswith(path + _HEX[slot]):
                raise CorruptStoreError(f"{where} holds a key hash off its path")
            node[_N_PAYLOAD + slot], node[slot] = payload, payload[64:]
            offset += 96
        else:
            payload = record[offset : offset + 40]
            node[_N_PAYLOAD + slot], node[slot] = payload, payload[8:]
            offset += 40
    if record[0] == _UPPER:
        if offset != len(record) - 4:
            raise CorruptStoreError(f"{where} has an inconsistent layout")
        _rehash(node, _ALL_INNER, node_hash)
        return tuple(node)
    hashed = 0
    for entry in _ALL_INNER:
        occupied = slots & _MASK[entry]
        if not occupied:
            continue
        if not occupied & (occupied - 1) and occupied & leaves:
            node[entry] = node[occupied.bit_length() - 1]
        else:
            node[entry] = record[offset : offset + 32]
            offset += 32
            hashed |= 1 << (entry - 16)
    node[_N_HASHED] = hashed
    if offset != len(record) - 4:
        raise CorruptStoreError(f"{where} has an inconsistent layout")
    return tuple(node)


def _where(label: str, kind: str, version: bytes, path: str) -> str:
    return f"{label}: {kind} (version {int.from_bytes(version, 'big')}, path {path!r})"


# -- the tree ---------------------------------------------------------------------------


class StateTree:
    """Versioned authenticated state over a LevelDB namespace the caller owns.

    Every written version is retained: pruning old versions is not
    implemented (see the module docstring for how it would fit).
    """

    def __init__(
        self, db: Any, suite: CryptoSuite, cache_nodes: int = DEFAULT_CACHE_NODES,
        label: str = "state tree",
    ) -> None:
        """``db`` is a plyvel DB or prefixed DB (the store passes ``prefixed_db(b"s/")``);
        ``label`` starts every error message, so an operator reads which database is hurt."""
        self._db = db
        self.label = label
        self._suite = suite
        self._hash_leaf = suite.hasher(TAG_STATE_LEAF)
        self._hash_node = suite.hasher(TAG_STATE_NODE)
        self._hash_value = suite.hasher(TAG_STATE_VALUE)
        self._cache: dict[bytes, tuple] = {}
        self._cache_limit = max(1, cache_nodes)

    # -- reads -------------------------------------------------------------------

    def root(self, version: int) -> bytes:
        """Root hash at a written version (the placeholder for the empty tree)."""
        ref = self._root_ref(version)
        return PLACEHOLDER if ref is None else ref[1]

    def get(self, key: bytes, version: int) -> bytes | None:
        """The value of ``key`` as of ``version``, or None when absent then."""
        start = _VALUE + self._suite.hash(key)
        try:
            with self._db.iterator(
                start=start, stop=start + _ver(version + 1), reverse=True, include_key=False
            ) as records:
                record = next(records, None)
        except _DB_ERRORS as exc:
            raise StorageError(f"{self.label}: reading the value history failed: {exc}") from None
        if record is None or record == _DELETED:
            return None
        if record[:1] != _PRESENT:
            raise CorruptStoreError(f"{self.label}: value record of {key[:40]!r} is malformed")
        return record[1:]

    def prove(self, key: bytes, version: int) -> StateProof:
        """Inclusion proof of ``key``'s value at ``version``, or exclusion proof if absent."""
        hex_path = self._suite.hash(key).hex()
        siblings: list[bytes | None] = []
        ref = self._root_ref(version)
        depth = 0
        while ref is not None and not ref[2]:
            node = self._node(ref[0][:8], hex_path[:depth])
            nibble = _NIB[hex_path[depth]]
            slots, leaves = node[_N_SLOTS], node[_N_LEAVES]
            for height in range(3, -1, -1):
                index = nibble >> height
                base = _OFFSETS[height]
                siblings.append(node[base + (index ^ 1)])
                occupied = slots & _MASK[base + index]
                if not occupied:  # the key's path ends in an empty subtree
                    return _make_proof(siblings, None)
                if not occupied & (occupied - 1) and occupied & leaves:  # a lone leaf
                    return _make_proof(siblings, node[_N_PAYLOAD + occupied.bit_length() - 1])
            ref = (node[_N_PAYLOAD + nibble], node[nibble], False)
            depth += 1
        return _make_proof(siblings, None if ref is None else ref[0])

    # -- computing and writing a version -----------------------------------------

    def compute(
        self, base_version: int, new_version: int, changes: Mapping[bytes, bytes | None]
    ) -> TreeUpdate:
        """Apply ``changes`` (None deletes) to ``base_version``; return version ``new_version``.

        Reads committed records only and writes nothing. ``new_version`` must
        not precede ``base_version``; an unwritten version 0 is the empty tree
        (so genesis is ``compute(0, 0, genesis_state)``).
        """
        if not 0 <= base_version <= new_version:
            raise InputError(f"cannot compute version {new_version} on base {base_version}")
        base = self._root_ref(base_version)
        builder = _Builder(self, new_version)
        with _collector_paused():
            result = self._apply(builder, base, base_version, new_version, changes)
        if result is _SAME:
            result = base
        root_key = _ROOT + _ver(new_version)
        if result is None:
            builder.puts[root_key] = _EMPTY_ROOT
            return TreeUpdate(
                PLACEHOLDER, new_version, builder.puts, builder.nodes, builder.replaced
            )
        kind = b"L" if result[2] else b"I"
        builder.puts[root_key] = kind + result[0][:64]
        return TreeUpdate(result[1], new_version, builder.puts, builder.nodes, builder.replaced)

    def _apply(
        self, builder: _Builder, base: Content | None, base_version: int, new_version: int,
        changes: Mapping[bytes, bytes | None],
    ) -> Any:
        """The new root content (or ``_SAME``); its own frame so that the sorted items are
        freed before the collector runs again (it would otherwise walk them all once)."""
        items = builder.items(changes)
        if items and new_version == base_version and self._root_written(base_version):
            raise InputError(f"state version {new_version} is written; compute a new one")
        if not items:
            return base
        if base is None:
            return builder.build(0, items)
        if base[2]:
            return builder.apply_leaf(base, 0, items)
        return builder.apply_node(base[0][:8], 0, items)

    def write(self, update: TreeUpdate, batch: Any) -> None:
        """Put ``update``'s records into ``batch`` (a plyvel WriteBatch the caller commits)."""
        try:
            put = batch.put
            for key, value in update.puts.items():
                put(key, value)
        except _DB_ERRORS as exc:
            message = f"{self.label}: adding version {update.version} failed: {exc}"
            raise StorageError(message) from None
        cache = self._cache
        pop = cache.pop
        for key in update.replaced:  # superseded: only an old version's reader needs it
            pop(key, None)
        cache.update(update.nodes)
        if len(cache) > self._cache_limit:
            self._trim()

    # -- decoding committed records ----------------------------------------------

    def _root_ref(self, version: int) -> Content | None:
        record = self._read(_ROOT + _ver(version))
        if record is None:
            if version == 0:
                return None
            raise StorageError(f"{self.label}: version {version} was never written")
        if record == _EMPTY_ROOT:
            return None
        if len(record) == 41 and record[0] == _INTERNAL:
            return (record[1:], record[9:], False)
        if len(record) == 65 and record[0] == _LEAF:
            leaf_hash = self._hash_leaf(record[1:])
            return (record[1:] + leaf_hash, leaf_hash, True)
        raise CorruptStoreError(f"{self.label}: root record of version {version} is malformed")

    def _root_written(self, version: int) -> bool:
        return self._read(_ROOT + _ver(version)) is not None

    def _node(self, version: bytes, path: str) -> tuple:
        key = _NODE + version + path.encode("ascii")
        node = self._cache.get(key)
        if node is None:
            node = self._load(key, version, path)
        return node

    def _load(self, key: bytes, version: bytes, path: str) -> tuple:
        where = _where(self.label, "internal node", version, path)
        record = self._read(key)
        if record is None:
            raise CorruptStoreError(f"{where} is missing")
        node = _decode_node(record, path, where, self._hash_node)
        self._cache[key] = node
        if len(self._cache) > self._cache_limit:
            self._trim()
        return node

    def _trim(self) -> None:
        """Drop the oldest tenth once over the limit (hot upper nodes get rewritten anyway).

        Evicting in chunks keeps it amortised O(1): a dict scans past deleted
        slots at its front on every fresh iteration.
        """
        cache = self._cache
        if len(cache) > self._cache_limit:
            drop = len(cache) - self._cache_limit + self._cache_limit // 10
            for key in list(islice(cache, drop)):
                del cache[key]

    def _read(self, key: bytes) -> bytes | None:
        try:
            return self._db.get(key)
        except _DB_ERRORS as exc:
            raise StorageError(f"{self.label}: read failed: {exc}") from None


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic GC while a compute allocates its many small containers.

    A compute creates no reference cycles, but its allocations trigger
    collections that walk every young container. The previous state is
    restored afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Builder:
    """One compute: rebuilds touched subtrees of the base, collecting new records."""

    def __init__(self, tree: StateTree, version: int) -> None:
        self.tree = tree
        self.version = _ver(version)
        self.node_hash = tree._hash_node
        self.puts: dict[bytes, bytes] = {}
        self.nodes: dict[bytes, Any] = {}
        self.replaced: list[bytes] = []
        self.prefix = _NODE + self.version

    def items(self, changes: Mapping[bytes, bytes | None]) -> list[Item]:
        """Changes as items sorted by key hash, recording each in the value history."""
        suite_hash, hash_value, hash_leaf = (
            self.tree._suite.hash,
            self.tree._hash_value,
            self.tree._hash_leaf,
        )
        puts, version = self.puts, self.version
        items: list[Item] = []
        append = items.append
        for key, value in changes.items():
            if type(key) is not bytes or len(key) > MAX_KEY_BYTES:
                raise InputError(f"state keys are bytes of at most {MAX_KEY_BYTES}: {key!r:.60}")
            key_hash = suite_hash(key)
            if value is None:
                append((key_hash.hex(), key_hash, None, None))
                puts[_VALUE + key_hash + version] = _DELETED
                continue
            if type(value) is not bytes:
                raise InputError(f"state value of {key[:40]!r} must be bytes or None")
            pair = key_hash + hash_value(value)
            leaf_hash = hash_leaf(pair)
            append((key_hash.hex(), key_hash, pair + leaf_hash, leaf_hash))
            puts[_VALUE + key_hash + version] = _PRESENT + value
        items.sort()
        return items

    def apply_leaf(self, old: Content, depth: int, items: list[Item]) -> Any:
        """The new content of a position now holding the leaf ``old``."""
        old_pair = old[0]
        old_key = old_pair[:32]
        if len(items) == 1 and items[0][1] == old_key:
            pair = items[0][2]
            if pair is None:
                return None
            return _SAME if pair == old_pair else (pair, items[0][3], True)
        if all(item[1] != old_key for item in items):
            items = sorted([*items, (old_key.hex(), old_key, old_pair, old[1])])
        result = self.build(depth, items)
        if result is not None and result[2] and result[0] == old_pair:
            return _SAME
        return result

    def apply_node(self, version: bytes, depth: int, items: list[Item]) -> Any:
        """Apply items below an existing internal node; re-collapse what became lone."""
        path = items[0][0][:depth]
        key = _NODE + version + path.encode("ascii")
        tree = self.tree
        old = tree._cache.get(key)
        if old is None:
            old = tree._load(key, version, path)
        node = list(old)
        slots, leaves = old[_N_SLOTS], old[_N_LEAVES]
        dirty = []
        if len(items) == 1:
            groups: Any = ((_NIB[items[0][0][depth]], items),)
        else:
            groups = _groups(items, depth)
        below = depth + 1
        for nibble, group in groups:
            bit = 1 << nibble
            if not slots & bit:
                result = self.build(below, group)
                if result is None:
                    continue
            elif leaves & bit:
                result = self.apply_leaf(
                    (old[_N_PAYLOAD + nibble], old[nibble], True), below, group
                )
            else:
                result = self.apply_node(old[_N_PAYLOAD + nibble][:8], below, group)
            if result is _SAME:
                continue
            dirty.append(nibble)
            if result is None:
                slots &= ~bit
                leaves &= ~bit
                node[nibble], node[_N_PAYLOAD + nibble] = None, b""
            else:
                slots |= bit
                if result[2]:
                    leaves |= bit
                else:
                    leaves &= ~bit
                node[_N_PAYLOAD + nibble], node[nibble] = result[0], result[1]
        if not dirty:
            return _SAME
        self.replaced.append(key)
        if not slots:
            return None
        if not slots & (slots - 1) and slots & leaves:  # one leaf left: it floats up
            slot = slots.bit_length() - 1
            return (node[_N_PAYLOAD + slot], node[slot], True)
        node[_N_SLOTS], node[_N_LEAVES] = slots, leaves
        _rehash(node, _dirty_entries(dirty), self.node_hash)
        return self.emit(path, node)

    def build(self, depth: int, items: list[Item]) -> Any:
        """A fresh subtree at ``depth`` from items alone (deletes drop out)."""
        live = [item for item in items if item[2] is not None]
        if len(live) <= 1:
            return (live[0][2], live[0][3], True) if live else None
        node: list[Any] = [*_FRESH]
        slots = leaves = 0
        below = depth + 1
        for nibble, group in _groups(live, depth):
            if len(group) == 1:
                node[_N_PAYLOAD + nibble], node[nibble] = group[0][2], group[0][3]
                leaves |= 1 << nibble
            else:
                child = self.build(below, group)
                node[_N_PAYLOAD + nibble], node[nibble] = child[0], child[1]
            slots |= 1 << nibble
        node[_N_SLOTS], node[_N_LEAVES] = slots, leaves
        _rehash(node, _ALL_INNER, self.node_hash)
        return self.emit(live[0][0][:depth], node)

    def emit(self, path: str, node: list[Any]) -> Content:
        """Record a new internal node at ``path``; return the slot content naming it."""
        key = self.prefix + path.encode("ascii")
        self.puts[key] = _encode_node(node, len(path) >= _HASHES_FROM_DEPTH)
        self.nodes[key] = tuple(node)
        root = node[_ROOT_ENTRY]
        return (self.version + root, root, False)
