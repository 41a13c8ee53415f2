"""``@record``'s generated ``__init__`` behaves exactly like the dataclass one.

``chain.records`` replaces the ``__init__`` of every record (a frozen, slotted
dataclass) by one that sets the slots through pre-bound member descriptors,
because construction is on every node's hot path. Each record here is held to
a plain ``dataclasses.dataclass(frozen=True, slots=True)`` twin with the same
fields: the same parameters, defaults, ``TypeError`` text, repr, equality,
hash, ``__match_args__``, ``replace`` and pickling, and still frozen.
"""

from __future__ import annotations

import dataclasses
import inspect
import pickle
import typing
from typing import Any

import pytest

from chain.codec import decode, encode
from chain.crypto import get_suite
from chain.records import Bytes32, Record, kept_encoding, record
from chain.types import BlockHeader, Tx, tx_hash
from contracts.kinds import Capture, PublishPolicy, SessionBody
from contracts.model import Session

SUITE = get_suite("ed25519-sha256")


@record
class WithDefaults(Record):
    """A record whose trailing fields have defaults, plus a kept encoding."""

    name: str
    count: int = 7
    tags: tuple[str, ...] = ("a", "b")
    flag: bool | None = None
    _encoded: bytes | None = kept_encoding()


@record
class Checked(Record):
    """A record with a ``__post_init__`` (no real record has one today)."""

    low: int
    high: int

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError("low above high")
        object.__setattr__(self, "_seen", True)  # frozen: only object.__setattr__ works

    _seen: bool = dataclasses.field(default=False, init=False, repr=False, compare=False)


@record
class Selfish(Record):
    """A field named ``self`` must not clash with the instance parameter."""

    self: int
    other: str


@record
class Unset(Record):
    """An ``init=False`` field without a default stays unset, as in dataclasses."""

    value: int
    memo: int | None = dataclasses.field(init=False, repr=False, compare=False)


@record
class Factory(Record):
    """``default_factory`` keeps the dataclass ``__init__``; it must still work."""

    name: str
    items: tuple[int, ...] = dataclasses.field(default_factory=tuple)


RECORDS: list[type[Record]] = [
    Tx,
    BlockHeader,
    Session,
    SessionBody,
    Capture,
    PublishPolicy,
    WithDefaults,
    Checked,
    Selfish,
]


def twin(cls: type[Record]) -> type:
    """A plain frozen slotted dataclass with ``cls``'s fields (and ``__post_init__``)."""
    specs = [
        (
            f.name,
            f.type,
            dataclasses.field(
                default=f.default,
                default_factory=f.default_factory,
                init=f.init,
                repr=f.repr,
                compare=f.compare,
                hash=f.hash,
            ),
        )
        for f in dataclasses.fields(cls)
    ]
    namespace = {"__post_init__": cls.__post_init__} if hasattr(cls, "__post_init__") else {}
    return dataclasses.make_dataclass(
        cls.__qualname__, specs, frozen=True, slots=True, namespace=namespace
    )


def sample(annotation: Any, salt: int) -> Any:
    """A wire-valid value of a field of type ``annotation``."""
    origin = typing.get_origin(annotation)
    if annotation is Bytes32:
        return bytes([salt % 256]) * 32
    if annotation in (int, bool, str, bytes):
        return {int: salt, bool: salt % 2 == 0, str: f"s{salt}", bytes: b"b%d" % salt}[annotation]
    if annotation is Any:  # a tx body: any value, here a hashable one
        return f"any{salt}"
    if origin is tuple:
        return (sample(typing.get_args(annotation)[0], salt),)
    if origin is not None:  # an optional: its non-None member
        return sample(typing.get_args(annotation)[0], salt)
    if isinstance(annotation, type) and issubclass(annotation, Record):
        return annotation(*args_of(annotation, salt))
    raise AssertionError(f"no sample for {annotation!r}")


def args_of(cls: type[Record], salt: int = 1) -> list[Any]:
    """Positional arguments for every init field of ``cls``, distinct per field."""
    hints = typing.get_type_hints(cls)
    return [sample(hints[name], salt + i) for i, name in enumerate(cls._fields)]


def outcome(make: Any, *args: Any, **kwargs: Any) -> str:
    """The ``TypeError`` text of ``make(*args, **kwargs)``, or "built"."""
    try:
        make(*args, **kwargs)
    except TypeError as exc:
        return str(exc)
    return "built"


def test_every_record_gets_the_generated_init() -> None:
    for cls in [*RECORDS, Unset]:
        assert cls.__init__.__code__.co_qualname == "__init__", cls
        assert cls.__init__.__qualname__ == f"{cls.__qualname__}.__init__"
        assert cls.__init__.__module__ == cls.__module__
    assert Factory.__init__.__code__.co_qualname != "__init__"  # the dataclass one


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_positional_and_keyword_construction(cls: type[Record]) -> None:
    args = args_of(cls)
    by_position = cls(*args)
    by_keyword = cls(**dict(zip(cls._fields, args, strict=True)))
    plain = twin(cls)(*args)
    assert by_position == by_keyword
    assert [getattr(by_position, n) for n in cls._fields] == args
    assert repr(by_position) == repr(by_keyword) == repr(plain)
    assert hash(by_position) == hash(by_keyword) == hash(plain)


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_signature_and_class_metadata_match_the_dataclass(cls: type[Record]) -> None:
    plain = twin(cls)
    assert str(inspect.signature(cls)) == str(inspect.signature(plain))
    assert cls.__init__.__annotations__ == plain.__init__.__annotations__
    assert cls.__match_args__ == plain.__match_args__
    assert [f.name for f in dataclasses.fields(cls)] == [f.name for f in dataclasses.fields(plain)]


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_wrong_calls_raise_the_dataclass_type_errors(cls: type[Record]) -> None:
    plain, args = twin(cls), args_of(cls)
    first = cls._fields[0]
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        ((), {}),
        (tuple(args[:1]), {}),
        ((*args, "extra"), {}),
        (tuple(args), {"unknown": 1}),
        (tuple(args), {first: args[0]}),
        ((), {"unknown": 1}),
    ]
    for call_args, call_kwargs in calls:
        assert outcome(cls, *call_args, **call_kwargs) == outcome(plain, *call_args, **call_kwargs)
    assert outcome(cls, *args, unknown=1) == (
        f"{cls.__qualname__}.__init__() got an unexpected keyword argument 'unknown'"
    )


