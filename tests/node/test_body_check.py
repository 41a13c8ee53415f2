"""``Executor.check_body``: the node's ``BodyCheck`` for the replica (issue 13, finding 2).

It answers, before the replica keeps a body a peer sent, what ``verify`` would
refuse about the body alone (size, tx root, every signature, nesting), through
the same verdict cache, so a body checked on arrival is not verified again. And
the node hands it to its replica: a tampered body that a peer sends never
reaches ``Commit`` (which would refuse it: the fail-stop of the finding).
"""

from __future__ import annotations

import dataclasses

from chain.types import Block
from cli.jiangxi import dev_signer
from consensus import CatchUpResponse, CertifiedBlock, sign_message
from node.executor import MAX_BODY_DEPTH
from node.runtime import Node
from tests.audit.devchain import forge_certificate


def tampered(block: Block) -> Block:
    first = block.txs[0]
    flipped = bytes([first.signature[0] ^ 1]) + first.signature[1:]
    return Block(block.header, (dataclasses.replace(first, signature=flipped), *block.txs[1:]))


def _proposed(net, txs=None) -> Block:
    txs = txs if txs is not None else net.workload.sessions()
    pairs = list(zip(txs, net.hashes(txs), strict=True))
    proposed = net.chain.executor.propose(0, net.chain.time_s + 1, net.proposer, pairs)
    return Block.decode(proposed.block.encode())


def _nest(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_check_body_accepts_a_good_body_and_refuses_each_kind_of_bad_one(net):
    executor = net.nodes[1].executor
    block = _proposed(net)
    assert executor.check_body(block)
    assert not executor.check_body(tampered(block)), "a flipped tx signature"
    assert not executor.check_body(Block(block.header, block.txs[:-1])), "tx root differs"
    other_chain = dataclasses.replace(block.txs[0], chain_id="elsewhere")
    assert not executor.check_body(Block(block.header, (other_chain, *block.txs[1:])))
    provider = net.workload.classes[0].provider
    deep = net.workload.tx(provider, "learning.record_sessions", _nest(MAX_BODY_DEPTH + 1))
    assert not executor.check_body(_proposed(net, [deep]))


def test_a_checked_body_is_not_verified_again_by_verify(net):
    executor = net.nodes[1].executor
    block = _proposed(net)
    assert executor.check_body(block)
    verified = executor.signatures.verified
    executor.verify(block)
    assert executor.signatures.verified == verified


def test_the_node_gives_its_replica_the_check_so_a_forged_catch_up_body_is_not_committed(net):
    old = net.nodes[1]
    old.consensus.close()
    old.store.close()
    node = net.nodes[1] = Node(old.home)  # its replica starts at the store's head
    block = _proposed(net)
    valset = node.executor.validator_set()
    certificate = forge_certificate(net.chain.genesis, block.header, valset.quorum, valset)
    liar = next(s for s in (dev_signer(f"validator/{v.region_code}") for v in valset.validators)
                if s.public_key != node.signer.public_key)  # another validator of the set
    forged = CertifiedBlock(tampered(block), certificate)
    answer = sign_message(liar, node.chain_id, CatchUpResponse((forged,), b"", b""))
    head = node.store.head
    actions = node.consensus.replica.on_message(liar.public_key, answer)
    assert not [a for a in actions if type(a).__name__ == "Commit"]
    node.consensus._perform(actions)
    assert node.store.head == head
    assert node.faults.dropped[("consensus", "bad_body")] == 1
    assert node.faults.against(liar.public_key) == 1
    assert node.executor.check_body(block)  # and the good body is still welcome
