"""State views for the contracts: a read-only base and stacked write overlays.

The node hands the contracts an ``Overlay`` over its committed state (anything
with ``get(key) -> bytes | None``). A block runs in one overlay; each tx runs in
a ``child()`` that is merged into its parent only when the tx is accepted, so a
rejected tx leaves no trace. ``changes()`` yields the block's writes, sorted by
key, as canonical bytes (``None`` = delete) for the authenticated tree.

Values are canonical msgpack of ``chain.records`` records. For speed an overlay
keeps records as objects and encodes them once, in ``changes()``; records are
frozen, so sharing them between overlays is safe. There are no prefix scans:
the tree hashes keys, so every index the contracts need is itself a value.

Decoding is the other hot spot (a session reads its trainee's day log and
enrolment, which the previous block usually wrote). Three things keep it cheap:
records are rebuilt from msgpack's tuples without re-checking field types (the
state is ours, see ``_decode_record``); a tuple of flat records (a day log's
intervals) is rebuilt, and packed, in one pass; and records of the classes
passed to ``memoize_decoding`` are served by the exact bytes ``changes()``
encoded them to, without decoding at all (content-addressed, two bounded
generations; safe only because those records are built from exact types, which
``tests/contracts/test_state.py`` checks).
"""

from __future__ import annotations

import operator
import typing
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import msgpack

from chain.codec import encode
from chain.errors import InternalError
from chain.records import Record

__all__ = ["DictState", "Overlay", "StateReader", "memoize_decoding"]

R = TypeVar("R", bound=Record)
_MISSING = object()


class StateReader(Protocol):
    """Committed state as the contracts see it: a key-value lookup."""

    def get(self, key: bytes) -> bytes | None: ...


class DictState:
    """An in-memory ``StateReader`` (tests, benchmarks, scratch execution)."""

    __slots__ = ("data",)

    def __init__(self, data: dict[bytes, bytes] | None = None) -> None:
        self.data: dict[bytes, bytes] = dict(data or {})

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def apply(self, changes: dict[bytes, bytes | None]) -> None:
        """Commit a change set (as ``Overlay.changes`` returns it)."""
        for key, value in changes.items():
            if value is None:
                self.data.pop(key, None)
            else:
                self.data[key] = value


class Overlay:
    """Writes over a base view; ``child()`` nests, ``merge_into_parent()`` commits."""

    __slots__ = ("_base", "_cache", "_writes")

    def __init__(self, base: StateReader) -> None:
        self._base = base
        self._writes: dict[bytes, bytes | Record | None] = {}
        self._cache: dict[bytes, Record | None] = {}

    # -- raw bytes ------------------------------------------------------------
    def get(self, key: bytes) -> bytes | None:
        value = self._writes.get(key, _MISSING)
        if value is _MISSING:
            return self._base.get(key)
        if isinstance(value, Record):
            return value.encode()
        return value  # type: ignore[return-value]

    def set(self, key: bytes, value: bytes) -> None:
        if type(value) is not bytes:
            raise TypeError("Overlay.set takes bytes; use put() for records")
        self._writes[key] = value

    def delete(self, key: bytes) -> None:
        self._writes[key] = None

    # -- records ----------------------------------------------------------------
    def get_record(self, key: bytes, cls: type[R]) -> R | None:
        """The record at ``key`` decoded as ``cls``, or None when absent."""
        overlay = self
        value = overlay._writes.get(key, _MISSING)
        while value is _MISSING:  # down the stack of overlays (a tx's child, the block's)
            base = overlay._base
            if not isinstance(base, Overlay):
                cached = overlay._cache.get(key, _MISSING)
                if cached is not _MISSING:
                    return cached  # type: ignore[return-value]
                found = _decode_record(key, base.get(key), cls)
                overlay._cache[key] = found
                return found
            overlay = base
            value = overlay._writes.get(key, _MISSING)
        if value is None or isinstance(value, Record):
            return value  # type: ignore[return-value]
        return _decode_record(key, value, cls)  # type: ignore[arg-type]

    def put(self, key: bytes, value: Record) -> None:
        """Write a record (encoded lazily, in ``changes()``)."""
        self._writes[key] = value

    # -- nesting ----------------------------------------------------------------
    def child(self) -> Overlay:
        """A nested overlay whose writes reach this one only through ``merge_into_parent``."""
        return Overlay(self)

    def merge_into_parent(self) -> None:
        """Apply this overlay's writes to its parent overlay."""
        parent = self._base
        if not isinstance(parent, Overlay):
            raise InternalError("merge_into_parent on an overlay without a parent overlay")
        parent._writes.update(self._writes)
        self._writes = {}

    def changes(self) -> dict[bytes, bytes | None]:
        """Every write as canonical bytes (None = delete), in sorted key order."""
        out: dict[bytes, bytes | None] = {}
        memo = _MEMO
        for key in sorted(self._writes):
            value = self._writes[key]
            if isinstance(value, Record):
                encoded = out[key] = _encode_record(value)
                if type(value) in memo.classes:
                    memo.add(encoded, value)
            else:
                out[key] = value
        return out

    def digest_bytes(self) -> bytes:
        """Canonical bytes of ``changes()``: equal for equal change sets (determinism tests)."""
        return encode([[k, v] for k, v in self.changes().items()])


