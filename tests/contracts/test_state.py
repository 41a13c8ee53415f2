"""Overlays: nesting, merging, deletes, deterministic change sets."""

from __future__ import annotations

import pytest

from chain.errors import InternalError
from contracts import DictState, Overlay
from contracts.model import Counter


def test_reads_fall_through_and_writes_shadow():
    base = DictState({b"a": b"\x01"})
    top = Overlay(base)
    assert top.get(b"a") == b"\x01" and top.get(b"b") is None
    top.set(b"b", b"\x02")
    top.delete(b"a")
    assert top.get(b"a") is None and top.get(b"b") == b"\x02"
    assert base.get(b"a") == b"\x01"


def test_child_merges_only_when_asked():
    top = Overlay(DictState())
    dropped = top.child()
    dropped.put(b"x", Counter(1))
    assert top.get(b"x") is None
    kept = top.child()
    kept.put(b"y", Counter(2))
    grandchild = kept.child()
    grandchild.put(b"z", Counter(3))
    grandchild.merge_into_parent()
    kept.merge_into_parent()
    assert top.get_record(b"y", Counter) == Counter(2)
    assert top.get_record(b"z", Counter) == Counter(3)
    assert top.get(b"y") == Counter(2).encode()


def test_changes_are_sorted_bytes_with_deletes():
    top = Overlay(DictState({b"k": Counter(5).encode()}))
    top.put(b"b", Counter(1))
    top.set(b"a", b"\x90")
    top.delete(b"k")
    assert list(top.changes().items()) == [(b"a", b"\x90"), (b"b", Counter(1).encode()),
                                           (b"k", None)]


def test_records_round_trip_from_base_bytes_and_cache():
    base = DictState({b"c": Counter(7).encode()})
    top = Overlay(base)
    assert top.get_record(b"c", Counter) == Counter(7)
    assert top.child().get_record(b"c", Counter) == Counter(7)
    assert top.get_record(b"missing", Counter) is None


def test_garbage_in_state_is_our_fault():
    top = Overlay(DictState({b"c": b"\xc1"}))
    with pytest.raises(InternalError):
        top.get_record(b"c", Counter)


def test_merge_without_parent_and_set_of_non_bytes():
    top = Overlay(DictState())
    with pytest.raises(InternalError):
        top.merge_into_parent()
    with pytest.raises(TypeError):
        top.set(b"a", Counter(1))  # type: ignore[arg-type]


def trainee_hex(n: int) -> bytes:
    from tests.contracts.helpers import trainee

    return trainee(n).hex().encode()


def test_fast_record_encoding_equals_the_checked_codec():
    from tests.contracts.scenario import block_txs, prepared

    chain = prepared()
    chain.run(block_txs(chain))
    from chain.codec import decode, encode

    for value in chain.base.data.values():
        assert encode(decode(value)) == value
    from contracts.model import DayLog, Enrolment, Interval, KeyOwner, Session
    from contracts.state import _encode_record

    view = chain.view()
    for key, cls in [(b"enrol/c1/" + trainee_hex(3), Enrolment)]:
        record = view.get_record(key, cls)
        assert _encode_record(record) == record.encode()
    for record in (DayLog((Interval(1, 2, b"k", "c"),), 5), KeyOwner("a"),
                   Session("p", "s", b"t", "c", "u", "live", 1, 2, 1, 1, "theory", 0, 0, b"h",
                           b"x", "credited", ""), Enrolment("c", b"t", b"h", "m", 1, 2, 3, 4,
                                                            5, (6, 7), None)):
        assert _encode_record(record) == record.encode()


def test_trusted_state_decoding_equals_the_strict_decoder():
    from chain.codec import decode
    from contracts import model as M
    from contracts.state import _decode_record
    from tests.contracts.scenario import block_txs, prepared

    chain = prepared()
    chain.run(block_txs(chain))
    classes = [
        (b"actor/", M.Actor), (b"key/", M.KeyOwner), (b"city/", M.City),
        (b"occ/", M.Occupation), (b"policy", M.PolicyHistory), (b"params", M.Params),
        (b"fund/", M.Fund), (b"valset", M.ValidatorList), (b"meta/height", M.Height),
        (b"txseen/", M.Expiry), (b"stats/provider/", M.ProviderStats),
        (b"stats/class/", M.ClassStats), (b"stats/city/", M.CityStats),
        (b"day/", M.DayLog), (b"sess/", M.Session), (b"offline/", M.OfflinePractice),
        (b"cert/", M.Certificate), (b"certs/", M.EvidenceList), (b"claim/", M.Claim),
        (b"paidfor/", M.ClaimRef), (b"yearly/", M.Counter),
    ]
    seen = set()
    for key, value in chain.base.data.items():
        if key.startswith(b"class/"):
            cls = M.TraineeList if key.endswith(b"/trainees") else M.Class
        elif key.startswith(b"enrol/"):
            cls = M.EvidenceList if key.endswith(b"/log") else M.Enrolment
        else:
            cls = next(c for prefix, c in classes if key.startswith(prefix))
        assert _decode_record(key, value, cls) == cls.from_wire(decode(value)), key
        seen.add(cls)
    assert len(seen) >= 20


def test_trusted_decoding_still_refuses_a_wrong_shape():
    from contracts.model import DayLog
    from contracts.state import _decode_record

    with pytest.raises(InternalError):
        _decode_record(b"k", Counter(3).encode(), DayLog)
