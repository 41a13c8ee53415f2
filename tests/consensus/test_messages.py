"""Wire messages: round trips, signatures per type and chain, strict decoding, exports."""

from __future__ import annotations

import contextlib
import dataclasses
import random

import pytest

import consensus
from chain.errors import DecodeError
from chain.types import Phase, header_hash, sign_vote
from chain.validators import build_certificate
from consensus import (
    CatchUpRequest,
    CatchUpResponse,
    CertifiedBlock,
    HeightDone,
    NewView,
    Prepared,
    PreparedCertificate,
    PrePrepare,
    ProposalSeen,
    ViewChange,
    decode_journal,
    decode_message,
    encode_journal,
    encode_message,
    sign_message,
    verify_message,
)
from consensus.messages import (
    MAX_BATCH_BLOCKS,
    MAX_KEY_BYTES,
    MAX_SIGNATURE_BYTES,
    seen_proposal,
    verify_proposal,
)
from tests.consensus.bus import CHAIN, SUITE, make_signers
from tests.consensus.toyapp import ToyApp

SIGNERS = make_signers(4)


def _samples() -> list:
    app = ToyApp(SUITE, CHAIN, SIGNERS[0].public_key)
    block = app.build(1, 0, bytes(32))
    digest = header_hash(SUITE, block.header)
    prepares = tuple(sign_vote(s, CHAIN, Phase.PREPARE, 1, 0, digest) for s in SIGNERS[:3])
    cert = PreparedCertificate(0, block, prepares)
    pp = sign_message(SIGNERS[0], CHAIN, PrePrepare(1, 0, block, b"", b""))
    vcs = tuple(sign_message(s, CHAIN, ViewChange(1, 1, 0, cert, b"", b"")) for s in SIGNERS[:3])
    pp1 = sign_message(SIGNERS[2], CHAIN, PrePrepare(1, 1, block, b"", b""))
    commit_sigs = {s.public_key: sign_vote(s, CHAIN, Phase.COMMIT, 1, 0, digest).signature
                   for s in SIGNERS[:3]}
    from chain.validators import Validator, ValidatorSet

    valset = ValidatorSet(Validator(s.public_key, "v", "1") for s in SIGNERS)
    certified = CertifiedBlock(block, build_certificate(valset, 1, 0, digest, commit_sigs))
    return [
        pp,
        prepares[0],
        sign_vote(SIGNERS[1], CHAIN, Phase.COMMIT, 1, 0, digest),
        vcs[0],
        sign_message(SIGNERS[1], CHAIN, ViewChange(1, 2, 0, None, b"", b"")),
        sign_message(SIGNERS[2], CHAIN, NewView(1, 1, vcs, pp1, b"", b"")),
        sign_message(SIGNERS[3], CHAIN, CatchUpRequest(1, b"", b"")),
        seen_proposal(SUITE, pp),
        sign_message(SIGNERS[3], CHAIN, CatchUpResponse((certified,), b"", b"")),
    ]


@pytest.mark.parametrize("msg", _samples(), ids=lambda m: type(m).__name__)
def test_round_trip_and_signature(msg):
    data = encode_message(msg)
    assert decode_message(data) == msg
    assert verify_message(SUITE, CHAIN, msg)
    assert not verify_message(SUITE, "another-chain", msg)


@pytest.mark.parametrize("msg", [m for m in _samples() if hasattr(m, "sender")],
                         ids=lambda m: type(m).__name__)
def test_any_change_breaks_the_signature(msg):
    field = msg.__dataclass_fields__
    first = next(iter(field))
    value = getattr(msg, first)
    if isinstance(value, int):
        changed = dataclasses.replace(msg, **{first: value + 1})
    else:
        changed = dataclasses.replace(msg, **{first: value[:-1]})
    assert not verify_message(SUITE, CHAIN, changed)
    other = SIGNERS[3] if msg.sender != SIGNERS[3].public_key else SIGNERS[0]
    assert not verify_message(SUITE, CHAIN, dataclasses.replace(msg, sender=other.public_key))


