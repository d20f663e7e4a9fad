"""Streamed replies: OpenAI's chunk format on the wire, tool-call deltas the official client assembles."""

from __future__ import annotations

import json

import httpx
import jsonschema
import pytest

from tests.service.conftest import WEATHER

pytestmark = pytest.mark.slow


def test_a_streamed_tool_call_assembles_into_a_call_that_matches_the_schema(server) -> None:
    client = server.client()
    stream = client.chat.completions.create(
        model=server.service.config.models[0],
        messages=[{"role": "user", "content": "What's the weather in Paris?"}],
        tools=[WEATHER],
        tool_choice="required",
        parallel_tool_calls=False,
        max_tokens=48,
        stream=True,
        stream_options={"include_usage": True},
    )
    calls: dict[int, dict[str, str]] = {}
    finish, usage, roles = None, None, []
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            roles += [choice.delta.role] if choice.delta.role else []
            finish = choice.finish_reason or finish
            for delta in choice.delta.tool_calls or []:
                call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                call["id"] += delta.id or ""
                call["name"] += (delta.function.name or "") if delta.function else ""
                call["arguments"] += (delta.function.arguments or "") if delta.function else ""
    assert roles == ["assistant"] and finish == "tool_calls"
    [call] = calls.values()
    assert call["id"].startswith("call_") and call["name"] == "get_weather"
    arguments = json.loads(call["arguments"])
    jsonschema.validate(arguments, WEATHER["function"]["parameters"])
    assert arguments["city"] == "Paris"
    assert usage is not None and usage.completion_tokens > 0


def test_a_streamed_text_reply_is_openai_server_sent_events_ending_in_done(server) -> None:
    body = {
        "model": server.service.config.models[0],
        "messages": [{"role": "user", "content": "Say hello"}],
        "tools": [WEATHER],
        "max_tokens": 8,
        "stream": True,
    }
    with httpx.stream("POST", f"{server.base_url}/v1/chat/completions", json=body, timeout=120) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = response.read().decode()
    assert "\r" not in raw and raw.endswith("data: [DONE]\n\n")
    events = raw.split("\n\n")[:-1]
    assert all(event.startswith("data: ") and "\n" not in event for event in events)
    chunks = [json.loads(event.removeprefix("data: ")) for event in events[:-1]]
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert len({chunk["id"] for chunk in chunks}) == 1
    first, last = chunks[0]["choices"][0], chunks[-1]["choices"][0]
    assert first["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert last["delta"] == {} and last["finish_reason"] in ("stop", "length")
    text = "".join(chunk["choices"][0]["delta"].get("content") or "" for chunk in chunks)
    assert "hello" in text.lower()
    assert not any("tool_calls" in chunk["choices"][0]["delta"] for chunk in chunks)
