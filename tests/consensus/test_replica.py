"""Focused replica tests with real Ed25519: normal case, view change, restart, catch-up."""

from __future__ import annotations

import dataclasses

import consensus
from chain.types import Phase, header_hash, sign_vote
from chain.validators import Validator, ValidatorSet, build_certificate, verify_certificate
from consensus import (
    Broadcast,
    BuildProposal,
    CatchUpResponse,
    CertifiedBlock,
    Commit,
    Config,
    NewView,
    Persist,
    PrePrepare,
    ProposalSeen,
    Replica,
    ReportEvidence,
    ReportProposalEvidence,
    RequestCatchUp,
    SetTimer,
    Step,
    Tip,
    VerifyBlock,
    ViewChange,
    sign_message,
)
from consensus.messages import seen_proposal
from consensus.viewchange import compute_timeout_ms
from tests.consensus.bus import CHAIN, SUITE, Bus, make_signers
from tests.consensus.toyapp import ToyApp


def _commits(bus: Bus) -> list[tuple[int, Commit]]:
    return [(i, a) for i, a in bus.log if isinstance(a, Commit)]


def _broadcasts(actions: list, kind: type) -> list:
    return [a.msg for a in actions if isinstance(a, Broadcast) and isinstance(a.msg, kind)]


# ------------------------------------------------------------ normal case


def test_single_validator_decides_alone():
    bus = Bus(1)
    bus.max_height = 5
    bus.start()
    bus.deliver_all()
    assert bus.heights() == [5]
    for _, commit in _commits(bus):
        verify_certificate(SUITE, CHAIN, bus.valset, commit.certificate)


def test_four_validators_decide_in_view_zero_with_valid_certificates():
    bus = Bus(4)
    bus.max_height = 6
    bus.start()
    bus.deliver_all()
    assert bus.heights() == [6, 6, 6, 6]
    assert all(app.roots == bus.apps[0].roots for app in bus.apps)
    for _, commit in _commits(bus):
        assert commit.certificate.view == 0
        signers = verify_certificate(SUITE, CHAIN, bus.valset, commit.certificate)
        assert len(signers) >= 3
    assert not any(isinstance(a.msg, ViewChange) for _, a in bus.log if isinstance(a, Broadcast))


def test_primary_rotates_with_height():
    bus = Bus(4)
    bus.max_height = 4
    bus.start()
    bus.deliver_all()
    proposers = [c.block.header.proposer for i, c in _commits(bus) if i == 0]
    expected = [bus.valset.validators[h % 4].public_key for h in range(1, 5)]
    assert proposers == expected


def test_every_vote_is_persisted_before_it_is_sent():
    bus = Bus(4)
    bus.max_height = 2
    bus.start()
    bus.deliver_all()
    persisted: dict[int, set[bytes]] = {}
    for i, action in bus.log:
        if isinstance(action, Persist):
            persisted.setdefault(i, set()).add(action.data)
        elif isinstance(action, Broadcast) and not isinstance(
            action.msg, CatchUpResponse | ProposalSeen  # the primary's signature, relayed
        ):
            record = Persist(action.msg).data  # type: ignore[arg-type]
            assert record in persisted.get(i, set()), f"replica {i} sent before persisting"


def test_prepare_only_after_the_application_verified_the_block():
    bus = Bus(4)
    replica = bus.replicas[2]
    primary = bus.primary(0)
    block = bus.apps[primary].build(1, 0, bus.apps[primary].hashes[-1])
    pp = sign_message(bus.signers[primary], CHAIN, PrePrepare(1, 0, block, b"", b""))
    replica.start(0)
    actions = replica.on_message(bus.signers[primary].public_key, pp)
    assert [type(a) for a in actions if not isinstance(a, SetTimer)] == [Broadcast, VerifyBlock]
    assert _broadcasts(actions, ProposalSeen) == [
        ProposalSeen(1, 0, header_hash(SUITE, block.header), pp.sender, pp.signature)]
    assert not _broadcasts(actions, type(sign_vote(bus.signers[0], CHAIN, Phase.PREPARE, 1, 0,
                                                   bytes(32))))
    digest = header_hash(SUITE, block.header)
    assert replica.on_block_verified(digest, False) == []
    assert replica.step == Step.PROPOSE
    actions = replica.on_block_verified(digest, True)
    votes = [a.msg for a in actions if isinstance(a, Broadcast)]
    assert votes and votes[0].phase == Phase.PREPARE and votes[0].block_hash == digest


