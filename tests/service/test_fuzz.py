"""schemathesis against the service's own OpenAPI document (`GET /openapi.json`), on a real uvicorn
server on 127.0.0.1 serving the packaged default model and the OPS agent: every operation gets
schema-valid (positive) and schema-breaking (negative) requests, a bounded number of each. No
response may be a 5xx (a streamed reply may not carry a server error either), and every refusal must
be OpenAI's error object."""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.service.conftest import agents_config, running

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402

EXAMPLES = {"POST /v1/chat/completions": 150, "POST /v1/runs": 6}
"""Examples per operation and generation mode; the rest get DEFAULT_EXAMPLES."""
DEFAULT_EXAMPLES = 25
MAX_TOKENS = 4
"""A chat completion generates at most this many tokens here: the model's paths are the same, the
time is not."""
LAST = ("POST /v1/runs",)
"""Started runs hold the model, so they go after everything else (and stop when the server does)."""


def _bounded(case: Any, model: str) -> None:
    """Point chat completions at the served model (else nearly all would be a 404; the 404 has its own
    test) and cap their length."""
    if case.operation.label != "POST /v1/chat/completions" or not isinstance(case.body, dict):
        return
    body = case.body
    if isinstance(body.get("model"), str):
        body["model"] = model
    for key in ("max_tokens", "max_completion_tokens"):
        value = body.get(key)
        if type(value) is int and value > MAX_TOKENS:
            body[key] = MAX_TOKENS
    if "max_tokens" not in body and "max_completion_tokens" not in body:
        body["max_tokens"] = MAX_TOKENS


def _problem(status: int, text: str) -> str | None:
    """What is wrong with a response: a server error, or a refusal that is not OpenAI's error object."""
    if status >= 500:
        return f"status {status}"
    if '"server_error"' in text and status < 400:  # an error event inside a 200 stream
        return "a server error inside a stream"
    if status >= 400:
        try:
            error = json.loads(text)["error"]
            assert set(error) == {"message", "type", "param", "code"}
        except (ValueError, KeyError, TypeError, AssertionError):
            return f"status {status} without OpenAI's error object"
    return None


def _fuzz(operation: Any, mode: Any, send: Any) -> None:
    """Send `operation`'s examples of `mode` (a fixed, bounded set: derandomized, no shrinking)."""

    @settings(
        max_examples=EXAMPLES.get(operation.label, DEFAULT_EXAMPLES),
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        send(case)

    with contextlib.suppress(Unsatisfiable):  # a request without input has nothing to break
        run()


def test_schemathesis_finds_no_server_error(default_model: Any, tmp_path: Path) -> None:
    config = agents_config(
        default_model, "memory", str(tmp_path / "trajectories.sqlite"), max_runs=1, shutdown_grace_s=0
    )
    statuses: dict[str, Counter[int]] = {}
    problems: list[str] = []
    started = time.monotonic()
    with running(config, default_model) as server:
        schema = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json")
        operations = sorted(
            (result.ok() for result in schema.get_all_operations()), key=lambda op: op.label in LAST
        )
        assert len(operations) >= 12
        for operation in operations:
            counts = statuses.setdefault(operation.label, Counter())
            for mode in schemathesis.GenerationMode:

                def send(case: Any, counts: Counter[int] = counts, mode: Any = mode) -> None:
                    _bounded(case, default_model.name)
                    response = case.call(base_url=server.base_url, timeout=300)
                    counts[response.status_code] += 1
                    problem = _problem(response.status_code, response.text)
                    if problem is not None:
                        label = f"{case.operation.label} ({mode.value})"
                        problems.append(f"{label}: {problem}\n{case.as_curl_command()}")

                _fuzz(operation, mode, send)
    seconds = time.monotonic() - started
    total = sum(sum(counts.values()) for counts in statuses.values())
    server_errors = sum(n for counts in statuses.values() for status, n in counts.items() if status >= 500)
    for label, counts in statuses.items():
        print(f"{label}: {dict(sorted(counts.items()))}")
    print(f"schemathesis: {total} requests, {server_errors} responses >= 500, {seconds:.0f} s")
    assert total >= 100
    assert problems == []


def _tool(parameters: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": "f", "parameters": parameters}}


def _post(server: Any, body: dict[str, Any]) -> Any:
    """POST a chat completion as JSON with ASCII escapes (a lone surrogate travels as `\\ud800`)."""
    content = json.dumps(body).encode("ascii")
    headers = {"content-type": "application/json"}
    return server.post("/v1/chat/completions", content=content, headers=headers)


def test_what_fuzzing_found_is_a_400(serve: Any, default_model: Any) -> None:
    """Requests that once crashed the process or answered 500 (found by probing around the fuzzer's
    cases) are refused with 400 in OpenAI's shape, and the server goes on serving."""
    user = [{"role": "user", "content": "call f"}]
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}

    def conversation(arguments: str) -> list[dict[str, Any]]:
        turn = {
            "role": "assistant",
            "tool_calls": [{**call, "function": {"name": "f", "arguments": arguments}}],
        }
        return [*user, turn, {"role": "tool", "tool_call_id": "c1", "content": "ok"}]

    arguments, parameters = "messages[1].tool_calls[0].function.arguments", "tools[0].function.parameters"
    empty_any_of = {"type": "object", "properties": {"a": {"anyOf": []}}}
    cases: list[tuple[dict[str, Any], str]] = [
        # llama.cpp cannot parse the grammar of an empty enum (`a ::= `): the sampler was null: SIGSEGV
        ({"tools": [_tool({"type": "object", "properties": {"a": {"enum": []}}, "required": ["a"]})]},
         parameters),
        ({"tools": [_tool(empty_any_of)], "tool_choice": "required"}, parameters),
        # a lone surrogate in a stop string: UnicodeEncodeError inside llama-cpp-python
        ({"stop": ["\ud800"]}, "stop[0]"),
        # earlier arguments nested too deeply for json.loads, or an integer over Python's 4300 digits
        ({"messages": conversation("[" * 5000 + "]" * 5000)}, arguments),
        ({"messages": conversation('{"a": ' + "9" * 5000 + "}")}, arguments),
    ]  # fmt: skip
    with serve(rate_per_minute=0) as server:
        for extra, param in cases:
            body = {"model": default_model.name, "messages": user, "max_tokens": 4, **extra}
            for stream in (False, True):
                response = _post(server, {**body, "stream": stream})
                assert response.status_code == 400, (extra, response.text)
                assert response.json()["error"]["param"] == param
        # a lone surrogate echoed back in an error message still makes a UTF-8 body
        unknown = _post(server, {"model": "\ud800", "messages": user})
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"
        ok = server.post(
            "/v1/chat/completions", json={"model": default_model.name, "messages": user, "max_tokens": 2}
        )
        assert ok.status_code == 200
