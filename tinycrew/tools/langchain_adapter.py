"""LangChain tools as tinycrew Tools, so the large LangChain tool ecosystem is usable by small models.

The schema LangChain would send to OpenAI becomes the Tool's schema; arguments are validated by tinycrew's
rules (safe coercions, short errors) before the LangChain tool runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinycrew.tools.core import DEFAULT_MAX_CHARS, DEFAULT_TIMEOUT_S, Tool
from tinycrew.tools.from_schema import tool_from_schema

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

_MISSING = "from_langchain needs langchain-core; install it with: pip install 'tinycrew[interop]'"


def from_langchain(
    lc_tool: BaseTool,
    *,
    side_effect: bool = False,
    timeout: float | None = DEFAULT_TIMEOUT_S,
    max_chars: int | None = DEFAULT_MAX_CHARS,
) -> Tool:
    """Wrap a LangChain ``BaseTool`` (including ``@langchain_core.tools.tool`` functions) as a Tool.

    The call goes through ``lc_tool.ainvoke``, so sync and async LangChain tools both work.
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

    async def call_langchain(**arguments: Any) -> Any:
        return await lc_tool.ainvoke(arguments)

    return tool_from_schema(
        schema, call_langchain, side_effect=side_effect, timeout=timeout, max_chars=max_chars
    )
