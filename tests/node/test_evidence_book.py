"""The evidence book (issue 13, finding 4): deduplicated, bounded per validator and in
total, persisted in the real LevelDB store, paginated at ``/v1/evidence``.

Before it, every report was appended to a list in memory: a validator signing two
votes for every view the replicas accept left 2,046 entries in 30 s, none of them
after a restart.
"""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient, TestServer

from chain.crypto import get_suite
from chain.types import Phase, Vote, sign_vote
from consensus.messages import ProposalSeen, proposal_payload
from consensus.proposals import is_valid_proposal_evidence
from node.evidence import MAX_EVIDENCE, MAX_EVIDENCE_PER_VALIDATOR, MAX_PAGE, EvidenceBook
from node.rpc import RpcSettings, build_app
from node.runtime import Node
from tests.storefixtures import ensure_genesis, open_store

SUITE = get_suite("ed25519-sha256")
CHAIN = "evidence-test"
SIGNERS = [SUITE.signer_from_seed(bytes([i + 1]) * 32) for i in range(80)]


def pair(signer, view: int, height: int = 1, phase: Phase = Phase.PREPARE) -> tuple[Vote, Vote]:
    return (sign_vote(signer, CHAIN, phase, height, view, b"\xaa" * 32),
            sign_vote(signer, CHAIN, phase, height, view, b"\xbb" * 32))


def proposals(signer, view: int) -> tuple[ProposalSeen, ProposalSeen]:
    def seen(digest: bytes) -> ProposalSeen:
        payload = proposal_payload(1, view, digest, signer.public_key)
        signature = signer.sign(b"skillchain/consensus/preprepare/v1", CHAIN, payload)
        return ProposalSeen(1, view, digest, signer.public_key, signature)
    return seen(b"\x01" * 32), seen(b"\x02" * 32)


def test_one_entry_per_slot():
    book = EvidenceBook()
    a, b = pair(SIGNERS[0], 0)
    assert book.add_votes(a, b)
    assert not book.add_votes(a, b)
    assert not book.add_votes(b, a)
    assert book.add_votes(*pair(SIGNERS[0], 0, phase=Phase.COMMIT))  # another slot
    assert book.add_proposals(*proposals(SIGNERS[0], 0))  # another kind
    assert not book.add_proposals(*proposals(SIGNERS[0], 0))
    assert len(book) == 3 and book.refused == 3


def test_a_flooding_validator_keeps_its_first_entries_only():
    book = EvidenceBook()
    for view in range(200):
        book.add_votes(*pair(SIGNERS[0], view))
    assert len(book) == MAX_EVIDENCE_PER_VALIDATOR == 16
    assert [e["view"] for e in book.entries()] == list(range(16))
    assert book.add_votes(*pair(SIGNERS[1], 0)), "another validator's first still goes in"


def test_when_full_the_validator_with_most_entries_gives_way_to_a_newcomer():
    book = EvidenceBook(per_validator=4, total=8)
    a, b, c = SIGNERS[:3]
    for view in range(4):
        book.add_votes(*pair(a, view))
        book.add_votes(*pair(b, view))
    assert len(book) == 8
    assert book.add_votes(*pair(c, 0))  # a's oldest (view 0) goes: a and b tie, a is older
    assert ("votes", a.public_key.hex(), 0) not in _slots(book)
    assert book.add_votes(*pair(c, 1))  # now b has the most
    assert ("votes", b.public_key.hex(), 0) not in _slots(book)
    assert book.add_votes(*pair(c, 2))  # a and b have 3 each, c 2
    assert not book.add_votes(*pair(c, 3)), "c has as many as the largest: refused"
    counts = {}
    for e in book.entries():
        counts[e["voter"]] = counts.get(e["voter"], 0) + 1
    assert sorted(counts.values()) == [2, 3, 3] and len(book) == 8


def _slots(book: EvidenceBook) -> set:
    return {(e["kind"], e.get("voter"), e["view"]) for e in book.entries()}


def test_the_total_cap_holds_against_every_validator_flooding():
    book = EvidenceBook()
    for signer in SIGNERS:  # 80 validators, 20 slots each: 1,600 reports
        for view in range(20):
            book.add_votes(*pair(signer, view))
    assert len(book) == MAX_EVIDENCE == 1_024


def test_pages_are_stable_and_bounded():
    book = EvidenceBook()
    for signer in SIGNERS[:16]:
        for view in range(16):
            book.add_votes(*pair(signer, view))
    assert len(book) == 256
    seen, after, pages = [], 0, 0
    while True:
        page = book.page(after, 1_000)  # asks for more than a page may hold
        assert len(page["evidence"]) <= MAX_PAGE
        seen += [e["id"] for e in page["evidence"]]
        pages += 1
        if page["next"] is None:
            break
        after = int(page["next"])
    assert pages == 3 and seen == sorted(seen) and len(set(seen)) == 256
    assert book.page(seen[-1])["evidence"] == []
    assert [e["id"] for e in book.page(seen[9], 5)["evidence"]] == seen[10:15]
    assert book.page(0, 0)["evidence"][0]["id"] == seen[0]  # limit raised to 1


def test_entries_are_persisted_and_numbered_on_after_a_restart(tmp_path):
    store = open_store(tmp_path / "db")
    ensure_genesis(store)
    book = EvidenceBook(store, per_validator=2, total=4)
    for signer in SIGNERS[:2]:
        for view in range(3):
            book.add_votes(*pair(signer, view))
    book.add_proposals(*proposals(SIGNERS[2], 5))  # evicts the oldest of the first
    before = book.entries()
    store.close()

    store = open_store(tmp_path / "db")
    again = EvidenceBook(store, per_validator=2, total=4)
    assert again.entries() == before and len(again) == 4
    assert not again.add_votes(*pair(SIGNERS[1], 1)), "still deduplicated after a restart"
    assert again.add_votes(*pair(SIGNERS[3], 0))
    assert again.entries()[-1]["id"] > before[-1]["id"]
    stored = next(e for e in again.entries() if e["kind"] == "proposals")
    a, b = (ProposalSeen.decode(bytes.fromhex(h)) for h in stored["proposals"])
    assert is_valid_proposal_evidence(SUITE, CHAIN, a, b)
    store.close()


def test_rpc_pages_the_book_of_a_real_node_and_keeps_it_over_a_restart(net):
    node = net.nodes[0]
    for signer in SIGNERS[:10]:
        for view in range(15):
            assert node.consensus.evidence.add_votes(*pair(signer, view))

    async def fetch(app_node: Node) -> tuple[list[int], list[int]]:
        async with TestClient(TestServer(build_app(app_node, RpcSettings()))) as client:
            ids, after = [], "0"
            while after is not None:
                answer = await client.get(f"/v1/evidence?after={after}&limit=40")
                assert answer.status == 200
                body = await answer.json()
                ids += [e["id"] for e in body["evidence"]]
                after = body["next"]
            codes = []
            for bad in ("limit=x", "after=-1", "after=%C2%B2", "limit=" + "9" * 30):
                codes.append((await client.get(f"/v1/evidence?{bad}")).status)
            return ids, codes

    ids, codes = asyncio.run(fetch(node))
    assert len(ids) == 150 and ids == sorted(ids)
    assert codes == [400, 400, 400, 400]

    home = node.home
    node.consensus.close()
    node.store.close()
    restarted = Node(home)
    try:
        assert asyncio.run(fetch(restarted))[0] == ids
        assert restarted.status()["evidence"] == 150
    finally:
        restarted.consensus.close()
        restarted.store.close()
    net.nodes[0] = Node(home)  # the fixture closes what it holds
