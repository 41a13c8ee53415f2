"""The RPC over HTTPS on a real node process, with and without required client certificates.

The node's certificate is the self-signed one ``genesis new --tls`` made; a
platform's client certificate is issued by a test CA, as a province's PKI would.
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request

import pytest

from cli.devnet import node_status
from node.tls import client_context
from tests.node.cluster import make_cluster
from tests.node.tlsfiles import Authority


def get(url: str, context: ssl.SSLContext | None, path: str = "/v1/status"):
    with urllib.request.urlopen(url + path, timeout=10, context=context) as answer:
        return answer.status, answer.read()


def links_up(url: str, context: ssl.SSLContext) -> bool:
    """Whether the node's link to its peer is up in both directions (its /metrics)."""
    _, metrics = get(url, context, "/metrics")
    lines = metrics.decode().splitlines()
    return all(
        any(line.startswith("skillchain_link_connected") and f'direction="{d}"' in line
            and line.endswith(" 1") for line in lines)
        for d in ("out", "in")
    )


def test_rpc_over_https_and_links_over_tls(tmp_path):
    cluster = make_cluster(tmp_path, 2, tls=True)
    try:
        url = cluster.urls[0]
        assert url.startswith("https://")
        trust = client_context(cluster.root / "tls-bundle.pem")
        status, body = get(url, trust)
        assert status == 200 and json.loads(body)["chain_id"]
        with pytest.raises(urllib.error.URLError):  # the system's CAs do not know the node
            get(url, client_context())
        plain = url.replace("https://", "http://")
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            get(plain, None)
        # the validators reach each other over TLS links, both ways
        deadline = time.monotonic() + 60
        while not all(links_up(u, trust) for u in cluster.urls):
            assert time.monotonic() < deadline, "TLS links did not come up"
            time.sleep(0.2)
        _, metrics = get(url, trust, "/metrics")
        assert b'source="link",kind="tls_' not in metrics
        assert b'kind="cert_not_bound"' not in metrics
        assert node_status(url) is not None  # devnet tooling speaks HTTPS to it
    finally:
        cluster.stop_all()


def test_required_client_certificates(tmp_path):
    ca = Authority(tmp_path / "ca")
    platform_cert, platform_key = ca.issue("platform")
    stranger = Authority(tmp_path / "other").issue("stranger")
    cluster = None
    clients = tmp_path / "clients.pem"  # the platforms' CA, and the devnet's own certificates
    try:
        from cli.netgen import free_base_port, new_network

        network = new_network(tmp_path / "net", 1, base_port=free_base_port(1), tls=True)
        clients.write_bytes(ca.path.read_bytes() + (network.root / "tls-bundle.pem").read_bytes())
        config_path = network.homes[0] / "config.json"
        config = json.loads(config_path.read_text())
        config["rpc_client_ca_file"] = str(clients)
        config_path.write_text(json.dumps(config))
        from cli.devnet import start_node, wait_ready
        from tests.node.cluster import Cluster

        cluster = Cluster(network.root, network.homes, [start_node(network.homes[0])])
        wait_ready(cluster.urls)
        url = cluster.urls[0]
        bundle = network.root / "tls-bundle.pem"
        status, _ = get(url, client_context(bundle, platform_cert, platform_key))
        assert status == 200
        for refused in (client_context(bundle), client_context(bundle, *stranger)):
            with pytest.raises((urllib.error.URLError, ConnectionError, ssl.SSLError, OSError)):
                get(url, refused)
        _, metrics = get(url, client_context(bundle, platform_cert, platform_key), "/metrics")
        text = metrics.decode()
        refusals = [line for line in text.splitlines()
                    if line.startswith('skillchain_dropped_total{source="rpc",kind="tls_')]
        assert sum(float(line.rsplit(" ", 1)[1]) for line in refusals) >= 2, refusals
    finally:
        if cluster is not None:
            cluster.stop_all()
