"""The versioned state tree and its proofs, against a real LevelDB and a reference model.

The reference is the logical tree of ``chain.state_proof`` written the
obvious way (recursion on key-hash bits over a dict), so the 16-ary stored
tree is checked against the definition rather than against itself.
"""

from __future__ import annotations

import dataclasses
import random
import tempfile
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

import plyvel
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.codec import decode, encode
from chain.crypto import TAG_STATE_LEAF, TAG_STATE_NODE, TAG_STATE_VALUE, get_suite
from chain.errors import CorruptStoreError, DecodeError, InputError, ProofError, StorageError
from chain.state_proof import PLACEHOLDER, StateProof, verify_state_proof
from storage import state_tree
from storage.state_tree import StateTree, TreeUpdate

SUITE = get_suite("ed25519-sha256")
LEAF = SUITE.hasher(TAG_STATE_LEAF)
NODE = SUITE.hasher(TAG_STATE_NODE)
VALUE = SUITE.hasher(TAG_STATE_VALUE)
KEY_POOL = [b"key-%d" % i for i in range(48)]
FEW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- the reference: the logical compressed binary SMT, computed directly --------


def reference_root(model: Mapping[bytes, bytes]) -> bytes:
    """Root of ``model`` by recursion on the bits of each key hash."""
    leaves = []
    for key, value in model.items():
        key_hash = SUITE.hash(key)
        leaves.append((int.from_bytes(key_hash, "big"), LEAF(key_hash + VALUE(value))))
    return _reference(leaves, 0)


def _reference(leaves: list[tuple[int, bytes]], depth: int) -> bytes:
    if not leaves:
        return PLACEHOLDER
    if len(leaves) == 1:
        return leaves[0][1]
    left = [leaf for leaf in leaves if not leaf[0] >> (255 - depth) & 1]
    right = [leaf for leaf in leaves if leaf[0] >> (255 - depth) & 1]
    return NODE(_reference(left, depth + 1) + _reference(right, depth + 1))


def test_reference_matches_hand_computed_small_trees() -> None:
    assert reference_root({}) == PLACEHOLDER
    only = SUITE.hash(b"a")
    assert reference_root({b"a": b"1"}) == LEAF(only + VALUE(b"1"))
    a, b = SUITE.hash(b"a"), SUITE.hash(b"b")
    la, lb = LEAF(a + VALUE(b"1")), LEAF(b + VALUE(b"2"))
    depth = _shared_bits(a, b)
    node = NODE(la + lb) if a < b else NODE(lb + la)
    for level in range(depth - 1, -1, -1):
        bit = int.from_bytes(a, "big") >> (255 - level) & 1
        node = NODE(PLACEHOLDER + node) if bit else NODE(node + PLACEHOLDER)
    assert reference_root({b"a": b"1", b"b": b"2"}) == node


