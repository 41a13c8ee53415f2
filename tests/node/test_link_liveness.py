"""Link heartbeats between real node processes: a frozen peer is found silent.

A process stopped with SIGSTOP keeps its sockets: its kernel still accepts and
acknowledges our bytes, so TCP alone sees nothing wrong, for as long as the
buffers last. Only the heartbeats' absence shows it. The other node closes both
links (``silent``) within a few seconds, keeps redialling, and has both back
soon after SIGCONT. Over TLS, so the redial includes the TLS handshake.
"""

from __future__ import annotations

import signal
import time

from cli.devnet import rpc_ssl
from tests.node.cluster import make_cluster
from tests.node.test_rpc_tls import get


def link_state(url: str) -> tuple[dict[str, int], int]:
    """Links up per direction (``out``/``in``) and the ``silent`` count, from /metrics."""
    _, body = get(url, rpc_ssl(url), "/metrics")
    up = {"out": 0, "in": 0}
    silent = 0
    for line in body.decode().splitlines():
        if line.startswith("skillchain_link_connected{"):
            direction = "out" if 'direction="out"' in line else "in"
            up[direction] += int(float(line.rsplit(" ", 1)[1]))
        if line.startswith('skillchain_dropped_total{source="link",kind="silent"}'):
            silent = int(float(line.rsplit(" ", 1)[1]))
    return up, silent


def wait_until(check, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} not reached within {timeout_s} s")


def test_a_frozen_peer_is_found_silent_and_the_links_heal(tmp_path):
    cluster = make_cluster(tmp_path, 2, tls=True)
    url = cluster.urls[0]
    frozen = cluster.procs[1]
    assert frozen is not None
    try:
        wait_until(lambda: link_state(url)[0] == {"out": 1, "in": 1}, 60, "links up")
        frozen.send_signal(signal.SIGSTOP)
        wait_until(lambda: link_state(url)[0]["in"] == 0, 20, "the inbound link closed")
        wait_until(lambda: link_state(url)[1] >= 1, 20, "a silent link counted")
        frozen.send_signal(signal.SIGCONT)
        wait_until(lambda: link_state(url)[0] == {"out": 1, "in": 1}, 30, "links back")
        assert "Traceback" not in cluster.log(0)
    finally:
        frozen.send_signal(signal.SIGCONT)
        cluster.stop_all()