def test_duplicate_votes_from_one_validator_do_not_make_a_quorum():
    bus = Bus(4)
    primary = bus.primary(0)
    me, other = [i for i in range(4) if i != primary][:2]
    replica = bus.replicas[me]
    replica.start(0)
    block = bus.apps[primary].build(1, 0, bus.apps[primary].hashes[-1])
    digest = header_hash(SUITE, block.header)
    pp = sign_message(bus.signers[primary], CHAIN, PrePrepare(1, 0, block, b"", b""))
    replica.on_message(bus.signers[primary].public_key, pp)
    replica.on_block_verified(digest, True)
    vote = sign_vote(bus.signers[other], CHAIN, Phase.PREPARE, 1, 0, digest)
    for _ in range(5):
        actions = replica.on_message(bus.signers[other].public_key, vote)
        assert not any(isinstance(a, Broadcast) for a in actions)
    assert replica.step == Step.PREPARE


# ------------------------------------------------------------ view change


def test_dead_primary_costs_one_timeout():
    bus = Bus(4)
    bus.max_height = 2
    dead = bus.primary(0)
    bus.down.add(dead)
    bus.start()
    bus.deliver_all()
    assert bus.heights()[dead] == 0 and max(bus.heights()) == 0
    bus.tick(bus.config.base_timeout_ms)
    live = [h for i, h in enumerate(bus.heights()) if i != dead]
    assert live == [2, 2, 2]
    first = [c for i, c in _commits(bus) if c.block.header.height == 1]
    assert {c.certificate.view for c in first} == {1}


def test_new_view_re_proposes_the_prepared_block():
    """Prepared everywhere but the COMMITs lost: the next view must decide the same block."""
    bus = Bus(4)
    bus.max_height = 1
    bus.drop = lambda msg: getattr(msg, "phase", None) == Phase.COMMIT
    bus.start()
    bus.deliver_all()
    prepared = {r.round.prepared.block.header.state_root for r in bus.replicas
                if r.round.prepared is not None}
    assert len(prepared) == 1 and bus.heights() == [0, 0, 0, 0]
    bus.drop = None
    bus.tick(bus.config.base_timeout_ms)
    assert bus.heights() == [1, 1, 1, 1]
    decided = {app.chain[0].block.header.state_root for app in bus.apps}
    assert decided == prepared
    assert {c.certificate.view for _, c in _commits(bus)} == {1}


def test_on_request_stuck_starts_a_view_change():
    bus = Bus(4)
    replica = bus.replicas[1]
    replica.start(0)
    actions = replica.on_request_stuck()
    assert replica.view == 1 and replica.step == Step.VIEW_CHANGE
    assert _broadcasts(actions, ViewChange)


def test_huge_views_from_f_replicas_are_ignored_and_f_plus_1_are_joined():
    bus = Bus(4)
    replica = bus.replicas[0]
    replica.start(0)
    liar = bus.signers[1]
    for view in (10**9, 2**62, 33):
        vc = sign_message(liar, CHAIN, ViewChange(1, view, 0, None, b"", b""))
        assert replica.on_message(liar.public_key, vc) == []
    assert replica.view == 0
    for signer in bus.signers[1:3]:
        vc = sign_message(signer, CHAIN, ViewChange(1, 3, 0, None, b"", b""))
        replica.on_message(signer.public_key, vc)
    assert replica.view == 3 and replica.step == Step.VIEW_CHANGE


def test_timeouts_grow_and_are_capped():
    config = Config(base_timeout_ms=100, max_timeout_ms=1000)
    assert [compute_timeout_ms(config, k) for k in range(6)] == [100, 200, 400, 800, 1000, 1000]
    assert compute_timeout_ms(config, 10**6) == 1000


