"""An MCP server written with the mcp SDK's own MCPServer (not tinycrew), for from_mcp interop tests.

Its schemas come from the SDK: titles, ``$defs``/``$ref`` for a nested model, structured output.
Run as ``python -m tests.tools.mcp_foreign_server``.
"""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel

server = MCPServer("foreign")


class Point(BaseModel):
    """A point in the plane."""

    x: float
    y: float


@server.tool()
def distance(a: Point, b: Point) -> float:
    """Euclidean distance between two points."""
    return ((a.x - b.x) ** 2 + (a.y - b.y) ** 2) ** 0.5


@server.tool()
def stats(values: list[int]) -> dict[str, float]:
    """Minimum, maximum and mean of some integers."""
    return {"min": min(values), "max": max(values), "mean": sum(values) / len(values)}


if __name__ == "__main__":
    server.run("stdio")
