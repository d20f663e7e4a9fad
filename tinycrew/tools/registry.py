"""ToolRegistry: the tools an agent may use, by name; subsets keep what a small model sees short."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from tinycrew.tools.core import Tool, ToolResult
from tinycrew.tools.decorator import function_to_tool
from tinycrew.tools.langchain_adapter import from_langchain, is_langchain_tool

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool


def _suggest(name: str, names: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(names), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class ToolRegistry:
    """Tools by name, in the order they were added."""

    def __init__(self, tools: Iterable[Tool | Callable[..., Any] | BaseTool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for item in tools:
            self.add(item)

    def add(self, item: Tool | Callable[..., Any] | BaseTool, *, replace: bool = False) -> Tool:
        """Add a Tool, a typed function (wrapped as by ``@tool``) or a LangChain ``BaseTool`` (converted
        by ``from_langchain`` with its defaults; call it yourself for a timeout or ``side_effect``);
        returns the Tool.

        A second tool with the same name is an error unless ``replace=True``.
        """
        if not isinstance(item, Tool):
            item = from_langchain(item) if is_langchain_tool(item) else function_to_tool(item)
        if item.name in self._tools and not replace:
            raise ValueError(f"a tool named {item.name!r} is already registered")
        self._tools[item.name] = item
        return item

    def get(self, name: str) -> Tool:
        """The tool called ``name``; KeyError names the closest match when there is one."""
        try:
            return self._tools[name]
        except KeyError:
            raise KeyError(f"unknown tool {name!r}{_suggest(name, self._tools)}") from None

    __getitem__ = get

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(list(self._tools.values()))

    def __len__(self) -> int:
        return len(self._tools)

    def __repr__(self) -> str:
        return f"ToolRegistry({self.names()})"

    def names(self) -> list[str]:
        """Tool names in the order they were added."""
        return list(self._tools)

    def openai_schemas(self, names: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """OpenAI-format schemas of all tools, or of ``names`` in the order given."""
        chosen = self._tools.values() if names is None else [self.get(name) for name in names]
        return [tool.openai_schema() for tool in chosen]

    def referenced(self, name: str) -> list[str]:
        """The other tools that tool `name`'s schema (description or parameter descriptions) names, in
        registry order: a tool that says where its inputs come from ("an address from
        get_email_address") brings that tool along when retrieval offers it (`offered_with_sources`).
        """
        text = json.dumps(self.get(name).openai_schema())
        return [
            other
            for other in self._tools
            if other != name and re.search(rf"(?<![\w.\-]){re.escape(other)}(?![\w\-])", text)
        ]

    def offered_with_sources(self, names: Iterable[str]) -> list[str]:
        """`names` with the tools they reference (`referenced`) just before each, once, transitively:
        a lookup such as get_email_address is rarely similar to the request that needs it ("Send Kofi
        the notes"), so similarity alone would not offer it."""
        offered: list[str] = []

        def add(name: str, path: tuple[str, ...]) -> None:
            for source in self.referenced(name):
                if source not in offered and source not in path:
                    add(source, (*path, source))
            if name not in offered:
                offered.append(name)

        for name in names:
            add(name, (name,))
        return offered

    def subset(self, names: Iterable[str]) -> ToolRegistry:
        """A new registry with only ``names`` (same Tool objects), e.g. the few tools retrieval picked."""
        return ToolRegistry(self.get(name) for name in names)

    def _unknown(self, name: str) -> ToolResult:
        message = f"unknown tool {name!r}{_suggest(name, self._tools)}; available: {', '.join(self._tools)}"
        return ToolResult(
            ok=False, content=f"error: {message}", error=message, error_kind="unknown_tool", tool=name
        )

    async def arun(self, name: str, raw_args: Mapping[str, Any] | str | None) -> ToolResult:
        """Run the tool ``name``; an unknown name is an observation too (with a suggestion)."""
        if name not in self._tools:
            return self._unknown(name)
        return await self._tools[name].arun(raw_args)

    def run(self, name: str, raw_args: Mapping[str, Any] | str | None) -> ToolResult:
        """Synchronous ``arun``."""
        if name not in self._tools:
            return self._unknown(name)
        return self._tools[name].run(raw_args)
