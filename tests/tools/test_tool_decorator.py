"""@tool: schema from a typed function and its docstring; running sync and async tools as observations."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
from typing import Any, Literal

import pytest
from pydantic import BaseModel

from tinycrew.tools import Tool, ToolError, ToolResult, to_content, tool, truncate


class Address(BaseModel):
    street: str
    number: int | None = None


@tool
def get_weather(
    city: str,
    days: int = 1,
    units: Literal["metric", "imperial"] = "metric",
    tags: list[str] | None = None,
    address: Address | None = None,
) -> dict:
    """Get the weather forecast for a city.

    Uses the free forecast service.

    Args:
        city: City name, e.g. "Paris".
        days: How many days ahead,
            from 1 to 7.
        units: Unit system of the answer.
        tags: Labels to attach.
        address: A street address, for more precision.
    """
    return {"city": city, "days": days, "units": units}


def _all_keys(node: Any) -> list[str]:
    """Every key of every dict that is a schema (not a property-name map)."""
    keys: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            keys.append(key)
            if key == "properties":
                for sub in value.values():
                    keys.extend(_all_keys(sub))
            else:
                keys.extend(_all_keys(value))
    elif isinstance(node, list):
        for item in node:
            keys.extend(_all_keys(item))
    return keys


def test_schema_from_signature_and_docstring() -> None:
    schema = get_weather.openai_schema()
    assert schema["type"] == "function"
    function = schema["function"]
    assert function["name"] == "get_weather"
    assert (
        function["description"] == "Get the weather forecast for a city.\n\nUses the free forecast service."
    )
    params = function["parameters"]
    assert params["type"] == "object"
    assert params["required"] == ["city"]
    props = params["properties"]
    assert list(props) == ["city", "days", "units", "tags", "address"]
    assert props["city"] == {"type": "string", "description": 'City name, e.g. "Paris".'}
    assert props["days"] == {
        "type": "integer",
        "description": "How many days ahead,\nfrom 1 to 7.",
        "default": 1,
    }
    assert props["units"]["enum"] == ["metric", "imperial"]
    assert props["units"]["default"] == "metric"
    assert props["tags"] == {"type": "array", "description": "Labels to attach.", "items": {"type": "string"}}
    assert props["address"]["type"] == "object"
    assert props["address"]["required"] == ["street"]
    assert props["address"]["properties"]["number"] == {"type": "integer"}
    keys = _all_keys(params)
    assert "title" not in keys and "$ref" not in keys and "$defs" not in keys and "anyOf" not in keys


def test_tool_attributes_and_schema_hash() -> None:
    assert isinstance(get_weather, Tool)
    assert get_weather.name == "get_weather"
    assert get_weather.side_effect is False
    assert get_weather.timeout == 60.0
    assert get_weather.parameters == get_weather.openai_schema()["function"]["parameters"]
    first = get_weather.schema_hash()
    assert len(first) == 64 and first == get_weather.schema_hash()

    def f(x: int) -> int:
        """Double x."""
        return 2 * x

    def g(x: int) -> int:
        """Triple x."""
        return 3 * x

    g.__name__ = "f"
    assert tool(f).schema_hash() == tool(f).schema_hash()
    assert tool(f).schema_hash() != tool(g).schema_hash()


def test_decorator_options() -> None:
    @tool(name="send.mail", timeout=3, side_effect=True, description="Send an e-mail.")
    def send(to: str, body: str = "") -> str:
        """Ignored because a description is given."""
        return f"sent to {to}"

    assert send.name == "send.mail"
    assert send.timeout == 3
    assert send.side_effect is True
    assert send.description == "Send an e-mail."
    assert send("a@b.c") == "sent to a@b.c"
    assert send.run({"to": "a@b.c"}).content == "sent to a@b.c"


def test_parameter_names_that_shadow_pydantic() -> None:
    @tool
    def export(json: bool, model_id: str, schema: str = "v1") -> str:
        """Export a model.

        Args:
            json: Write JSON.
            model_id: Which model.
            schema: Schema version.
        """
        return f"{json} {model_id} {schema}"

    assert list(export.parameters["properties"]) == ["json", "model_id", "schema"]
    assert export.validate_args({"json": "true", "model_id": "m"}) == {"json": True, "model_id": "m"}
    assert export.run({"json": False, "model_id": "m", "schema": "v2"}).content == "False m v2"


def test_bad_definitions_are_refused() -> None:
    def documented_wrong(a: int) -> int:
        """Do it.

        Args:
            b: Not a parameter.
        """
        return a

    with pytest.raises(ValueError, match="documents parameters it does not have: b"):
        tool(documented_wrong)

    def star(*values: int) -> int:
        """Sum."""
        return sum(values)

    with pytest.raises(TypeError, match="'values' must be a plain or keyword parameter"):
        tool(star)
    with pytest.raises(ValueError, match="needs a name"):
        tool(lambda x: x)
    with pytest.raises(ValueError, match="timeout"):
        tool(timeout=0)(get_weather.fn)


async def test_sync_and_async_tools_run() -> None:
    @tool
    async def shout(text: str) -> str:
        """Upper-case a text.

        Args:
            text: What to shout.
        """
        await asyncio.sleep(0)
        return text.upper()

    result = await shout.arun({"text": "hi"})
    assert result.ok and result.content == "HI" and result.value == "HI" and result.tool == "shout"
    result = await get_weather.arun('{"city": "Oslo", "days": "2"}')
    assert result.ok
    assert json.loads(result.content) == {"city": "Oslo", "days": 2, "units": "metric"}
    assert result.elapsed_s >= 0


async def test_sync_tools_run_concurrently_in_threads() -> None:
    threads: set[int] = set()

    @tool
    def slow(n: int) -> int:
        """Sleep a little, then echo n.

        Args:
            n: A number.
        """
        threads.add(threading.get_ident())
        time.sleep(0.4)
        return n

    start = time.perf_counter()
    results = await asyncio.gather(*(slow.arun({"n": i}) for i in range(4)))
    elapsed = time.perf_counter() - start
    assert [r.content for r in results] == ["0", "1", "2", "3"]
    assert elapsed < 1.2, f"four 0.4 s calls took {elapsed:.2f} s: not concurrent"
    assert threading.get_ident() not in threads


async def test_timeouts_become_observations() -> None:
    @tool(timeout=0.2)
    def sleepy_sync(seconds: float) -> str:
        """Sleep.

        Args:
            seconds: How long.
        """
        time.sleep(seconds)
        return "awake"

    @tool(timeout=0.2)
    async def sleepy_async(seconds: float) -> str:
        """Sleep.

        Args:
            seconds: How long.
        """
        await asyncio.sleep(seconds)
        return "awake"

    for slow_tool in (sleepy_sync, sleepy_async):
        result = await slow_tool.arun({"seconds": 1})
        assert not result.ok
        assert result.error_kind == "timeout"
        assert result.error == "timed out after 0.2s"
        assert result.content == "error: timed out after 0.2s"
        assert result.elapsed_s < 0.8
        assert (await slow_tool.arun({"seconds": 0})).content == "awake"


async def test_exceptions_become_observations() -> None:
    @tool
    def divide(a: float, b: float) -> float:
        """Divide a by b.

        Args:
            a: Dividend.
            b: Divisor.
        """
        return a / b

    @tool
    def picky(word: str) -> str:
        """Accept only 'please'.

        Args:
            word: The magic word.
        """
        if word != "please":
            raise ToolError(f"say please, not {word!r}")
        return "thank you"

    @tool
    async def own_timeout() -> str:
        """A tool whose own network call timed out (not the tool timeout)."""
        raise TimeoutError("upstream took too long")

    result = await divide.arun({"a": 1, "b": 0})
    assert not result.ok and result.error_kind == "exception"
    assert result.error == "ZeroDivisionError: float division by zero"
    assert result.content == "error: ZeroDivisionError: float division by zero"
    assert (await picky.arun({"word": "now"})).content == "error: say please, not 'now'"
    result = await own_timeout.arun({})
    assert result.error_kind == "exception"
    assert result.error == "TimeoutError: upstream took too long"


@dataclasses.dataclass
class Point:
    x: int
    y: int


def test_results_are_serialized_for_the_model() -> None:
    assert to_content("plain text") == "plain text"
    assert to_content({"a": [1, 2], "b": None}) == '{"a":[1,2],"b":null}'
    assert to_content([Point(1, 2)]) == '[{"x":1,"y":2}]'
    assert to_content(Address(street="Main", number=3)) == '{"street":"Main","number":3}'
    assert to_content(None) == "ok (no output)"
    assert to_content(2.5) == "2.5"
    long = to_content({"text": "x" * 5000}, max_chars=100)
    assert len(long) <= 100 and long.endswith("[truncated, 5011 chars in all]")
    assert truncate("short", 100) == "short"

    @tool(max_chars=50)
    def big() -> str:
        """Return a lot of text."""
        return "y" * 1000

    content = big.run({}).content
    assert len(content) <= 50 and "1000 chars in all" in content


def test_tool_result_model() -> None:
    result = get_weather.run({"city": "Rome"})
    assert isinstance(result, ToolResult)
    dumped = result.model_dump()
    assert "value" not in dumped
    assert dumped["ok"] is True and dumped["error"] is None and dumped["tool"] == "get_weather"


async def test_run_works_inside_a_running_loop() -> None:
    result = get_weather.run({"city": "Lima"})
    assert result.ok and '"city":"Lima"' in result.content


def test_sync_run_returns_at_the_timeout_of_a_hanging_sync_tool() -> None:
    @tool(timeout=0.2)
    def hang(seconds: float) -> str:
        """Block the thread.

        Args:
            seconds: How long.
        """
        time.sleep(seconds)
        return "finally"

    start = time.perf_counter()
    result = hang.run({"seconds": 1.5})
    assert result.error_kind == "timeout"
    assert time.perf_counter() - start < 1.0, "run() waited for the abandoned thread"
