"""An optional listener of its own for /metrics, /health and /ready.

Set ``metrics_port`` (and ``metrics_host``) in config.json and Prometheus
scrapes the node on an address of the operations network, while the RPC —
reachable by platforms — no longer serves /metrics at all (its figures name
peers and say how loaded the node is). The listener has budgets like the
RPC's, scaled to a handful of scrapers: ``MAX_CONNECTIONS`` in total,
``MAX_PER_ADDRESS`` per address, ``RATE_PER_S`` requests per second per
address (burst 2x), the same silent-connection and keep-alive timeouts. A
connection refused is counted as ``skillchain_dropped_total{source="metrics"}``,
a request refused (``rate_limited``) as the RPC's are, with source ``rpc``.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from node.errors import listening
from node.listeners import ConnectionBudget
from node.rpc import KEEPALIVE_S, NodeApi, RateLimiter, _BudgetedSite, _middleware, parse_networks

__all__ = ["start_metrics"]

log = logging.getLogger("skillchain.rpc")

MAX_CONNECTIONS = 32
MAX_PER_ADDRESS = 8
RATE_PER_S = 20.0


def _app(node: NodeApi) -> web.Application:
    faults = node.faults
    limiter = RateLimiter(RATE_PER_S, 2 * RATE_PER_S)
    app = web.Application(
        client_max_size=1024, middlewares=[_middleware(limiter, parse_networks(()), faults)]
    )

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text=node.metrics(), content_type="text/plain", charset="utf-8")

    async def health(request: web.Request) -> web.Response:
        return web.json_response(node.health())

    async def ready(request: web.Request) -> web.Response:
        body: dict[str, Any] = node.readiness()
        return web.json_response(body, status=200 if body["ready"] else 503)

    app.add_routes(
        [web.get("/metrics", metrics), web.get("/health", health), web.get("/ready", ready)]
    )
    return app


async def start_metrics(node: NodeApi, host: str, port: int) -> web.AppRunner:
    """Serve /metrics, /health and /ready on ``host:port``; the caller cleans up."""
    runner = web.AppRunner(_app(node), access_log=None, keepalive_timeout=KEEPALIVE_S)
    await runner.setup()
    budget = ConnectionBudget(MAX_CONNECTIONS, MAX_PER_ADDRESS, node.faults, "metrics")
    try:
        with listening("metrics", host, port, "metrics_host/metrics_port"):
            await _BudgetedSite(runner, host, port, budget).start()
    except BaseException:
        await runner.cleanup()
        raise
    log.info("metrics on %s:%d", host, port)
    return runner

