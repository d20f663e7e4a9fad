"""from_langchain: LangChain tools (decorated functions and BaseTool classes) as tinycrew Tools."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from langchain_core.tools import BaseTool, StructuredTool, ToolException
from langchain_core.tools import tool as lc_tool
from pydantic import BaseModel, Field

from tinycrew.tools import ToolRegistry, from_langchain
from tinycrew.tools.langchain_adapter import has_async


@lc_tool(parse_docstring=True)
def multiply(a: int, b: float = 2.0) -> float:
    """Multiply two numbers.

    Args:
        a: The first factor.
        b: The second factor.
    """
    return a * b


class LookupArgs(BaseModel):
    word: str = Field(description="The word to look up.")
    language: str = Field(default="en", description="Language code.")


class Lookup(BaseTool):
    name: str = "dictionary.lookup"
    description: str = "Look a word up in the dictionary."
    args_schema: type[BaseModel] = LookupArgs

    def _run(self, word: str, language: str = "en") -> dict:
        if word == "xyzzy":
            raise ToolException("no such word")
        return {"word": word, "language": language, "meaning": f"meaning of {word}"}


def test_decorated_function_keeps_its_schema() -> None:
    converted = from_langchain(multiply)
    assert converted.name == "multiply"
    assert converted.description == "Multiply two numbers."
    assert converted.parameters == {
        "type": "object",
        "properties": {
            "a": {"type": "integer", "description": "The first factor."},
            "b": {"type": "number", "default": 2.0, "description": "The second factor."},
        },
        "required": ["a"],
    }
    result = converted.run({"a": "3", "b": "1.5"})
    assert result.ok and result.content == "4.5"
    bad = converted.run({"a": "3.5"})
    assert not bad.ok and bad.error == "argument 'a': expected integer, got '3.5'"


async def test_base_tool_subclass_runs_and_errors_are_observations() -> None:
    converted = from_langchain(Lookup(), side_effect=True, timeout=5)
    assert converted.name == "dictionary.lookup"
    assert converted.side_effect is True and converted.timeout == 5
    assert converted.parameters["properties"]["word"] == {
        "description": "The word to look up.",
        "type": "string",
    }
    result = await converted.arun({"word": "tea"})
    assert result.ok
    assert result.content == '{"word":"tea","language":"en","meaning":"meaning of tea"}'
    failed = await converted.arun({"word": "xyzzy"})
    assert not failed.ok and failed.error == "ToolException: no such word"
    missing = await converted.arun({})
    assert missing.error == "missing required argument 'word'"


async def test_async_langchain_tool_with_timeout() -> None:
    async def wait(seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "waited"

    def wait_sync(seconds: float) -> str:
        return "sync"

    structured = StructuredTool.from_function(
        func=wait_sync, coroutine=wait, name="wait", description="Wait a while."
    )
    converted = from_langchain(structured, timeout=0.3)
    assert (await converted.arun({"seconds": 0})).content == "waited"
    slow = await converted.arun({"seconds": 2})
    assert slow.error_kind == "timeout"
    registry = ToolRegistry([converted, from_langchain(multiply)])
    assert registry.names() == ["wait", "multiply"]


def test_plain_functions_are_refused_with_a_hint() -> None:
    def plain(x: int) -> int:
        return x

    with pytest.raises(TypeError, match="needs a langchain_core BaseTool.*tinycrew.tools.tool"):
        from_langchain(plain)  # type: ignore[arg-type]


class AsyncLookup(Lookup):
    """A BaseTool subclass with its own async implementation."""

    name: str = "dictionary.alookup"

    async def _arun(self, word: str, language: str = "en") -> dict:
        await asyncio.sleep(0)
        return {"word": word, "async": True}


def test_registry_converts_langchain_tools_as_they_are() -> None:
    registry = ToolRegistry([multiply, Lookup(), AsyncLookup()])
    assert registry.names() == ["multiply", "dictionary.lookup", "dictionary.alookup"]
    assert registry.get("multiply").parameters == from_langchain(multiply).parameters
    assert registry.get("dictionary.lookup").description == "Look a word up in the dictionary."
    assert registry.run("multiply", {"a": 2, "b": 4}).content == "8.0"
    assert registry.run("dictionary.alookup", {"word": "tea"}).content == '{"word":"tea","async":true}'
    failed = registry.run("dictionary.lookup", {"word": "xyzzy"})
    assert (
        not failed.ok
        and failed.error_kind == "exception"
        and failed.content == "error: ToolException: no such word"
    )


def test_sync_and_async_implementations_are_told_apart() -> None:
    async def wait(seconds: float) -> str:
        return "waited"

    def wait_sync(seconds: float) -> str:
        return "sync"

    both = StructuredTool.from_function(func=wait_sync, coroutine=wait, name="wait", description="Wait.")
    assert [has_async(t) for t in (multiply, Lookup(), AsyncLookup(), both)] == [False, False, True, True]
    assert from_langchain(both).run({"seconds": 0}).content == "waited"
    assert from_langchain(multiply).run({"a": 1, "b": 3}).content == "3.0"


def test_a_hung_sync_langchain_tool_is_abandoned_at_its_timeout() -> None:
    release = threading.Event()

    @lc_tool
    def hang(seconds: float) -> str:
        """Wait for a release that never comes in time."""
        release.wait(seconds)
        return "released"

    started = time.monotonic()
    result = from_langchain(hang, timeout=0.3).run({"seconds": 30})
    elapsed = time.monotonic() - started
    release.set()
    assert result.error_kind == "timeout" and result.error == "timed out after 0.3s"
    assert elapsed < 5, f"the run waited {elapsed:.1f}s for the hung thread"
