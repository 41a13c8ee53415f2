"""Frozen value types that know their one canonical wire form.

A record is a frozen, slotted dataclass whose fields encode as a msgpack array
in declaration order. ``from_wire`` is strict: wrong arity, a wrong type in
any field, or a byte string of the wrong length is a ``DecodeError`` — a
peer's fault, never an exception from deep inside our code.

Field types are read from the annotations once, when the class is decorated,
and compiled twice. A generated decoder per class (``_compile_decoder``) is
the fast path: straight-line code that checks each simple field inline, calls
the nested classes' decoders, and fills the slots directly; it only answers
"fits" or "does not fit". Small checker functions per field are the slow path
that ``from_wire`` falls back to when the decoder refuses a value: they find
the field at fault and name it by its path (``RecordSessions.sessions[3].
captures[0].time: expected int, got str``), so a refusal reads the same
whichever path saw it first.

Kept encodings
--------------
A tx is ~40 KB of msgpack and a node needs its bytes many times: to hash it,
to check its signature, and inside every block, journal record and message
that carries it. Re-encoding means a Python walk over the whole body each
time, so a record class may declare a ``_encoded`` field (``kept_encoding()``,
not a wire field): the record's canonical bytes, set when it was decoded from
them (``chain.codec.decode`` accepts only bytes equal to the re-encoding) or
the first time it is encoded. A record that holds such records encodes by
splicing their kept bytes into its own array (msgpack writes a list as its
header followed by its items' encodings), so ``encode`` returns exactly the
bytes of the generic ``encode(to_wire())``. ``dataclasses.replace`` and the
constructor never copy a kept encoding (the field is ``init=False``), so a
record whose fields and kept bytes disagree cannot be built.

One difference from the generic path, by design: a spliced encoding does not
re-check the nesting depth of a kept record inside its container, so a record
too deep for ``chain.codec.MAX_DEPTH`` encodes instead of raising
``TypeError``; every decoder still refuses it.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import msgpack

from chain.codec import Value, decode, encode
from chain.errors import DecodeError

__all__ = [
    "Bytes32",
    "Record",
    "array_header",
    "keep_encodings",
    "kept_encoding",
    "record",
]

T = TypeVar("T", bound="Record")


class Bytes32(bytes):
    """Annotation marker: a field that must be exactly 32 bytes (a digest)."""


Checker = Callable[[Value], Any]

_PLAIN, _NESTED, _NESTED_TUPLE = 0, 1, 2
"""How a field encodes: generically, or by splicing a record (or a tuple of them)."""


def kept_encoding() -> Any:
    """Declare a record's ``_encoded`` slot: its canonical bytes, never a wire field."""
    return dataclasses.field(default=None, init=False, repr=False, compare=False)