def _shared_bits(a: bytes, b: bytes) -> int:
    return 256 - (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_length()


# -- helpers ---------------------------------------------------------------------


@contextmanager
def fresh_db() -> Iterator[plyvel.DB]:
    with tempfile.TemporaryDirectory() as tmp:
        db = plyvel.DB(str(Path(tmp) / "db"), create_if_missing=True)
        try:
            yield db
        finally:
            db.close()


def commit(db: plyvel.DB, tree: StateTree, update: TreeUpdate) -> None:
    with db.write_batch() as batch:
        tree.write(update, batch)


def apply(
    db: plyvel.DB, tree: StateTree, base: int, changes: Mapping[bytes, bytes | None]
) -> TreeUpdate:
    update = tree.compute(base, base + 1, changes)
    commit(db, tree, update)
    return update


def check_inclusion_and_exclusion(
    tree: StateTree, version: int, model: Mapping[bytes, bytes], absent: list[bytes]
) -> None:
    root = tree.root(version)
    for key, value in model.items():
        proof = tree.prove(key, version)
        verify_state_proof(SUITE, root, key, value, proof)
        assert_tampering_rejected(root, key, value, proof)
    for key in absent:
        proof = tree.prove(key, version)
        verify_state_proof(SUITE, root, key, None, proof)
        assert_tampering_rejected(root, key, None, proof)


def tampered(key: bytes, value: bytes | None, proof: StateProof) -> Iterator[tuple]:
    """(key, value, proof) triples, each one change away from the honest claim."""
    yield key, b"other" if value is None else value + b"!", proof
    if value is not None:
        yield key + b"?", value, proof
        yield key, None, proof
    for index in range(len(proof.siblings)):
        sibling = bytearray(proof.siblings[index])
        sibling[index % 32] ^= 0x01
        siblings = (*proof.siblings[:index], bytes(sibling), *proof.siblings[index + 1 :])
        yield key, value, dataclasses.replace(proof, siblings=siblings)
    if proof.siblings:
        yield key, value, dataclasses.replace(proof, siblings=proof.siblings[:-1])
    for bit in range(proof.depth):
        bitmap = bytearray(proof.bitmap)
        bitmap[bit // 8] ^= 0x80 >> (bit % 8)
        yield key, value, dataclasses.replace(proof, bitmap=bytes(bitmap))
    if proof.depth:
        shorter = dataclasses.replace(proof, depth=proof.depth - 1)
        yield key, value, shorter
    if proof.leaf is not None:
        yield key, value, dataclasses.replace(proof, leaf=None)
        key_hash, value_hash = proof.leaf
        yield key, value, dataclasses.replace(proof, leaf=(key_hash, bytes(32)))
        yield key, value, dataclasses.replace(proof, leaf=(bytes(32), value_hash))


def assert_tampering_rejected(
    root: bytes, key: bytes, value: bytes | None, proof: StateProof
) -> None:
    wrong_root = bytes([root[0] ^ 1]) + root[1:]
    with pytest.raises(ProofError):
        verify_state_proof(SUITE, wrong_root, key, value, proof)
    for bad_key, bad_value, bad_proof in tampered(key, value, proof):
        with pytest.raises(ProofError):
            verify_state_proof(SUITE, root, bad_key, bad_value, bad_proof)


# -- properties against the model --------------------------------------------------

change = st.tuples(st.sampled_from(KEY_POOL), st.none() | st.binary(max_size=8))
batches = st.lists(
    st.dictionaries(st.sampled_from(KEY_POOL), st.none() | st.binary(max_size=8), max_size=20),
    min_size=1,
    max_size=6,
)


@FEW
@given(batches)
def test_versions_match_the_model(batch_list: list[dict[bytes, bytes | None]]) -> None:
    with fresh_db() as db:
        tree = StateTree(db, SUITE)
        models: list[dict[bytes, bytes]] = [{}]
        for version, changes in enumerate(batch_list):
            update = apply(db, tree, version, changes)
            model = dict(models[-1])
            for key, value in changes.items():
                if value is None:
                    model.pop(key, None)
                else:
                    model[key] = value
            models.append(model)
            assert update.root == reference_root(model) == tree.root(version + 1)
        fresh = StateTree(db, SUITE)  # cold cache: everything read back from LevelDB
        for version, model in enumerate(models):
            assert fresh.root(version) == reference_root(model)
            for key in KEY_POOL:
                assert fresh.get(key, version) == model.get(key)
            absent = [key for key in KEY_POOL if key not in model][:4] + [b"never-written"]
            check_inclusion_and_exclusion(fresh, version, model, absent)


def test_many_keys_with_random_updates_and_deletes() -> None:
    rng = random.Random(7)
    keys = [b"acct/%05d" % i for i in range(3000)]
    model: dict[bytes, bytes] = {}
    with fresh_db() as db:
        tree = StateTree(db, SUITE, cache_nodes=500)  # small cache: exercise eviction
        for version in range(6):
            changes: dict[bytes, bytes | None] = {}
            for key in rng.sample(keys, 1500):
                changes[key] = None if rng.random() < 0.3 else rng.randbytes(rng.randint(0, 40))
            apply(db, tree, version, changes)
            for key, value in changes.items():
                if value is None:
                    model.pop(key, None)
                else:
                    model[key] = value
            assert tree.root(version + 1) == reference_root(model)
        sample = dict(rng.sample(sorted(model.items()), 200))
        absent = [key for key in keys if key not in model][:50]
        check_inclusion_and_exclusion(tree, 6, sample, absent)


@pytest.mark.parametrize("hashes_from_depth", [0, 1, 64])
def test_records_with_and_without_binary_hashes_read_back(
    hashes_from_depth: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state_tree, "_HASHES_FROM_DEPTH", hashes_from_depth)
    rng = random.Random(5)
    keys = [b"h%d" % i for i in range(1500)]
    model: dict[bytes, bytes] = {}
    with fresh_db() as db:
        tree = StateTree(db, SUITE)
        for version in range(3):
            changes: dict[bytes, bytes | None] = {
                key: None if rng.random() < 0.2 else b"%d" % version
                for key in rng.sample(keys, 700)
            }
            apply(db, tree, version, changes)
            for key, value in changes.items():
                if value is None:
                    model.pop(key, None)
                else:
                    model[key] = value
        cold = StateTree(db, SUITE, cache_nodes=50)  # every node read back, most more than once
        assert cold.compute(3, 4, {keys[0]: b"new"}).root == reference_root(
            {**model, keys[0]: b"new"}
        )
        sample = dict(rng.sample(sorted(model.items()), 100))
        check_inclusion_and_exclusion(cold, 3, sample, [b"absent-1", b"absent-2"])


def keys_sharing_a_prefix(prefix_bytes: int) -> tuple[bytes, bytes]:
    """Two keys whose hashes share the first ``prefix_bytes`` bytes (birthday search)."""
    seen: dict[bytes, bytes] = {}
    counter = 0
    while True:
        key = b"deep-%d" % counter
        prefix = SUITE.hash(key)[:prefix_bytes]
        if prefix in seen:
            return seen[prefix], key
        seen[prefix] = key
        counter += 1


def test_deep_chain_splits_and_recollapses() -> None:
    a, b = keys_sharing_a_prefix(3)  # 6 shared nibbles: a chain of one-child nodes
    with fresh_db() as db:
        tree = StateTree(db, SUITE)
        apply(db, tree, 0, {a: b"A", b"x": b"X"})
        apply(db, tree, 1, {b: b"B"})
        assert tree.root(2) == reference_root({a: b"A", b: b"B", b"x": b"X"})
        check_inclusion_and_exclusion(tree, 2, {a: b"A", b: b"B"}, [b"y"])
        cold = StateTree(db, SUITE)  # the deep nodes' records carry their binary hashes
        check_inclusion_and_exclusion(cold, 2, {a: b"A", b: b"B", b"x": b"X"}, [b"y"])
        assert tree.prove(a, 2).depth > 24
        apply(db, tree, 2, {b: None})
        assert tree.root(3) == tree.root(1) == reference_root({a: b"A", b"x": b"X"})
        assert tree.prove(a, 3).depth < 8
        apply(db, tree, 3, {b"x": None})
        assert tree.root(4) == LEAF(SUITE.hash(a) + VALUE(b"A"))
        check_inclusion_and_exclusion(tree, 4, {a: b"A"}, [b, b"x"])


def test_deleting_everything_returns_the_placeholder() -> None:
    with fresh_db() as db:
        tree = StateTree(db, SUITE)
        assert tree.root(0) == PLACEHOLDER
        keys = [b"k%d" % i for i in range(300)]
        apply(db, tree, 0, {key: key for key in keys})
        apply(db, tree, 1, dict.fromkeys(keys[::2]))
        update = apply(db, tree, 2, dict.fromkeys(keys[1::2]))
        assert update.root == tree.root(3) == PLACEHOLDER
        check_inclusion_and_exclusion(tree, 3, {}, keys[:5])
        assert tree.get(keys[3], 1) == keys[3] and tree.get(keys[3], 3) is None


def test_order_of_changes_in_a_batch_does_not_matter() -> None:
    rng = random.Random(3)
    changes = {b"o%d" % i: (None if i % 5 == 0 else b"v%d" % i) for i in range(400)}
    shuffled = list(changes.items())
    rng.shuffle(shuffled)
    with fresh_db() as db:
        tree = StateTree(db, SUITE)
        apply(db, tree, 0, {b"o%d" % i: b"old" for i in range(0, 400, 3)})
        first = tree.compute(1, 2, changes)
        second = tree.compute(1, 2, dict(shuffled))
        assert first == second


def test_speculative_computes_on_one_base_do_not_interfere() -> None:
    with fresh_db() as db:
        tree = StateTree(db, SUITE)
        apply(db, tree, 0, {b"a": b"1", b"b": b"2"})
        left = tree.compute(1, 2, {b"a": b"L", b"c": b"3"})
        right = tree.compute(1, 2, {b"b": None, b"d": b"4"})
        assert left.root == reference_root({b"a": b"L", b"b": b"2", b"c": b"3"})
        assert right.root == reference_root({b"a": b"1", b"d": b"4"})
        commit(db, tree, right)
        assert tree.root(2) == right.root
        assert tree.get(b"a", 2) == b"1" and tree.get(b"c", 2) is None
        assert tree.get(b"b", 2) is None and tree.get(b"b", 1) == b"2"
        check_inclusion_and_exclusion(tree, 2, {b"a": b"1", b"d": b"4"}, [b"b", b"c"])


def test_superseded_nodes_dropped_from_the_cache_are_read_back() -> None:
    """``write`` drops the base nodes an update replaces; the base stays usable."""
    rng = random.Random(11)
    keys = [b"c%d" % i for i in range(2000)]
    model = {key: b"0" for key in keys}
    with fresh_db() as db:
        tree = StateTree(db, SUITE)
        apply(db, tree, 0, model)
        left_changes = {key: b"L" for key in rng.sample(keys, 300)}
        left = tree.compute(1, 2, left_changes)
        right = tree.compute(1, 2, {key: b"R" for key in rng.sample(keys, 300)})
        commit(db, tree, right)
        assert tree.compute(1, 2, left_changes) == left  # base nodes read back from LevelDB
        assert left.root == reference_root({**model, **left_changes})
        check_inclusion_and_exclusion(tree, 1, dict(list(model.items())[:50]), [b"absent"])
        assert StateTree(db, SUITE).root(2) == tree.root(2) == right.root


def test_empty_batches_and_genesis_at_version_zero() -> None:
    with fresh_db() as db:
        tree = StateTree(db, SUITE)
        genesis = tree.compute(0, 0, {b"g": b"1"})
        commit(db, tree, genesis)
        assert tree.root(0) == reference_root({b"g": b"1"})
        same = apply(db, tree, 0, {})
        assert same.root == tree.root(1) == tree.root(0)
        absent_delete = apply(db, tree, 1, {b"nope": None})
        assert absent_delete.root == tree.root(0)
        check_inclusion_and_exclusion(tree, 2, {b"g": b"1"}, [b"nope"])


def test_unknown_version_and_bad_input_are_refused() -> None:
    with fresh_db() as db:
        tree = StateTree(db, SUITE)
        with pytest.raises(StorageError, match="never written"):
            tree.root(5)
        with pytest.raises(StorageError, match="never written"):
            tree.compute(5, 6, {})
        with pytest.raises(InputError):
            tree.compute(0, 1, {b"k" * 1025: b"v"})
        with pytest.raises(InputError):
            tree.compute(2, 1, {})


def test_corrupt_and_missing_nodes_raise_corrupt_store_error() -> None:
    with fresh_db() as db:
        tree = StateTree(db, SUITE)
        apply(db, tree, 0, {b"k%d" % i: b"v" for i in range(100)})
        nodes = [key for key, _ in db.iterator(prefix=b"n")]
        root = min(nodes, key=len)  # the root node: the shortest nibble path
        bottom = max(nodes, key=len)  # a node holding leaves inline
        corrupt(db, bottom)
        with pytest.raises(CorruptStoreError, match="internal node .* fails its checksum"):
            StateTree(db, SUITE).compute(1, 2, {b"k%d" % i: b"w" for i in range(100)})
        corrupt(db, root)
        with pytest.raises(CorruptStoreError, match="internal node .* fails its checksum"):
            StateTree(db, SUITE).prove(b"k1", 1)
        db.delete(root)
        with pytest.raises(CorruptStoreError, match="missing"):
            StateTree(db, SUITE).compute(1, 2, {b"k%d" % i: b"w" for i in range(100)})


def test_a_leaf_off_its_path_is_corrupt() -> None:
    with fresh_db() as db:
        tree = StateTree(db, SUITE)
        apply(db, tree, 0, {b"k%d" % i: b"v" for i in range(100)})
        key, record = next(
            (key, value) for key, value in db.iterator(prefix=b"n") if value[3:5] != b"\x00\x00"
        )
        leaves = int.from_bytes(record[3:5], "big")
        slots = int.from_bytes(record[1:3], "big")
        offset = 5 + 40 * (slots & ((leaves & -leaves) - 1)).bit_count()
        offset += 24 * (leaves & ((leaves & -leaves) - 1)).bit_count()
        body = bytearray(record[:-4])
        body[offset] ^= 0xFF  # the first inline leaf's key hash now leaves the path
        db.put(key, bytes(body) + zlib.crc32(bytes(body)).to_bytes(4, "big"))
        with pytest.raises(CorruptStoreError, match="off its path"):
            StateTree(db, SUITE).compute(1, 2, {b"k%d" % i: b"w" for i in range(100)})


def corrupt(db: plyvel.DB, key: bytes) -> None:
    record = bytearray(db.get(key))
    record[len(record) // 2] ^= 0x40
    db.put(key, bytes(record))


def test_prefixed_db_and_a_closed_db() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = plyvel.DB(str(Path(tmp) / "db"), create_if_missing=True)
        scoped = db.prefixed_db(b"s/")
        tree = StateTree(scoped, SUITE)
        update = tree.compute(0, 1, {b"a": b"1"})
        with scoped.write_batch() as batch:
            tree.write(update, batch)
        assert all(key.startswith(b"s/") for key in db.iterator(include_value=False))
        assert tree.get(b"a", 1) == b"1"
        db.close()
        with pytest.raises(StorageError):
            StateTree(scoped, SUITE).root(1)


# -- the proof's wire form ---------------------------------------------------------


def test_wire_round_trip_through_the_canonical_codec() -> None:
    with fresh_db() as db:
        tree = StateTree(db, SUITE)
        apply(db, tree, 0, {b"k%d" % i: b"v%d" % i for i in range(500)})
        for key in (b"k1", b"k499", b"absent", b"gone"):
            proof = tree.prove(key, 1)
            assert StateProof.from_wire(decode(encode(proof.to_wire()))) == proof


wire_values = st.recursive(
    st.none() | st.integers(-(2**63), 2**64 - 1) | st.binary(max_size=40) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=6),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(wire_values)
def test_garbage_into_from_wire_raises_only_decode_error(value: object) -> None:
    with suppress(DecodeError):
        StateProof.from_wire(value)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_decode_to_a_proof_or_decode_error(data: bytes) -> None:
    with suppress(DecodeError):
        StateProof.from_wire(decode(data))


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_wire_forms_raise_only_decode_error(data: st.DataObject) -> None:
    hashes = [SUITE.hash(b"%d" % i) for i in range(3)]
    wire = [20, b"\x80\x00\x10", hashes[:2], [hashes[2], hashes[0]]]
    assert StateProof.from_wire(wire).depth == 20
    field = data.draw(st.integers(0, 3))
    wire[field] = data.draw(wire_values)
    with suppress(DecodeError):
        StateProof.from_wire(wire)


def test_malformed_proof_objects_are_proof_errors_not_crashes() -> None:
    good = StateProof(0, b"", (), None)
    verify_state_proof(SUITE, PLACEHOLDER, b"k", None, good)
    for bad in (
        StateProof(-1, b"", (), None),
        StateProof(1, b"", (), None),
        StateProof(1, b"\x00", (), None),
        StateProof(1, b"\x80", (PLACEHOLDER,), None),
        StateProof(1, b"\xc0", (SUITE.hash(b"x"),), None),
        StateProof(0, b"", (), (b"short", b"")),
    ):
        with pytest.raises(ProofError, match="malformed"):
            verify_state_proof(SUITE, PLACEHOLDER, b"k", None, bad)
