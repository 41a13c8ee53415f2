"""``skillchain devnet``: run every validator of a local network as its own process.

Each validator is a separate OS process (``python -m cli.main node start
--home DIR/nodeI``) with its own LevelDB, writing its log to
``DIR/nodeI/node.log``. ``DIR/devnet.json`` records the process ids, so
``down`` and ``status`` work from another shell.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from node.config import load_config

__all__ = [
    "devnet_down",
    "devnet_status",
    "devnet_up",
    "node_status",
    "rpc_ssl",
    "rpc_url",
    "start_node",
    "wait_ready",
]

STATE_FILE = "devnet.json"


def homes_of(root: Path) -> list[Path]:
    homes = sorted(
        (p for p in root.glob("node*") if (p / "config.json").exists()),
        key=lambda p: int(p.name.removeprefix("node")),
    )
    if not homes:
        raise FileNotFoundError(
            f"{root} holds no validator homes; create them with `skillchain genesis new`"
        )
    return homes


_RPC_TLS: dict[str, ssl.SSLContext] = {}
"""Client TLS contexts of the HTTPS nodes ``rpc_url`` has seen, by URL, so every
tool that reads a devnet's status (``node_status``, tests, benchmarks) speaks
HTTPS to a TLS devnet without passing contexts around."""


def rpc_url(home: Path) -> str:
    """The node's RPC URL (https when its config serves HTTPS; see ``rpc_ssl``)."""
    config = load_config(home)
    if not config.rpc_https():
        return f"http://{config.rpc_host}:{config.rpc_port}"
    url = f"https://{config.rpc_host}:{config.rpc_port}"
    if url not in _RPC_TLS:
        _RPC_TLS[url] = _client_tls(home, config)
    return url


def _client_tls(home: Path, config: Any) -> ssl.SSLContext:
    """Trust the node's certificate bundle; present the node's own certificate when
    its RPC requires client certificates (a devnet operator's shortcut)."""
    from node.config import config_path
    from node.tls import client_context

    ca = config.tls_ca_file if config.rpc_tls_cert_file is None else None
    cert = config.tls_cert_file if config.rpc_client_ca_file is not None else None
    return client_context(
        config_path(home, ca) if ca else None,
        config_path(home, cert) if cert else None,
        config_path(home, config.tls_key_file) if cert else None,
    )


def rpc_ssl(url: str) -> ssl.SSLContext | None:
    """The client TLS context for ``url`` (None for plain HTTP or an unknown node)."""
    return _RPC_TLS.get(url.rstrip("/"))


def start_node(home: Path, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start one validator process in the background, logging to ``home/node.log``."""
    log = open(home / "node.log", "ab")  # noqa: SIM115 - handed to the child
    env = {**os.environ, **(extra_env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "node", "start", "--home", str(home)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )


def node_status(url: str, timeout_s: float = 2.0) -> dict[str, Any] | None:
    """The node's /v1/status, or None when it does not answer."""
    try:
        with urllib.request.urlopen(
            url + "/v1/status", timeout=timeout_s, context=rpc_ssl(url)
        ) as answer:
            return json.loads(answer.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def wait_ready(urls: list[str], timeout_s: float = 60.0) -> None:
    """Wait until every node answers its status endpoint."""
    deadline = time.monotonic() + timeout_s
    pending = list(urls)
    while pending and time.monotonic() < deadline:
        pending = [u for u in pending if node_status(u) is None]
        if pending:
            time.sleep(0.2)
    if pending:
        raise TimeoutError(
            f"nodes did not start within {timeout_s:.0f}s: {', '.join(pending)}; see their node.log"
        )


def devnet_up(root: Path) -> dict[str, Any]:
    """Start every validator under ``root`` and wait until all answer."""
    state_path = root / STATE_FILE
    if state_path.exists() and any(
        _alive(pid) for pid in json.loads(state_path.read_text())["pids"]
    ):
        raise FileExistsError(
            f"a devnet from {root} is already running; `skillchain devnet down --dir {root}` first"
        )
    homes = homes_of(root)
    procs = [start_node(home) for home in homes]
    urls = [rpc_url(home) for home in homes]
    state = {"pids": [p.pid for p in procs], "homes": [str(h) for h in homes], "rpc": urls}
    state_path.write_text(json.dumps(state, indent=2))
    wait_ready(urls)
    return state


def devnet_down(root: Path, timeout_s: float = 10.0) -> dict[str, Any]:
    """Stop the validators started by ``devnet_up`` (SIGTERM, then SIGKILL)."""
    state_path = root / STATE_FILE
    if not state_path.exists():
        return {"stopped": []}
    pids = json.loads(state_path.read_text())["pids"]
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in pids:
        _signal(pid, signal.SIGKILL)
    state_path.unlink()
    return {"stopped": pids}


def devnet_status(root: Path) -> list[dict[str, Any]]:
    """One row per validator: its RPC URL and what its status endpoint says."""
    rows = []
    for home in homes_of(root):
        url = rpc_url(home)
        status = node_status(url)
        rows.append({"home": str(home), "rpc": url, "up": status is not None, **(status or {})})
    return rows


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours is not alive
        waited, _ = os.waitpid(pid, os.WNOHANG)
        return waited == 0
    except ChildProcessError:
        return True


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
