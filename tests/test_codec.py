"""The canonical codec: one value, one encoding, and only DecodeError for garbage."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.codec import MAX_DEPTH, decode, encode
from chain.errors import DecodeError
from tests.strategies import values


@given(values)
def test_round_trip_gives_same_value_and_bytes(value):
    data = encode(value)
    assert decode(data) == value
    assert encode(decode(data)) == data


@given(values)
def test_tuples_encode_like_lists(value):
    assert encode((value, value)) == encode([value, value])


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"\xcc\x01", "non-canonical"),  # 1 as uint8 instead of fixint
        (b"\xcd\x00\x01", "non-canonical"),  # 1 as uint16
        (b"\xd9\x01a", "non-canonical"),  # "a" as str8
        (b"\xc4\x01a\x00", "trailing"),  # bin plus a trailing byte
        (b"\x01\x02", "trailing"),
        (b"\xcb" + b"\x00" * 8, "float"),  # float64
        (b"\x81\x01\x02", "msgpack"),  # a map
        (b"\xd4\x01\x00", "msgpack"),  # an ext type
        (b"\xa1\xff", "UTF-8"),
        (b"", "empty"),
        (b"\x92\x01", "msgpack"),  # truncated array
    ],
)
def test_rejects_non_canonical_and_foreign_forms(data, reason):
    with pytest.raises(DecodeError) as err:
        decode(data)
    assert reason.lower() in str(err.value).lower() or isinstance(err.value, DecodeError)


def test_rejects_floats_inside_lists():
    with pytest.raises(DecodeError, match="float"):
        decode(msgpack.packb([1, 2.5]))


def test_rejects_deep_nesting():
    value: list = []
    for _ in range(MAX_DEPTH + 2):
        value = [value]
    with pytest.raises(DecodeError, match="deeper"):
        decode(msgpack.packb(value))


def test_size_limit_applies_before_parsing():
    with pytest.raises(DecodeError, match="exceeds"):
        decode(encode(b"x" * 100), max_bytes=50)


@pytest.mark.parametrize("bad", [1.5, {"a": 1}, object(), 2**64, -(2**63) - 1, {1, 2}])
def test_encode_refuses_non_canonical_types(bad):
    with pytest.raises(TypeError):
        encode([bad])


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_random_bytes_raise_only_decode_error(data):
    try:
        value = decode(data)
    except DecodeError:
        return
    assert encode(value) == data


@settings(max_examples=300)
@given(values, st.data())
def test_mutated_encodings_raise_only_decode_error(value, data):
    raw = bytearray(encode(value))
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] = data.draw(st.integers(0, 255))
    try:
        decoded = decode(bytes(raw))
    except DecodeError:
        return
    assert encode(decoded) == bytes(raw)
