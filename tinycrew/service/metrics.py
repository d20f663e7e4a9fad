"""Prometheus metrics of one service instance, in a registry of its own (two apps in one process, as
in the tests, never share or collide): requests by route and status, latency, tokens, queue depth,
runs, escalations and errors by kind. `GET /metrics` serves them in Prometheus' text format."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
PROBES = frozenset({"/healthz", "/readyz"})
"""Routes whose 503 means "not ready yet", not an error."""
UNMATCHED = "unmatched"
"""The route label of a request no route matched (so unknown paths cannot grow the label set)."""


class QueueDepth(Collector):
    """`tinycrew_queue_depth{model, state}`: requests generating and waiting per model, read when scraped."""

    def __init__(self, queues: Callable[[], dict[str, Any]]) -> None:
        self._queues = queues

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """One gauge family, a sample per model and state."""
        help_text = "Requests holding (generating) or waiting for each model."
        family = GaugeMetricFamily("tinycrew_queue_depth", help_text, labels=["model", "state"])
        for name, queue in self._queues().items():
            family.add_metric([name, "generating"], queue.generating)
            family.add_metric([name, "waiting"], queue.waiting)
        yield family


class Metrics:
    """The instance's metrics. Example: `metrics.tokens.labels("qwen", "prompt").inc(12)`; `metrics.render()`
    is the text `/metrics` returns."""

    def __init__(self, queues: Callable[[], dict[str, Any]]) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.requests = Counter(
            "tinycrew_requests",
            "HTTP requests by route, method and status.",
            ["route", "method", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "tinycrew_request_duration_seconds",
            "Time from a request's arrival to its response's last byte (a stream's whole length).",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.tokens = Counter(
            "tinycrew_tokens",
            "Tokens by model and kind (prompt, completion).",
            ["model", "kind"],
            registry=registry,
        )
        self.errors = Counter(
            "tinycrew_errors",
            "Errors by kind: the error code of a 4xx/5xx response (queue_full, invalid_api_key, ...), "
            "stream_error, run_failed.",
            ["kind"],
            registry=registry,
        )
        self.escalations = Counter(
            "tinycrew_escalations", "Role steps re-run on the cloud model (escalation).", registry=registry
        )
        self.runs = Counter(
            "tinycrew_runs",
            "Run segments ended, by agent and status.",
            ["agent", "status"],
            registry=registry,
        )
        self.runs_active = Gauge("tinycrew_runs_active", "Runs this instance drives now.", registry=registry)
        registry.register(QueueDepth(queues))

    def render(self) -> bytes:
        """Every metric in Prometheus' text exposition format."""
        return generate_latest(self.registry)


def _error_kind(status: int, body: bytes) -> str:
    """The `code` (else `type`) of an OpenAI-shaped error body; the status when the body is not one."""
    try:
        error = json.loads(body)["error"]
        return str(error.get("code") or error.get("type") or status)
    except (ValueError, KeyError, TypeError):
        return str(status)


class MetricsMiddleware:
    """ASGI middleware counting every HTTP request by its route template (`/v1/runs/{run_id}`, not the
    id), method and status, timing it, and counting error responses by their error code."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        error_body = bytearray()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and status >= 400 and len(error_body) < 65536:
                error_body.extend(message.get("body", b""))
            await send(message)

        failed = False
        try:
            await self.app(scope, receive, sending)
        except Exception:
            failed = True
            status = 500
            raise
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or UNMATCHED
            method = scope.get("method", "GET")
            self.metrics.requests.labels(path, method, str(status)).inc()
            self.metrics.latency.labels(path, method).observe(time.perf_counter() - started)
            if failed:
                self.metrics.errors.labels("server_error").inc()
            elif status >= 400 and path not in PROBES:
                self.metrics.errors.labels(_error_kind(status, bytes(error_body))).inc()
