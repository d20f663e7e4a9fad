"""Tools for small models: few, well-described, with every argument checked.

``@tool`` turns a typed function into a Tool; ``tool_from_schema`` builds one from a JSON schema;
``ToolRegistry`` holds them; ``from_langchain``, ``from_mcp`` and ``serve_mcp`` connect to other ecosystems.
"""

from tinycrew.tools.core import DEFAULT_MAX_CHARS, DEFAULT_TIMEOUT_S, Tool, ToolResult, to_content, truncate
from tinycrew.tools.decorator import function_to_tool, tool
from tinycrew.tools.errors import ToolArgumentError, ToolError
from tinycrew.tools.from_schema import tool_from_schema
from tinycrew.tools.langchain_adapter import from_langchain
from tinycrew.tools.mcp_adapter import (
    MCPToolError,
    MCPToolset,
    afrom_mcp,
    aserve_mcp,
    build_mcp_server,
    from_mcp,
    serve_mcp,
)
from tinycrew.tools.registry import ToolRegistry
from tinycrew.tools.schema import normalize_schema

__all__ = [
    "DEFAULT_MAX_CHARS",
    "DEFAULT_TIMEOUT_S",
    "MCPToolError",
    "MCPToolset",
    "Tool",
    "ToolArgumentError",
    "ToolError",
    "ToolRegistry",
    "ToolResult",
    "afrom_mcp",
    "aserve_mcp",
    "build_mcp_server",
    "from_langchain",
    "from_mcp",
    "function_to_tool",
    "normalize_schema",
    "serve_mcp",
    "to_content",
    "tool",
    "tool_from_schema",
    "truncate",
]
