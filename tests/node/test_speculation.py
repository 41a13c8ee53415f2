"""Replicas execute a block from the primary's preview, before its proposal arrives.

``Executor.speculate`` runs the previewed txs; ``verify`` then takes that outcome
only for a block with the same parent, height, time, proposer and tx hashes, and
still checks every root and signature. The reference is a ``DevChain`` executor
that never speculates. ``ConsensusDriver._on_preview`` acts on a preview only from
the primary of the current (height, view), once, and only when every tx is here.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from chain.types import Block, Tx
from node.executor import BlockRejected, Execution
from tests.node.twonodes import Net


def gossiped(net: Net, node_index: int) -> list[Tx]:
    """A batch of session txs, admitted by node ``node_index`` as if gossiped."""
    txs = net.workload.sessions()
    node = net.nodes[node_index]
    for tx in txs:
        assert node.mempool.admit_bytes(tx.encode()).ok
    return txs


def proposal(net: Net, txs: list[Tx], time_s: int) -> Execution:
    pairs = list(zip(txs, net.hashes(txs), strict=True))
    return net.chain.executor.propose(0, time_s, net.proposer, pairs)


def count_runs(node, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    runs: list[int] = []
    real = node.executor._run
    monkeypatch.setattr(node.executor, "_run", lambda ctx, txs: runs.append(1) or real(ctx, txs))
    return runs


def same_outcome(a: Execution, b: Execution) -> None:
    assert (a.receipts, a.changes, a.update.root, a.block_hash) == (
        b.receipts, b.changes, b.update.root, b.block_hash)


def test_a_matching_proposal_is_verified_without_executing_again(net, monkeypatch):
    node = net.nodes[1]
    txs = gossiped(net, 1)
    time_s = net.chain.time_s + 1
    height = node.store.head.height + 1
    pairs = [(node.mempool.get(d), d) for d in net.hashes(txs)]
    assert node.executor.speculate(height, time_s, net.proposer, pairs)
    proposed = proposal(net, txs, time_s)

    runs = count_runs(node, monkeypatch)
    verified = node.executor.verify(Block.decode(proposed.block.encode()))
    assert runs == [] and node.executor.speculation_hits == 1
    same_outcome(verified, proposed)


@pytest.mark.parametrize("differs", ["time", "order", "fewer txs", "proposer"])
def test_a_proposal_that_differs_from_its_preview_is_executed_again(net, monkeypatch, differs):
    node = net.nodes[1]
    txs = gossiped(net, 1)
    time_s = net.chain.time_s + 1
    previewed = {"order": txs[::-1], "fewer txs": txs[:-1]}.get(differs, txs)
    other = node.executor.validator_set().validators[1].public_key
    proposer = other if differs == "proposer" else net.proposer
    pairs = [(node.mempool.get(d), d) for d in net.hashes(previewed)]
    node.executor.speculate(node.store.head.height + 1, time_s + (differs == "time"), proposer,
                            pairs)
    proposed = proposal(net, txs, time_s)

    runs = count_runs(node, monkeypatch)
    verified = node.executor.verify(Block.decode(proposed.block.encode()))
    assert runs == [1] and node.executor.speculation_hits == 0
    same_outcome(verified, proposed)


def test_a_speculation_never_turns_a_bad_block_into_a_good_one(net):
    node = net.nodes[1]
    txs = gossiped(net, 1)
    time_s = net.chain.time_s + 1
    pairs = [(node.mempool.get(d), d) for d in net.hashes(txs)]
    node.executor.speculate(node.store.head.height + 1, time_s, net.proposer, pairs)
    proposed = proposal(net, txs, time_s)
    forged = Block(proposed.block.header.__class__(
        *[bytes(32) if name == "state_root" else getattr(proposed.block.header, name)
          for name in proposed.block.header._fields]), proposed.block.txs)
    with pytest.raises(BlockRejected, match="state root"):
        node.executor.verify(forged)


def test_a_speculation_on_a_stale_head_is_not_used(net, monkeypatch):
    node = net.nodes[1]
    txs = gossiped(net, 1)
    time_s = net.chain.time_s + 1
    pairs = [(node.mempool.get(d), d) for d in net.hashes(txs)]
    assert not node.executor.speculate(node.store.head.height + 2, time_s, net.proposer, pairs)
    assert not node.executor.speculate(node.store.head.height + 1, 0, net.proposer, pairs)
    assert node.executor.speculations == 0


# -- previews on the wire ------------------------------------------------------------------


def preview_of(net: Net, txs: list[Tx], height: int, view: int = 0) -> list:
    return [height, view, net.chain.time_s + 1, net.hashes(txs)]


def primary_key(node, height: int, view: int = 0) -> bytes:
    valset = node.executor.validator_set()
    return valset.validators[(height + view) % len(valset)].public_key


def test_a_replica_acts_on_one_preview_from_the_primary_of_its_height_and_view(net):
    node = net.nodes[1]
    txs = gossiped(net, 1)
    height = node.store.head.height + 1
    driver = node.consensus
    assert driver.replica.view == 0
    not_primary = primary_key(node, height + 1)
    driver.on_frame(not_primary, ["p", preview_of(net, txs, height)])
    driver.on_frame(primary_key(node, height + 1), ["p", preview_of(net, txs, height + 1)])
    driver.on_frame(primary_key(node, height, 1), ["p", preview_of(net, txs, height, view=1)])
    for garbage in (None, [], [height, 0, 1], [height, 0, "t", []], [height, 0, 1, []],
                    [height, 0, 1, [b"short"]], [height, 0, 1, "x"]):
        driver.on_frame(primary_key(node, height), ["p", garbage])
    assert node.executor.speculations == 0

    driver.on_frame(primary_key(node, height), ["p", preview_of(net, txs, height)])
    assert node.executor.speculations == 1
    driver.on_frame(primary_key(node, height), ["p", preview_of(net, txs, height)])
    assert node.executor.speculations == 1  # once per (height, view)


def test_a_preview_listing_a_tx_the_replica_lacks_is_ignored(net):
    node = net.nodes[1]
    txs = gossiped(net, 1)
    missing = net.workload.sessions()[:1]
    height = node.store.head.height + 1
    preview = preview_of(net, txs + missing, height)
    node.consensus.on_frame(primary_key(node, height), ["p", preview])
    assert node.executor.speculations == 0


def test_gossip_queued_before_a_preview_is_admitted_before_it_is_read(net):
    node = net.nodes[1]
    txs = net.workload.sessions()
    node.on_gossip([tx.encode() for tx in txs])  # queued for the admission loop
    assert len(node.mempool) == 0
    height = node.store.head.height + 1
    node.consensus.on_frame(primary_key(node, height), ["p", preview_of(net, txs, height)])
    assert len(node.mempool) == len(txs)
    assert node.executor.speculations == 1


@pytest.mark.parametrize("limit", ["repeat", "max_block_txs", "max_block_bytes"])
def test_a_preview_beyond_one_block_or_with_repeats_is_ignored(net, limit):
    node = net.nodes[1]
    txs = gossiped(net, 1)
    height = node.store.head.height + 1
    preview = preview_of(net, txs, height)
    if limit == "repeat":
        preview[3] = preview[3] + preview[3][:1]
    elif limit == "max_block_txs":
        node.consensus.settings = replace(node.consensus.settings, max_block_txs=len(txs) - 1)
    else:
        size = sum(len(tx.encode()) for tx in txs)
        node.config = node.config.model_copy(update={"max_block_bytes": size - 1})
    node.consensus.on_frame(primary_key(node, height), ["p", preview])
    assert node.executor.speculations == 0


def test_a_preview_admits_a_bounded_amount_of_queued_gossip(net, monkeypatch):
    import node.runtime as runtime

    node = net.nodes[1]
    txs = net.workload.sessions()
    size = len(txs[0].encode())
    monkeypatch.setattr(runtime, "ADMIT_NOW_BYTES", size)  # room for one tx
    node.on_gossip([tx.encode() for tx in txs])
    height = node.store.head.height + 1
    node.consensus.on_frame(primary_key(node, height), ["p", preview_of(net, txs, height)])
    assert len(node.mempool) == 1  # the rest waits for the admission loop
    assert node.executor.speculations == 0


def test_queued_gossip_is_bounded_in_bytes(net, monkeypatch):
    import node.runtime as runtime

    node = net.nodes[1]
    raws = [tx.encode() for tx in net.workload.sessions()]
    monkeypatch.setattr(runtime, "MAX_GOSSIP_BACKLOG_BYTES", len(raws[0]) + len(raws[1]))
    node.on_gossip(raws)
    node.on_gossip(raws)
    node.admit_gossip_now()
    assert len(node.mempool) == 2


def test_a_preview_that_arrives_before_our_own_commit_is_taken_up_after_it(net):
    from consensus.actions import Commit

    node = net.nodes[1]
    txs = gossiped(net, 1)
    head = node.store.head.height
    early = preview_of(net, txs, head + 2)
    early[2] = net.chain.time_s + 5  # after the parent's time
    node.consensus.on_frame(primary_key(node, head + 2), ["p", early])
    assert node.executor.speculations == 0  # we have not committed head + 1 yet

    assert all(r.code == "" for r in net.chain.commit([], advance_s=1))
    block, certificate = net.chain.pairs()[-1]
    node.consensus._commit(Commit(block, certificate))
    assert node.store.head.height == head + 1
    assert node.executor.speculations == 1
