"""``@record``'s generated decoders refuse and build exactly what the checkers do.

``Record.from_wire`` first runs a decoder generated per class (straight-line
checks, nested decoders, slots filled directly) and, only when that refuses a
value, the generic per-field checkers (``chain.records._check_record``), which
name the field at fault. The generic path is the reference: for every record
class, valid wire values must decode to equal records (same ``repr``, so a
``bool`` never stands in for an ``int``) and every mutation of one must be
refused by both paths or by neither, with the same ``DecodeError`` text.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import types
import typing
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chain.records as records
from chain.codec import decode, encode
from chain.errors import DecodeError
from chain.records import Bytes32, Record, kept_encoding, record
from chain.types import Block, BlockHeader, Tx, Vote
from consensus.messages import PrePrepare, decode_message, encode_message
from contracts.errors import ContractError
from contracts.kinds import MODES, Capture, RecordSessions, SessionBody, parse_body
from tests.strategies import values


# -- records that exercise the rarer field types and build paths -----------------------
@record
class Rare(Record):
    """Unions, tuples of scalars, of unions, of tuples and unions of tuples (the last two
    through the generic checkers), Any."""

    maybe_count: int | None
    maybe_capture: Capture | None
    counts: tuple[int, ...]
    maybe_keys: tuple[Bytes32 | None, ...]
    nested: tuple[tuple[str, ...], ...]
    maybe_list: tuple[int, ...] | None
    anything: Any
    flag: bool
    _encoded: bytes | None = kept_encoding()
    _memo: int | None = dataclasses.field(default=None, init=False, repr=False, compare=False)


@record
class PostInit(Record):
    """Built through its constructor, so ``__post_init__`` runs (and may refuse)."""

    low: int
    high: int

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise DecodeError("low above high")


@record
class Unset(Record):
    """A field named ``self`` and an ``init=False`` slot without a default."""

    self: int
    memo: int | None = dataclasses.field(init=False, repr=False, compare=False)


@record
class Empty(Record):
    """No wire fields: the wire form is ``[]``."""


HOT = (RecordSessions, SessionBody, Capture, Tx, Block, BlockHeader, Vote, PrePrepare)
LOCAL = (Rare, PostInit, Unset, Empty)
ALL = tuple(sorted(records._DECODERS, key=lambda cls: f"{cls.__module__}.{cls.__qualname__}"))


# -- valid wire values ------------------------------------------------------------------
def _ident() -> st.SearchStrategy[str]:
    return st.text(min_size=1, max_size=8).filter(lambda s: "/" not in s)


def _session_fixup(value: list[Any]) -> list[Any]:
    value[6] = value[5] + 1 + value[6] % 100_000  # end after start
    value[7] = min(value[7], value[6] - value[5])  # active_seconds within the session
    return value


def _pre_prepare_fixup(value: list[Any]) -> list[Any]:
    value[0] = value[2][0][1]  # the block's header height
    return value


OVERRIDES: dict[tuple[type[Record], str], st.SearchStrategy[Any]] = {
    (SessionBody, "session_id"): _ident(),
    (SessionBody, "class_id"): _ident(),
    (SessionBody, "unit"): _ident(),
    (SessionBody, "mode"): st.sampled_from(MODES),
    (SessionBody, "start"): st.integers(0, 2**40),
}
FIXUPS = {SessionBody: _session_fixup, PrePrepare: _pre_prepare_fixup}


@functools.cache
def wire(annotation: Any) -> st.SearchStrategy[Any]:
    """Wire values of ``annotation`` (for the hot classes, ones their ``_check`` accepts)."""
    origin = typing.get_origin(annotation)
    if annotation is Bytes32:
        return st.binary(min_size=32, max_size=32)
    if annotation is int:
        return st.integers(0, 2**64 - 1)
    if annotation is bytes:
        return st.binary(max_size=40)
    if annotation is str:
        return st.text(max_size=10)
    if annotation is bool:
        return st.booleans()
    if annotation is Any:
        return values
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)][0]
        return st.none() | wire(inner)
    if origin is tuple:
        return st.lists(wire(typing.get_args(annotation)[0]), min_size=1, max_size=3)
    return _record_wire(annotation)


def _record_wire(cls: type[Record]) -> st.SearchStrategy[list[Any]]:
    hints = typing.get_type_hints(cls)
    fields = [OVERRIDES.get((cls, name), wire(hints[name])) for name in cls._fields]
    strategy = st.tuples(*fields).map(list)
    fixup = FIXUPS.get(cls)
    return strategy.map(fixup) if fixup is not None else strategy


# -- mutations --------------------------------------------------------------------------
GARBAGE: tuple[Any, ...] = (
    True, False, 0, 1, -1, 2**64 - 1, 1.5, "", "x", b"", b"x" * 31, b"x" * 32, b"x" * 33,
    None, [], [0], [[]],
)  # fmt: skip


def _paths(value: Any, path: tuple[int, ...] = ()) -> list[tuple[int, ...]]:
    out = [path]
    if type(value) is list:
        for i, item in enumerate(value):
            out.extend(_paths(item, (*path, i)))
    return out


def _near_misses(value: Any) -> list[Any]:
    """Values that nearly pass for ``value``: the boundary cases each checker guards."""
    kind = type(value)
    if kind is bool:
        return [int(value), str(value), None]
    if kind is int:
        return [-1, -(2**63), bool(value % 2), str(value), float(value), None]
    if kind is bytes:
        return [value[:-1], value + b"x", value.hex(), bytearray(value), None]
    if kind is str:
        return [value.encode(), None, 0]
    if kind is list:
        return [tuple(value), b"", None, [value]]
    return [0, b"", "", [], False]


@st.composite
def mutated(draw: st.DrawFn, cls: type[Record]) -> Any:
    """A valid wire value of ``cls`` with one node replaced, dropped or grown."""
    value = copy.deepcopy(draw(wire(cls)))
    path = draw(st.sampled_from(_paths(value)))
    how = draw(st.sampled_from(("near", "near", "near", "garbage", "drop", "grow")))
    parent, target = None, value
    for i in path:
        parent, target = target, target[i]
    if how == "near":
        new = draw(st.sampled_from(_near_misses(target)))
    else:
        new = draw(st.sampled_from(GARBAGE))
    if how in ("near", "garbage"):
        if parent is None:
            return new
        parent[path[-1]] = new
    elif type(target) is list and how == "drop" and target:
        del target[draw(st.integers(0, len(target) - 1))]
    elif type(target) is list:
        target.append(new)
    elif parent is not None:
        del parent[path[-1]]
    return value


# -- the comparison -------------------------------------------------------------------
def _reference(cls: type[Record], value: Any) -> tuple[str, Any]:
    try:
        return "ok", records._check_record(cls, value, cls.__name__)
    except DecodeError as exc:
        return "error", exc.message


def _decoded(cls: type[Record], value: Any) -> tuple[str, Any]:
    try:
        return "ok", cls.from_wire(value)
    except DecodeError as exc:
        return "error", exc.message


def _fast_refuses(cls: type[Record], value: Any) -> bool:
    try:
        records._DECODERS[cls](value)
    except (records._Mismatch, DecodeError):
        return True
    return False


def assert_same(cls: type[Record], value: Any) -> None:
    """``from_wire`` and the generated decoder agree with the generic path on ``value``."""
    expected = _reference(cls, copy.deepcopy(value))
    got = _decoded(cls, value)
    assert _fast_refuses(cls, value) == (expected[0] == "error")
    assert got[0] == expected[0], (got, expected)
    if got[0] == "error":
        assert got[1] == expected[1]
    else:
        assert type(got[1]) is cls
        assert got[1] == expected[1]
        assert repr(got[1]) == repr(expected[1])
        assert _state(got[1]) == _state(expected[1])


def _state(rec: Any) -> Any:
    """Every slot, ``init=False`` ones included, recursively, with exact types."""
    if isinstance(rec, Record):
        return (
            type(rec),
            tuple(
                (f.name, _state(getattr(rec, f.name, "<unset>"))) for f in dataclasses.fields(rec)
            ),
        )
    if type(rec) in (tuple, list):
        return (type(rec), tuple(_state(item) for item in rec))
    return (type(rec), rec)


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("cls", HOT + LOCAL, ids=lambda cls: cls.__name__)
@SETTINGS
@given(data=st.data())
def test_valid_values_decode_to_what_the_checkers_build(cls: type[Record], data: Any) -> None:
    value = data.draw(wire(cls))
    assert_same(cls, value)
    if cls not in (PostInit,):  # PostInit may refuse low > high
        assert _decoded(cls, value)[0] == "ok"


@pytest.mark.parametrize("cls", HOT + LOCAL, ids=lambda cls: cls.__name__)
@SETTINGS
@given(data=st.data())
def test_mutated_values_fail_with_the_checkers_message(cls: type[Record], data: Any) -> None:
    assert_same(cls, data.draw(mutated(cls)))


@SETTINGS
@given(data=st.data())
def test_every_record_class_agrees_on_typed_and_mutated_values(data: Any) -> None:
    cls = data.draw(st.sampled_from(ALL))
    assert_same(cls, data.draw(wire(cls)))  # often refused by ``_check``: both must say so
    assert_same(cls, data.draw(mutated(cls)))


@SETTINGS
@given(value=values)
def test_garbage_is_refused_alike(value: Any) -> None:
    for cls in HOT:
        assert_same(cls, value)


# -- pinned cases ---------------------------------------------------------------------
def _session(n: int, captures: int = 6) -> list[Any]:
    start = 1_000_000 + n * 10_000
    caps = [[start + 1200 * i, bytes([i]) * 32, True] for i in range(captures)]
    return [f"s{n}", b"t" * 32, "c1", "u1", "recorded", start, start + 7200, 7200, caps, b"l" * 32]


def _sessions(count: int = 5) -> list[Any]:
    return [[_session(n) for n in range(count)]]


def test_a_nested_error_names_its_full_path() -> None:
    body = _sessions()
    body[0][3][8][0][0] = "soon"
    with pytest.raises(DecodeError) as caught:
        RecordSessions.from_wire(body)
    expected = "RecordSessions.sessions[3].captures[0].time: expected int, got str"
    assert caught.value.message == expected
    with pytest.raises(ContractError) as refused:
        parse_body("learning.record_sessions", body)
    assert refused.value.code == "bad_body"
    assert str(refused.value).endswith(f"learning.record_sessions: {expected}")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.__setitem__(0, True), "Capture.time: expected int, got bool"),
        (lambda c: c.__setitem__(0, -1), "Capture.time: negative integer"),
        (lambda c: c.__setitem__(1, b"x" * 31), "Capture.image_hash: expected 32 bytes"),
        (lambda c: c.__setitem__(2, 1), "Capture.passed: expected bool, got int"),
        (lambda c: c.append(True), "Capture: expected 3 fields, got 4"),
        (lambda c: c.pop(), "Capture: expected 3 fields, got 2"),
    ],
)
def test_scalar_errors_keep_their_text(change: Any, message: str) -> None:
    capture = [5, b"h" * 32, True]
    change(capture)
    with pytest.raises(DecodeError) as caught:
        Capture.from_wire(capture)
    assert caught.value.message == message


def test_check_still_runs_on_decode() -> None:
    body = _sessions()
    body[0][2][6] = body[0][2][5]  # end == start
    with pytest.raises(DecodeError) as caught:
        RecordSessions.from_wire(body)
    assert caught.value.message == "session 's2': end: end must be after start"
    assert _fast_refuses(RecordSessions, body)

    header = BlockHeader("c", 7, 0, 1, *(b"h" * 32,), b"p", *(b"r" * 32,) * 4)
    pre_prepare = PrePrepare(8, 0, Block(header, ()), b"s", b"sig")
    with pytest.raises(DecodeError, match="pre-prepare: block of another height"):
        decode_message(encode_message(pre_prepare))


def test_post_init_still_runs_on_decode() -> None:
    assert PostInit.from_wire([1, 2]) == PostInit(1, 2)
    with pytest.raises(DecodeError) as caught:  # as before: raised inside the constructor,
        PostInit.from_wire([3, 2])  # so the checkers find no field to blame
    assert caught.value.message == "PostInit: invalid" == _reference(PostInit, [3, 2])[1]


def test_init_false_fields_get_their_defaults() -> None:
    tx = Tx.from_wire(["c", "k", b"s", 1, 2, [1, b"x"], b"sig"])
    assert tx._encoded is None and tx._hash is None
    rare = Rare.from_wire([None, None, [], [], [], None, None, False])
    assert rare._encoded is None and rare._memo is None
    unset = Unset.from_wire([4])
    assert unset.self == 4 and not hasattr(unset, "memo")
    assert Empty.from_wire([]) == Empty()


def test_decode_still_keeps_encodings() -> None:
    txs = tuple(Tx("c", "learning.record_sessions", b"s", n, 9, _sessions(2), b"g") for n in (1, 2))
    header = BlockHeader("c", 1, 0, 1, b"h" * 32, b"p", *(b"r" * 32,) * 4)
    data = Block(header, txs).encode()
    block = Block.decode(data)
    assert block.txs == txs
    assert [tx._encoded for tx in block.txs] == [encode(tx.to_wire()) for tx in txs]
    assert all(tx._hash is None for tx in block.txs)
    assert decode(data) == Block(header, txs).to_wire()


def test_an_undecorated_subclass_still_decodes_to_itself() -> None:
    class Later(Capture):
        pass

    built = Later.from_wire([5, b"h" * 32, True])
    assert type(built) is Later and built.time == 5
    with pytest.raises(DecodeError, match="^Later.time: expected int, got bool$"):
        Later.from_wire([True, b"h" * 32, True])


def test_every_record_class_has_a_decoder() -> None:
    for cls in HOT + LOCAL:
        assert cls in records._DECODERS


@pytest.mark.parametrize("cls", HOT, ids=lambda cls: cls.__name__)
def test_hot_decoders_are_straight_line(cls: type[Record]) -> None:
    """No per-field checker calls and no ``__init__`` call: slots are filled directly."""
    names = records._DECODERS[cls].__code__.co_names
    assert not [name for name in names if name.startswith("_chk")]
    assert "_new" in names
