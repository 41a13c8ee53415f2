"""The consensus write-ahead log: CRC-framed records in one append-only file.

What a validator signs must be on disk before it leaves the process, or a
crash could make it sign a different block for the same (height, view). The
log is replica-agnostic: it stores opaque byte records (the consensus
journal encodes them; an end-of-height marker is just one more record).

Frame layout (big-endian)::

    length u32 | crc32(length bytes) u32 | crc32(payload) u32 | payload

Replay, documented because recovery depends on it:

* Records come back in append order.
* A torn tail — the last frame cut short by a crash, or a tail of zeros
  left by a file system that extended the file before the data landed — is
  truncated away: that record was never synced, so nobody saw it sent.
* Any other damage (a bad header or payload CRC with valid data after it) is
  a ``CorruptStoreError`` naming the file and offset: a log that lies about
  what we signed must stop the node, never be guessed around.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

from chain.errors import CorruptStoreError, StorageError

__all__ = ["MAX_RECORD_BYTES", "WriteAheadLog"]

_HEADER = struct.Struct(">III")
MAX_RECORD_BYTES = 64 * 1024 * 1024
"""No journal record comes near this; a larger length is damage, not data."""


def _frame(record: bytes) -> bytes:
    length = struct.pack(">I", len(record))
    return length + struct.pack(">II", zlib.crc32(length), zlib.crc32(record)) + record


class WriteAheadLog:
    """An append-only, fsync'd log of byte records in the file at ``path``.

    Opening scans the file once and cuts a torn tail, so appends always
    follow a valid frame.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            raise StorageError(f"{self.path}: cannot open write-ahead log: {exc}") from None
        self._records = self._scan()

    def replay(self) -> list[bytes]:
        """Every record in append order (the torn tail, if any, already cut)."""
        self._records = self._scan()
        return list(self._records)

    def append(self, record: bytes, sync: bool = True) -> None:
        """Append one record; with ``sync`` it is durable when this returns."""
        if len(record) > MAX_RECORD_BYTES:
            raise StorageError(f"{self.path}: record of {len(record)} bytes is too large")
        data = _frame(record)
        written = os.write(self._fd, data)
        if written != len(data):
            raise StorageError(f"{self.path}: short write ({written} of {len(data)} bytes)")
        if sync:
            self.sync()

    def sync(self) -> None:
        """Make every appended record durable."""
        os.fsync(self._fd)

    def reset(self, keep: list[bytes]) -> None:
        """Atomically replace the log with ``keep`` (pruning heights already decided)."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as out:
            out.write(b"".join(_frame(r) for r in keep))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
        self._sync_dir()
        self._records = list(keep)

    def size_bytes(self) -> int:
        """Bytes in the log file now (the driver prunes when it grows too large)."""
        return os.fstat(self._fd).st_size

    def close(self) -> None:
        os.close(self._fd)

    def _sync_dir(self) -> None:
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def _scan(self) -> list[bytes]:
        """Read every frame; cut a torn tail; raise on damage in the middle."""
        data = self.path.read_bytes()
        records: list[bytes] = []
        offset = 0
        while offset < len(data):
            end = self._frame_end(data, offset)
            if end is None:
                self._truncate(offset)
                break
            records.append(data[offset + _HEADER.size : end])
            offset = end
        return records

    def _frame_end(self, data: bytes, offset: int) -> int | None:
        """End offset of the valid frame at ``offset``; None for a torn tail."""
        rest = len(data) - offset
        if rest < _HEADER.size:
            return None
        length, length_crc, payload_crc = _HEADER.unpack_from(data, offset)
        if zlib.crc32(data[offset : offset + 4]) != length_crc or length > MAX_RECORD_BYTES:
            if not any(data[offset:]):
                return None
            self._corrupt(offset, "frame header fails its CRC")
        end = offset + _HEADER.size + length
        if end > len(data):
            return None
        if zlib.crc32(data[offset + _HEADER.size : end]) != payload_crc:
            if end == len(data):
                return None
            self._corrupt(offset, "record fails its CRC")
        return end

    def _corrupt(self, offset: int, why: str) -> None:
        raise CorruptStoreError(f"{self.path}: write-ahead log record at byte {offset}: {why}")

    def _truncate(self, offset: int) -> None:
        os.ftruncate(self._fd, offset)
        os.fsync(self._fd)
