"""LangChain tools as tinycrew Tools, so the large LangChain tool ecosystem is usable by small models.

The schema LangChain would send to OpenAI becomes the Tool's schema; arguments are validated by tinycrew's
rules (safe coercions, short errors) before the LangChain tool runs. `ToolRegistry` (and so `Agent(tools=)`)
converts a LangChain tool it is given with `from_langchain`, the way LangGraph's ToolNode takes them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinycrew.tools.core import DEFAULT_MAX_CHARS, DEFAULT_TIMEOUT_S, Tool
from tinycrew.tools.from_schema import tool_from_schema

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

_MISSING = "from_langchain needs langchain-core; install it with: pip install 'tinycrew[interop]'"


def is_langchain_tool(item: object) -> bool:
    """Whether `item` is a langchain_core `BaseTool` (False when langchain-core is not installed)."""
    try:
        from langchain_core.tools import BaseTool
    except ImportError:
        return False
    return isinstance(item, BaseTool)


def has_async(lc_tool: BaseTool) -> bool:
    """Whether the tool has its own async implementation: a `coroutine` (``StructuredTool``, ``Tool``) or
    an overridden ``_arun``. Otherwise LangChain's ``ainvoke`` would run the sync one in the event loop's
    default executor, whose threads ``asyncio.run`` waits for, so a hung call would outlast its timeout."""
    from langchain_core.tools import BaseTool, StructuredTool
    from langchain_core.tools import Tool as SimpleTool

    if isinstance(lc_tool, StructuredTool | SimpleTool):
        return lc_tool.coroutine is not None
    return type(lc_tool)._arun is not BaseTool._arun


def from_langchain(
    lc_tool: BaseTool,
    *,
    side_effect: bool = False,
    timeout: float | None = DEFAULT_TIMEOUT_S,
    max_chars: int | None = DEFAULT_MAX_CHARS,
) -> Tool:
    """Wrap a LangChain ``BaseTool`` (including ``@langchain_core.tools.tool`` functions) as a Tool.

    Name, description and argument schema carry over. A tool with an async implementation runs through
    ``lc_tool.ainvoke``, any other through ``lc_tool.invoke`` on a worker thread that a timeout abandons
    (as tinycrew's own sync tools do). Whatever it raises (``ToolException`` included) becomes an
    ``ok=False`` observation; a tool with ``handle_tool_error`` set returns its message as LangChain does.
    """
    try:
        from langchain_core.tools import BaseTool
        from langchain_core.utils.function_calling import convert_to_openai_tool
    except ImportError as exc:
        raise ImportError(_MISSING) from exc
    if not isinstance(lc_tool, BaseTool):
        hint = " (decorate it with tinycrew.tools.tool instead)" if callable(lc_tool) else ""
        raise TypeError(f"from_langchain needs a langchain_core BaseTool, got {lc_tool!r}{hint}")
    schema = convert_to_openai_tool(lc_tool)

    async def call_async(**arguments: Any) -> Any:
        return await lc_tool.ainvoke(arguments)

    def call_sync(**arguments: Any) -> Any:
        return lc_tool.invoke(arguments)

    call = call_async if has_async(lc_tool) else call_sync
    return tool_from_schema(schema, call, side_effect=side_effect, timeout=timeout, max_chars=max_chars)
