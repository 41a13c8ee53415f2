"""Mempool admission, bounds and fairness (real signatures, no network)."""

from __future__ import annotations

from chain.crypto import get_suite
from chain.types import Tx, sign_tx
from node.mempool import Mempool, MempoolLimits, SignatureCache

SUITE = get_suite("ed25519-sha256")
A, B, C = (SUITE.signer_from_seed(bytes([i]) * 32) for i in (1, 2, 3))
CHAIN = "jx"


def pool(limits=None, check=lambda tx: None, committed=frozenset()):
    return Mempool(
        SUITE,
        CHAIN,
        SignatureCache(SUITE),
        check,
        lambda d: d in committed,
        limits or MempoolLimits(max_txs=100, expiry_window=50),
    )


def tx(signer, nonce, expires=10, chain=CHAIN, body=None):
    return sign_tx(signer, chain, "learning.record_sessions", nonce, expires, body or [])


def test_admits_a_good_tx_once():
    p = pool()
    first = p.admit(tx(A, 1))
    assert first.ok and len(p) == 1
    assert p.admit(tx(A, 1)).code == "duplicate_tx"


def test_each_stateless_refusal_has_its_code():
    p = pool(committed={b"x"})
    p.on_height(5)
    assert p.admit(tx(A, 1, chain="other")).code == "wrong_chain"
    assert p.admit(tx(A, 2, expires=5)).code == "tx_expired"
    assert p.admit(tx(A, 3, expires=56)).code == "expiry_too_far"
    forged = tx(A, 4)
    forged = Tx(*[getattr(forged, f) for f in forged._fields][:-1], bytes(64))
    assert p.admit(forged).code == "bad_signature"
    assert p.admit_bytes(b"\x93\x01").code == "decode_error"
    assert p.admit_bytes(b"x" * (p.limits.max_tx_bytes + 1)).code == "tx_too_large"
    assert len(p) == 0


def test_role_check_result_is_returned():
    p = pool(check=lambda t: ("not_permitted", "no"))
    assert p.admit(tx(A, 1)).code == "not_permitted"


def test_signature_verdict_is_cached_but_not_for_a_different_signature():
    cache = SignatureCache(SUITE)
    good = tx(A, 1)
    from chain.types import tx_hash

    digest = tx_hash(SUITE, good)
    assert cache.check(good, digest) and cache.check(good, digest)
    assert cache.verified == 1
    forged = Tx(*[getattr(good, f) for f in good._fields][:-1], bytes(64))
    assert not cache.check(forged, digest)


def test_a_flooding_sender_is_capped_at_its_share_while_others_get_in():
    limits = MempoolLimits(max_txs=4000, expiry_window=50)
    p = pool(limits)
    results = [p.admit(tx(A, i)) for i in range(3000)]
    assert sum(r.ok for r in results) == 2000  # half the pool, then "busy" for A only
    assert {r.code for r in results if not r.ok} == {"mempool_full"}
    assert all(p.admit(tx(B, i)).ok for i in range(1000))
    assert p.admit(tx(B, 5000)).code == "mempool_full"  # B now at its share too
    assert p.admit(tx(C, 1)).ok


def test_hard_count_bound():
    p = pool(MempoolLimits(max_txs=100, expiry_window=50))
    signers = [SUITE.signer_from_seed(bytes([i]) * 32) for i in range(10, 60)]
    codes = [p.admit(tx(s, n)).code for n in range(3) for s in signers]
    assert len(p) == 100 and codes.count("mempool_full") == 50


def test_take_is_round_robin_between_senders():
    p = pool()
    for i in range(10):
        p.admit(tx(A, i))
    p.admit(tx(B, 1))
    p.admit(tx(C, 1))
    batch = p.take(3, 10**9)
    assert {t.sender for t, _ in batch} == {A.public_key, B.public_key, C.public_key}


def test_remove_and_expiry():
    p = pool()
    admitted = [p.admit(tx(A, i, expires=3 + i)) for i in range(5)]
    p.remove([admitted[0].tx_hash])
    assert len(p) == 4
    p.on_height(5)  # expires 4 and 5 are gone
    assert len(p) == 2
    assert [t.nonce for t, _ in p.take(10, 10**9)] == [3, 4]


def test_byte_bound_holds():
    p = pool(MempoolLimits(max_txs=1000, max_bytes=2000, expiry_window=50))
    results = [p.admit(tx(A, i, body=[b"x" * 300])) for i in range(20)]
    assert any(r.code == "mempool_full" for r in results)
    assert p.size_bytes <= 2000
