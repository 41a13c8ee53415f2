"""Frozen value types that know their one canonical wire form.

A record is a frozen, slotted dataclass whose fields encode as a msgpack array
in declaration order. ``from_wire`` is strict: wrong arity, a wrong type in
any field, or a byte string of the wrong length is a ``DecodeError`` — a
peer's fault, never an exception from deep inside our code.

Field types are read from the annotations once, when the class is decorated,
and compiled into small checker functions, so decoding costs a few function
calls per field rather than any reflection.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from chain.codec import Value, decode, encode
from chain.errors import DecodeError

__all__ = ["Bytes32", "Record", "record"]

T = TypeVar("T", bound="Record")


class Bytes32(bytes):
    """Annotation marker: a field that must be exactly 32 bytes (a digest)."""


Checker = Callable[[Value], Any]


class Record:
    """Base of every wire record; subclasses are made with ``@record``."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    _checkers: ClassVar[tuple[Checker, ...]] = ()
    _has_check: ClassVar[bool] = False

    def to_wire(self) -> list[Value]:
        """The record as nested lists, ready for ``encode``."""
        return [_to_wire(getattr(self, name)) for name in self._fields]

    def encode(self) -> bytes:
        """Canonical bytes of the record."""
        return encode(self.to_wire())

    @classmethod
    def from_wire(cls: type[T], value: Value) -> T:
        """Build from decoded lists; raises ``DecodeError`` on any mismatch."""
        return _check_record(cls, value, cls.__name__)

    def _check(self) -> None:
        """Extra invariants of a decoded record; raise ``DecodeError`` to refuse it."""

    @classmethod
    def decode(cls: type[T], data: bytes) -> T:
        """Strictly decode canonical bytes into this record."""
        return cls.from_wire(decode(data))


def _to_wire(value: Any) -> Value:
    if isinstance(value, Record):
        return value.to_wire()
    if isinstance(value, tuple):
        return [_to_wire(v) for v in value]
    return value


def _check_record(cls: type[T], value: Value, where: str) -> T:
    # Fast path: checkers raise bare DecodeErrors; only when one does do we
    # walk the fields again to name the one at fault (error text is built
    # lazily because decoding is on every node's hot path).
    if type(value) is not list or len(value) != len(cls._fields):
        got = f"{len(value)}" if type(value) is list else type(value).__name__
        raise DecodeError(f"{where}: expected {len(cls._fields)} fields, got {got}")
    try:
        built = cls(*[check(item) for check, item in zip(cls._checkers, value)])  # noqa: B905
    except DecodeError:
        raise _locate(cls, value, where) from None
    if cls._has_check:
        built._check()
    return built


def _locate(cls: type[Record], value: list[Value], where: str) -> DecodeError:
    """The error of the first bad field, named by its path (slow path only)."""
    for check, item, name in zip(cls._checkers, value, cls._fields, strict=True):
        try:
            check(item)
        except DecodeError as exc:
            return _nested(exc, f"{where}.{name}", item)
    return DecodeError(f"{where}: invalid")


def _nested(exc: DecodeError, where: str, item: Value) -> DecodeError:
    locate = getattr(exc, "locate", None)
    if locate is not None:
        return locate(item, where)
    return DecodeError(f"{where}: {exc.message}")


class _RecordError(DecodeError):
    """A nested record's failure; re-located with the full path by ``_nested``."""

    def __init__(self, cls: type[Record]) -> None:
        super().__init__(f"invalid {cls.__name__}")
        self.locate = lambda item, where: _check_or_locate(cls, item, where)


def _check_or_locate(cls: type[Record], item: Value, where: str) -> DecodeError:
    try:
        _check_record(cls, item, where)
    except DecodeError as exc:
        return exc
    return DecodeError(f"{where}: invalid")


class _TupleError(DecodeError):
    def __init__(self, inner: Checker) -> None:
        super().__init__("invalid list")

        def locate(item: Value, where: str) -> DecodeError:
            if type(item) is not list:
                return DecodeError(f"{where}: expected a list")
            for i, element in enumerate(item):
                try:
                    inner(element)
                except DecodeError as exc:
                    return _nested(exc, f"{where}[{i}]", element)
            return DecodeError(f"{where}: invalid")

        self.locate = locate


def _checker_for(annotation: Any) -> Checker:
    origin = typing.get_origin(annotation)
    if annotation is Bytes32:
        return _check_bytes32
    if annotation in _SIMPLE:
        return _SIMPLE[annotation]
    if annotation is Any:
        return _identity
    if origin is tuple:
        return _tuple_checker(_checker_for(typing.get_args(annotation)[0]))
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        inner = _checker_for(args[0])
        return lambda value: None if value is None else inner(value)
    if isinstance(annotation, type) and issubclass(annotation, Record):
        return _record_checker(annotation)
    raise TypeError(f"unsupported record field type {annotation!r}")


def _identity(value: Value) -> Value:
    return value


def _tuple_checker(inner: Checker) -> Checker:
    def check_tuple(value: Value) -> tuple[Any, ...]:
        if type(value) is not list:
            raise _TupleError(inner)
        try:
            return tuple([inner(v) for v in value])
        except DecodeError:
            raise _TupleError(inner) from None

    return check_tuple


def _record_checker(cls: type[Record]) -> Checker:
    def check_nested(value: Value) -> Record:
        try:
            return _check_record(cls, value, cls.__name__)
        except DecodeError:
            raise _RecordError(cls) from None

    return check_nested


def _check_int(value: Value) -> int:
    if type(value) is not int:
        raise DecodeError(f"expected int, got {type(value).__name__}")
    if value < 0:
        raise DecodeError("negative integer")
    return value


def _type_checker(kind: type) -> Checker:
    def check(value: Value) -> Any:
        if type(value) is not kind:
            raise DecodeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return check


_SIMPLE: dict[type, Checker] = {
    int: _check_int,
    bytes: _type_checker(bytes),
    str: _type_checker(str),
    bool: _type_checker(bool),
}


def _check_bytes32(value: Value) -> bytes:
    if type(value) is not bytes or len(value) != 32:
        raise DecodeError("expected 32 bytes")
    return value


def record(cls: type[T]) -> type[T]:
    """Make ``cls`` a frozen slotted dataclass with a strict wire form."""
    data_cls = dataclasses.dataclass(frozen=True, slots=True)(cls)
    hints = typing.get_type_hints(data_cls)
    fields = tuple(f.name for f in dataclasses.fields(data_cls))
    data_cls._fields = fields
    data_cls._checkers = tuple(_checker_for(hints[name]) for name in fields)
    data_cls._has_check = data_cls._check is not Record._check
    return data_cls
