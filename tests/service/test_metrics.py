"""Prometheus `/metrics`: requests by route and status, latency, tokens, queue depth, errors by kind and
escalations, each app in a registry of its own."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tinycrew.service import ServiceConfig, create_app, hash_key

pytestmark = pytest.mark.slow


def scrape(base_url: str, **options: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of `/metrics` as {(name, sorted labels): value}."""
    response = httpx.get(f"{base_url}/metrics", **options)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    """One sample's value, 0 when absent."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_requests_latency_tokens_queue_errors_and_escalations(serve: Any) -> None:
    with serve() as server:
        model = server.service.config.models[0]
        before = scrape(server.base_url)
        assert value(before, "tinycrew_escalations_total") == 0.0, "no switching yet: none"
        assert (("tinycrew_queue_depth", (("model", model), ("state", "waiting")))) in before

        reply = server.client().chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Say hi"}], max_tokens=4
        )
        with pytest.raises(openai.NotFoundError):
            server.client().chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
        with pytest.raises(openai.BadRequestError):
            server.client().chat.completions.create(model=model, messages=[])
        assert httpx.get(f"{server.base_url}/v1/runs/abc").status_code == 404  # no agents here
        assert httpx.get(f"{server.base_url}/no/such/path").status_code == 404

        after = scrape(server.base_url)
        route = "/v1/chat/completions"
        ok = {"route": route, "method": "POST", "status": "200"}
        assert (
            value(after, "tinycrew_requests_total", **ok)
            == value(before, "tinycrew_requests_total", **ok) + 1
        )
        assert value(after, "tinycrew_requests_total", route=route, method="POST", status="404") >= 1
        assert value(after, "tinycrew_requests_total", route=route, method="POST", status="400") >= 1
        assert (
            value(after, "tinycrew_requests_total", route="/v1/runs/{run_id}", method="GET", status="404")
            >= 1
        )
        assert value(after, "tinycrew_requests_total", route="unmatched", method="GET", status="404") >= 1
        assert value(after, "tinycrew_request_duration_seconds_count", route=route, method="POST") >= 3
        assert value(after, "tinycrew_request_duration_seconds_sum", route=route, method="POST") > 0
        prompt = value(after, "tinycrew_tokens_total", model=model, kind="prompt")
        completion = value(after, "tinycrew_tokens_total", model=model, kind="completion")
        assert prompt - value(before, "tinycrew_tokens_total", model=model, kind="prompt") == (
            reply.usage.prompt_tokens
        )
        assert completion - value(before, "tinycrew_tokens_total", model=model, kind="completion") == (
            reply.usage.completion_tokens
        )
        assert value(after, "tinycrew_errors_total", kind="model_not_found") >= 1
        assert value(after, "tinycrew_errors_total", kind="invalid_value") >= 1
        assert value(after, "tinycrew_errors_total", kind="no_agents") >= 1
        assert value(after, "tinycrew_errors_total", kind="not_found") >= 1
        assert value(after, "tinycrew_queue_depth", model=model, state="generating") == 0
        assert value(after, "tinycrew_queue_depth", model=model, state="waiting") == 0
        assert value(after, "tinycrew_escalations_total") == 0.0


def test_streamed_tokens_and_auth_errors_are_counted(serve: Any) -> None:
    with serve(key_hashes=frozenset({hash_key("sk-metrics")})) as server:
        model = server.service.config.models[0]
        assert httpx.get(f"{server.base_url}/metrics").status_code == 401, "keys set: /metrics needs one"
        with pytest.raises(openai.AuthenticationError):
            server.client(api_key="sk-wrong").models.list()
        stream = server.client(api_key="sk-metrics").chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "Say hi"}],
            max_tokens=4,
            stream=True,
            stream_options={"include_usage": True},
        )
        usage = [chunk.usage for chunk in stream if chunk.usage is not None][-1]
        samples = scrape(server.base_url, headers={"Authorization": "Bearer sk-metrics"})
        assert value(samples, "tinycrew_errors_total", kind="invalid_api_key") == 1
        assert (
            value(samples, "tinycrew_tokens_total", model=model, kind="completion") == usage.completion_tokens
        )
        assert value(samples, "tinycrew_tokens_total", model=model, kind="prompt") == usage.prompt_tokens
        streamed = {"route": "/v1/chat/completions", "method": "POST", "status": "200"}
        assert value(samples, "tinycrew_requests_total", **streamed) == 1


def test_each_app_has_its_own_registry() -> None:
    first, second = create_app(ServiceConfig()), create_app(ServiceConfig())
    one, two = first.state.service.metrics, second.state.service.metrics
    assert one.registry is not two.registry
    one.errors.labels("queue_full").inc()
    assert b'tinycrew_errors_total{kind="queue_full"} 1.0' in one.render()
    assert b'kind="queue_full"' not in two.render()
