"""The published cross-language signing vectors still hold."""

from __future__ import annotations

import json

from chain.crypto import TAG_TX, get_suite
from chain.types import Tx, verify_tx_signature
from tests.make_tx_vectors import PATH, build


def test_vectors_file_matches_the_code():
    assert json.loads(PATH.read_text()) == build()


def test_vectors_verify_from_their_bytes_alone():
    doc = json.loads(PATH.read_text())
    suite = get_suite(doc["suite"])
    for vector in doc["vectors"]:
        tx = Tx.decode(bytes.fromhex(vector["tx_hex"]))
        assert verify_tx_signature(suite, tx)
        assert tx.sender.hex() == doc["public_key_hex"]
        assert (
            suite.tagged_hash(TAG_TX, bytes.fromhex(vector["payload_hex"])).hex()
            == vector["tx_hash_hex"]
        )
        assert bytes.fromhex(vector["signing_bytes_hex"]).startswith(
            bytes.fromhex(doc["domain_prefix_hex"])
        )
