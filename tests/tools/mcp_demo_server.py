"""A tiny MCP server for the tests: a ToolRegistry with a few tools, served by tinycrew's serve_mcp.

Run as ``python -m tests.tools.mcp_demo_server stdio`` or ``... streamable-http PORT``.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Literal

from tinycrew.tools import ToolRegistry, tool


@tool
def add(a: int, b: int = 1) -> int:
    """Add two integers.

    Args:
        a: The first number.
        b: The second number.
    """
    return a + b


@tool(side_effect=True)
async def greet(name: str, style: Literal["plain", "loud"] = "plain") -> dict:
    """Greet someone by name.

    Args:
        name: Who to greet.
        style: How to greet.
    """
    await asyncio.sleep(0)
    text = f"hello {name}"
    return {"greeting": text.upper() if style == "loud" else text}


@tool
def explode(reason: str) -> str:
    """Always fails, to show how errors travel.

    Args:
        reason: What to complain about.
    """
    raise RuntimeError(f"exploded: {reason}")


def build_registry() -> ToolRegistry:
    """The registry the server exposes (the tests compare schemas against it)."""
    return ToolRegistry([add, greet, explode])


if __name__ == "__main__":
    from tinycrew.tools.mcp_adapter import serve_mcp

    transport = sys.argv[1] if len(sys.argv) > 1 else "stdio"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
    serve_mcp(build_registry(), transport, "127.0.0.1", port)  # type: ignore[arg-type]