def test_new_view_that_ignores_a_prepared_certificate_is_rejected():
    bus = Bus(4)
    bus.max_height = 1
    replica = bus.replicas[(bus.primary(1) + 1) % 4]
    replica.start(0)
    primary1 = bus.primary(1)
    app = bus.apps[primary1]
    block_x = app.build(1, 0, app.hashes[-1])
    digest_x = header_hash(SUITE, block_x.header)
    prepares = tuple(sign_vote(s, CHAIN, Phase.PREPARE, 1, 0, digest_x) for s in bus.signers[:3])
    from consensus import PreparedCertificate

    cert = PreparedCertificate(0, block_x, prepares)
    vcs = tuple(sign_message(s, CHAIN, ViewChange(1, 1, 0, cert if k == 0 else None, b"", b""))
                for k, s in enumerate(bus.signers[1:4]))
    block_y = app.build(1, 1, app.hashes[-1])
    signer = bus.signers[primary1]

    def new_view(block):
        pp = sign_message(signer, CHAIN, PrePrepare(1, 1, block, b"", b""))
        return sign_message(signer, CHAIN, NewView(1, 1, vcs, pp, b"", b""))

    assert replica.on_message(signer.public_key, new_view(block_y)) == []
    assert replica.view == 0
    actions = replica.on_message(signer.public_key, new_view(block_x))
    assert replica.view == 1 and any(isinstance(a, VerifyBlock) for a in actions)


def test_new_view_without_a_quorum_of_view_changes_is_rejected():
    bus = Bus(4)
    replica = bus.replicas[(bus.primary(1) + 1) % 4]
    replica.start(0)
    primary1 = bus.primary(1)
    signer = bus.signers[primary1]
    vcs = tuple(sign_message(s, CHAIN, ViewChange(1, 1, 0, None, b"", b""))
                for s in bus.signers[1:3])
    block = bus.apps[primary1].build(1, 1, bus.apps[primary1].hashes[-1])
    pp = sign_message(signer, CHAIN, PrePrepare(1, 1, block, b"", b""))
    nv = sign_message(signer, CHAIN, NewView(1, 1, vcs + vcs[:1], pp, b"", b""))
    assert replica.on_message(signer.public_key, nv) == []
    assert replica.view == 0


# ------------------------------------------------------------ crash safety


def test_restarted_replica_never_prepares_another_block_in_the_same_view():
    bus = Bus(4)
    victim = (bus.primary(0) + 1) % 4
    primary = bus.primary(0)
    replica = bus.replicas[victim]
    replica.start(0)
    app = bus.apps[primary]
    block_x, block_y = app.build(1, 0, app.hashes[-1]), app.build(1, 0, app.hashes[-1])
    key = bus.signers[primary].public_key
    for block in (block_x,):
        pp = sign_message(bus.signers[primary], CHAIN, PrePrepare(1, 0, block, b"", b""))
        bus.perform(victim, replica.on_message(key, pp))
    assert replica.step == Step.PREPARE
    pp_y = sign_message(bus.signers[primary], CHAIN, PrePrepare(1, 0, block_y, b"", b""))
    digest_y = header_hash(SUITE, block_y.header)

    restored = Replica(SUITE, CHAIN, bus.signers[victim], bus.provider, bus.config,
                       journal=bus.journals[victim], body_check=bus.apps[victim].is_valid_body)
    resent = restored.start(0)
    assert any(isinstance(a, Broadcast) and getattr(a.msg, "block_hash", None) ==
               header_hash(SUITE, block_x.header) for a in resent)
    restored.on_message(key, pp_y)
    actions = restored.on_block_verified(digest_y, True)
    assert not any(isinstance(a, Broadcast) and getattr(a.msg, "block_hash", b"") == digest_y
                   for a in actions)

    amnesiac = Replica(SUITE, CHAIN, bus.signers[victim], bus.provider, bus.config,
                       body_check=bus.apps[victim].is_valid_body)
    amnesiac.start(0)
    amnesiac.on_message(key, pp_y)
    actions = amnesiac.on_block_verified(digest_y, True)
    assert any(isinstance(a, Broadcast) for a in actions), "without the journal it would sign"


def test_restarted_primary_resends_its_proposal_instead_of_building_another():
    bus = Bus(4)
    primary = bus.primary(0)
    first = bus.replicas[primary].start(0)
    build = [a for a in first if isinstance(a, BuildProposal)]
    assert build
    block = bus.apps[primary].build(1, 0, build[0].parent_hash)
    bus.perform(primary, bus.replicas[primary].on_proposal_ready(block))
    actions = bus.restart(primary)
    assert not any(isinstance(a, BuildProposal) for a in actions)
    resent = _broadcasts(actions, PrePrepare)
    assert resent and resent[0].block == block


