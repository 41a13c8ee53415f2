"""Canonical msgpack: one value, one byte string, both ways.

Hashes and signatures are taken over encodings, so an encoding must mean
exactly one thing and a thing must have exactly one encoding. We allow only
the types that have a single natural msgpack form — ints, bytes, str, bool,
None and lists — and no maps (whose key order is a second encoding waiting to
happen) and no floats (money is fen, time is seconds).

msgpack-python already writes the shortest form of every int and length, so
encoding is canonical by construction. Decoding is where the danger lies: an
input may spell a small int in eight bytes, or carry trailing bytes. We decode
with hard size limits, walk the result to check types and depth, and then
re-encode: an input is accepted only when re-encoding gives back the very same
bytes. That one comparison rejects every non-canonical spelling at once.
"""

from __future__ import annotations

from typing import Any

import msgpack

from chain.errors import DecodeError

__all__ = ["MAX_DEPTH", "MAX_MESSAGE_BYTES", "Value", "decode", "encode", "is_nested_deeper"]

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Upper bound for any one encoded structure (a block of many txs included)."""

MAX_DEPTH = 16
"""Nesting deeper than this is never produced by skillchain; reject it early."""

_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1

Value = Any
"""A decoded value: int | bytes | str | bool | None | list[Value]."""

_LEAVES = frozenset({int, bytes, str, bool, type(None)})


def encode(value: Value) -> bytes:
    """Encode a value canonically; tuples encode as lists.

    Raises ``TypeError`` for anything outside the allowed types: that is a bug
    in the caller, not bad input.
    """
    _check_encodable(value, 0)
    return msgpack.packb(value, use_bin_type=True)


def _check_encodable(value: Value, depth: int) -> None:
    # Inline over list items (one call per list): state values and blocks are
    # encoded on every commit, so this guard must stay cheap.
    kind = type(value)
    if kind is not list and kind is not tuple:
        _check_encodable_leaf(value)
        return
    if depth > MAX_DEPTH:
        raise TypeError("value nested deeper than MAX_DEPTH")
    for item in value:
        kind = type(item)
        if kind is list or kind is tuple:
            _check_encodable(item, depth + 1)
        elif kind is int:
            if not _INT_MIN <= item <= _INT_MAX:
                raise TypeError(f"int out of range: {item}")
        elif kind not in _LEAVES:
            raise TypeError(f"type {kind.__name__} is not canonical-encodable")


def _check_encodable_leaf(value: Value) -> None:
    kind = type(value)
    if kind is int:
        if not _INT_MIN <= value <= _INT_MAX:
            raise TypeError(f"int out of range: {value}")
    elif kind not in _LEAVES:
        raise TypeError(f"type {kind.__name__} is not canonical-encodable")


def decode(data: bytes, max_bytes: int = MAX_MESSAGE_BYTES) -> Value:
    """Decode exactly one canonical value from ``data``, or raise ``DecodeError``."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError("expected bytes")
    if len(data) > max_bytes:
        raise DecodeError(f"message of {len(data)} bytes exceeds the limit of {max_bytes}")
    if len(data) == 0:
        raise DecodeError("empty message")
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=True,
            max_str_len=max_bytes,
            max_bin_len=max_bytes,
            max_array_len=max_bytes,
            max_map_len=0,
            max_ext_len=0,
        )
    except msgpack.ExtraData as exc:
        raise DecodeError("trailing bytes after the value") from exc
    except UnicodeDecodeError as exc:
        raise DecodeError("string is not valid UTF-8") from exc
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise DecodeError(f"not a msgpack value: {exc}") from exc
    _check_decoded(value, 0)
    if msgpack.packb(value, use_bin_type=True) != bytes(data):
        raise DecodeError("non-canonical encoding")
    return value


def _check_decoded(value: Value, depth: int) -> None:
    # One call per list, not per element: this walk runs over every block a
    # node receives, so leaves are checked inline.
    if type(value) is not list:
        if type(value) not in _LEAVES:
            raise DecodeError(f"type {type(value).__name__} is not allowed")
        return
    if depth > MAX_DEPTH:
        raise DecodeError(f"nesting deeper than {MAX_DEPTH}")
    for item in value:
        kind = type(item)
        if kind is list:
            _check_decoded(item, depth + 1)
        elif kind not in _LEAVES:
            raise DecodeError(f"type {kind.__name__} is not allowed")


def is_nested_deeper(value: Value, limit: int) -> bool:
    """True when lists inside ``value`` nest more than ``limit`` levels (a list is 1).

    For a value that will be wrapped in other structures before it is encoded:
    ``decode`` bounds a whole message, this bounds a part of it in advance.
    """
    level: list[Value] = [value] if type(value) is list else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        level = [item for items in level for item in items if type(item) is list]
    return False
