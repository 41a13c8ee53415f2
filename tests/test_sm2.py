"""The ``sm2-sm3`` suite against the standards' published vectors.

Sources of the vectors:

* SM2: GM/T 0003.5-2012 Annex A (reproduced in GB/T 32918.5-2017 Annex A),
  the signature example on the *recommended* curve: private key, public key,
  identity ``1234567812345678``, message ``"message digest"``, ``Z``, the
  hashed ``e``, the nonce ``k`` and the signature ``(r, s)``.
* SM3: GB/T 32905-2016 Annex A, examples 1 (``"abc"``) and 2 (512 bits).

Tongsuo computes ``Z`` itself, so the tests also check it independently: a
tiny pure-Python SM2 (affine arithmetic, slow, test-only) reproduces the
standard's ``(r, s)`` from its ``k``, verifies what the suite signs, and
shows that a signature bound to another identity does not verify.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.crypto import TAG_BLOCK, TAG_GENESIS, TAG_TX, TAG_VOTE, get_suite, suite_names
from chain.errors import GenesisError, InputError, KeyFileError
from chain.genesis import parse_genesis
from chain.sm2 import (
    CURVE_A,
    CURVE_B,
    CURVE_GX,
    CURVE_GY,
    CURVE_N,
    CURVE_P,
    DEFAULT_ID,
    sm3,
    z_digest,
)
from chain.types import Phase, sign_tx, sign_vote, tx_hash, verify_tx_signature, verify_vote
from chain.validators import build_certificate, sign_commit, verify_certificate
from cli.jiangxi import dev_signer, jiangxi_genesis
from node.keys import load_key, new_key

SUITE = get_suite("sm2-sm3")

# -- GM/T 0003.5-2012 Annex A: signature on the recommended curve -------------

STD_D = 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8
STD_X = 0x09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020
STD_Y = 0xCCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13
STD_ID = b"1234567812345678"
STD_MESSAGE = b"message digest"
STD_Z = bytes.fromhex("B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3")
STD_E = bytes.fromhex("F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640")
STD_K = 0x59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21
STD_R = 0xF5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3
STD_S = 0xB1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA

STD_PUBLIC = b"\x04" + STD_X.to_bytes(32, "big") + STD_Y.to_bytes(32, "big")
STD_SIGNATURE = STD_R.to_bytes(32, "big") + STD_S.to_bytes(32, "big")

# -- GB/T 32905-2016 Annex A ---------------------------------------------------

SM3_ABC = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
SM3_512_BITS = "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"

# -- a reference SM2, written from GB/T 32918.2 sections 6 and 7 ---------------

Point = tuple[int, int] | None
G: Point = (CURVE_GX, CURVE_GY)


def _add(p: Point, q: Point) -> Point:
    if p is None:
        return q
    if q is None:
        return p
    if p[0] == q[0] and (p[1] + q[1]) % CURVE_P == 0:
        return None
    if p == q:
        slope = (3 * p[0] * p[0] + CURVE_A) * pow(2 * p[1], -1, CURVE_P)
    else:
        slope = (q[1] - p[1]) * pow(q[0] - p[0], -1, CURVE_P)
    x = (slope * slope - p[0] - q[0]) % CURVE_P
    return x, (slope * (p[0] - x) - p[1]) % CURVE_P


def _mul(k: int, p: Point) -> Point:
    result: Point = None
    while k:
        if k & 1:
            result = _add(result, p)
        p, k = _add(p, p), k >> 1
    return result


def _encode(p: Point) -> bytes:
    assert p is not None
    return b"\x04" + p[0].to_bytes(32, "big") + p[1].to_bytes(32, "big")


def _e(public: bytes, message: bytes, identity: bytes) -> int:
    return int.from_bytes(sm3(z_digest(public, identity) + message), "big")


def reference_sign(d: int, message: bytes, k: int, identity: bytes = DEFAULT_ID) -> bytes:
    """GB/T 32918.2 section 6.1 with a given nonce ``k``."""
    e = _e(_encode(_mul(d, G)), message, identity)
    point = _mul(k, G)
    assert point is not None
    r = (e + point[0]) % CURVE_N
    s = pow(1 + d, -1, CURVE_N) * (k - r * d) % CURVE_N
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def reference_verify(
    public: bytes, message: bytes, signature: bytes, identity: bytes = DEFAULT_ID
) -> bool:
    """GB/T 32918.2 section 7.1."""
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    t = (r + s) % CURVE_N
    if not (0 < r < CURVE_N and 0 < s < CURVE_N and t):
        return False
    key = (int.from_bytes(public[1:33], "big"), int.from_bytes(public[33:], "big"))
    point = _add(_mul(s, G), _mul(t, key))
    return point is not None and (_e(public, message, identity) + point[0]) % CURVE_N == r


# -- the curve and the standard's example ------------------------------------------


def test_curve_constants_are_consistent():
    assert (CURVE_GY**2 - CURVE_GX**3 - CURVE_A * CURVE_GX - CURVE_B) % CURVE_P == 0
    assert _mul(CURVE_N, G) is None
    # Tongsuo's curve is the same: the key with scalar 1 is the generator.
    assert SUITE.signer_from_seed((1).to_bytes(32, "big")).public_key == _encode(G)


def test_standard_private_key_gives_standard_public_key():
    signer = SUITE.signer_from_seed(STD_D.to_bytes(32, "big"))
    assert signer.public_key == STD_PUBLIC
    assert signer.seed() == STD_D.to_bytes(32, "big")


def test_standard_z_and_e():
    assert STD_ID == DEFAULT_ID
    assert z_digest(STD_PUBLIC) == STD_Z
    assert sm3(STD_Z + STD_MESSAGE) == STD_E


def test_standard_signature_verifies():
    assert SUITE.verify_raw(STD_PUBLIC, STD_MESSAGE, STD_SIGNATURE)
    assert not SUITE.verify_raw(STD_PUBLIC, STD_MESSAGE + b".", STD_SIGNATURE)
    altered = STD_SIGNATURE[:-1] + bytes((STD_SIGNATURE[-1] ^ 1,))
    assert not SUITE.verify_raw(STD_PUBLIC, STD_MESSAGE, altered)


def test_reference_reproduces_the_standard_signature_from_its_nonce():
    assert reference_sign(STD_D, STD_MESSAGE, STD_K) == STD_SIGNATURE
    assert reference_verify(STD_PUBLIC, STD_MESSAGE, STD_SIGNATURE)


def test_suite_signatures_carry_z_of_the_default_identity():
    signer = SUITE.signer_from_seed(STD_D.to_bytes(32, "big"))
    for message in (b"", STD_MESSAGE, bytes(range(256)) * 3):
        signature = signer.sign_raw(message)
        assert reference_verify(STD_PUBLIC, message, signature)
        assert not reference_verify(STD_PUBLIC, message, signature, identity=b"ALICE123@YAHOO.COM")


def test_signature_bound_to_another_identity_does_not_verify():
    other = reference_sign(STD_D, STD_MESSAGE, STD_K, identity=b"ALICE123@YAHOO.COM")
    assert not SUITE.verify_raw(STD_PUBLIC, STD_MESSAGE, other)


# -- SM3 and HMAC-SM3 --------------------------------------------------------------


def test_sm3_standard_vectors():
    assert SUITE.hash(b"abc").hex() == SM3_ABC
    assert SUITE.hash(b"abcd" * 16).hex() == SM3_512_BITS
    assert SUITE.digest_bytes == len(SUITE.hash(b"")) == 32


def test_tagged_hash_is_sm3_of_the_tagged_input():
    assert SUITE.tagged_hash(TAG_TX, b"x") == sm3(bytes((len(TAG_TX),)) + TAG_TX + b"x")
    hasher = SUITE.hasher(TAG_TX)
    assert hasher(b"x") == SUITE.tagged_hash(TAG_TX, b"x")
    assert hasher(b"y") == SUITE.tagged_hash(TAG_TX, b"y")  # the primed context is reusable
    assert SUITE.tagged_hash(TAG_TX, b"x") != SUITE.tagged_hash(TAG_BLOCK, b"x")


@pytest.mark.parametrize("key", [b"", b"k" * 16, b"k" * 64, b"k" * 100])
def test_hmac_sm3_is_rfc2104_over_sm3(key):
    block = key if len(key) <= 64 else sm3(key)
    block = block.ljust(64, b"\x00")
    inner = sm3(bytes(b ^ 0x36 for b in block) + b"data")
    expected = sm3(bytes(b ^ 0x5C for b in block) + inner)
    assert SUITE.hmac(key, b"data") == expected


# -- keys and signature encoding -----------------------------------------------------


def test_round_trip_and_sizes():
    signer = SUITE.generate()
    assert len(signer.public_key) == SUITE.public_key_bytes == 65
    assert signer.public_key[0] == 4
    signature = signer.sign(TAG_TX, "jx", b"payload")
    assert len(signature) == SUITE.signature_bytes == 64
    assert SUITE.verify(signer.public_key, TAG_TX, "jx", b"payload", signature)
    again = SUITE.signer_from_seed(signer.seed())
    assert again.public_key == signer.public_key


@pytest.mark.parametrize(
    "scalar", [0, CURVE_N - 1, CURVE_N, 2**256 - 1], ids=["0", "n-1", "n", "max"]
)
def test_out_of_range_private_keys_are_refused(scalar):
    with pytest.raises(InputError, match=r"\[1, n-2\]"):
        SUITE.signer_from_seed(scalar.to_bytes(32, "big"))


def test_largest_private_key_is_accepted():
    signer = SUITE.signer_from_seed((CURVE_N - 2).to_bytes(32, "big"))
    assert SUITE.verify_raw(signer.public_key, b"m", signer.sign_raw(b"m"))


def test_bad_seed_length_is_an_input_error():
    with pytest.raises(InputError, match="32 bytes"):
        SUITE.signer_from_seed(b"short")


def _with_prefix(prefix: int) -> bytes:
    return bytes((prefix,)) + STD_PUBLIC[1:]


@pytest.mark.parametrize(
    "public",
    [
        _with_prefix(6),  # the "hybrid" forms of X9.62 are aliases of the same key
        _with_prefix(7),
        _with_prefix(2),
        b"\x04" + bytes(64),  # not on the curve
        STD_PUBLIC[:-1] + bytes((STD_PUBLIC[-1] ^ 1,)),  # off the curve by one bit
        STD_PUBLIC[:33],  # compressed length
        STD_PUBLIC + b"\x00",
    ],
)
def test_non_canonical_or_invalid_public_keys_do_not_verify(public):
    assert not SUITE.verify_raw(public, STD_MESSAGE, STD_SIGNATURE)


def test_out_of_range_signature_words_do_not_verify():
    r, s = STD_R.to_bytes(32, "big"), STD_S.to_bytes(32, "big")
    n = CURVE_N.to_bytes(32, "big")
    for signature in (bytes(32) + s, r + bytes(32), n + s, r + n, STD_SIGNATURE[:63]):
        assert not SUITE.verify_raw(STD_PUBLIC, STD_MESSAGE, signature)
    # The ECDSA-style twin (r, n - s) is no SM2 signature: t = r + s changes.
    twin = r + (CURVE_N - STD_S).to_bytes(32, "big")
    assert not SUITE.verify_raw(STD_PUBLIC, STD_MESSAGE, twin)


def test_wrong_length_key_or_signature_is_false_not_an_exception():
    assert not SUITE.verify(b"\x04" * 64, TAG_TX, "c", b"", bytes(64))
    assert not SUITE.verify(STD_PUBLIC, TAG_TX, "c", b"", bytes(63))
    assert not SUITE.verify(bytes(65), TAG_TX, "c", b"", bytes(64))


# -- domain separation, as tests/test_crypto.py checks for Ed25519 -----------------

KEY = SUITE.signer_from_seed(bytes(range(1, 33)))


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=100), st.sampled_from(["jx-1", "jx-dev", "other"]))
def test_signature_binds_tag_and_chain(payload, chain_id):
    signature = KEY.sign(TAG_TX, chain_id, payload)
    assert SUITE.verify(KEY.public_key, TAG_TX, chain_id, payload, signature)
    assert not SUITE.verify(KEY.public_key, TAG_VOTE, chain_id, payload, signature)
    assert not SUITE.verify(KEY.public_key, TAG_BLOCK, chain_id, payload, signature)
    assert not SUITE.verify(KEY.public_key, TAG_TX, chain_id + "x", payload, signature)
    assert not SUITE.verify(KEY.public_key, TAG_TX, chain_id, payload + b"\x00", signature)


def test_tx_signature_is_chain_specific_and_hash_ignores_signature():
    tx = sign_tx(KEY, "jx-1", "test.put", 7, 100, [b"k", b"v"])
    assert verify_tx_signature(SUITE, tx)
    moved = tx.__class__(**{**_fields(tx), "chain_id": "jx-2"})
    assert not verify_tx_signature(SUITE, moved)
    # SM2 signing is randomised: a second signature differs but names the same tx.
    resigned = sign_tx(KEY, "jx-1", "test.put", 7, 100, [b"k", b"v"])
    assert resigned.signature != tx.signature
    assert tx_hash(SUITE, resigned) == tx_hash(SUITE, tx)
    assert tx_hash(SUITE, tx) != tx_hash(get_suite("ed25519-sha256"), tx)


def test_vote_for_one_phase_does_not_verify_as_another():
    vote = sign_vote(KEY, "jx-1", Phase.PREPARE, 5, 0, bytes(32))
    assert verify_vote(SUITE, "jx-1", vote)
    as_commit = vote.__class__(**{**_fields(vote), "phase": int(Phase.COMMIT)})
    assert not verify_vote(SUITE, "jx-1", as_commit)
    assert not verify_vote(SUITE, "jx-2", vote)


def _fields(record):
    return {name: getattr(record, name) for name in record._fields}


# -- the registry, key files and genesis ---------------------------------------------


def test_registry_names_both_suites():
    assert suite_names() == ["ed25519-sha256", "sm2-sm3"]
    with pytest.raises(InputError, match="known suites: ed25519-sha256, sm2-sm3"):
        get_suite("rsa-md5")


def test_sm2_key_file_round_trip_and_wrong_suite_refused(tmp_path):
    path = tmp_path / "validator.key"
    signer = new_key(path, "sm2-sm3")
    document = json.loads(path.read_text())
    assert document["suite"] == "sm2-sm3" and len(bytes.fromhex(document["secret"])) == 32
    assert load_key(path, "sm2-sm3").public_key == signer.public_key
    with pytest.raises(KeyFileError, match="holds a sm2-sm3 key but this chain uses ed25519"):
        load_key(path, "ed25519-sha256")


def test_ed25519_key_file_refused_by_an_sm2_chain(tmp_path):
    path = tmp_path / "old.key"
    new_key(path, "ed25519-sha256")
    with pytest.raises(KeyFileError, match="keys new --suite sm2-sm3"):
        load_key(path, "sm2-sm3")


def test_sm2_key_file_with_out_of_range_secret_is_refused(tmp_path):
    path = tmp_path / "bad.key"
    path.write_text(json.dumps({"suite": "sm2-sm3", "secret": "00" * 32}))
    with pytest.raises(KeyFileError, match=r"\[1, n-2\]"):
        load_key(path, "sm2-sm3")


def test_sm2_genesis_validates_and_its_validators_certify():
    document = jiangxi_genesis(4, suite_name="sm2-sm3")
    genesis, digest = parse_genesis(json.dumps(document))
    assert genesis.crypto_suite == "sm2-sm3" and genesis.suite is SUITE
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert digest == SUITE.tagged_hash(TAG_GENESIS, canonical.encode())
    valset = genesis.validator_set()
    assert len(valset) == 4 and valset.quorum == 3
    signers = [dev_signer(f"validator/{v.region_code}", "sm2-sm3") for v in genesis.validators]
    assert {s.public_key for s in signers} == {v.public_key for v in valset.validators}
    block_hash = SUITE.hash(b"block 1")
    signatures = {s.public_key: sign_commit(s, genesis.chain_id, 1, 0, block_hash) for s in signers}
    cert = build_certificate(valset, 1, 0, block_hash, dict(list(signatures.items())[:3]))
    assert len(verify_certificate(SUITE, genesis.chain_id, valset, cert)) == 3


def test_sm2_genesis_with_ed25519_keys_is_refused():
    document = jiangxi_genesis(4, suite_name="ed25519-sha256")
    document["crypto_suite"] = "sm2-sm3"
    with pytest.raises(GenesisError, match="sm2-sm3 keys have 65"):
        parse_genesis(json.dumps(document))
