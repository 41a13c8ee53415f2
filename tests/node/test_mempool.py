"""Mempool admission, bounds and fairness: real signatures, real contract rules.

The pool runs ``contracts.check_tx`` (through ``ContractAdmission``) over a real
contracts state, as a node does over its store. The last tests drive real
``Node`` objects (``tests.node.twonodes``) for finding 10 of issue 13: admission
bounds ``expires`` exactly as the next block's execution does, on the live
parameters that ``registry.set_params`` changes.
"""

from __future__ import annotations

from chain.types import Tx, sign_tx, tx_hash
from contracts import DictState, Overlay, get_params
from contracts.model import PARAMS_KEY
from node.mempool import ContractAdmission, Mempool, MempoolLimits, SignatureCache
from tests.contracts.helpers import (
    ADMIN,
    CHAIN_ID,
    HOUR,
    SUITE,
    Chain,
    genesis_doc,
    key,
    open_class_body,
    pub,
)

FLOODERS = range(100, 160)  # providers in the test genesis, one key each
A, B, C = (key(n) for n in FLOODERS[:3])
WINDOW = 1000


def world() -> Chain:
    from chain.genesis import Genesis

    doc = genesis_doc()
    doc["actors"] += [
        {"id": f"flood-{n}", "role": "provider", "name": f"flood {n}", "region_code": "360100",
         "public_keys": [pub(n).hex()]}
        for n in FLOODERS
    ]
    return Chain(genesis=Genesis.model_validate(doc))


class CountingReader:
    """The chain's real state, counting reads of the parameters record."""

    def __init__(self, base: DictState) -> None:
        self.base = base
        self.params_reads = 0

    def get(self, key_: bytes) -> bytes | None:
        self.params_reads += key_ == PARAMS_KEY
        return self.base.get(key_)


def pool(chain: Chain | None = None, limits=None, committed=frozenset()):
    chain = chain or world()
    reader = CountingReader(chain.base)
    made = Mempool(
        SUITE,
        CHAIN_ID,
        SignatureCache(SUITE),
        ContractAdmission(lambda: reader),
        lambda d: d in committed,
        limits or MempoolLimits(max_txs=100),
    )
    made.on_height(chain.height)
    made.reader = reader  # type: ignore[attr-defined]
    return made


def tx(signer, nonce, expires=10, chain=CHAIN_ID, body=None, kind="enrolment.open_class"):
    body = open_class_body(f"class-{nonce}") if body is None else body
    return sign_tx(signer, chain, kind, nonce, expires, body)


def test_admits_a_good_tx_once_and_keeps_its_parsed_body():
    p = pool()
    first = p.admit(tx(A, 1))
    assert first.ok and len(p) == 1
    assert p.parsed_body(first.tx_hash).class_id == "class-1"
    assert p.admit(tx(A, 1)).code == "duplicate_tx"


def test_each_refusal_has_its_code():
    chain = world()
    for _ in range(5):
        chain.run([])
    p = pool(chain, committed={b"x"})
    assert p.admit(tx(A, 1, chain="other")).code == "wrong_chain"
    assert p.admit(tx(A, 2, expires=5)).code == "tx_expired"
    assert p.admit(tx(A, 3, expires=5 + 2 + WINDOW)).code == "expiry_too_far"
    forged = tx(A, 4)
    forged = Tx(*[getattr(forged, f) for f in forged._fields][:-1], bytes(64))
    assert p.admit(forged).code == "bad_signature"
    assert p.admit_bytes(b"\x93\x01").code == "decode_error"
    assert p.admit_bytes(b"x" * (p.limits.max_tx_bytes + 1)).code == "tx_too_large"
    assert p.admit(tx(A, 5, kind="registry.suspend_actor", body=["x", "y"])).code == (
        "not_permitted")
    assert p.admit(tx(A, 6, body=["c"])).code == "bad_body"
    leak = open_class_body("c-13812345678")
    assert p.admit(tx(A, 7, body=leak)).code == "personal_data"
    assert p.admit(tx(key(99), 8)).code == "unknown_sender"
    assert len(p) == 0


def test_the_expiry_bounds_are_the_next_blocks_both_sides():
    """At head h the next block is h+1, which takes h+1 <= expires <= h+1+window: the
    pool admits exactly that (it refused h+1+window, one height short, before)."""
    chain = world()
    chain.run([])
    p = pool(chain)
    head = chain.height
    codes = {e: p.admit(tx(A, e, expires=e)).code
             for e in (head, head + 1, head + 1 + WINDOW, head + 2 + WINDOW)}
    assert codes == {head: "tx_expired", head + 1: "", head + 1 + WINDOW: "",
                     head + 2 + WINDOW: "expiry_too_far"}


def test_params_are_read_once_per_height_not_per_tx():
    p = pool()
    reads = p.reader.params_reads
    assert all(p.admit(tx(A, n)).ok for n in range(50))
    assert p.reader.params_reads == reads
    p.on_height(1)
    assert p.reader.params_reads == reads + 1


