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


def test_day_log_intervals_rebuild_in_one_pass_and_refuse_bad_elements():
    """Intervals (the hot nested case) skip the generic per-element builder; a wrong
    element shape is still our fault, never a half-built record."""
    from chain.codec import encode
    from contracts.model import DayLog, Interval
    from contracts.state import _decode_record, _encode_record

    log = DayLog(tuple(Interval(i, i + 1, b"sess/p/%d" % i, "c") for i in range(5)), 7)
    assert _decode_record(b"k", _encode_record(log), DayLog) == log
    assert _decode_record(b"k", encode([[], 0]), DayLog) == DayLog((), 0)
    for bad in ([[1, 2, b"r"]], [[1, 2, b"r", "c", 5]], [b"abcd"], [7]):
        with pytest.raises(InternalError):
            _decode_record(b"k", encode([bad, 0]), DayLog)


def test_nested_record_tuples_encode_as_the_checked_codec():
    """A record holding a tuple of flat records packs it without the per-element hook."""
    from contracts.model import (
        Amount,
        DayLog,
        Interval,
        Occupation,
        PolicyHistory,
        StandardVersion,
    )
    from contracts.state import _encode_record

    occupation = Occupation("1-01-01-01", 2015, 5, "n", 1, 2, True, ("a", "b"),
                            (StandardVersion(0, (Amount("a", "", 5), Amount("b", "x", 6))),))
    for record in (DayLog((), 0), DayLog((Interval(1, 2, b"k", "c"),) * 3, 9), occupation,
                   PolicyHistory(())):
        assert _encode_record(record) == record.encode()


def _same_shape(a: object, b: object) -> bool:
    """Equal and of the very same types all the way down (a list is not a tuple here)."""
    from chain.records import Record

    if type(a) is not type(b):
        return False
    if isinstance(a, Record):
        return all(_same_shape(getattr(a, f), getattr(b, f)) for f in a._fields)
    if isinstance(a, tuple):
        return len(a) == len(b) and all(map(_same_shape, a, b))  # type: ignore[arg-type]
    return a == b


def _memo_chain():
    """The determinism scenario, then a correction and more sessions on the same days."""
    from tests.contracts.helpers import HOUR, PROVIDER, session
    from tests.contracts.scenario import D1, block_txs, prepared

    chain = prepared()
    chain.run(block_txs(chain))
    corrected = chain.run([chain.tx(PROVIDER, "learning.correct_session",
                                    ["a7", "clock_error", b"n" * 32])])
    assert corrected[0].code == ""
    later = [session(f"z{n}", n, D1 + 10 * HOUR, HOUR) for n in range(20)]
    return chain, [chain.tx(PROVIDER, "learning.record_sessions", [later])]


def test_memoized_records_are_their_own_decoding_types_included():
    """What makes the decode memo safe: every day log and enrolment the contracts wrote
    decodes to a record of exactly the same shape."""
    from chain.codec import decode
    from contracts.model import DayLog, Enrolment
    from contracts.state import _MEMO

    chain, txs = _memo_chain()
    chain.run(txs)
    checked = 0
    for key, value in chain.base.data.items():
        cls = DayLog if key.startswith(b"day/") else Enrolment if (
            key.startswith(b"enrol/") and not key.endswith(b"/log")) else None
        known = _MEMO.get(value)
        if cls is None or known is None:
            continue
        assert _same_shape(known, cls.from_wire(decode(value))), key
        checked += 1
    assert checked >= 40


def test_warm_and_cold_decode_memo_execute_alike():
    from chain.types import tx_hash
    from contracts import BlockContext, DictState, execute_block
    from contracts.state import _MEMO
    from tests.contracts.helpers import SUITE, pub

    chain, txs = _memo_chain()
    hashes = [(t, tx_hash(SUITE, t)) for t in txs]
    ctx = BlockContext(chain.height + 1, chain.time + 60, pub(1))
    results = []
    for cold in (False, True):
        if cold:
            _MEMO.new.clear()
            _MEMO.old.clear()
        state = Overlay(DictState(dict(chain.base.data)))
        receipts = execute_block(state, ctx, hashes)
        results.append((state.digest_bytes(), [r.encode() for r in receipts]))
    assert results[0] == results[1]


def test_decode_memo_answers_only_for_the_class_it_holds():
    from contracts.model import DayLog, Interval
    from contracts.state import _decode_record

    top = Overlay(DictState())
    top.put(b"d", DayLog((Interval(1, 2, b"r", "c"),), 3))
    encoded = top.changes()[b"d"]
    assert _decode_record(b"d", encoded, DayLog) == DayLog((Interval(1, 2, b"r", "c"),), 3)
    with pytest.raises(InternalError):
        _decode_record(b"d", encoded, Counter)