def test_restart_keeps_the_view_it_asked_for():
    bus = Bus(4)
    bus.replicas[0].start(0)
    bus.perform(0, bus.replicas[0].on_request_stuck())
    bus.perform(0, bus.replicas[0].on_request_stuck())
    actions = bus.restart(0)
    assert bus.replicas[0].view == 2 and bus.replicas[0].step == Step.VIEW_CHANGE
    assert _broadcasts(actions, ViewChange)[0].view == 2


# ------------------------------------------------------------ catch-up


def test_lagging_replica_catches_up_on_certified_blocks():
    bus = Bus(4)
    bus.run_without(3, 5)
    assert bus.heights()[:3] == [5, 5, 5]
    bus.down.discard(3)
    actions = bus.replicas[3].start(bus.now)
    assert any(isinstance(a, RequestCatchUp) and a.from_height == 1 for a in actions)
    bus.perform(3, actions)
    bus.deliver_all()
    assert bus.heights()[3] == 5
    assert bus.apps[3].roots == bus.apps[0].roots


def test_catch_up_rejects_blocks_without_a_full_certificate():
    bus = Bus(4)
    bus.run_without(3, 2)
    item = bus.apps[0].chain[0]
    cert = item.certificate
    weak = build_certificate(bus.valset, 1, cert.view, cert.block_hash, {
        bus.signers[0].public_key: cert.signatures[0]})
    other = bus.apps[0].build(1, 0, bus.apps[0].hashes[0])
    forged = [
        CertifiedBlock(item.block, weak),
        CertifiedBlock(other, cert),
        CertifiedBlock(item.block, dataclasses.replace(cert, signatures=cert.signatures[::-1])),
    ]
    lagging = Replica(SUITE, CHAIN, bus.signers[3], bus.provider, bus.config,
                      body_check=bus.apps[3].is_valid_body)
    lagging.start(0)
    sender = bus.signers[1]
    for bad in forged:
        resp = sign_message(sender, CHAIN, CatchUpResponse((bad,), b"", b""))
        assert lagging.on_message(sender.public_key, resp) == []
    good = sign_message(sender, CHAIN, CatchUpResponse((item,), b"", b""))
    actions = lagging.on_message(sender.public_key, good)
    assert [type(a) for a in actions if isinstance(a, Commit)] == [Commit]


def test_messages_from_far_ahead_trigger_a_catch_up_request():
    bus = Bus(4)
    replica = bus.replicas[0]
    replica.start(0)
    replica.on_tick(5000)
    vote = sign_vote(bus.signers[1], CHAIN, Phase.PREPARE, 9, 0, bytes(32))
    actions = replica.on_message(bus.signers[1].public_key, vote)
    assert [type(a) for a in actions] == [RequestCatchUp]
    assert replica.on_message(bus.signers[1].public_key, vote) == [], "rate-limited"


# ------------------------------------------------------- validator sets


def test_each_height_uses_its_own_validator_set():
    """Height 1 is decided by set A; from height 2 set B (one member swapped) rules."""
    signers = make_signers(5)
    old, new = signers[:4], signers[1:]
    set_a = ValidatorSet(Validator(s.public_key, "a", "1") for s in old)
    set_b = ValidatorSet(Validator(s.public_key, "b", "1") for s in new)
    provider = lambda height: set_a if height <= 1 else set_b  # noqa: E731
    replica = Replica(SUITE, CHAIN, new[0], provider, Config(), tip=Tip(1, b"\x01" * 32),
                      body_check=ToyApp(SUITE, CHAIN, new[0].public_key).is_valid_body)
    replica.start(0)
    assert replica.valset == set_b
    removed = signers[0]
    if removed.public_key not in set_b:
        vote = sign_vote(removed, CHAIN, Phase.PREPARE, 2, 0, bytes(32))
        assert replica.on_message(removed.public_key, vote) == []
    app_block = Bus(1).apps[0].make_block(2, 0, b"\x01" * 32, [1], bytes(32))
    digest = header_hash(SUITE, app_block.header)
    sigs_old = {s.public_key: sign_vote(s, CHAIN, Phase.COMMIT, 2, 0, digest).signature
                for s in old}
    sigs_new = {s.public_key: sign_vote(s, CHAIN, Phase.COMMIT, 2, 0, digest).signature
                for s in new}
    by_old = CertifiedBlock(app_block, build_certificate(set_a, 2, 0, digest, sigs_old))
    by_new = CertifiedBlock(app_block, build_certificate(set_b, 2, 0, digest, sigs_new))
    sender = new[1]
    resp = sign_message(sender, CHAIN, CatchUpResponse((by_old,), b"", b""))
    assert not any(isinstance(a, Commit) for a in replica.on_message(sender.public_key, resp))
    resp = sign_message(sender, CHAIN, CatchUpResponse((by_new,), b"", b""))
    assert any(isinstance(a, Commit) for a in replica.on_message(sender.public_key, resp))