class Record:
    """Base of every wire record; subclasses are made with ``@record``."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    _checkers: ClassVar[tuple[Checker, ...]] = ()
    _has_check: ClassVar[bool] = False
    _keeps_encoding: ClassVar[bool] = False
    """The class has an ``_encoded`` slot holding its canonical bytes."""
    _splices: ClassVar[bool] = False
    """The class keeps its encoding or holds (through fields) records that do."""
    _splices_fields: ClassVar[bool] = False
    """Some field holds records that splice (so ``encode`` assembles parts)."""
    _field_kinds: ClassVar[tuple[int, ...]] = ()

    def to_wire(self) -> list[Value]:
        """The record as nested lists, ready for ``encode``."""
        return [_to_wire(getattr(self, name)) for name in self._fields]

    def encode(self) -> bytes:
        """Canonical bytes of the record (kept ones spliced in; see the module docstring)."""
        if not self._splices:
            return encode(self.to_wire())
        if self._keeps_encoding:
            kept: bytes | None = self._encoded  # type: ignore[attr-defined]
            if kept is None:
                kept = self.encode_fields(len(self._fields))
                object.__setattr__(self, "_encoded", kept)
            return kept
        return self.encode_fields(len(self._fields))

    def encode_fields(self, count: int) -> bytes:
        """Canonical bytes of the list of the first ``count`` fields (for signed payloads)."""
        if not self._splices_fields:
            return encode(self.to_wire()[:count])
        return _encode_fields(self, count)

    @classmethod
    def from_wire(cls: type[T], value: Value) -> T:
        """Build from decoded lists; raises ``DecodeError`` on any mismatch."""
        fast = _DECODERS.get(cls)
        if fast is not None:
            try:
                return fast(value)  # type: ignore[no-any-return]
            except (_Mismatch, DecodeError):
                pass  # the checkers below find the field at fault and name it
        return _check_record(cls, value, cls.__name__)

    def _check(self) -> None:
        """Extra invariants of a decoded record; raise ``DecodeError`` to refuse it."""

    @classmethod
    def decode(cls: type[T], data: bytes) -> T:
        """Strictly decode canonical bytes into this record."""
        built = cls.from_wire(decode(data))
        if cls._splices:
            keep_encodings(built, data)
        return built


def array_header(count: int) -> bytes:
    """The msgpack header of a list of ``count`` items (what ``encode`` writes)."""
    if count < 16:
        return bytes((0x90 | count,))
    if count < 0x10000:
        return b"\xdc" + count.to_bytes(2, "big")
    return b"\xdd" + count.to_bytes(4, "big")


def _encode_fields(rec: Record, count: int) -> bytes:
    """``encode(rec.to_wire()[:count])``, with kept encodings spliced in."""
    parts = [array_header(count)]
    for name, kind in zip(rec._fields[:count], rec._field_kinds, strict=False):
        value = getattr(rec, name)
        if kind == _PLAIN or value is None:
            parts.append(encode(_to_wire(value)))
        elif kind == _NESTED:
            parts.append(value.encode())
        else:
            parts.append(array_header(len(value)))
            parts.extend([item.encode() for item in value])
    return b"".join(parts)


def keep_encodings(rec: Record, data: bytes, index: int | None = None) -> None:
    """Give every kept-encoding record inside ``rec`` its slice of ``data``.

    ``data`` is the canonical encoding ``rec`` was just decoded from, or, with
    ``index``, of a list whose item ``index`` ``rec`` was decoded from (a
    ``[kind, body]`` message). The walk follows the record's own structure and
    skips everything else in C, so it costs a few calls per kept record.
    """
    if type(data) is not bytes:
        data = bytes(data)
    if index is None and rec._keeps_encoding:
        object.__setattr__(rec, "_encoded", data)
        return
    unpacker = msgpack.Unpacker(max_buffer_size=max(len(data), 1))
    unpacker.feed(data)
    if index is not None:
        unpacker.read_array_header()
        for _ in range(index):
            unpacker.skip()
    _keep(rec, data, unpacker)


def _keep(rec: Record, data: bytes, unpacker: msgpack.Unpacker) -> None:
    if rec._keeps_encoding:
        start = unpacker.tell()
        unpacker.skip()
        object.__setattr__(rec, "_encoded", data[start : unpacker.tell()])
        return
    unpacker.read_array_header()
    for name, kind in zip(rec._fields, rec._field_kinds, strict=True):
        value = getattr(rec, name)
        if kind == _PLAIN or value is None:
            unpacker.skip()
        elif kind == _NESTED:
            _keep(value, data, unpacker)
        else:
            unpacker.read_array_header()
            for item in value:
                _keep(item, data, unpacker)


def _to_wire(value: Any) -> Value:
    if isinstance(value, Record):
        return value.to_wire()
    if isinstance(value, tuple):
        return [_to_wire(v) for v in value]
    return value


class _Mismatch(Exception):  # noqa: N818 -- a signal, never seen outside this module
    """A generated decoder's refusal; ``from_wire`` then asks the checkers why."""


_DECODERS: dict[type[Record], Callable[[Value], Any]] = {}
"""The generated decoder of each ``@record`` class (not of undecorated subclasses)."""


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


def _field_kind(annotation: Any) -> int:
    """Whether a field of this type splices kept encodings (mirrors ``_checker_for``)."""
    origin = typing.get_origin(annotation)
    if origin is tuple:  # of records only: a None item would not splice
        inner = typing.get_args(annotation)[0]
        is_record = isinstance(inner, type) and issubclass(inner, Record)
        return _NESTED_TUPLE if is_record and inner._splices else _PLAIN
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _field_kind(args[0])
    if isinstance(annotation, type) and issubclass(annotation, Record) and annotation._splices:
        return _NESTED
    return _PLAIN


