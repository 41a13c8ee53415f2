"""What ``Executor.verify`` refuses however the block reached it.

A verdict is remembered by header hash, but a remembered verdict is reused only
for the very block it was given: a peer can pair a certified header with other
txs (in a catch-up answer), and those must be checked, not committed. A tx body
nested deeper than ``MAX_BODY_DEPTH`` is refused, because the block would not fit
the messages and WAL records that wrap it (a NEW-VIEW, a catch-up answer).
"""

from __future__ import annotations

import pytest

from chain.codec import is_nested_deeper
from chain.crypto import get_suite
from chain.types import Block, BlockHeader, CommitCertificate, sign_tx
from consensus.actions import Prepared, decode_journal, encode_journal
from consensus.messages import (
    CatchUpResponse,
    CertifiedBlock,
    NewView,
    PreparedCertificate,
    PrePrepare,
    ViewChange,
    decode_message,
    encode_message,
)
from node.executor import MAX_BODY_DEPTH, BlockRejected
from tests.audit.devchain import forge_certificate


def nest(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_a_certified_header_with_other_txs_is_not_committed_on_a_remembered_verdict(net):
    node = net.nodes[1]
    txs = net.workload.sessions()
    pairs = list(zip(txs, net.hashes(txs), strict=True))
    proposed = net.chain.executor.propose(0, net.chain.time_s + 1, net.proposer, pairs)
    block = Block.decode(proposed.block.encode())
    node.executor.verify(block)  # remembered by header hash
    valset = node.executor.validator_set()
    certificate = forge_certificate(net.chain.genesis, block.header, valset.quorum, valset)
    head = node.store.head

    swapped = Block(block.header, block.txs[:1])
    with pytest.raises(BlockRejected, match="tx_root"):
        node.executor.commit(swapped, certificate)
    assert node.store.head == head

    node.executor.commit(Block.decode(block.encode()), certificate)  # an equal copy is fine
    assert node.store.head.height == head.height + 1
    assert node.store.block(head.height + 1).encode() == block.encode()


def test_a_body_nested_too_deep_is_refused(net):
    node = net.nodes[1]
    provider = net.workload.classes[0].provider
    deep = net.workload.tx(provider, "learning.record_sessions", nest(MAX_BODY_DEPTH + 1))
    pairs = list(zip([deep], net.hashes([deep]), strict=True))
    proposed = net.chain.executor.propose(0, net.chain.time_s + 1, net.proposer, pairs)
    assert proposed.receipts[0].code == "bad_body"  # what a Byzantine primary may propose
    with pytest.raises(BlockRejected, match="nested deeper"):
        node.executor.verify(Block.decode(proposed.block.encode()))


def test_is_nested_deeper_counts_list_levels():
    assert not is_nested_deeper(1, 0)
    assert not is_nested_deeper(nest(3), 3)
    assert is_nested_deeper(nest(4), 3)
    assert is_nested_deeper([1, [2, [3, [4]]], []], 3)
    assert not is_nested_deeper([[1], [2], [[3]]], 3)


def test_a_body_at_the_limit_fits_every_message_and_record_that_wraps_a_block():
    suite = get_suite("ed25519-sha256")
    key = suite.signer_from_seed(bytes(range(32)))
    tx = sign_tx(key, "c", "learning.record_sessions", 1, 10, nest(MAX_BODY_DEPTH))
    header = BlockHeader("c", 1, 0, 0, *[bytes(32)] * 2, *[bytes(32)] * 4)
    block = Block(header, (tx,))
    pre_prepare = PrePrepare(1, 0, block, b"k", b"s")
    prepared = PreparedCertificate(0, block, ())
    view_change = ViewChange(1, 1, 0, prepared, b"k", b"s")
    certificate = CommitCertificate(1, 0, bytes(32), b"\x01", (b"s",))
    for message in (
        pre_prepare,
        view_change,
        NewView(1, 1, (view_change,), pre_prepare, b"k", b"s"),
        CatchUpResponse((CertifiedBlock(block, certificate),), b"k", b"s"),
    ):
        assert decode_message(encode_message(message)) == message
    assert decode_journal(encode_journal(Prepared(1, prepared))) == Prepared(1, prepared)


def test_a_block_larger_than_a_new_view_can_carry_is_refused(net):
    from consensus.messages import max_block_bytes

    node = net.nodes[1]
    provider = net.workload.classes[0].provider
    limit = max_block_bytes(len(node.executor.validator_set()))
    big = net.workload.tx(provider, "learning.record_sessions", [b"x" * limit])
    pairs = list(zip([big], net.hashes([big]), strict=True))
    proposed = net.chain.executor.propose(0, net.chain.time_s + 1, net.proposer, pairs)
    with pytest.raises(BlockRejected, match="more than a NEW-VIEW can carry"):
        node.executor.verify(Block.decode(proposed.block.encode()))


def test_gossip_frames_are_bounded_in_bytes(net, monkeypatch):
    import node.runtime as runtime

    node = net.nodes[1]
    frames: list = []
    monkeypatch.setattr(node.consensus.links, "broadcast", frames.append)
    monkeypatch.setattr(runtime, "MAX_GOSSIP_FRAME_BYTES", 250)
    node._gossip = [b"a" * 100, b"b" * 100, b"c" * 100, b"d" * 300, b"e" * 10]
    node.flush_gossip()
    assert [[len(raw) for raw in frame[1]] for frame in frames] == [[100, 100], [100], [300], [10]]
    assert node._gossip == []
