"""Hostile RPC input against a live node: bad ids and heights, huge bodies, huge block ranges.

Issue 13, findings 5 and 6. One real single-validator node (LevelDB, sockets,
signatures) with a few classes opened serves the module.

* Finding 5: heights with non-ASCII digits (``str.isdigit`` accepts ``²``) and
  ids with ``/`` that made a query read another record type answered 500 with
  internal key names. Each must be a 4xx with a stable code.
* Finding 6: bodies were read and parsed before any limit applied, and one
  block range answer could be tens of MB. A declared length over the limit is
  refused before the body is read; a msgpack batch's count is read from its
  prefix; a block range stops at a byte budget and says where it stopped.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import time
import urllib.parse

import msgpack
import pytest

from cli.workload import Workload
from node.client import Client
from node.rpc import MAX_BATCH_TXS, MAX_JSON_BODY_BYTES, MAX_RANGE_BYTES
from tests.node.cluster import Cluster, make_cluster


@pytest.fixture(scope="module")
def node(tmp_path_factory) -> Cluster:
    cluster = make_cluster(tmp_path_factory.mktemp("rpcinput"), 1, {"rpc_rate_per_s": 2_000})
    workload = Workload(cluster.root, cluster.urls, trainees=4, progress=lambda _: None)

    async def setup() -> None:
        async with Client(cluster.urls[0]) as client:
            workload.head = (await client.status())["height"]
            await workload.submit_all([client], [workload.demo_policy()], "policy")
            await workload.submit_all([client], workload.open_classes(), "classes")
            await workload.submit_all([client], workload.enrol(), "enrol")

    asyncio.run(setup())
    cluster.workload = workload  # type: ignore[attr-defined]
    yield cluster
    cluster.stop_all()


def get(url: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("GET", urllib.parse.quote(path, safe="/?=&%"), headers=headers or {})
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        connection.close()


def post(url: str, path: str, body: bytes, content_type: str) -> tuple[int, dict]:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": content_type})
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        connection.close()


def a_class_with_trainees(node: Cluster) -> tuple[str, str]:
    plan = next(p for p in node.workload.classes if p.trainees)  # type: ignore[attr-defined]
    return plan.class_id, plan.trainees[0].hex()


# -- finding 5 -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/v1/blocks/\u00b2",
        "/v1/blocks/\u0661",  # ARABIC-INDIC DIGIT ONE
        "/v1/blocks?from=\u00b2&to=3",
        "/v1/blocks?from=1&to=\uff13",  # FULLWIDTH DIGIT THREE
        "/v1/blocks/+1",
        "/v1/blocks/1_0",
        "/v1/txs/" + " 00" * 32,
    ],
)
def test_heights_and_hashes_are_ascii_only(node, path):
    status, answer = get(node.urls[0], path)
    assert status == 400 and answer["code"] == "bad_request", (path, status, answer)


def test_ids_with_a_slash_cannot_read_another_record(node):
    class_id, trainee = a_class_with_trainees(node)
    url = node.urls[0]
    assert get(url, f"/v1/query/class?class={class_id}")[1]["result"]["found"] is True
    for path, code in [
        (f"/v1/query/class?class={class_id}/trainees", "bad_query"),
        (f"/v1/query/progress?class={class_id}/trainees&trainee={trainee}", "bad_query"),
        (f"/v1/query/progress?class={class_id}/{trainee}&trainee={trainee}", "bad_query"),
        ("/v1/query/provider_stats?provider=x/y", "bad_query"),
        ("/v1/query/city_stats?city=360100/employment_subsidy", "bad_query"),
        (f"/v1/credential?class={class_id}/trainees&trainee={trainee}", "bad_request"),
        (f"/v1/query/class?class={'a' * 65}", "bad_query"),
    ]:
        status, answer = get(url, path)
        assert status == 400 and answer["code"] == code, (path, status, answer)
        assert "class/" not in answer["message"] and "Traceback" not in answer["message"]


def test_every_id_the_contracts_accept_is_queryable(node):
    """The query grammar is the contracts' ``id``: 1..64 characters, any but ``/``."""
    url = node.urls[0]
    for class_id in ["x", "a" * 64, "班级-01", "a b", "a?b", "%", "\u00b2", "\ufffd"]:
        quoted = urllib.parse.quote(class_id, safe="")
        status, answer = get(url, f"/v1/query/class?class={quoted}")
        assert status == 200 and answer["result"]["found"] is False, (class_id, answer)


