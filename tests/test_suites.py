"""The chain's core checks, run under every crypto suite (see the ``suite`` fixture).

Nothing here names an algorithm: sizes come from the suite, and each check
uses only the code paths a node uses (tx and vote signing, certificates,
Merkle proofs, the state tree in a real LevelDB, a store commit).
"""

from __future__ import annotations

from pathlib import Path

import plyvel
import pytest

from chain.blocks import receipts_root, tx_root
from chain.crypto import TAG_TX, CryptoSuite, Signer, get_suite, suite_names
from chain.errors import CertificateError, ProofError
from chain.merkle import merkle_proof, merkle_root, verify_merkle_proof
from chain.state_proof import verify_state_proof
from chain.types import (
    Block,
    BlockHeader,
    Phase,
    Receipt,
    ReceiptStatus,
    Tx,
    header_hash,
    sign_tx,
    sign_vote,
    tx_hash,
    verify_tx_signature,
    verify_vote,
)
from chain.validators import (
    Validator,
    ValidatorSet,
    build_certificate,
    sign_commit,
    verify_certificate,
)
from storage.state_tree import StateTree
from storage.store import Store

CHAIN = "suite-test"


def _keys(suite: CryptoSuite, count: int) -> list[Signer]:
    return [suite.signer_from_seed(bytes([i + 1]) * 32) for i in range(count)]


def _valset(keys: list[Signer]) -> ValidatorSet:
    return ValidatorSet(Validator(k.public_key, f"v{i}", "360100") for i, k in enumerate(keys))


def test_sizes_are_the_suites(suite: CryptoSuite) -> None:
    key = suite.generate()
    assert len(key.public_key) == suite.public_key_bytes
    assert len(key.sign(TAG_TX, CHAIN, b"x")) == suite.signature_bytes
    assert len(suite.hash(b"x")) == suite.digest_bytes
    assert suite.signer_from_seed(key.seed()).public_key == key.public_key


def test_tx_sign_verify_and_hash(suite: CryptoSuite) -> None:
    key = _keys(suite, 1)[0]
    tx = sign_tx(key, CHAIN, "test.put", 1, 10, [b"k", b"v"])
    assert verify_tx_signature(suite, tx)
    assert Tx.decode(tx.encode()) == tx
    tampered = Tx(tx.chain_id, tx.kind, tx.sender, tx.nonce + 1, tx.expires, tx.body, tx.signature)
    assert not verify_tx_signature(suite, tampered)
    assert tx_hash(suite, tx) != tx_hash(suite, tampered)
    other = sign_tx(_keys(suite, 2)[1], CHAIN, "test.put", 1, 10, [b"k", b"v"])
    forged = Tx(tx.chain_id, tx.kind, other.sender, tx.nonce, tx.expires, tx.body, tx.signature)
    assert not verify_tx_signature(suite, forged)


def test_vote_verify(suite: CryptoSuite) -> None:
    key = _keys(suite, 1)[0]
    vote = sign_vote(key, CHAIN, Phase.COMMIT, 3, 1, suite.hash(b"block"))
    assert verify_vote(suite, CHAIN, vote)
    assert not verify_vote(suite, CHAIN + "-other", vote)


def test_certificate_verify(suite: CryptoSuite) -> None:
    keys = _keys(suite, 5)
    valset = _valset(keys[:4])
    block_hash = suite.hash(b"block 7")
    signatures = {k.public_key: sign_commit(k, CHAIN, 7, 0, block_hash) for k in keys}
    cert = build_certificate(valset, 7, 0, block_hash, signatures)  # the outsider is dropped
    assert len(verify_certificate(suite, CHAIN, valset, cert)) == 4
    short = build_certificate(valset, 7, 0, block_hash, dict(list(signatures.items())[:2]))
    with pytest.raises(CertificateError, match="quorum is 3 of 4"):
        verify_certificate(suite, CHAIN, valset, short)
    moved = build_certificate(valset, 8, 0, block_hash, signatures)
    with pytest.raises(CertificateError, match="does not verify"):
        verify_certificate(suite, CHAIN, valset, moved)


