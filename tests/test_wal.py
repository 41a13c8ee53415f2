"""The consensus write-ahead log: order, durability, torn tails, corruption."""

from __future__ import annotations

import os
import random

import pytest

from chain.errors import CorruptStoreError
from storage.wal import WriteAheadLog


def _records(count: int) -> list[bytes]:
    rng = random.Random(count)
    return [bytes([i % 256]) * rng.randint(0, 300) + i.to_bytes(4, "big") for i in range(count)]


def test_replay_returns_records_in_append_order(tmp_path):
    path = tmp_path / "wal"
    wal = WriteAheadLog(path)
    records = _records(50)
    for i, record in enumerate(records):
        wal.append(record, sync=i % 7 == 0)
    wal.sync()
    wal.close()
    assert WriteAheadLog(path).replay() == records


def test_empty_log_replays_to_nothing(tmp_path):
    assert WriteAheadLog(tmp_path / "wal").replay() == []


def test_empty_record_is_a_record(tmp_path):
    wal = WriteAheadLog(tmp_path / "wal")
    wal.append(b"")
    wal.append(b"x")
    assert wal.replay() == [b"", b"x"]


@pytest.mark.parametrize("cut", [1, 5, 11, 12, 13, 40])
def test_torn_tail_is_truncated_and_appends_continue(tmp_path, cut):
    path = tmp_path / "wal"
    wal = WriteAheadLog(path)
    records = _records(5)
    for record in records:
        wal.append(record)
    wal.append(b"L" * 100)
    wal.close()
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size - cut)
    reopened = WriteAheadLog(path)
    assert reopened.replay() == records
    reopened.append(b"after")
    assert WriteAheadLog(path).replay() == [*records, b"after"]


def test_zero_filled_tail_is_a_torn_tail(tmp_path):
    path = tmp_path / "wal"
    wal = WriteAheadLog(path)
    wal.append(b"one")
    wal.close()
    with open(path, "ab") as f:
        f.write(bytes(4096))
    assert WriteAheadLog(path).replay() == [b"one"]


def test_flipped_byte_in_last_record_payload_is_a_torn_tail(tmp_path):
    path = tmp_path / "wal"
    wal = WriteAheadLog(path)
    wal.append(b"first")
    wal.append(b"second")
    wal.close()
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    assert WriteAheadLog(path).replay() == [b"first"]


@pytest.mark.parametrize("where", ["payload", "length", "crc"])
def test_flipped_byte_in_the_middle_is_corruption_naming_the_file(tmp_path, where):
    path = tmp_path / "wal"
    wal = WriteAheadLog(path)
    for record in (b"a" * 20, b"b" * 20, b"c" * 20):
        wal.append(record)
    wal.close()
    data = bytearray(path.read_bytes())
    frame = 12 + 20
    offset = {"payload": frame + 12 + 3, "length": frame + 2, "crc": frame + 9}[where]
    data[offset] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptStoreError) as info:
        WriteAheadLog(path)
    assert str(path) in str(info.value)
    assert f"byte {frame}" in str(info.value)


def test_reset_keeps_only_the_given_records(tmp_path):
    path = tmp_path / "wal"
    wal = WriteAheadLog(path)
    for record in _records(10):
        wal.append(record)
    wal.reset([b"keep-1", b"keep-2"])
    wal.append(b"new")
    assert WriteAheadLog(path).replay() == [b"keep-1", b"keep-2", b"new"]
    assert not os.path.exists(str(path) + ".tmp")


def test_every_truncation_point_replays_a_prefix(tmp_path):
    """Whatever a crash leaves, replay yields a prefix of what was appended."""
    path = tmp_path / "wal"
    wal = WriteAheadLog(path)
    records = _records(6)
    for record in records:
        wal.append(record, sync=False)
    wal.close()
    full = path.read_bytes()
    for size in range(len(full) + 1):
        path.write_bytes(full[:size])
        got = WriteAheadLog(path).replay()
        assert got == records[: len(got)]