def _slot_init(cls: type) -> Callable[..., None] | None:
    """A faster ``__init__`` for the frozen slotted dataclass ``cls``, or None.

    Every record is built through ``__init__`` (each session and capture of a
    parsed tx body, each state record a contract reads), and the dataclass one
    of a frozen class stores each field with ``object.__setattr__``, which
    looks the name up in the type on every call. This one, generated once per
    class like the dataclass one, calls each slot's member-descriptor
    ``__set__``, bound in advance: building the 17-field ``Session`` took
    1.55 us and takes 0.80 us (CPython 3.11, CPU time); parsing a 100-session
    ``learning.record_sessions`` body (201 records) went from ~390 to ~320 us.
    Frozen assignment still raises (``__setattr__`` is untouched), and
    parameters, defaults, ``init=False`` defaults, ``__post_init__`` and the
    ``TypeError`` of a wrong call are the dataclass ones. None (keep the
    dataclass ``__init__``) for what this does not mirror: ``InitVar``,
    ``kw_only`` or ``default_factory`` fields.
    """
    fields = dataclasses.fields(cls)
    if not _plain_init(cls, fields):
        return None
    self_name = "__record_self__" if any(f.name == "self" for f in fields) else "self"
    namespace: dict[str, Any] = {}
    params, body = [self_name], []
    for f in fields:
        setter, default = f"__set_{f.name}", f"__default_{f.name}"
        namespace[setter] = getattr(cls, f.name).__set__
        has_default = f.default is not dataclasses.MISSING
        if has_default:
            namespace[default] = f.default
        if f.init:
            params.append(f"{f.name}={default}" if has_default else f.name)
            body.append(f"    {setter}({self_name}, {f.name})")
        elif has_default:  # init=False; with no default the slot stays unset, as in dataclasses
            body.append(f"    {setter}({self_name}, {default})")
    if hasattr(cls, "__post_init__"):
        body.append(f"    {self_name}.__post_init__()")
    body.append("    return None")
    exec(f"def __init__({', '.join(params)}):\n" + "\n".join(body), namespace)
    init: Callable[..., None] = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__annotations__ = dict(cls.__init__.__annotations__)
    return init


def _plain_init(cls: type, fields: tuple[dataclasses.Field[Any], ...]) -> bool:
    """The dataclass ``__init__`` takes exactly the init fields, each a plain parameter,
    and every field is a slot with no ``default_factory``."""
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    plain = inspect.Parameter.POSITIONAL_OR_KEYWORD
    return (
        [p.name for p in parameters] == [f.name for f in fields if f.init]
        and all(p.kind is plain for p in parameters)
        and all(
            f.default_factory is dataclasses.MISSING
            and type(getattr(cls, f.name, None)) is types.MemberDescriptorType
            for f in fields
        )
    )


def _compile_decoder(
    cls: type[Record], hints: dict[str, Any], slotted: bool
) -> Callable[[Value], Any]:
    """Generate the fast ``from_wire`` of ``cls``: the result, or ``_Mismatch``/``DecodeError``.

    Straight-line code: check the arity, unpack, check each simple field
    inline (``int`` >= 0 and never ``bool``, ``bytes``, ``Bytes32``, ``str``,
    ``bool``, ``Any``, and unions or tuples of those), call the nested classes'
    decoders, then fill the slots as the generated ``__init__`` does (when
    ``slotted``: ``_slot_init`` made one; else call the class) and run
    ``_check``. Any other field type calls its slow-path checker. It must
    refuse exactly what ``_check_record`` refuses; which field is wrong, and
    the message, are left to ``_check_record`` (``from_wire``). Parsing a
    100-session ``learning.record_sessions`` body (701 records) went from ~750
    to ~345 us (CPython 3.11, CPU time); what is left is mostly allocating the
    records and setting their slots (~0.18 us for a 3-field ``Capture``).
    """
    namespace: dict[str, Any] = {"_Mismatch": _Mismatch, "_cls": cls}
    count = len(cls._fields)
    names = [f"v{i}" for i in range(count)]
    body = [f"if type(value) is not list or len(value) != {count}:", "    raise _Mismatch"]
    if count:
        body.append(f"{', '.join(names)}, = value")
    for i, (name, var) in enumerate(zip(cls._fields, names, strict=True)):
        body.extend(_decode_lines(hints[name], var, f"{i}", cls._checkers[i], namespace))
    body.extend(_build_lines(cls, names, namespace, slotted))
    source = "def _decode_wire(value):\n    " + "\n    ".join(body)
    exec(source, namespace)
    decoder: Callable[[Value], Any] = namespace["_decode_wire"]
    decoder.__qualname__ = f"{cls.__qualname__}._decode_wire"
    decoder.__module__ = cls.__module__
    return decoder


