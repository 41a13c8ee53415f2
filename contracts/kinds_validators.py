"""Body layouts of the validator-network kinds (documented in ``contracts.kinds``).

Apart from ``kinds`` only to keep modules small; the checks are the same shape.
"""

from __future__ import annotations

from chain.errors import DecodeError
from chain.genesis import host_problem
from chain.records import Record, record

__all__ = ["ProposeValidatorAdd", "RotateValidatorKey", "SetValidatorAddress"]


def _key(value: bytes, where: str) -> None:
    if not 16 <= len(value) <= 128:
        raise DecodeError(f"{where}: not a public key")


def _text(value: str, where: str, limit: int) -> None:
    if not 0 < len(value) <= limit:
        raise DecodeError(f"{where}: must have 1..{limit} characters")


def _host(value: str, where: str) -> None:
    """An address other validators dial, in one canonical spelling (so state has one)."""
    problem = host_problem(value)
    if problem is not None:
        raise DecodeError(f"{where}: {problem}")


def _port(value: int, where: str) -> None:
    if not 1 <= value <= 65535:
        raise DecodeError(f"{where}: must be 1..65535")


@record
class ProposeValidatorAdd(Record):
    public_key: bytes
    name: str
    region_code: str
    host: str
    p2p_port: int

    def _check(self) -> None:
        _key(self.public_key, "public_key")
        _text(self.name, "name", 200)
        _text(self.region_code, "region_code", 6)
        _host(self.host, "host")
        _port(self.p2p_port, "p2p_port")


@record
class RotateValidatorKey(Record):
    old_key: bytes
    new_key: bytes
    possession: bytes

    def _check(self) -> None:
        _key(self.old_key, "old_key")
        _key(self.new_key, "new_key")
        if self.old_key == self.new_key:
            raise DecodeError("new_key: must differ from old_key")
        if not 0 < len(self.possession) <= 128:
            raise DecodeError("possession: not a signature")


@record
class SetValidatorAddress(Record):
    host: str
    p2p_port: int

    def _check(self) -> None:
        _host(self.host, "host")
        _port(self.p2p_port, "p2p_port")