# ------------------------------------------------------------ evidence


def test_conflicting_votes_are_reported_once_as_evidence():
    bus = Bus(4)
    replica = bus.replicas[0]
    replica.start(0)
    liar = bus.signers[2]
    a = sign_vote(liar, CHAIN, Phase.PREPARE, 1, 0, b"\xaa" * 32)
    b = sign_vote(liar, CHAIN, Phase.PREPARE, 1, 0, b"\xbb" * 32)
    c = sign_vote(liar, CHAIN, Phase.PREPARE, 1, 0, b"\xcc" * 32)
    assert replica.on_message(liar.public_key, a) == []
    reports = [x for x in replica.on_message(liar.public_key, b) if isinstance(x, ReportEvidence)]
    assert reports == [ReportEvidence(a, b)]
    assert not [x for x in replica.on_message(liar.public_key, c)
                if isinstance(x, ReportEvidence)]
    other_phase = sign_vote(liar, CHAIN, Phase.COMMIT, 1, 0, b"\xbb" * 32)
    assert not [x for x in replica.on_message(liar.public_key, other_phase)
                if isinstance(x, ReportEvidence)]


class CountingSuite:
    """The real suite, counting signature checks."""

    def __init__(self, suite) -> None:
        self._suite = suite
        self.verifies = 0

    def verify(self, *args):
        self.verifies += 1
        return self._suite.verify(*args)

    def __getattr__(self, name):
        return getattr(self._suite, name)


class Slot1:
    """Height 1, view 0 seen by replica ``me`` of four: the primary's two blocks."""

    def __init__(self, me: int = 0) -> None:
        self.bus = Bus(4)
        self.suite = CountingSuite(SUITE)
        self.primary = self.bus.primary(0)
        self.me = me if me != self.primary else (me + 1) % 4
        self.others = [i for i in range(4) if i not in (self.me, self.primary)]
        self.replica = Replica(self.suite, CHAIN, self.bus.signers[self.me], self.bus.provider,
                               self.bus.config,  # type: ignore[arg-type]
                               body_check=self.bus.apps[self.me].is_valid_body)
        self.replica.start(0)
        signer = self.bus.signers[self.primary]
        self.key = signer.public_key
        app = self.bus.apps[self.primary]
        self.pp_a = sign_message(signer, CHAIN, PrePrepare(1, 0, app.build(1, 0, app.hashes[-1]),
                                                           b"", b""))
        self.pp_b = sign_message(signer, CHAIN, PrePrepare(
            1, 0, app.build(1, 0, app.hashes[-1], salt=3), b"", b""))
        self.a = seen_proposal(SUITE, self.pp_a)
        self.b = seen_proposal(SUITE, self.pp_b)

    def relay(self, by: int, seen: ProposalSeen) -> list:
        return self.replica.on_message(self.bus.signers[by].public_key, seen)


def _reports(actions: list) -> list:
    return [a for a in actions if isinstance(a, ReportProposalEvidence)]


def test_a_relayed_twin_proposal_is_reported_once():
    s = Slot1()
    s.replica.on_message(s.key, s.pp_a)
    assert _reports(s.relay(s.others[0], s.b)) == [ReportProposalEvidence(s.a, s.b)]
    assert consensus.is_valid_proposal_evidence(SUITE, CHAIN, s.a, s.b, s.bus.valset)
    assert _reports(s.relay(s.others[1], s.b)) == []
    third = seen_proposal(SUITE, sign_message(s.bus.signers[s.primary], CHAIN, PrePrepare(
        1, 0, s.bus.apps[s.primary].build(1, 0, bytes(32), salt=5), b"", b"")))
    assert _reports(s.relay(s.others[1], third)) == []
    assert s.replica.step == Step.PROPOSE  # evidence changes nothing in the protocol


