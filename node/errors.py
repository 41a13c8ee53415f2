"""Errors the node shell raises on purpose, beyond ``chain.errors``::

    SkillchainError (chain.errors)
    ├── InputError
    │   └── ConfigError           config.json is unreadable or breaks a rule (node.config)
    └── StartupError              this machine cannot run the node as configured
        ├── PortInUseError        a port we must listen on is taken
        ├── AddressUnavailable    the host to listen on is not an address of this machine
        ├── PortForbiddenError    no permission to listen there (a port below 1024)
        └── LogFileError          the log file cannot be opened for appending

A start-up error is the operator's to fix, not a peer's and not a bug, so it
is never a traceback: the CLI prints ``error[<code>]: <what happened>; <what
to do>`` and exits non-zero (``cli.main.friendly_errors``). ``listening``
turns the ``OSError`` of a failed bind into one of these, naming the config
keys to change.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from chain.errors import SkillchainError

__all__ = [
    "AddressUnavailable",
    "LogFileError",
    "PortForbiddenError",
    "PortInUseError",
    "StartupError",
    "listening",
]


class StartupError(SkillchainError):
    """The node cannot start on this machine as configured."""

    code = "startup_error"


class PortInUseError(StartupError):
    code = "port_in_use"


class AddressUnavailable(StartupError):
    code = "address_unavailable"


class PortForbiddenError(StartupError):
    code = "port_forbidden"


class LogFileError(StartupError):
    code = "log_file_error"


@contextmanager
def listening(what: str, host: str, port: int, keys: str) -> Iterator[None]:
    """Translate a failed bind of ``what`` on ``host:port`` (config keys ``keys``)."""
    try:
        yield
    except OSError as exc:
        raise _bind_error(exc, what, host, port, keys) from None


def _bind_error(exc: OSError, what: str, host: str, port: int, keys: str) -> SkillchainError:
    where = f"{what} address {host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return PortInUseError(
            f"{where} is already in use (another skillchain node, or another program: "
            f"`ss -ltnp 'sport = :{port}'` shows which); stop it, or set {keys} in "
            "config.json to a free port"
        )
    if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT) or isinstance(exc, socket.gaierror):
        return AddressUnavailable(
            f"{where}: {host} is not an address of this machine; set {keys} in config.json "
            "to one of its addresses (0.0.0.0 for all)"
        )
    if exc.errno == errno.EACCES:
        return PortForbiddenError(
            f"{where}: permission denied (ports below 1024 need privileges); "
            f"set {keys} in config.json to a port of 1024 or above"
        )
    return StartupError(f"cannot listen on {where}: {exc.strerror or exc}; check {keys}")