def _record_fields(value: object) -> tuple[object, ...]:
    """msgpack's hook for a record: its field values in order (packed as an array)."""
    cls = type(value)
    getter = _GETTERS.get(cls)
    if getter is None:
        if not (isinstance(value, Record) and value._fields):
            raise TypeError(f"{cls.__name__} is not canonical-encodable")
        getter = _GETTERS[cls] = _fields_getter(cls)
    return getter(value)  # type: ignore[no-any-return]


def _fields_getter(cls: type[Record]) -> Callable[[object], tuple[object, ...]]:
    """Field values in order; a field holding a tuple of flat records (day-log intervals)
    comes back as a tuple of their field tuples, so the packer needs no hook per element."""
    many = operator.attrgetter(*cls._fields)
    plain = many if len(cls._fields) > 1 else (lambda v: (many(v),))
    hints = typing.get_type_hints(cls)
    nested = []
    for index, name in enumerate(cls._fields):
        annotation = hints[name]
        if typing.get_origin(annotation) is tuple:
            element = typing.get_args(annotation)[0]
            if _is_flat_record(element) and len(element._fields) > 1:
                nested.append((index, operator.attrgetter(*element._fields)))
    if not nested:
        return plain  # type: ignore[return-value]

    def getter(value: object) -> tuple[object, ...]:
        fields = list(plain(value))
        for index, inner in nested:
            fields[index] = tuple([inner(item) for item in fields[index]])
        return tuple(fields)

    return getter


_GETTERS: dict[type, Callable[[object], tuple[object, ...]]] = {}
_PACK = msgpack.Packer(use_bin_type=True, default=_record_fields).pack


def _encode_record(value: Record) -> bytes:
    """``value.encode()`` in one pass of msgpack's C packer: records built by the
    contracts hold only ints, bytes, str, bool, None, tuples and records by construction
    (typed fields filled from decoded bodies and integer arithmetic); tuples and records
    pack as arrays, everything in its one shortest form. ``tests/contracts/test_state.py``
    pins the equality with the checked codec."""
    return _PACK(value)  # type: ignore[no-any-return]


def _decode_record(key: bytes, data: bytes | None, cls: type[R]) -> R | None:
    """Decode a value the contracts wrote themselves.

    State is written only by ``changes()`` and guarded below us by the storage's
    checksums and the state root, so this trusts the field types and only rebuilds the
    structure (tuples, nested records); a wrong shape still fails loudly as our fault.
    ``from_wire`` stays the strict path for anything that comes from a peer.
    """
    if data is None:
        return None
    known = _MEMO.get(data)
    if type(known) is cls:
        return known  # type: ignore[return-value]
    try:
        return _builder(cls)(msgpack.unpackb(data, raw=False, use_list=False))
    except (ValueError, TypeError, IndexError, msgpack.UnpackException) as exc:
        raise InternalError(f"state value at {key!r} is not a {cls.__name__}: {exc}") from exc


_BUILDERS: dict[type, Callable[[Any], Any]] = {}