# -- finding 6 -------------------------------------------------------------------------


def raw_request(url: str, head: bytes, timeout_s: float = 5.0) -> bytes:
    """Send ``head`` (request line and headers, never the body) and return the answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout_s) as sock:
        sock.sendall(head)
        return sock.recv(65536)


@pytest.mark.parametrize(
    "path, content_type, length",
    [
        ("/v1/txs/batch", "application/json", 32 << 20),
        ("/v1/txs", "application/json", MAX_JSON_BODY_BYTES + 1),
        ("/v1/txs/batch", "application/msgpack", 33 << 20),
    ],
)
def test_declared_length_over_the_limit_is_refused_before_reading(node, path, content_type, length):
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()
    started = time.monotonic()
    answer = raw_request(node.urls[0], head)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"body_too_large"' in answer
    assert time.monotonic() - started < 5


def test_msgpack_batch_count_is_read_from_the_prefix(node):
    """An array header claiming more than MAX_BATCH_TXS items is refused without the items."""
    body = b"\xdd" + (MAX_BATCH_TXS + 1).to_bytes(4, "big") + b"\xc4\x01\x00" * 10
    status, answer = post(node.urls[0], "/v1/txs/batch", body, "application/msgpack")
    assert status == 400 and answer["code"] == "batch_too_large", answer
    status, answer = post(
        node.urls[0], "/v1/txs/batch", b"\xdc\x00\x01\xc4\x01\x00", "application/msgpack"
    )
    assert status == 400 and answer["code"] == "decode_error", answer  # not the shortest form


def test_msgpack_batch_still_admits(node):
    builder = node.builder("jx-hrss")
    txs = [builder.build("registry.suspend_actor", [f"nobody-{i}", "x"], 0) for i in range(20)]
    body = msgpack.packb([t.encode() for t in txs], use_bin_type=True)
    status, answer = post(node.urls[0], "/v1/txs/batch", body, "application/msgpack")
    assert status == 200 and answer["admitted"] == 20, answer
    not_bin = b"\x92\xc4\x01\x00\x01"
    status, answer = post(node.urls[0], "/v1/txs/batch", not_bin, "application/msgpack")
    assert status == 400 and answer["code"] == "bad_request", answer


def test_chunked_json_batch_over_the_limit_is_refused(node):
    """Without a declared length the node stops reading at the limit."""
    host, port = node.urls[0].removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    chunk = b'"' + b"00" * (1 << 19) + b'",'

    def body():
        yield b'{"txs": ['
        for _ in range(MAX_JSON_BODY_BYTES // len(chunk) + 4):
            yield chunk
        yield b'"00"]}'

    try:
        connection.request(
            "POST", "/v1/txs/batch", body=body(), headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        answer = connection.getresponse()
        assert answer.status == 413 and json.loads(answer.read())["code"] == "body_too_large"
    except (BrokenPipeError, ConnectionResetError):
        pass  # the node answered 413 and closed while we were still sending: also a refusal
    finally:
        connection.close()


def test_block_ranges_are_bounded_in_bytes(node):
    """Big blocks: a 100-block range stops at the byte budget; ``to`` says where."""
    builder = node.builder("jx-hrss")
    url = node.urls[0]
    # ~0.5 MB of txs per block: suspend_actor reasons of 190 chars, many txs per request
    for round_ in range(3):
        txs = [
            builder.build("registry.suspend_actor", [f"big-{round_}-{i}", "r" * 190], 0)
            for i in range(2500)
        ]
        body = msgpack.packb([t.encode() for t in txs], use_bin_type=True)
        status, answer = post(url, "/v1/txs/batch", body, "application/msgpack")
        assert status == 200, answer
    deadline = time.monotonic() + 60
    while get(url, "/v1/status")[1]["mempool_txs"] and time.monotonic() < deadline:
        time.sleep(0.2)
    head = get(url, "/v1/status")[1]["height"]
    status, answer = get(url, f"/v1/blocks?from=1&to={head}")
    assert status == 200
    size = len(json.dumps(answer))
    assert len(answer["blocks"]) >= 1 and answer["to"] == answer["blocks"][-1]["header"]["height"]
    assert size <= 2 * MAX_RANGE_BYTES, size
    assert answer["to"] < head, "the test's blocks must exceed the budget together"
    status, rest = get(url, f"/v1/blocks?from={answer['to'] + 1}&to={head}")
    assert status == 200 and rest["blocks"][0]["header"]["height"] == answer["to"] + 1
