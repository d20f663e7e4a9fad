"""The llama.cpp backend on the packaged 0.5B model (real weights, real llama.cpp)."""

from __future__ import annotations

import asyncio
import threading

import jsonschema
import pytest

from tinycrew.models.grammar import tool_call_schema

pytestmark = pytest.mark.slow

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "convert_currency",
            "description": "Convert an amount of money from one currency to another.",
            "parameters": {
                "type": "object",
                "properties": {
                    "amount": {"type": "number"},
                    "source": {"type": "string"},
                    "target": {"type": "string"},
                },
                "required": ["amount", "source", "target"],
            },
        },
    },
]


def ask(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def test_constrained_call_is_schema_valid(default_model) -> None:
    result = default_model.chat(ask("How much is 120 US dollars in euros?"), TOOLS, tool_choice="required")
    [call] = result.tool_calls
    jsonschema.validate({"name": call.name, "arguments": call.arguments}, tool_call_schema(TOOLS))
    assert call.name == "convert_currency"
    assert result.finish_reason == "tool_calls"


def test_constrained_call_to_a_named_tool(default_model) -> None:
    result = default_model.chat(ask("Tell me a joke."), TOOLS, tool_choice="get_weather", max_tokens=60)
    [call] = result.tool_calls
    assert call.name == "get_weather" and isinstance(call.arguments["city"], str)


def test_unconstrained_tool_call_is_parsed_from_the_models_own_format(default_model) -> None:
    result = default_model.chat(ask("What's the weather in Paris?"), TOOLS)
    assert [call.name for call in result.tool_calls] == ["get_weather"]
    assert "paris" in result.tool_calls[0].arguments["city"].lower()


def test_json_schema_constrains_free_output(default_model) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}
    result = default_model.chat(ask("What is 6 times 7? Reply in JSON."), json_schema=schema, max_tokens=30)
    import json

    jsonschema.validate(json.loads(result.content), schema)


def test_gbnf_grammar(default_model) -> None:
    result = default_model.chat(ask("Is the sky blue? Answer yes or no."), grammar='root ::= "yes" | "no"')
    assert result.content in {"yes", "no"}


def test_streaming_yields_the_same_text_as_non_streaming(default_model) -> None:
    messages = ask("List three colours, one per line.")
    default_model.reset_cache()
    chunks = list(default_model.stream(messages, max_tokens=40))
    default_model.reset_cache()
    whole = default_model.chat(messages, max_tokens=40)
    assert "".join(chunk.delta for chunk in chunks) == whole.content
    assert chunks[-1].result is not None and chunks[-1].result.content == whole.content
    assert len([chunk for chunk in chunks if chunk.delta]) > 1


def test_prefix_of_system_prompt_and_tools_is_reused(default_model) -> None:
    system = {"role": "system", "content": "You call tools for the user. " * 20}
    default_model.reset_cache()
    cold = default_model.chat([system, *ask("Weather in Rome?")], TOOLS, tool_choice="required")
    warm = default_model.chat([system, *ask("Convert 5 GBP to JPY.")], TOOLS, tool_choice="required")
    assert cold.usage.cached_prompt_tokens == 0
    assert warm.usage.cached_prompt_tokens > 0.8 * warm.usage.prompt_tokens - 20
    assert warm.timings.ttft_s < cold.timings.ttft_s


def test_logprobs_are_returned_when_asked(default_model) -> None:
    result = default_model.chat(ask("Say hello."), max_tokens=8, logprobs=True)
    assert result.logprobs and all(item.logprob <= 0 for item in result.logprobs)
    assert "".join(item.token for item in result.logprobs) in result.content + result.content
    assert default_model.chat(ask("Say hello."), max_tokens=8).logprobs is None


def test_the_probability_of_ending_is_known_only_when_the_model_ended(default_model) -> None:
    ended = default_model.chat(ask("Is 7 odd? Answer yes or no."), max_tokens=20, logprobs=True)
    assert ended.finish_reason == "stop" and ended.stop_logprob is not None
    assert -20 < ended.stop_logprob <= 0
    cut = default_model.chat(ask("Count from 1 to 50."), max_tokens=4, logprobs=True)
    assert cut.finish_reason == "length" and cut.stop_logprob is None


def test_async_chat_and_stream(default_model) -> None:
    async def run() -> tuple[str, str]:
        result = await default_model.achat(ask("Name one planet."), max_tokens=10)
        default_model.reset_cache()
        streamed = [chunk async for chunk in default_model.astream(ask("Name one planet."), max_tokens=10)]
        return result.content, "".join(chunk.delta for chunk in streamed)

    assert all(asyncio.run(run()))


def test_threads_share_one_context_safely(default_model) -> None:
    results: list[str] = []

    def worker(city: str) -> None:
        call = default_model.chat(ask(f"Weather in {city}?"), TOOLS, tool_choice="get_weather").tool_calls[0]
        results.append(call.arguments["city"])

    threads = [threading.Thread(target=worker, args=(city,)) for city in ("Oslo", "Lima", "Cairo")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["Cairo", "Lima", "Oslo"]
