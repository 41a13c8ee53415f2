"""Rate limits that an attacker cannot multiply: prefixes, proxies, sender keys, no reset.

Issue 13, finding 7: 30 loopback addresses each got a fresh bucket; all
buckets were cleared once 100,000 addresses were seen; behind a reverse proxy
every platform shared one bucket; nothing limited a sender key.

One live single-validator node (``rpc_rate_per_s`` 50, sender budget 5 tx/s
with a burst of 50, ``127.0.0.9`` a trusted proxy) serves the live tests; the
bucket table is also driven directly with a virtual clock.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.error
import urllib.request

import aiohttp
import msgpack
import pytest

from chain.types import Tx
from node.rpc import PREFIX_SHARE, RateLimiter, TokenBuckets, client_address, parse_networks
from tests.node.cluster import Cluster, make_cluster

RATE = 50
SENDER_RATE = 5
PROXY = "127.0.0.9"


@pytest.fixture(scope="module")
def node(tmp_path_factory) -> Cluster:
    cluster = make_cluster(
        tmp_path_factory.mktemp("rpclimits"),
        1,
        {
            "rpc_rate_per_s": RATE,
            "rpc_sender_rate_per_s": SENDER_RATE,
            "rpc_trusted_proxies": [PROXY],
        },
    )
    yield cluster
    cluster.stop_all()


async def _hammer(url: str, source: str, count: int, headers: dict[str, str] | None = None):
    connector = aiohttp.TCPConnector(local_addr=(source, 0))
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> tuple[int, dict]:
            async with session.get(url + "/v1/status", headers=headers or {}) as answer:
                return answer.status, await answer.json()

        return await asyncio.gather(*(one() for _ in range(count)))


def test_many_addresses_in_one_prefix_share_its_budget(node):
    sources = [f"127.0.1.{i}" for i in range(1, 31)]

    async def run() -> list[tuple[int, dict]]:
        batches = await asyncio.gather(*(_hammer(node.urls[0], s, 150) for s in sources))
        return [r for batch in batches for r in batch]

    started = time.monotonic()
    results = asyncio.run(run())
    elapsed = time.monotonic() - started
    served = sum(1 for status, _ in results if status == 200)
    limited = [body for status, body in results if status == 429]
    bound = PREFIX_SHARE * 2 * RATE + PREFIX_SHARE * RATE * elapsed + 20
    print(json.dumps({"prefix": {"served": served, "bound": bound, "elapsed_s": elapsed}}))
    assert served <= bound, f"30 addresses got {served} answers; one /24 may get {bound:.0f}"
    assert limited and limited[0]["code"] == "rate_limited"
    status = urllib.request.urlopen(node.urls[0] + "/v1/status").status  # another /24
    assert status == 200


def test_a_trusted_proxy_forwards_each_client_its_own_budget(node):
    url = node.urls[0]
    first = asyncio.run(_hammer(url, PROXY, 300, {"X-Forwarded-For": "203.0.113.1"}))
    assert any(status == 429 for status, _ in first), "the first client exhausts its bucket"
    other = asyncio.run(_hammer(url, PROXY, 20, {"X-Forwarded-For": "198.51.100.7"}))
    assert all(status == 200 for status, _ in other), "another client behind the proxy is served"
    # the rightmost untrusted hop counts: what the client wrote to its left does not
    spoofed = asyncio.run(
        _hammer(url, PROXY, 200, {"X-Forwarded-For": "198.51.100.8, 203.0.113.1"})
    )
    assert any(status == 429 for status, _ in spoofed)


def test_an_untrusted_peer_cannot_choose_its_address(node):
    url = node.urls[0]
    source = "127.0.2.1"
    results = asyncio.run(_hammer(url, source, 300, {"X-Forwarded-For": "192.0.2.1"}))
    assert any(status == 429 for status, _ in results)
    again = asyncio.run(_hammer(url, source, 100, {"X-Forwarded-For": "192.0.2.99"}))
    assert any(status == 429 for status, _ in again), "a new X-Forwarded-For bought a new bucket"


def test_client_address_walks_forwarded_for_from_the_right():
    trusted = parse_networks(["10.0.0.0/8", "127.0.0.9"])
    assert client_address("127.0.0.9", "1.1.1.1, 2.2.2.2", trusted) == "2.2.2.2"
    assert client_address("127.0.0.9", "1.1.1.1, 2.2.2.2, 10.1.2.3", trusted) == "2.2.2.2"
    assert client_address("127.0.0.9", "10.1.1.1, 10.2.2.2", trusted) == "10.1.1.1"
    assert client_address("127.0.0.9", "garbage, 10.2.2.2", trusted) == "10.2.2.2"
    assert client_address("127.0.0.9", "[2001:db8::1]:443", trusted) == "2001:db8::1"
    assert client_address("127.0.0.9", None, trusted) == "127.0.0.9"
    assert client_address("127.0.0.8", "2.2.2.2", trusted) == "127.0.0.8"


def test_no_global_reset_however_many_addresses_pass():
    """An exhausted client stays limited while 120,000 other addresses come and go."""
    now = [0.0]
    limiter = RateLimiter(1, 10, clock=lambda: now[0])
    victim = "192.0.2.1"
    while limiter.allow(victim):
        pass
    for i in range(120_000):
        limiter.allow(f"2001:db8:{i >> 16:x}:{i & 0xFFFF:x}::1")
        if i % 1000 == 0:
            assert not limiter.allow(victim), f"bucket reset after {i} addresses"


def test_an_evicted_key_starts_no_fuller_than_the_bucket_it_replaced():
    now = [0.0]
    buckets = TokenBuckets(1, 10, max_keys=2, clock=lambda: now[0])
    assert buckets.take("a", 10) and buckets.take("b", 7)
    assert buckets.available("c") == 0  # took the place of "a" (empty)
    assert buckets.available("a") == 3  # took the place of "b" (3 left)
    now[0] += 100
    assert buckets.available("d") == 10  # never more than full


def _batch(node: Cluster, txs: list[Tx]) -> dict:
    body = msgpack.packb([t.encode() for t in txs], use_bin_type=True)
    request = urllib.request.Request(node.urls[0] + "/v1/txs/batch", data=body)
    request.add_header("Content-Type", "application/msgpack")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def test_a_sender_key_has_its_own_budget(node):
    admin = node.builder("jx-hrss")
    txs = [admin.build("registry.suspend_actor", [f"s-{i}", "x"], 0) for i in range(80)]
    answer = _batch(node, txs)
    codes = [r.get("code") for r in answer["results"]]
    burst = 10 * SENDER_RATE
    assert burst <= answer["admitted"] <= burst + 5, answer["admitted"]
    assert codes.count("rate_limited_sender") >= 80 - burst - 5
    request = urllib.request.Request(
        node.urls[0] + "/v1/txs",
        data=admin.build("registry.suspend_actor", ["one-more", "x"], 0).encode(),
    )
    request.add_header("Content-Type", "application/msgpack")
    try:
        urllib.request.urlopen(request, timeout=30)
        raise AssertionError("a single tx over the sender budget was admitted")
    except urllib.error.HTTPError as err:
        assert err.code == 429 and json.loads(err.read())["code"] == "rate_limited_sender"
    other = node.builder("organizer-gz-coop").build("registry.suspend_actor", ["z", "x"], 0)
    assert _batch(node, [other])["results"][0].get("code") != "rate_limited_sender"
    metrics = urllib.request.urlopen(node.urls[0] + "/metrics").read().decode()
    assert re.search(r'kind="rate_limited_sender"\} [1-9]', metrics)


def test_forged_txs_do_not_spend_the_real_senders_budget(node):
    provider = node.builder("provider-ganpo")
    real = provider.build("registry.suspend_actor", ["whoever", "x"], 0)
    forged = [
        Tx(*[getattr(t, f) for f in t._fields][:-1], bytes(64))
        for t in (provider.build("registry.suspend_actor", [f"f-{i}", "x"], 0) for i in range(80))
    ]
    answer = _batch(node, forged)
    assert {r["code"] for r in answer["results"]} == {"bad_signature"}
    assert _batch(node, [real])["results"][0].get("code") != "rate_limited_sender"
