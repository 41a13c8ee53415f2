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


Checker = Callable[[Value, str], Any]


class Record:
    """Base of every wire record; subclasses are made with ``@record``."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    _checkers: ClassVar[tuple[Checker, ...]] = ()

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
    if type(value) is not list:
        raise DecodeError(f"{where}: expected a list of {len(cls._fields)} fields")
    if len(value) != len(cls._fields):
        raise DecodeError(f"{where}: expected {len(cls._fields)} fields, got {len(value)}")
    args = [
        check(item, f"{where}.{name}")
        for check, item, name in zip(cls._checkers, value, cls._fields, strict=True)
    ]
    built = cls(*args)
    built._check()
    return built


def _checker_for(annotation: Any) -> Checker:
    origin = typing.get_origin(annotation)
    if annotation is Bytes32:
        return _check_bytes32
    if annotation in (int, bytes, str, bool):
        return _simple_checker(annotation)
    if annotation is Any:
        return lambda value, where: value
    if origin is tuple:
        inner = _checker_for(typing.get_args(annotation)[0])

        def check_tuple(value: Value, where: str) -> tuple[Any, ...]:
            if type(value) is not list:
                raise DecodeError(f"{where}: expected a list")
            return tuple(inner(v, f"{where}[{i}]") for i, v in enumerate(value))

        return check_tuple
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        inner = _checker_for(args[0])
        return lambda value, where: None if value is None else inner(value, where)
    if isinstance(annotation, type) and issubclass(annotation, Record):
        return lambda value, where: _check_record(annotation, value, where)
    raise TypeError(f"unsupported record field type {annotation!r}")


def _simple_checker(kind: type) -> Checker:
    def check(value: Value, where: str) -> Any:
        if type(value) is not kind:
            raise DecodeError(f"{where}: expected {kind.__name__}, got {type(value).__name__}")
        if kind is int and value < 0:
            raise DecodeError(f"{where}: negative integer")
        return value

    return check


def _check_bytes32(value: Value, where: str) -> bytes:
    if type(value) is not bytes or len(value) != 32:
        raise DecodeError(f"{where}: expected 32 bytes")
    return value


def record(cls: type[T]) -> type[T]:
    """Make ``cls`` a frozen slotted dataclass with a strict wire form."""
    data_cls = dataclasses.dataclass(frozen=True, slots=True)(cls)
    hints = typing.get_type_hints(data_cls)
    fields = tuple(f.name for f in dataclasses.fields(data_cls))
    data_cls._fields = fields
    data_cls._checkers = tuple(_checker_for(hints[name]) for name in fields)
    return data_cls