def test_session_type_errors_read_as_before() -> None:
    args = args_of(Session)
    assert outcome(Session, *args[:16]) == (
        "Session.__init__() missing 1 required positional argument: 'correction_reason'"
    )
    assert outcome(Session, *args, "x") == (
        "Session.__init__() takes 18 positional arguments but 19 were given"
    )
    assert outcome(Session, *args, provider_id="p") == (
        "Session.__init__() got multiple values for argument 'provider_id'"
    )


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_frozen_after_construction(cls: type[Record]) -> None:
    built = cls(*args_of(cls))
    for name in cls._fields:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(built, name, None)
        with pytest.raises(dataclasses.FrozenInstanceError):
            delattr(built, name)
    with pytest.raises((AttributeError, TypeError)):
        built.not_a_field = 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_equality_hash_and_pickling(cls: type[Record]) -> None:
    a, b, other = cls(*args_of(cls)), cls(*args_of(cls)), cls(*args_of(cls, salt=2))
    assert a == b and hash(a) == hash(b)
    assert a != other
    plain = twin(cls)
    assert (a == other) == (plain(*args_of(cls)) == plain(*args_of(cls, salt=2)))
    assert pickle.loads(pickle.dumps(a)) == a


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_replace_builds_through_init(cls: type[Record]) -> None:
    built = cls(*args_of(cls))
    last = cls._fields[-1]
    new_value = args_of(cls, salt=2)[-1]
    changed = dataclasses.replace(built, **{last: new_value})
    assert changed != built
    assert type(changed) is cls
    assert getattr(changed, last) == new_value
    assert [getattr(changed, n) for n in cls._fields[:-1]] == args_of(cls)[:-1]


def test_defaults_fill_missing_arguments() -> None:
    assert WithDefaults("x") == WithDefaults("x", 7, ("a", "b"), None)
    assert WithDefaults("x", flag=True).count == 7
    assert repr(WithDefaults("x")) == repr(twin(WithDefaults)("x"))
    assert WithDefaults.__init__.__defaults__ == (7, ("a", "b"), None)


def test_init_false_fields_start_at_their_default() -> None:
    tx = Tx(*args_of(Tx))
    assert tx._encoded is None and tx._hash is None
    built = WithDefaults("x")
    assert built._encoded is None
    unset = Unset(3)
    with pytest.raises(AttributeError):
        _ = unset.memo
    with pytest.raises(AttributeError):
        _ = twin(Unset)(3).memo


def test_replace_drops_kept_encodings_and_memos() -> None:
    tx = Tx(*args_of(Tx))
    data, digest = tx.encode(), tx_hash(SUITE, tx)
    assert tx._encoded == data == encode(tx.to_wire())
    assert tx._hash == (SUITE, digest)
    moved = dataclasses.replace(tx, nonce=tx.nonce + 1)
    assert moved._encoded is None and moved._hash is None
    assert moved.encode() == encode(moved.to_wire()) != data
    same = dataclasses.replace(tx)
    assert same == tx and same._encoded is None and same._hash is None
    with pytest.raises(ValueError, match="init=False"):
        dataclasses.replace(tx, _encoded=b"forged")

    built = WithDefaults("x")
    built.encode()
    assert built._encoded is not None
    assert dataclasses.replace(built, count=1)._encoded is None


def test_decoded_records_still_keep_their_bytes() -> None:
    tx = Tx(*args_of(Tx))
    data = tx.encode()
    decoded = Tx.decode(data)
    assert decoded == tx and decoded._encoded == data
    assert Session.from_wire(decode(encode(Session(*args_of(Session)).to_wire()))) == Session(
        *args_of(Session)
    )


def test_post_init_runs_on_construction_and_replace() -> None:
    built = Checked(1, 2)
    assert built._seen is True
    with pytest.raises(ValueError, match="low above high"):
        Checked(3, 2)
    with pytest.raises(ValueError, match="low above high"):
        dataclasses.replace(built, low=5)
    assert dataclasses.replace(built, high=9)._seen is True


def test_field_named_self() -> None:
    built = Selfish(1, "x")
    assert built.self == 1 and Selfish(other="x", self=1) == built


def test_subclassed_record_sets_inherited_slots() -> None:
    args = args_of(PublishPolicy)
    built = PublishPolicy(*args)
    assert [getattr(built, n) for n in PublishPolicy._fields] == args
    assert "__init__" in PublishPolicy.__dict__


def test_default_factory_record_keeps_working() -> None:
    assert Factory("x").items == ()
    assert Factory("x", (1, 2)) == Factory(name="x", items=(1, 2))
    assert dataclasses.replace(Factory("x"), items=(3,)).items == (3,)
    with pytest.raises(dataclasses.FrozenInstanceError):
        Factory("x").name = "y"  # type: ignore[misc]
