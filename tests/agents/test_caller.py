"""The caller's list form (`call_tools`): how its output is read, its schema, and the packaged 0.5B
writing one call per item of a part, or one call that takes a list whole."""

from __future__ import annotations

import asyncio

import pytest

from tinycrew.agents.caller import _calls, call_tools, tool_calls_schema
from tinycrew.models import ChatResult, ToolCall

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in one city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city's name"}},
            "required": ["city"],
        },
    },
}
AVERAGE = {
    "type": "function",
    "function": {
        "name": "average",
        "description": "The mean of a list of numbers.",
        "parameters": {
            "type": "object",
            "properties": {"values": {"type": "array", "items": {"type": "number"}}},
            "required": ["values"],
        },
    },
}


def test_a_json_list_of_calls_is_read_in_order_and_cut_at_the_limit() -> None:
    text = '[{"name": "get_weather", "arguments": {"city": "Cairo"}}, ' + (
        '{"name": "get_weather", "arguments": {"city": "Tokyo"}}, '
        '{"name": "get_weather", "arguments": {"city": "Quito"}}]'
    )
    calls = _calls(ChatResult(model="m", content=text), {"get_weather"}, most=2)
    assert [call.arguments["city"] for call in calls] == ["Cairo", "Tokyo"]


def test_native_calls_and_a_single_object_are_read_too() -> None:
    native = ChatResult(
        model="m", content="", tool_calls=[ToolCall(id="c1", name="get_weather", arguments={"city": "Oslo"})]
    )
    assert [call.name for call in _calls(native, {"get_weather"}, 6)] == ["get_weather"]
    single = ChatResult(model="m", content='{"name": "get_weather", "arguments": {"city": "Oslo"}}')
    assert _calls(single, {"get_weather"}, 6)[0].arguments == {"city": "Oslo"}


def test_a_reply_without_a_call_to_the_offered_tool_is_an_error() -> None:
    with pytest.raises(ValueError, match="no call"):
        _calls(ChatResult(model="m", content='[{"name": "other", "arguments": {}}]'), {"get_weather"}, 6)


def test_the_schema_is_a_bounded_list_of_calls_to_the_tools() -> None:
    schema = tool_calls_schema([WEATHER], 4)
    assert schema["type"] == "array" and (schema["minItems"], schema["maxItems"]) == (1, 4)
    assert schema["items"]["properties"]["name"] == {"const": "get_weather"}


@pytest.mark.slow
def test_the_model_writes_one_call_per_item_of_a_part(default_model) -> None:
    step = asyncio.run(
        call_tools(
            default_model,
            "Compare the weather in Cairo and in Tokyo.",
            [WEATHER],
            [],
            "the weather in Cairo and in Tokyo",
        )
    )
    assert sorted(call.arguments["city"] for call in step.parsed) == ["Cairo", "Tokyo"]


@pytest.mark.slow
def test_the_model_writes_one_call_for_a_list_the_tool_takes_whole(default_model) -> None:
    task = "What is the average of 4, 8 and 15?"
    step = asyncio.run(call_tools(default_model, task, [AVERAGE], [], "the average of 4, 8 and 15"))
    assert [call.arguments for call in step.parsed] == [{"values": [4, 8, 15]}]