def test_set_params_moves_the_window_and_pending_txs_beyond_it_leave():
    chain = world()
    p = pool(chain)
    far = p.admit(tx(A, 1, expires=chain.height + 500))
    near = p.admit(tx(A, 2, expires=chain.height + 5))
    assert far.ok and near.ok
    shrink = sign_tx(key(ADMIN), CHAIN_ID, "registry.set_params", 1, chain.height + 5,
                     [10, 2, 12 * HOUR, 60, 8 * HOUR])
    assert chain.run([shrink])[0].code == ""
    p.on_height(chain.height)
    assert far.tx_hash not in p and near.tx_hash in p  # the far one cannot be included now
    assert p.admit(tx(A, 3, expires=chain.height + 11)).ok
    assert p.admit(tx(A, 4, expires=chain.height + 12)).code == "expiry_too_far"


def test_signature_verdict_is_cached_but_not_for_a_different_signature():
    cache = SignatureCache(SUITE)
    good = tx(A, 1)
    digest = tx_hash(SUITE, good)
    assert cache.check(good, digest) and cache.check(good, digest)
    assert cache.verified == 1
    forged = Tx(*[getattr(good, f) for f in good._fields][:-1], bytes(64))
    assert not cache.check(forged, digest)


def test_a_flooding_sender_is_capped_at_its_share_while_others_get_in():
    limits = MempoolLimits(max_txs=4000)
    p = pool(limits=limits)
    results = [p.admit(tx(A, i)) for i in range(3000)]
    assert sum(r.ok for r in results) == 2000  # half the pool, then "busy" for A only
    assert {r.code for r in results if not r.ok} == {"mempool_full"}
    assert all(p.admit(tx(B, i)).ok for i in range(1000))
    assert p.admit(tx(B, 5000)).code == "mempool_full"  # B now at its share too
    assert p.admit(tx(C, 1)).ok


def test_hard_count_bound():
    p = pool(limits=MempoolLimits(max_txs=100))
    signers = [key(n) for n in FLOODERS[10:60]]
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
    assert all(a.ok for a in admitted)
    p.remove([admitted[0].tx_hash])
    assert len(p) == 4
    p.on_height(5)  # the next block is 6: expires 4 and 5 are gone
    assert len(p) == 2
    assert [t.nonce for t, _ in p.take(10, 10**9)] == [3, 4]


def test_byte_bound_holds():
    p = pool(limits=MempoolLimits(max_txs=1000, max_bytes=2000))
    results = [p.admit(tx(A, i, body=open_class_body("c" * 60 + str(i)))) for i in range(20)]
    assert any(r.code == "mempool_full" for r in results)
    assert p.size_bytes <= 2000


# -- a real node: admission at head h == execution at h+1 (issue 13, finding 10) ----------------
def admin_tx(net, nonce: int, expires: int, body=None) -> Tx:
    signer = net.workload.keys["jx-hrss"]
    return sign_tx(signer, net.chain.genesis.chain_id, "registry.suspend_actor", nonce,
                   expires, body or [f"nobody-{nonce}", "test"])


def commit_on_nodes(net, txs: list[Tx]) -> list:
    receipts = net.chain.commit(txs)
    block, cert = net.chain.pairs()[-1]
    for node in net.nodes:
        node.on_committed(node.executor.commit(block, cert))
    return receipts


def test_a_node_admits_at_head_h_exactly_what_h_plus_1_executes(net):
    node = net.nodes[0]
    head = node.store.head.height
    window = get_params(Overlay(node.store.state)).tx_window_heights
    offered = {e: admin_tx(net, n, e) for n, e in enumerate(
        (head, head + 1, head + 1 + window, head + 2 + window))}
    codes = {e: node.submit(t.encode()).code for e, t in offered.items()}
    assert codes == {head: "tx_expired", head + 1: "", head + 1 + window: "",
                     head + 2 + window: "expiry_too_far"}
    batch = node.mempool.take(100, 10 << 20)
    assert len(batch) == 2
    execution = node.executor.propose(0, net.chain.time_s + 1, net.proposer, batch)
    assert [r.code for r in execution.receipts] == ["unknown_actor", "unknown_actor"]


def test_a_node_follows_set_params_from_the_next_height(net):
    node = net.nodes[0]
    params = get_params(Overlay(node.store.state))
    held = admin_tx(net, 1, node.store.head.height + 500)
    assert node.submit(held.encode()).ok
    wire = params.to_wire()
    wire[0] = 10
    shrink = sign_tx(net.workload.keys["jx-hrss"], net.chain.genesis.chain_id,
                     "registry.set_params", 2, node.store.head.height + 5, wire)
    assert commit_on_nodes(net, [shrink])[0].code == ""
    head = node.store.head.height
    assert tx_hash(net.suite, held) not in node.mempool  # could not be included any more
    assert node.submit(admin_tx(net, 3, head + 11).encode()).ok
    assert node.submit(admin_tx(net, 4, head + 12).encode()).code == "expiry_too_far"