def test_a_twin_pre_prepare_from_the_primary_is_reported():
    s = Slot1()
    s.replica.on_message(s.key, s.pp_a)
    assert _reports(s.replica.on_message(s.key, s.pp_b)) == [ReportProposalEvidence(s.a, s.b)]
    assert s.replica.round.proposal_hashes[0] == s.a.block_hash  # the first one stands
    assert _reports(s.replica.on_message(s.key, s.pp_b)) == []


def test_two_relays_alone_make_evidence():
    """A replica the primary never reached still catches it from the others' relays."""
    s = Slot1()
    assert s.relay(s.others[0], s.a) == []
    assert _reports(s.relay(s.others[1], s.b)) == [ReportProposalEvidence(s.a, s.b)]


def test_the_honest_path_checks_no_relayed_signature():
    s = Slot1()
    before = s.suite.verifies
    assert s.relay(s.others[0], s.a) == []  # a relay may overtake the proposal
    assert s.suite.verifies == before
    actions = s.replica.on_message(s.key, s.pp_a)
    assert s.suite.verifies == before + 1  # the PRE-PREPARE itself, as always
    assert _broadcasts(actions, ProposalSeen) == [s.a]
    assert s.relay(s.others[1], s.a) == [] and s.relay(s.others[0], s.a) == []
    assert s.replica.on_message(s.key, s.pp_a) == []  # a resent proposal: same hash
    assert s.suite.verifies == before + 1


def test_each_validator_relay_is_checked_once_per_slot():
    s = Slot1()
    s.replica.on_message(s.key, s.pp_a)
    forged = dataclasses.replace(s.b, proposer_signature=s.a.proposer_signature)
    before = s.suite.verifies
    assert s.relay(s.others[0], forged) == []
    assert s.relay(s.others[0], forged) == [] and s.relay(s.others[0], s.b) == []
    assert s.suite.verifies == before + 1
    assert _reports(s.relay(s.others[1], s.b)) == [ReportProposalEvidence(s.a, s.b)]


def test_a_forged_first_relay_is_replaced_not_reported():
    s = Slot1()
    forged = dataclasses.replace(s.b, proposer_signature=bytes(64))
    assert s.relay(s.others[0], forged) == []
    assert _reports(s.replica.on_message(s.key, s.pp_a)) == []
    assert _reports(s.relay(s.others[1], s.b)) == [ReportProposalEvidence(s.a, s.b)]


def test_relays_for_other_slots_or_from_outsiders_are_ignored():
    s = Slot1()
    s.replica.on_message(s.key, s.pp_a)
    before = s.suite.verifies
    not_primary = seen_proposal(SUITE, sign_message(s.bus.signers[s.others[0]], CHAIN, PrePrepare(
        1, 0, s.bus.apps[s.others[0]].build(1, 0, bytes(32)), b"", b"")))
    outsider = make_signers(1, offset=60)[0]
    ignored = [
        (s.others[0], not_primary),  # signed by a validator that is not the primary
        (s.others[0], dataclasses.replace(s.b, proposer=s.bus.signers[s.others[1]].public_key)),
        (s.others[0], dataclasses.replace(s.b, height=0)),  # a height we never had
        (s.others[0], dataclasses.replace(s.b, view=bus_view_far(s))),
    ]
    for by, seen in ignored:
        assert s.relay(by, seen) == []
    assert s.replica.on_message(outsider.public_key, s.b) == []
    assert s.suite.verifies == before
    assert _reports(s.relay(s.others[0], s.b))  # the genuine twin still counts


def bus_view_far(s: Slot1) -> int:
    """A view past the replica's horizon whose primary is the same validator."""
    view = s.replica.view + s.bus.config.max_view_ahead + 1
    return view + (-view % 4)


