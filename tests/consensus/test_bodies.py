"""Bodies are checked before they are kept (issue 13, finding 2, replica side).

A tx hash excludes the signature, so a Byzantine validator can pair a
genuinely certified (or genuinely signed) header with a body whose tx carries
a flipped signature: the header hash and the tx root still match. Such a body
must never be stored or decided (the node's Commit would refuse it and the node
would fail-stop); it is dropped, reported as ``ReportFault(peer, "bad_body")``,
and a later good body for the same header is still taken.
"""

from __future__ import annotations

import dataclasses

from chain.types import Block, Phase, header_hash, sign_vote
from consensus import (
    CatchUpResponse,
    CertifiedBlock,
    Commit,
    NewView,
    PreparedCertificate,
    PrePrepare,
    ReportFault,
    RequestCatchUp,
    VerifyBlock,
    ViewChange,
    sign_message,
)
from tests.consensus.bus import CHAIN, SUITE, Bus


def tampered(block: Block) -> Block:
    """``block`` with its first tx's signature flipped: same header hash, same tx root."""
    first = block.txs[0]
    flipped = bytes([first.signature[0] ^ 1]) + first.signature[1:] if first.signature else b"x"
    return Block(block.header, (dataclasses.replace(first, signature=flipped), *block.txs[1:]))


def _of(actions: list, kind: type) -> list:
    return [a for a in actions if isinstance(a, kind)]


def _response(bus: Bus, sender: int, items: list[CertifiedBlock]) -> CatchUpResponse:
    unsigned = CatchUpResponse(tuple(items), b"", b"")
    return sign_message(bus.signers[sender], CHAIN, unsigned)  # type: ignore[return-value]


def _prepares(bus: Bus, block: Block, view: int, voters: list[int]) -> tuple:
    digest = header_hash(SUITE, block.header)
    votes = [sign_vote(bus.signers[i], CHAIN, Phase.PREPARE, block.header.height, view, digest)
             for i in voters]
    return tuple(sorted(votes, key=lambda v: v.voter))


def _view_change(bus: Bus, sender: int, view: int, prepared: PreparedCertificate | None
                 ) -> ViewChange:
    unsigned = ViewChange(1, view, 0, prepared, b"", b"")
    return sign_message(bus.signers[sender], CHAIN, unsigned)  # type: ignore[return-value]


# ------------------------------------------------------------------ catch-up


def test_a_tampered_catch_up_body_is_dropped_reported_and_asked_of_another_peer():
    bus = Bus(4)
    bus.run_without(3, 3)
    behind, liar, honest = bus.replicas[3], 0, 1
    behind.start(bus.now)
    genuine = bus.apps[liar].chain[0]
    forged = CertifiedBlock(tampered(genuine.block), genuine.certificate)

    actions = behind.on_message(bus.signers[liar].public_key, _response(bus, liar, [forged]))

    assert not _of(actions, Commit), "a tampered body reached Commit"
    assert ReportFault(bus.signers[liar].public_key, "bad_body") in actions
    asked = _of(actions, RequestCatchUp)
    assert asked and all(bus.signers[liar].public_key not in a.peers for a in asked)
    assert all(a.peers for a in asked)

    good = behind.on_message(bus.signers[honest].public_key,
                             _response(bus, honest, bus.apps[honest].chain[:3]))
    commits = _of(good, Commit)
    assert commits and commits[0].block.encode() == genuine.block.encode()


def test_a_node_behind_reaches_the_tip_while_one_peer_tampers_every_answer():
    bus = Bus(4)
    bus.run_without(3, 5)
    liar = bus.signers[0].public_key
    real_perform = bus._perform_one

    def perform(i: int, action: object) -> None:  # validator 0 forges every catch-up body
        if i == 0 and hasattr(action, "msg") and isinstance(action.msg, CatchUpResponse):
            items = [CertifiedBlock(tampered(b.block), b.certificate) for b in action.msg.blocks]
            action = dataclasses.replace(action, msg=_response(bus, 0, items))
        real_perform(i, action)

    bus._perform_one = perform  # type: ignore[method-assign]
    bus.down.discard(3)
    bus.perform(3, bus.replicas[3].start(bus.now))
    bus.deliver_all()
    for step in range(1, 10):
        if bus.heights()[3] >= 5:
            break
        bus.tick(bus.now + step * 5_000)
    assert bus.heights()[3] >= 5
    assert bus.apps[3].roots == bus.apps[1].roots[: len(bus.apps[3].roots)]
    faults = [a for i, a in bus.log if i == 3 and isinstance(a, ReportFault)]
    assert faults and {f.peer for f in faults} == {liar}