def test_merkle_proofs(suite: CryptoSuite) -> None:
    leaves = [b"leaf-%d" % i for i in range(11)]
    root = merkle_root(suite, leaves)
    for index in (0, 5, 10):
        proof = merkle_proof(suite, leaves, index)
        verify_merkle_proof(suite, root, leaves[index], proof)
        with pytest.raises(ProofError):
            verify_merkle_proof(suite, root, leaves[index] + b"!", proof)


def test_state_tree_build_and_proofs(suite: CryptoSuite, tmp_path: Path) -> None:
    db = plyvel.DB(str(tmp_path / "state"), create_if_missing=True)
    try:
        tree = StateTree(db, suite)
        model = {b"key-%d" % i: b"value-%d" % i for i in range(40)}
        update = tree.compute(0, 1, model)
        with db.write_batch() as batch:
            tree.write(update, batch)
        root = tree.root(1)
        assert root == update.root and len(root) == suite.digest_bytes
        for key in (b"key-0", b"key-17", b"key-39"):
            verify_state_proof(suite, root, key, model[key], tree.prove(key, 1))
            with pytest.raises(ProofError):
                verify_state_proof(suite, root, key, b"forged", tree.prove(key, 1))
        verify_state_proof(suite, root, b"absent", None, tree.prove(b"absent", 1))
        second = tree.compute(1, 2, {b"key-0": None, b"new": b"1"})
        with db.write_batch() as batch:
            tree.write(second, batch)
        verify_state_proof(suite, tree.root(2), b"key-0", None, tree.prove(b"key-0", 2))
        verify_state_proof(suite, tree.root(1), b"key-0", b"value-0", tree.prove(b"key-0", 1))
    finally:
        db.close()


def test_state_roots_differ_between_suites(tmp_path: Path) -> None:
    """The same state has a different root under each suite: the hash is the suite's."""
    roots = set()
    for index, name in enumerate(suite_names()):
        db = plyvel.DB(str(tmp_path / f"s{index}"), create_if_missing=True)
        try:
            roots.add(StateTree(db, get_suite(name)).compute(0, 1, {b"a": b"1"}).root)
        finally:
            db.close()
    assert len(roots) == len(suite_names())


def test_store_commit(suite: CryptoSuite, tmp_path: Path) -> None:
    validator, client = _keys(suite, 2)
    valset = _valset([validator])
    genesis_hash = suite.hash(b"suite-test-genesis")
    store = Store.open(tmp_path / "db", suite, CHAIN, genesis_hash)
    try:
        store.commit_genesis(genesis_hash, store.tree.compute(0, 0, {}), {})
        puts = {b"a": b"1", b"b": b"2"}
        txs = (sign_tx(client, CHAIN, "test.put", 1, 10, [[k, v] for k, v in puts.items()]),)
        hashes = [tx_hash(suite, tx) for tx in txs]
        receipts = [Receipt(int(ReceiptStatus.ACCEPTED), "", ())]
        update = store.tree.compute(0, 1, puts)
        header = BlockHeader(
            CHAIN,
            1,
            0,
            1_767_225_601,
            genesis_hash,
            validator.public_key,
            tx_root(suite, txs, hashes),
            receipts_root(suite, receipts),
            update.root,
            valset.hash(suite),
        )
        block = Block(header, txs)
        digest = header_hash(suite, header)
        vote = sign_commit(validator, CHAIN, 1, 0, digest)
        cert = build_certificate(valset, 1, 0, digest, {validator.public_key: vote})
        head = store.commit(block, cert, receipts, hashes, update, puts)
        assert head.height == 1 and head.block_hash == digest
    finally:
        store.close()
    again = Store.open(tmp_path / "db", suite, CHAIN, genesis_hash)
    try:
        stored = again.block(1)
        assert stored == block and verify_tx_signature(suite, stored.txs[0])
        assert verify_certificate(suite, CHAIN, valset, again.certificate(1)) == [0]
        assert again.state.get(b"a") == b"1"
        proof = again.tree.prove(b"b", 1)
        verify_state_proof(suite, stored.header.state_root, b"b", b"2", proof)
        assert again.tx_location(hashes[0]).height == 1
    finally:
        again.close()
