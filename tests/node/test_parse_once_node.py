"""A node parses each tx body once: at admission, never again when executing the tx.

Two real ``Node`` objects (their executors and mempools, no network) and a
``DevChain`` whose executor has no mempool, so it parses every body during
execution: the reference. The nodes must reach the same receipts, changes and
state root as the reference while calling ``parse_body`` only for txs they
never admitted.
"""

from __future__ import annotations

from chain.types import Block
from contracts.kinds import RecordSessions
from node.executor import Execution
from tests.audit.devchain import forge_certificate


def same_outcome(a: Execution, b: Execution) -> None:
    assert a.receipts == b.receipts
    assert a.changes == b.changes
    assert a.update.root == b.update.root
    assert a.block_hash == b.block_hash


def test_the_proposer_executes_its_mempool_with_the_bodies_parsed_at_admission(net, parse_calls):
    node = net.nodes[0]
    sessions = net.workload.sessions()
    for tx in sessions:
        assert node.submit(tx.encode()).ok
    for digest in net.hashes(sessions):
        assert isinstance(node.mempool.parsed_body(digest), RecordSessions)

    parse_calls.clear()
    batch = node.mempool.take(10_000, 10 << 20)
    proposed = node.executor.propose(0, net.chain.time_s + 1, net.proposer, batch)
    assert parse_calls == []
    assert all(r.code == "" for r in proposed.receipts)
    kinds = {e.kind for r in proposed.receipts for e in r.events}
    assert kinds == {"learning.session_credited", "learning.session_rejected"}

    reference = net.chain.executor.verify(proposed.block)  # parses every body
    assert len(parse_calls) == len(sessions)
    same_outcome(proposed, reference)


def test_a_verifier_finds_bodies_by_hash_and_parses_only_what_it_never_admitted(net, parse_calls):
    node = net.nodes[1]
    sessions = net.workload.sessions()
    held_back = sessions[-1]  # never reached this node
    provider = net.workload.classes[0].provider
    bad = net.workload.tx(provider, "learning.record_sessions", [[]])  # fails parsing
    for tx in [*sessions[:-1], bad]:  # as gossip from a peer is admitted
        node.mempool.admit_bytes(tx.encode())
    assert len(node.mempool) == len(sessions) - 1  # the bad body was refused, not cached
    assert node.mempool.parsed_body(net.hashes([held_back])[0]) is None

    txs = [*sessions, bad]
    pairs = list(zip(txs, net.hashes(txs), strict=True))
    proposed = net.chain.executor.propose(0, net.chain.time_s + 1, net.proposer, pairs)
    assert proposed.receipts[-1].code == "bad_body"
    received = Block.decode(proposed.block.encode())  # fresh Tx objects, as from a peer

    parse_calls.clear()
    verified = node.executor.verify(received)
    assert len(parse_calls) == 2  # the held-back tx and the bad body
    same_outcome(verified, proposed)

    valset = node.executor.validator_set()
    certificate = forge_certificate(net.chain.genesis, received.header, valset.quorum, valset)
    node.on_committed(node.executor.commit(received, certificate))
    assert len(node.mempool) == 0  # the parsed bodies went with their entries
    assert all(node.mempool.parsed_body(d) is None for d in net.hashes(txs))


def test_a_refused_tx_keeps_no_body_and_an_admitted_one_keeps_exactly_its_own(net):
    node = net.nodes[0]
    provider = net.workload.classes[0].provider
    bad = net.workload.tx(provider, "learning.record_sessions", [[]])
    refused = node.submit(bad.encode())
    assert refused.code == "bad_body" and refused.tx_hash is not None
    assert node.mempool.parsed_body(refused.tx_hash) is None
    good = net.workload.sessions()[0]
    admitted = node.submit(good.encode())
    assert admitted.ok and admitted.tx_hash is not None
    body = node.mempool.parsed_body(admitted.tx_hash)
    assert isinstance(body, RecordSessions) and body.to_wire() == good.body
