"""The crypto suite: domain separation by structure and by chain id."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.crypto import (
    TAG_BLOCK,
    TAG_TX,
    TAG_VOTE,
    get_suite,
    signing_bytes,
)
from chain.errors import InputError
from chain.types import Phase, sign_tx, sign_vote, tx_hash, verify_tx_signature, verify_vote

SUITE = get_suite("ed25519-sha256")
KEY = SUITE.signer_from_seed(bytes(range(32)))


def test_unknown_suite_is_named():
    with pytest.raises(InputError, match="known suites: ed25519-sha256"):
        get_suite("rsa-md5")


def test_seed_round_trip_gives_same_key():
    again = SUITE.signer_from_seed(KEY.seed())
    assert again.public_key == KEY.public_key


def test_bad_seed_length_is_an_input_error():
    with pytest.raises(InputError, match="32 bytes"):
        SUITE.signer_from_seed(b"short")


@settings(max_examples=50)
@given(st.binary(max_size=100), st.sampled_from(["jx-1", "jx-dev", "other"]))
def test_signature_binds_tag_and_chain(payload, chain_id):
    signature = KEY.sign(TAG_TX, chain_id, payload)
    assert SUITE.verify(KEY.public_key, TAG_TX, chain_id, payload, signature)
    assert not SUITE.verify(KEY.public_key, TAG_VOTE, chain_id, payload, signature)
    assert not SUITE.verify(KEY.public_key, TAG_BLOCK, chain_id, payload, signature)
    assert not SUITE.verify(KEY.public_key, TAG_TX, chain_id + "x", payload, signature)
    assert not SUITE.verify(KEY.public_key, TAG_TX, chain_id, payload + b"\x00", signature)


def test_prefix_cannot_be_shifted_into_payload():
    # [tag, "ab"] + payload must differ from [tag, "a"] + "b"-prefixed payload.
    assert signing_bytes(TAG_TX, "ab", b"") != signing_bytes(TAG_TX, "a", b"b")


def test_tx_signature_is_chain_specific_and_hash_ignores_signature():
    tx = sign_tx(KEY, "jx-1", "test.put", 7, 100, [b"k", b"v"])
    assert verify_tx_signature(SUITE, tx)
    moved = tx.__class__(**{**_fields(tx), "chain_id": "jx-2"})
    assert not verify_tx_signature(SUITE, moved)
    resigned = tx.__class__(**{**_fields(tx), "signature": bytes(64)})
    assert tx_hash(SUITE, resigned) == tx_hash(SUITE, tx)
    assert not verify_tx_signature(SUITE, resigned)


def test_vote_for_one_phase_does_not_verify_as_another():
    vote = sign_vote(KEY, "jx-1", Phase.PREPARE, 5, 0, bytes(32))
    assert verify_vote(SUITE, "jx-1", vote)
    as_commit = vote.__class__(**{**_fields(vote), "phase": int(Phase.COMMIT)})
    assert not verify_vote(SUITE, "jx-1", as_commit)
    assert not verify_vote(SUITE, "jx-2", vote)


def test_wrong_length_key_or_signature_is_false_not_an_exception():
    assert not SUITE.verify(b"\x01" * 31, TAG_TX, "c", b"", bytes(64))
    assert not SUITE.verify(KEY.public_key, TAG_TX, "c", b"", bytes(63))
    assert not SUITE.verify(bytes(32), TAG_TX, "c", b"", bytes(64))


def test_tagged_hash_separates_structures():
    assert SUITE.tagged_hash(TAG_TX, b"x") != SUITE.tagged_hash(TAG_BLOCK, b"x")
    assert SUITE.hasher(TAG_TX)(b"x") == SUITE.tagged_hash(TAG_TX, b"x")


def _fields(record):
    return {name: getattr(record, name) for name in record._fields}