# ------------------------------------------------------------ round bodies


def test_a_tampered_proposal_body_is_not_kept_so_the_good_body_still_decides():
    bus = Bus(4)
    primary, me = bus.primary(0), 2
    replica = bus.replicas[me]
    replica.start(0)
    good = bus.apps[primary].build(1, 0, bus.apps[primary].hashes[-1])
    digest = header_hash(SUITE, good.header)
    bad = sign_message(bus.signers[primary], CHAIN, PrePrepare(1, 0, tampered(good), b"", b""))

    actions = replica.on_message(bus.signers[primary].public_key, bad)
    assert ReportFault(bus.signers[primary].public_key, "bad_body") in actions
    assert not _of(actions, VerifyBlock)
    assert digest not in replica.round.blocks

    for voter in (0, 1, 3):  # the others saw the good body and committed it
        vote = sign_vote(bus.signers[voter], CHAIN, Phase.COMMIT, 1, 0, digest)
        assert not _of(replica.on_message(bus.signers[voter].public_key, vote), Commit)

    prepared = PreparedCertificate(0, good, _prepares(bus, good, 0, [0, 1, 3]))
    actions = replica.on_message(bus.signers[0].public_key, _view_change(bus, 0, 1, prepared))
    commits = _of(actions, Commit)
    assert commits and commits[0].block.encode() == good.encode()


def test_a_view_change_carrying_a_tampered_prepared_body_is_dropped():
    bus = Bus(4)
    replica = bus.replicas[2]
    replica.start(0)
    primary = bus.primary(0)
    good = bus.apps[primary].build(1, 0, bus.apps[primary].hashes[-1])
    prepared = PreparedCertificate(0, tampered(good), _prepares(bus, good, 0, [0, 1, 3]))
    liar = bus.signers[3].public_key

    actions = replica.on_message(liar, _view_change(bus, 3, 1, prepared))

    assert ReportFault(liar, "bad_body") in actions
    assert liar not in replica.round.view_changes.get(1, {})
    assert header_hash(SUITE, good.header) not in replica.round.blocks


def test_a_new_view_with_a_tampered_proposal_body_is_not_followed():
    bus = Bus(4)
    me, primary = 3, bus.primary(1)
    replica = bus.replicas[me]
    replica.start(0)
    proof = tuple(sorted((_view_change(bus, i, 1, None) for i in (0, 1, 2)),
                         key=lambda vc: vc.sender))
    block = bus.apps[primary].build(1, 1, bus.apps[primary].hashes[-1])
    signer = bus.signers[primary]
    pp = sign_message(signer, CHAIN, PrePrepare(1, 1, tampered(block), b"", b""))
    nv = sign_message(signer, CHAIN, NewView(1, 1, proof, pp, b"", b""))  # type: ignore[arg-type]

    actions = replica.on_message(bus.signers[0].public_key, nv)  # relayed, signed by the primary

    assert ReportFault(signer.public_key, "bad_body") in actions
    assert replica.view == 0 and 1 not in replica.round.proposals
    assert header_hash(SUITE, block.header) not in replica.round.blocks


def test_a_stale_new_view_with_a_tampered_body_is_charged_to_the_link_it_came_on():
    """A NEW-VIEW for a view we left is not checked whole, only its block kept (for a
    COMMIT quorum that may want it): a bad body is the fault of the link's peer."""
    bus = Bus(4)
    replica = bus.replicas[3]
    replica.start(0)
    replica.view = 2  # moved on (the NEW-VIEW below is late)
    primary = bus.primary(1)
    block = bus.apps[primary].build(1, 1, bus.apps[primary].hashes[-1])
    pp = sign_message(bus.signers[primary], CHAIN, PrePrepare(1, 1, tampered(block), b"", b""))
    nv = sign_message(bus.signers[primary], CHAIN, NewView(1, 1, (), pp, b"", b""))  # type: ignore[arg-type]
    link = bus.signers[0].public_key

    actions = replica.on_message(link, nv)

    assert ReportFault(link, "bad_body") in actions
    assert header_hash(SUITE, block.header) not in replica.round.blocks


def test_the_toy_application_checks_bodies_for_real():
    bus = Bus(4)
    app = bus.apps[0]
    block = app.build(1, 0, app.hashes[-1])
    assert app.is_valid_body(block)
    assert not app.is_valid_body(tampered(block))
    assert not app.is_valid_body(Block(block.header, block.txs[:1]))  # tx root differs
