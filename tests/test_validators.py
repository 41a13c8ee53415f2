"""Quorums, validator sets and commit certificates."""

from __future__ import annotations

import pytest

from chain.crypto import get_suite
from chain.errors import CertificateError, DecodeError
from chain.validators import (
    Validator,
    ValidatorSet,
    build_certificate,
    faults_tolerated,
    quorum_size,
    sign_commit,
    verify_certificate,
)

SUITE = get_suite("ed25519-sha256")
KEYS = [SUITE.signer_from_seed(bytes([i]) * 32) for i in range(1, 8)]


def make_set(keys) -> ValidatorSet:
    return ValidatorSet(Validator(k.public_key, f"v{KEYS.index(k)}", "360100") for k in keys)


@pytest.mark.parametrize(
    "n, f, q", [(1, 0, 1), (2, 0, 2), (3, 0, 3), (4, 1, 3), (7, 2, 5), (10, 3, 7), (12, 3, 9)]
)
def test_quorum_table(n, f, q):
    assert faults_tolerated(n) == f
    assert quorum_size(n) == q
    # Two quorums intersect in at least f+1 validators.
    assert 2 * q - n >= f + 1


def test_set_order_is_canonical_and_hash_stable():
    a, b = make_set(KEYS[:4]), make_set(list(reversed(KEYS[:4])))
    assert a.validators == b.validators
    assert a.hash(SUITE) == b.hash(SUITE)
    assert ValidatorSet.from_wire(a.to_wire()) == a


def test_duplicate_key_refused():
    with pytest.raises(DecodeError, match="twice"):
        ValidatorSet(
            [Validator(KEYS[0].public_key, "a", "1"), Validator(KEYS[0].public_key, "b", "2")]
        )


def certificate(valset, signers, height=3, view=0, block_hash=b"\x07" * 32, chain="jx"):
    sigs = {k.public_key: sign_commit(k, chain, height, view, block_hash) for k in signers}
    return build_certificate(valset, height, view, block_hash, sigs)


def test_quorum_certificate_verifies_and_names_signers():
    valset = make_set(KEYS[:4])
    cert = certificate(valset, KEYS[:3])
    indices = verify_certificate(SUITE, "jx", valset, cert)
    assert sorted(valset.validators[i].public_key for i in indices) == sorted(
        k.public_key for k in KEYS[:3]
    )


def test_one_signature_short_is_refused():
    valset = make_set(KEYS[:4])
    with pytest.raises(CertificateError, match="quorum is 3 of 4"):
        verify_certificate(SUITE, "jx", valset, certificate(valset, KEYS[:2]))


def test_outsider_signatures_do_not_count():
    valset = make_set(KEYS[:4])
    cert = certificate(valset, [KEYS[0], KEYS[1], KEYS[5]])
    with pytest.raises(CertificateError, match="2 signers"):
        verify_certificate(SUITE, "jx", valset, cert)


def test_signature_for_another_block_chain_or_height_fails():
    valset = make_set(KEYS[:4])
    good = certificate(valset, KEYS[:3])
    for bad in (
        certificate(valset, KEYS[:3], chain="other"),
        certificate(valset, KEYS[:3], height=4),
    ):
        forged = good.__class__(
            good.height, good.view, good.block_hash, good.signers, bad.signatures
        )
        with pytest.raises(CertificateError, match="does not verify"):
            verify_certificate(SUITE, "jx", valset, forged)


def test_bitmap_shape_is_checked():
    valset = make_set(KEYS[:4])
    good = certificate(valset, KEYS[:3])
    too_long = good.__class__(
        good.height, good.view, good.block_hash, good.signers + b"\x00", good.signatures
    )
    with pytest.raises(CertificateError, match="bitmap"):
        verify_certificate(SUITE, "jx", valset, too_long)
    stray = good.__class__(good.height, good.view, good.block_hash, b"\xff", good.signatures)
    with pytest.raises(CertificateError, match="outside the set"):
        verify_certificate(SUITE, "jx", valset, stray)


def test_duplicated_signature_cannot_pad_a_quorum():
    valset = make_set(KEYS[:4])
    good = certificate(valset, KEYS[:2])
    bitmap = bytes(
        [good.signers[0] | (1 << next(i for i in range(4) if not good.signers[0] >> i & 1))]
    )
    padded = good.__class__(
        good.height, good.view, good.block_hash, bitmap, good.signatures + good.signatures[:1]
    )
    with pytest.raises(CertificateError):
        verify_certificate(SUITE, "jx", valset, padded)