def test_types_do_not_share_signatures():
    """A CatchUpRequest signature cannot be passed off as anything else: tags differ."""
    tags = {consensus.messages.TAG_PREPREPARE, consensus.messages.TAG_VIEW_CHANGE,
            consensus.messages.TAG_NEW_VIEW, consensus.messages.TAG_CATCH_UP_REQUEST,
            consensus.messages.TAG_CATCH_UP_RESPONSE}
    assert len(tags) == 5 and all(t.startswith(b"skillchain/consensus/") for t in tags)


def test_journal_records_round_trip():
    samples = _samples()
    cert = samples[3].prepared
    for rec in [samples[0], samples[1], samples[3], samples[5], Prepared(1, cert),
                HeightDone(1, bytes(32))]:
        assert decode_journal(encode_journal(rec)) == rec


def test_random_bytes_raise_only_decode_error():
    rng = random.Random(7)
    valid = [encode_message(m) for m in _samples()]
    for i in range(3000):
        if i % 2:
            base = bytearray(rng.choice(valid))
            for _ in range(rng.randint(1, 4)):
                base[rng.randrange(len(base))] = rng.randrange(256)
            data = bytes(base[: rng.randint(0, len(base))])
        else:
            data = rng.randbytes(rng.randint(0, 64))
        with contextlib.suppress(DecodeError):
            decode_message(data)


def test_limits_are_enforced():
    with pytest.raises(DecodeError):
        decode_message(b"\x00" * 100, max_bytes=10)
    with pytest.raises(DecodeError):
        decode_message(encode_message(_samples()[0])[:-1])
    samples = _samples()
    item = samples[-1].blocks[0]
    too_many = [[item.to_wire()] * (MAX_BATCH_BLOCKS + 1), SIGNERS[0].public_key, b""]
    from chain.codec import encode

    with pytest.raises(DecodeError):
        decode_message(encode([6, too_many]))
    with pytest.raises(DecodeError):
        decode_message(encode([99, []]))


def test_exported_names_are_pinned():
    assert sorted(consensus.__all__) == sorted([
        "Action", "BlockSource", "BodyCheck", "Broadcast", "BuildProposal", "CatchUpRequest",
        "CatchUpResponse", "CertifiedBlock", "Commit", "Config", "HeightDone", "JournalRecord",
        "Message", "NewView", "Persist", "PrePrepare", "Prepared", "PreparedCertificate",
        "ProposalSeen", "Replica", "ReportEvidence", "ReportFault", "ReportProposalEvidence",
        "RequestCatchUp",
        "Send", "SetTimer", "Step", "Tip", "ValidatorProvider", "VerifyBlock", "ViewChange",
        "decode_journal", "decode_message", "encode_journal", "encode_message",
        "is_valid_proposal_evidence", "sign_message", "verify_message",
    ])
    for name in consensus.__all__:
        assert hasattr(consensus, name)


# ------------------------------------------------- compact proposals, evidence


def _proposal(signer, height: int = 1, view: int = 0, salt: int = 0) -> PrePrepare:
    app = ToyApp(SUITE, CHAIN, signer.public_key)
    block = app.build(height, view, bytes(32), salt=salt)
    return sign_message(signer, CHAIN, PrePrepare(height, view, block, b"", b""))


def test_a_pre_prepare_signs_the_slot_and_block_hash_only():
    """The signature checks without the block: (height, view, header hash, sender)."""
    pp = _proposal(SIGNERS[1])
    seen = seen_proposal(SUITE, pp)
    assert seen == ProposalSeen(1, 0, header_hash(SUITE, pp.block.header), pp.sender,
                                pp.signature)
    assert verify_proposal(SUITE, CHAIN, seen) and verify_message(SUITE, CHAIN, seen)
    assert not verify_proposal(SUITE, "another-chain", seen)
    for changed in (dataclasses.replace(seen, height=2), dataclasses.replace(seen, view=1),
                    dataclasses.replace(seen, block_hash=bytes(32)),
                    dataclasses.replace(seen, proposer=SIGNERS[2].public_key)):
        assert not verify_proposal(SUITE, CHAIN, changed)
    other_header = dataclasses.replace(pp.block.header, time=pp.block.header.time + 1)
    moved = dataclasses.replace(pp, block=dataclasses.replace(pp.block, header=other_header))
    assert not verify_message(SUITE, CHAIN, moved)


