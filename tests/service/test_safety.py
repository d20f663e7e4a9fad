"""What the service refuses, and how: API keys, rate limit, body size, malformed input. Every refusal is
a 4xx in OpenAI's error shape, never a 5xx, never a stack trace. No test here generates a token."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.service.conftest import WEATHER
from tinycrew.service.auth import hash_key, parse_keys

pytestmark = pytest.mark.slow

ERROR_FIELDS = {"message", "type", "param", "code"}


def openai_error(response: httpx.Response, status: int) -> dict:
    """The response's error object, after checking status and shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == ERROR_FIELDS
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body["error"]


def test_with_keys_a_missing_or_wrong_key_is_401_and_the_right_one_works(serve) -> None:
    with serve(key_hashes=parse_keys(f"sk-right\nsha256:{hash_key('sk-other')}")) as server:
        missing = openai_error(httpx.get(f"{server.base_url}/v1/models"), 401)
        assert missing["code"] == "missing_api_key" and missing["type"] == "invalid_request_error"
        with pytest.raises(openai.AuthenticationError) as wrong:
            server.client(api_key="sk-wrong").models.list()
        assert wrong.value.status_code == 401
        assert wrong.value.body["code"] == "invalid_api_key"
        assert wrong.value.response.headers["www-authenticate"] == "Bearer"
        chat = server.post("/v1/chat/completions", json={"model": "x", "messages": []})  # auth comes first
        openai_error(chat, 401)
        for key in ("sk-right", "sk-other"):
            assert [
                m.id for m in server.client(api_key=key).models.list().data
            ] == server.service.config.models
        assert httpx.get(f"{server.base_url}/healthz").json() == {"status": "ok"}  # probes need no key


def test_a_key_over_its_rate_gets_429_with_retry_after(serve) -> None:
    with serve(rate_per_minute=1, rate_burst=2) as server:
        client = server.client()
        client.models.list()
        client.models.list()
        with pytest.raises(openai.RateLimitError) as limited:
            client.models.list()
        assert limited.value.status_code == 429 and limited.value.body["code"] == "rate_limit_exceeded"
        assert int(limited.value.response.headers["retry-after"]) >= 1


def test_probes_and_models(server) -> None:
    assert httpx.get(f"{server.base_url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{server.base_url}/readyz").json()
    [name] = server.service.config.models
    assert ready["status"] == "ready" and ready["models"][name]["queue_size"] == 8
    client = server.client()
    [model] = client.models.list().data
    assert model.id == name and model.object == "model" and model.owned_by == "tinycrew"
    assert client.models.retrieve(name).id == name
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def _chat(server, **fields) -> httpx.Response:
    body = {
        "model": server.service.config.models[0],
        "messages": [{"role": "user", "content": "hi"}],
        **fields,
    }
    return server.post("/v1/chat/completions", json=body)


BAD_ARGUMENTS = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{x"}}
UNANSWERED = {"role": "tool", "tool_call_id": "call_9", "content": "18 C"}
NO_SUCH_TOOL = {"type": "function", "function": {"name": "nope"}}


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role"),
        ({"messages": [{"role": "user"}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}, None),
        ({"messages": [UNANSWERED]}, "messages[0].tool_call_id"),
        ({"messages": [{"role": "assistant", "tool_calls": [BAD_ARGUMENTS]}]},
         "messages[0].tool_calls[0].function.arguments"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"temperature": 5}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"tools": [WEATHER], "tool_choice": NO_SUCH_TOOL}, "tool_choice"),
        ({"tools": [WEATHER], "tool_choice": "sometimes"}, "tool_choice"),
        ({"tools": [WEATHER, WEATHER]}, "tools[1].function.name"),
        ({"tools": [{"type": "function", "function": {"name": "bad name!"}}]}, "tools[0].function.name"),
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}}]},
         "tools[0].function.parameters"),
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"$ref": "#/x"}}}]},
         "tools[0].function.parameters"),
    ],
)  # fmt: skip
def test_malformed_requests_are_400_naming_the_parameter(server, fields: dict, param: str | None) -> None:
    error = openai_error(_chat(server, **fields), 400)
    assert error["type"] == "invalid_request_error"
    if param is not None:
        assert error["param"] == param


def test_bodies_that_are_not_a_request_are_400_or_413(server) -> None:
    url = "/v1/chat/completions"
    for content in (b"not json", b"[]", b'"text"', b"{", b""):
        error = openai_error(
            server.post(url, content=content, headers={"content-type": "application/json"}), 400
        )
        assert error["type"] == "invalid_request_error"
    openai_error(server.post(url, json={"messages": [{"role": "user", "content": "hi"}]}), 400)  # no model
    too_big = {"model": "m", "messages": [{"role": "user", "content": "x" * 2_000_000}]}
    assert openai_error(server.post(url, json=too_big), 413)["code"] == "request_too_large"

    def chunked():
        yield b'{"model": "m", "messages": [{"role": "user", "content": "'
        for _ in range(300):
            yield b"y" * 8192
        yield b'"}]}'

    assert openai_error(server.post(url, content=chunked()), 413)["code"] == "request_too_large"
    too_many = [{"role": "user", "content": "hi"}] * 257
    assert openai_error(_chat(server, messages=too_many), 400)["param"] == "messages"
    too_long = [{"role": "user", "content": "word " * 5000}]
    assert openai_error(_chat(server, messages=too_long), 400)["code"] == "context_length_exceeded"
    unknown = openai_error(_chat(server, model="gpt-4o"), 404)
    assert unknown["code"] == "model_not_found" and unknown["param"] == "model"
    assert openai_error(httpx.get(f"{server.base_url}/v1/nothing"), 404)["code"] == "not_found"
    assert (
        openai_error(httpx.delete(f"{server.base_url}/v1/chat/completions"), 405)["code"]
        == "method_not_allowed"
    )


def test_the_official_client_reads_a_400_as_bad_request(server) -> None:
    client = server.client()
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model=server.service.config.models[0],
            messages=[{"role": "user", "content": "hi"}],
            tools=[WEATHER],
            tool_choice={"type": "function", "function": {"name": "get_time"}},
        )
    assert refused.value.status_code == 400 and refused.value.body["param"] == "tool_choice"