class _DecodeMemo:
    """Records of the memoised classes by the exact bytes ``changes()`` encoded them to.

    Content-addressed, so it needs no invalidation: whatever version or candidate block
    the bytes come from, the record is the one they encode (and the class must match).
    Two generations of ``limit`` entries bound the memory (about 25 MB when full in
    ``bench.bench_contracts``); together they hold at least the last ``limit`` writes,
    so the whole previous block, which is what the next block reads, for blocks of up
    to ``limit`` / 2 sessions.
    """

    __slots__ = ("classes", "limit", "new", "old")

    def __init__(self, limit: int) -> None:
        self.classes: set[type] = set()
        self.limit = limit
        self.new: dict[bytes, Record] = {}
        self.old: dict[bytes, Record] = {}

    def add(self, encoded: bytes, value: Record) -> None:
        if len(self.new) >= self.limit:
            self.old, self.new = self.new, {}
        self.new[encoded] = value

    def get(self, data: bytes) -> Record | None:
        found = self.new.get(data)
        return found if found is not None else self.old.get(data)


_MEMO = _DecodeMemo(limit=20_000)


def memoize_decoding(*classes: type[Record]) -> None:
    """Serve reads of these records from the ones this process last wrote, undecoded.

    Only for classes the contracts build exclusively from exact types (values of
    strictly checked bodies and headers, integer arithmetic, tuples): then decoding
    the bytes would rebuild an equal record of the same types, so a node with a warm
    memo and one without execute alike. ``tests/contracts/test_state.py`` checks the
    round trip, types included, over a scenario. Worth it for records every session
    reads and rewrites (its day log and enrolment): their decode was a quarter of the
    contracts' time per session.
    """
    _MEMO.classes.update(classes)


def _builder(cls: type[R]) -> Callable[[Any], R]:
    """A function from the decoded array of a ``cls`` to the record (compiled once).

    Most records need no field rebuilt (``use_list=False`` already yields tuples), so
    their builder is one call; the others rebuild only the fields that hold records.
    """
    built = _BUILDERS.get(cls)
    if built is None:
        hints = typing.get_type_hints(cls)
        converters = [_converter(hints[name]) for name in cls._fields]
        arity = len(converters)
        rebuilt = tuple((i, c) for i, c in enumerate(converters) if c is not None)

        if not rebuilt:
            def built(value: Any) -> Any:
                if type(value) is not tuple or len(value) != arity:
                    raise TypeError(f"expected an array of {arity} fields")
                return cls(*value)
        else:
            def built(value: Any) -> Any:
                if type(value) is not tuple or len(value) != arity:
                    raise TypeError(f"expected an array of {arity} fields")
                fields = list(value)
                for index, convert in rebuilt:
                    fields[index] = convert(fields[index])
                return cls(*fields)

        _BUILDERS[cls] = built
    return built  # type: ignore[return-value]


def _converter(annotation: Any) -> Callable[[Any], Any] | None:
    """How to rebuild one field: None when the decoded value is already right."""
    if isinstance(annotation, type) and issubclass(annotation, Record):
        return _builder(annotation)
    if typing.get_origin(annotation) is tuple:
        element = typing.get_args(annotation)[0]
        inner = _converter(element)
        if inner is None:
            return None  # decoded with use_list=False: already a tuple
        if _is_flat_record(element):
            return _flat_records(element)
        return lambda items: tuple([inner(item) for item in items])
    return None


def _is_flat_record(annotation: Any) -> bool:
    """A record none of whose fields needs rebuilding (its decoded array is its fields)."""
    if not (isinstance(annotation, type) and issubclass(annotation, Record)):
        return False
    hints = typing.get_type_hints(annotation)
    return all(_converter(hints[name]) is None for name in annotation._fields)


def _flat_records(cls: type[Record]) -> Callable[[Any], Any]:
    """Rebuild a tuple of flat records (day-log intervals: the hot case) in one pass; a
    wrong arity still fails in the record's constructor, a non-array element below."""

    def rebuild(items: Any) -> tuple[Any, ...]:
        built = tuple([cls(*item) for item in items if type(item) is tuple])
        if len(built) != len(items):
            raise TypeError(f"expected arrays of {cls.__name__}")
        return built

    return rebuild