def test_a_pre_prepare_signature_is_no_vote_or_view_change_signature():
    """Same tag family, separate tags: a proposal signature cannot pose as anything else."""
    pp = _proposal(SIGNERS[0])
    seen = seen_proposal(SUITE, pp)
    vote = sign_vote(SIGNERS[0], CHAIN, Phase.PREPARE, 1, 0, seen.block_hash)
    assert not verify_proposal(SUITE, CHAIN, dataclasses.replace(seen, proposer_signature=(
        vote.signature)))
    with pytest.raises(TypeError):
        sign_message(SIGNERS[0], CHAIN, seen)


def test_proposal_seen_decoding_is_bounded():
    seen = seen_proposal(SUITE, _proposal(SIGNERS[0]))
    from chain.codec import encode

    wire = seen.to_wire()
    assert decode_message(encode([7, wire])) == seen
    bad = [
        [wire[0], wire[1], wire[2], bytes(MAX_KEY_BYTES + 1), wire[4]],
        [wire[0], wire[1], wire[2], wire[3], bytes(MAX_SIGNATURE_BYTES + 1)],
        [wire[0], wire[1], bytes(31), wire[3], wire[4]],
        [wire[0], wire[1], bytes(33), wire[3], wire[4]],
        [-1, wire[1], wire[2], wire[3], wire[4]],
        [wire[0], "0", wire[2], wire[3], wire[4]],
        wire[:4],
        [*wire, b""],
    ]
    for body in bad:
        with pytest.raises(DecodeError):
            decode_message(encode([7, body]))
    assert len(encode_message(seen)) < 200


def _twins(signer=SIGNERS[1], height: int = 1, view: int = 0) -> tuple:
    a = seen_proposal(SUITE, _proposal(signer, height, view, salt=0))
    b = seen_proposal(SUITE, _proposal(signer, height, view, salt=3))
    return a, b


def test_proposal_evidence_is_verifiable():
    from chain.validators import Validator, ValidatorSet

    valset = ValidatorSet(Validator(s.public_key, "v", "1") for s in SIGNERS)
    a, b = _twins(SIGNERS[1])  # primary of (1, 0) is validators[1]
    assert a.block_hash != b.block_hash
    assert consensus.is_valid_proposal_evidence(SUITE, CHAIN, a, b)
    assert consensus.is_valid_proposal_evidence(SUITE, CHAIN, b, a, valset)
    not_primary = _twins(SIGNERS[2])
    assert consensus.is_valid_proposal_evidence(SUITE, CHAIN, *not_primary)
    assert not consensus.is_valid_proposal_evidence(SUITE, CHAIN, *not_primary, valset)


def test_forged_proposal_evidence_is_rejected():
    a, b = _twins(SIGNERS[1])
    check = consensus.is_valid_proposal_evidence
    assert not check(SUITE, CHAIN, a, a)  # no conflict
    assert not check(SUITE, "another-chain", a, b)
    # B's hash with A's signature, or a signature by someone else over B.
    assert not check(SUITE, CHAIN, a, dataclasses.replace(
        b, proposer_signature=a.proposer_signature))
    by_other = seen_proposal(SUITE, _proposal(SIGNERS[2], salt=3))
    assert not check(SUITE, CHAIN, a, by_other)
    assert not check(SUITE, CHAIN, a, dataclasses.replace(by_other, proposer=a.proposer))
    # Two honest proposals of different slots are no equivocation.
    later = seen_proposal(SUITE, _proposal(SIGNERS[1], view=1, salt=3))
    assert not check(SUITE, CHAIN, a, later)
    assert not check(SUITE, CHAIN, a, dataclasses.replace(later, view=0))
    higher = seen_proposal(SUITE, _proposal(SIGNERS[1], height=2, salt=3))
    assert not check(SUITE, CHAIN, a, dataclasses.replace(higher, height=1))