def test_a_twin_new_view_proposal_is_reported():
    bus = Bus(4)
    primary1 = bus.primary(1)
    replica = bus.replicas[(primary1 + 1) % 4]
    replica.start(0)
    signer = bus.signers[primary1]
    vcs = tuple(sign_message(x, CHAIN, ViewChange(1, 1, 0, None, b"", b""))
                for x in bus.signers[:3])
    app = bus.apps[primary1]

    def new_view(salt):
        block = app.build(1, 1, app.hashes[-1], salt=salt)
        pp = sign_message(signer, CHAIN, PrePrepare(1, 1, block, b"", b""))
        return pp, sign_message(signer, CHAIN, NewView(1, 1, vcs, pp, b"", b""))

    (pp_a, nv_a), (pp_b, nv_b) = new_view(0), new_view(3)
    actions = replica.on_message(signer.public_key, nv_a)
    assert replica.view == 1 and _broadcasts(actions, ProposalSeen) == [
        seen_proposal(SUITE, pp_a)]
    assert _reports(replica.on_message(signer.public_key, nv_b)) == [
        ReportProposalEvidence(seen_proposal(SUITE, pp_a), seen_proposal(SUITE, pp_b))]


def test_a_twin_seen_just_after_deciding_is_still_reported():
    """Relays of a height we just left still count (a short window of heights)."""
    bus = Bus(4)
    bus.max_height = 2
    bus.drop = lambda msg: isinstance(msg, ProposalSeen)  # relays late, after the decision
    bus.start()
    bus.deliver_all()
    assert bus.heights() == [2, 2, 2, 2]
    replica, height = bus.replicas[0], 1
    primary = bus.primary(0, height)
    signer = bus.signers[primary]
    decided = bus.apps[0].chain[0].block
    twin_block = bus.apps[primary].make_block(height, 0, decided.header.parent_hash, [9],
                                              bytes(32))
    twin = seen_proposal(SUITE, sign_message(signer, CHAIN, PrePrepare(
        height, 0, twin_block, b"", b"")))
    by = next(i for i in range(1, 4) if i != primary)
    reports = _reports(replica.on_message(bus.signers[by].public_key, twin))
    assert len(reports) == 1 and reports[0].proposal_b == twin
    assert reports[0].proposal_a.block_hash == header_hash(SUITE, decided.header)


def test_honest_runs_report_no_evidence_and_relay_every_proposal():
    bus = Bus(4)
    bus.max_height = 4
    bus.start()
    bus.deliver_all()
    assert bus.heights() == [4, 4, 4, 4] and bus.evidence == []
    relays = [a.msg for _, a in bus.log
              if isinstance(a, Broadcast) and isinstance(a.msg, ProposalSeen)]
    assert len(relays) == 4 * 3  # every non-primary, every height


# ------------------------------------------------------------ bad input


def test_bad_messages_change_nothing():
    bus = Bus(4)
    replica = bus.replicas[(bus.primary(0) + 1) % 4]
    replica.start(0)
    primary = bus.primary(0)
    not_primary = (primary + 2) % 4
    app = bus.apps[primary]
    block = app.build(1, 0, app.hashes[-1])
    outsider = make_signers(1, offset=50)[0]
    good = sign_message(bus.signers[primary], CHAIN, PrePrepare(1, 0, block, b"", b""))
    bad = [
        sign_message(bus.signers[primary], "another-chain", PrePrepare(1, 0, block, b"", b"")),
        sign_message(bus.signers[not_primary], CHAIN, PrePrepare(1, 0, block, b"", b"")),
        sign_message(outsider, CHAIN, PrePrepare(1, 0, block, b"", b"")),
        dataclasses.replace(good, signature=bytes(64)),
        sign_message(bus.signers[primary], CHAIN, PrePrepare(
            1, 0, app.build(1, 0, b"\x09" * 32), b"", b"")),
        sign_vote(outsider, CHAIN, Phase.PREPARE, 1, 0, bytes(32)),
        dataclasses.replace(sign_vote(bus.signers[1], CHAIN, Phase.PREPARE, 1, 0, bytes(32)),
                            phase=int(Phase.COMMIT)),
        sign_vote(bus.signers[1], "another-chain", Phase.COMMIT, 1, 0, bytes(32)),
        sign_message(outsider, CHAIN, ViewChange(1, 1, 0, None, b"", b"")),
        sign_message(bus.signers[1], CHAIN, ViewChange(1, 0, 0, None, b"", b"")),
    ]
    for msg in bad:
        assert replica.on_message(msg.voter if hasattr(msg, "voter") else msg.sender, msg) == []
    assert replica.round.proposals == {} and replica.view == 0
    assert replica.on_message(bus.signers[primary].public_key, good)


