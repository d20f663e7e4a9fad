"""`/v1/chat/completions` with tools, through the official `openai` client against a real server on the
packaged 0.5B model: every call that comes back parses and matches its tool's schema."""

from __future__ import annotations

import json

import jsonschema
import pytest

from tests.service.conftest import ADD, WEATHER
from tinycrew.service.openings import Opening, classify_start

pytestmark = pytest.mark.slow

SCHEMAS = {tool["function"]["name"]: tool["function"]["parameters"] for tool in (WEATHER, ADD)}


def valid_calls(message) -> list[tuple[str, dict]]:
    """The message's calls as (name, arguments); each must parse as JSON and match its tool's schema."""
    calls = []
    for call in message.tool_calls or []:
        assert call.type == "function" and call.id.startswith("call_")
        arguments = json.loads(call.function.arguments)
        jsonschema.validate(arguments, SCHEMAS[call.function.name])
        calls.append((call.function.name, arguments))
    return calls


def test_a_weather_question_gets_a_call_that_parses_and_matches_the_schema(server) -> None:
    client = server.client()
    reply = client.chat.completions.create(
        model=client.models.list().data[0].id,
        messages=[{"role": "user", "content": "What's the weather in Paris?"}],
        tools=[WEATHER],
        parallel_tool_calls=False,
        max_tokens=48,
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    [(name, arguments)] = valid_calls(choice.message)
    assert name == "get_weather" and arguments["city"] == "Paris"
    assert reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_a_request_no_tool_is_about_gets_text_and_no_call(server) -> None:
    client = server.client()
    reply = client.chat.completions.create(
        model=server.service.config.models[0],
        messages=[{"role": "user", "content": "Say hello"}],
        tools=[WEATHER],
        max_tokens=16,
    )
    choice = reply.choices[0]
    assert choice.message.tool_calls is None
    assert choice.finish_reason in ("stop", "length")
    assert "hello" in choice.message.content.lower()


def test_tool_choice_none_answers_in_text_even_when_a_tool_fits(server) -> None:
    client = server.client()
    reply = client.chat.completions.create(
        model=server.service.config.models[0],
        messages=[{"role": "user", "content": "What's the weather in Paris?"}],
        tools=[WEATHER],
        tool_choice="none",
        max_tokens=12,
    )
    message = reply.choices[0].message
    assert message.tool_calls is None and reply.choices[0].finish_reason in ("stop", "length")
    assert message.content and classify_start(message.content) is not Opening.CALL


def test_tool_choice_required_calls_even_when_no_tool_fits(server) -> None:
    client = server.client()
    reply = client.chat.completions.create(
        model=server.service.config.models[0],
        messages=[{"role": "user", "content": "Say hello"}],
        tools=[WEATHER],
        tool_choice="required",
        max_tokens=48,
    )
    assert reply.choices[0].finish_reason == "tool_calls"
    calls = valid_calls(reply.choices[0].message)
    assert calls and all(name == "get_weather" for name, _ in calls)


def test_a_named_tool_choice_calls_that_tool(server) -> None:
    client = server.client()
    reply = client.chat.completions.create(
        model=server.service.config.models[0],
        messages=[{"role": "user", "content": "What's the weather in Paris?"}],
        tools=[WEATHER, ADD],
        tool_choice={"type": "function", "function": {"name": "add"}},
        parallel_tool_calls=False,
        max_tokens=48,
    )
    [(name, arguments)] = valid_calls(reply.choices[0].message)
    assert name == "add" and set(arguments) == {"a", "b"}


def test_parallel_tool_calls_gives_one_call_per_city_and_false_gives_one(server) -> None:
    client = server.client()
    question = [{"role": "user", "content": "What's the weather in Paris and in Rome?"}]
    model = server.service.config.models[0]
    both = client.chat.completions.create(model=model, messages=question, tools=[WEATHER], max_tokens=96)
    calls = valid_calls(both.choices[0].message)
    assert {arguments["city"] for _, arguments in calls} == {"Paris", "Rome"}
    assert len({call.id for call in both.choices[0].message.tool_calls}) == 2
    one = client.chat.completions.create(
        model=model, messages=question, tools=[WEATHER], parallel_tool_calls=False, max_tokens=48
    )
    assert len(valid_calls(one.choices[0].message)) == 1


def test_after_the_tool_result_the_answer_is_text(server) -> None:
    client = server.client()
    model = server.service.config.models[0]
    messages = [{"role": "user", "content": "What's the weather in Paris?"}]
    first = client.chat.completions.create(
        model=model, messages=messages, tools=[WEATHER], parallel_tool_calls=False, max_tokens=48
    )
    call = first.choices[0].message.tool_calls[0]
    messages.append(first.choices[0].message.model_dump(exclude_none=True))  # echoed back as clients do
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "18 C, sunny"})
    second = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER], max_tokens=32)
    answer = second.choices[0].message
    assert answer.tool_calls is None
    assert "18" in answer.content and classify_start(answer.content) is not Opening.CALL