def _decode_lines(
    annotation: Any, var: str, key: str, check: Checker, ns: dict[str, Any]
) -> list[str]:
    """Lines that check ``var`` against ``annotation`` (rebinding it to what it decodes to)."""
    test = _inline_test(annotation, var)
    if test is not None:
        return [f"if {test}: raise _Mismatch"] if test else []
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):  # as ``_checker_for``: None, or the first
        inner = _union_first(annotation)
        if inner in _DECODERS:
            ns[f"_dec{key}"] = _DECODERS[inner]
            return [f"if {var} is not None: {var} = _dec{key}({var})"]
    elif origin is tuple:  # as ``_checker_for``: every item of the first argument's type
        inner = typing.get_args(annotation)[0]
        if inner in _DECODERS:
            ns[f"_dec{key}"] = _DECODERS[inner]
            return [
                f"if type({var}) is not list: raise _Mismatch",
                f"{var} = tuple([_dec{key}(x) for x in {var}])",
            ]
        item_test = _inline_test(inner, "x")
        if item_test is not None:
            lines = [f"if type({var}) is not list: raise _Mismatch"]
            if item_test:
                lines += [f"for x in {var}:", f"    if {item_test}: raise _Mismatch"]
            return [*lines, f"{var} = tuple({var})"]
    elif annotation in _DECODERS:
        ns[f"_dec{key}"] = _DECODERS[annotation]
        return [f"{var} = _dec{key}({var})"]
    ns[f"_chk{key}"] = check  # anything rarer: the slow-path checker, raising DecodeError
    return [f"{var} = _chk{key}({var})"]


def _inline_test(annotation: Any, var: str) -> str | None:
    """A condition true when ``var`` does not fit a type that decodes to itself
    ("" for ``Any``), or None when the type builds something (records, tuples)."""
    if annotation is Bytes32:
        return f"type({var}) is not bytes or len({var}) != 32"
    if annotation is int:  # ``type() is``, so a bool is not an int
        return f"type({var}) is not int or {var} < 0"
    if annotation in (bytes, str, bool):
        return f"type({var}) is not {annotation.__name__}"
    if annotation is Any:
        return ""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        test = _inline_test(_union_first(annotation), var)
        return f"{var} is not None and ({test})" if test else test
    return None


def _union_first(annotation: Any) -> Any:
    return [a for a in typing.get_args(annotation) if a is not type(None)][0]


def _build_lines(
    cls: type[Record], names: list[str], ns: dict[str, Any], slotted: bool
) -> list[str]:
    """Lines that build the instance from the decoded ``names`` and return it."""
    fields = dataclasses.fields(cls)
    if not slotted or hasattr(cls, "__post_init__") or cls.__new__ is not object.__new__:
        lines = [f"r = _cls({', '.join(names)})"]
    else:  # what the generated ``__init__`` does, without the call and its arguments
        ns["_new"] = object.__new__
        lines, values = ["r = _new(_cls)"], iter(names)
        for f in fields:
            ns[f"_set_{f.name}"] = getattr(cls, f.name).__set__
            if f.init:
                lines.append(f"_set_{f.name}(r, {next(values)})")
            elif f.default is not dataclasses.MISSING:
                ns[f"_default_{f.name}"] = f.default
                lines.append(f"_set_{f.name}(r, _default_{f.name})")
    if cls._has_check:
        ns["_check"] = cls._check
        lines.append("_check(r)")
    return [*lines, "return r"]


def record(cls: type[T]) -> type[T]:
    """Make ``cls`` a frozen slotted dataclass with a strict wire form.

    Fields declared ``init=False`` (such as ``kept_encoding()``) are slots, not
    wire fields. ``__init__`` is replaced by a faster equivalent (``_slot_init``).
    """
    data_cls = dataclasses.dataclass(frozen=True, slots=True)(cls)
    init = _slot_init(data_cls)
    if init is not None:
        data_cls.__init__ = init  # type: ignore[misc]
    hints = typing.get_type_hints(data_cls)
    all_fields = dataclasses.fields(data_cls)
    fields = tuple(f.name for f in all_fields if f.init)
    data_cls._fields = fields
    data_cls._checkers = tuple(_checker_for(hints[name]) for name in fields)
    data_cls._has_check = data_cls._check is not Record._check
    data_cls._keeps_encoding = any(f.name == "_encoded" and not f.init for f in all_fields)
    data_cls._field_kinds = tuple(_field_kind(hints[name]) for name in fields)
    data_cls._splices_fields = any(kind != _PLAIN for kind in data_cls._field_kinds)
    data_cls._splices = data_cls._keeps_encoding or data_cls._splices_fields
    _DECODERS[data_cls] = _compile_decoder(data_cls, hints, slotted=init is not None)
    return data_cls