def test_journal_through_the_write_ahead_log_file(tmp_path):
    """Persist records written to a real WAL file restore the double-signing guard."""
    from storage.wal import WriteAheadLog

    bus = Bus(4)
    bus.max_height = 1
    bus.start()
    bus.deliver_all()
    victim = (bus.primary(0) + 1) % 4
    wal = WriteAheadLog(tmp_path / "wal")
    for _, action in [(i, a) for i, a in bus.log if i == victim and isinstance(a, Persist)]:
        wal.append(action.data)
    wal.close()
    records = WriteAheadLog(tmp_path / "wal").replay()
    assert records == bus.journals[victim]
    restored = Replica(SUITE, CHAIN, bus.signers[victim], bus.provider, bus.config,
                       journal=records, body_check=bus.apps[victim].is_valid_body)
    assert {(v, p) for v, p in restored.round.mine} == {(0, 1), (0, 2)}
    assert restored.round.prepared is not None


def test_a_replica_alone_in_a_view_change_waits_instead_of_leapfrogging():
    bus = Bus(4)
    me = next(i for i in range(4) if i not in (bus.primary(1), bus.primary(2)))
    replica = bus.replicas[me]
    replica.start(0)
    replica.on_tick(1000)
    assert (replica.view, replica.step) == (1, Step.VIEW_CHANGE)
    actions = replica.on_tick(10_000)
    assert replica.view == 1, "no quorum asked for view 1: repeat, do not advance"
    assert [m.view for m in _broadcasts(actions, ViewChange)] == [1]
    others = [s for i, s in enumerate(bus.signers) if i not in (me, bus.primary(1))][:2]
    for signer in others:
        vc = sign_message(signer, CHAIN, ViewChange(1, 1, 0, None, b"", b""))
        replica.on_message(signer.public_key, vc)
    replica.on_tick(20_000)
    assert (replica.view, replica.step) == (2, Step.VIEW_CHANGE)


def test_a_replica_outside_the_set_follows_but_never_votes():
    bus = Bus(4)
    outsider = make_signers(1, offset=60)[0]
    replica = Replica(SUITE, CHAIN, outsider, bus.provider, bus.config,
                      body_check=bus.apps[0].is_valid_body)
    replica.start(0)
    primary = bus.primary(0)
    app = bus.apps[primary]
    block = app.build(1, 0, app.hashes[-1])
    digest = header_hash(SUITE, block.header)
    pp = sign_message(bus.signers[primary], CHAIN, PrePrepare(1, 0, block, b"", b""))
    assert replica.on_message(bus.signers[primary].public_key, pp) == []
    assert replica.on_request_stuck() == []
    actions = []
    for signer in bus.signers[:3]:
        vote = sign_vote(signer, CHAIN, Phase.COMMIT, 1, 0, digest)
        actions += replica.on_message(signer.public_key, vote)
    commits = [a for a in actions if isinstance(a, Commit)]
    assert len(commits) == 1
    verify_certificate(SUITE, CHAIN, bus.valset, commits[0].certificate)
    assert not any(isinstance(a, Broadcast) for a in actions)


def test_relays_for_heights_long_past_are_not_kept():
    bus = Bus(4)
    bus.max_height = 7
    bus.drop = lambda msg: isinstance(msg, ProposalSeen)
    bus.start()
    bus.deliver_all()
    replica = bus.replicas[0]
    assert replica.height == 8
    assert replica._watch.view_cap(1) is None and replica._watch.view_cap(7) is not None
    primary = bus.primary(0, 1)
    app = bus.apps[primary]
    twin = seen_proposal(SUITE, sign_message(bus.signers[primary], CHAIN, PrePrepare(
        1, 0, app.make_block(1, 0, bytes(32), [9], bytes(32)), b"", b"")))
    by = next(i for i in range(1, 4) if i != primary)
    assert replica.on_message(bus.signers[by].public_key, twin) == []
