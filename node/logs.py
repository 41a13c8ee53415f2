"""The node's log: level and format chosen by the operator, a file reopened on SIGHUP.

The node writes its own log file (``log_file`` in config.json, ``node.log``
in the home by default) rather than relying on whoever started it to
redirect stderr, so that ``logrotate`` can rename the file and send SIGHUP:
the node then opens a fresh file at the configured path and says so in it
(``reopen``). SIGHUP never stops the node. With ``log_file`` set to ``-`` the
log goes to stderr only (systemd's journal); on a terminal it goes to both.

Formats: ``text`` (``<time> <LEVEL> <logger>: <message>``) for people and
``json`` (one object per line: ``time`` in UTC ISO 8601 with milliseconds,
``level``, ``logger``, ``message``, and ``exception`` when there is one) for
log shippers. Either way nothing personal is logged: the node logs heights,
counts, key prefixes of validators and bureau names, never a trainee, a tx
body or a client's data.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Literal

__all__ = ["FORMATS", "LEVELS", "JsonFormatter", "LogSetup", "configure_logging"]

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
FORMATS = ("text", "json")
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

log = logging.getLogger("skillchain.node")


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docstring for its fields)."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        entry = {
            "time": f"{stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class _ReopenableFileHandler(logging.FileHandler):
    """A file handler that can be pointed at a fresh file (after a rotation)."""

    def reopen(self) -> None:
        self.acquire()
        try:
            if self.stream is not None:
                self.stream.flush()
                self.stream.close()
            self.stream = self._open()
        finally:
            self.release()


class LogSetup:
    """The handlers the node installed, so SIGHUP can reopen the file."""

    def __init__(self, path: Path | None, handler: _ReopenableFileHandler | None) -> None:
        self.path = path
        self._file = handler

    def reopen(self) -> None:
        """Open the log file again at its path (logrotate renamed the old one)."""
        if self._file is not None:
            self._file.reopen()
            log.info("SIGHUP: log file %s reopened", self.path)
        else:
            log.info("SIGHUP: logging to stderr, nothing to reopen")


def configure_logging(
    level: str = "INFO",
    fmt: str = "text",
    path: Path | None = None,
    stderr: bool | None = None,
) -> LogSetup:
    """Install the root handlers: the file at ``path`` (if any) and stderr (when
    ``path`` is None, or when ``stderr`` is true; by default when it is a terminal)."""
    formatter: logging.Formatter = JsonFormatter() if fmt == "json" else logging.Formatter(
        TEXT_FORMAT
    )
    handlers: list[logging.Handler] = []
    handler = None
    if path is not None:  # opened first: an OSError here leaves logging as it was
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = _ReopenableFileHandler(path, encoding="utf-8")
        handlers.append(handler)
    if path is None or (sys.stderr.isatty() if stderr is None else stderr):
        handlers.append(logging.StreamHandler(sys.stderr))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.setLevel(level)
    for new in handlers:
        new.setFormatter(formatter)
        root.addHandler(new)
    return LogSetup(path, handler)
