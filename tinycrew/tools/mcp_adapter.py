"""MCP both ways: load an MCP server's tools as Tools (``from_mcp``), serve a ToolRegistry (``serve_mcp``).

An MCP session lives in anyio task scopes that must be entered and left by one task on one event loop.
``from_mcp`` therefore keeps the session on a private event-loop thread (an anyio blocking portal); the
Tools it makes submit calls to that thread, so they work from any event loop, from sync code, and
concurrently, and ``close()`` ends the session (and a stdio server process) cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Literal

from tinycrew.tools.core import DEFAULT_MAX_CHARS, DEFAULT_TIMEOUT_S, Tool
from tinycrew.tools.errors import ToolError
from tinycrew.tools.from_schema import tool_from_schema
from tinycrew.tools.registry import ToolRegistry

_MISSING = "MCP support needs the mcp package; install it with: pip install 'tinycrew[interop]'"
_MAX_PAGES = 100
_NO_TIMEOUT_S = 7 * 24 * 3600.0


class MCPToolError(ToolError):
    """The MCP server answered a tool call with ``isError``; the message is the server's text."""


def _import_mcp() -> Any:
    try:
        import mcp
        import mcp.types
    except ImportError as exc:
        raise ImportError(_MISSING) from exc
    return mcp


def _stderr_target() -> Any:
    """Where a stdio server's stderr goes: our stderr when it is a real file, else nowhere."""
    try:
        sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return subprocess.DEVNULL
    return sys.stderr


def _result_value(result: Any) -> Any:
    """What the model sees of an MCP CallToolResult: its text, else its structured content."""
    texts = [block.text for block in result.content if getattr(block, "type", None) == "text"]
    if result.is_error:
        text = "\n".join(texts).removeprefix("error: ")
        raise MCPToolError(text or "the MCP server reported an error without a message")
    structured = result.structured_content
    if texts and structured is not None and _same_json("\n".join(texts), structured):
        return structured  # the same data, serialized compactly by the Tool
    if texts:
        return "\n".join(texts)
    if structured is not None:
        return structured
    kinds = [
        f"[{block.type} {getattr(block, 'mime_type', '') or ''}]".replace(" ]", "]")
        for block in result.content
    ]
    return " ".join(kinds)


def _same_json(text: str, value: Any) -> bool:
    try:
        return json.loads(text) == value
    except ValueError:
        return False


class MCPToolset(ToolRegistry):
    """The tools of one MCP server, connected; use as a (sync or async) context manager, or call close()."""

    def __init__(self, portal_cm: Any, portal: Any, client_cm: Any, client: Any) -> None:
        super().__init__()
        self._portal_cm = portal_cm
        self._portal = portal
        self._client_cm = client_cm
        self._client = client
        self._closed = False

    async def call(self, name: str, arguments: dict[str, Any], timeout: float | None = None) -> Any:
        """Call tool ``name`` on the server (from any event loop) and return what the model should see."""
        if self._closed:
            raise ToolError(f"the MCP connection for {name!r} is closed")
        wait = timeout if timeout is not None else _NO_TIMEOUT_S
        future = self._portal.start_task_soon(self._client.call_tool, name, arguments, wait)
        return _result_value(await asyncio.wrap_future(future))

    def close(self) -> None:
        """End the MCP session and the server process (stdio); safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            self._client_cm.__exit__(None, None, None)
        finally:
            self._portal_cm.__exit__(None, None, None)

    def __enter__(self) -> MCPToolset:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> MCPToolset:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.to_thread(self.close)


@contextlib.asynccontextmanager
async def _connect(
    mcp: Any,
    command: str | None,
    args: Sequence[str],
    url: str | None,
    env: Mapping[str, str] | None,
    cwd: str | None,
    headers: Mapping[str, str] | None,
    connect_timeout: float,
) -> AsyncIterator[Any]:
    async with contextlib.AsyncExitStack() as stack:
        if command is not None:
            params = mcp.StdioServerParameters(command=command, args=list(args), env=dict(env or {}), cwd=cwd)
            server: Any = mcp.stdio_client(params, errlog=_stderr_target())
        elif headers:
            import httpx2
            from mcp.client.streamable_http import streamable_http_client

            http = await stack.enter_async_context(
                httpx2.AsyncClient(headers=dict(headers), timeout=httpx2.Timeout(30.0, read=300.0))
            )
            server = streamable_http_client(url, http_client=http)
        else:
            server = url
        yield await stack.enter_async_context(mcp.Client(server, read_timeout_seconds=connect_timeout))


async def _list_tools(client: Any) -> list[Any]:
    tools, cursor = [], None
    for _ in range(_MAX_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None:
            break
    return tools


def _side_effect_of(mcp_tool: Any, side_effect: bool | None) -> bool:
    if side_effect is not None:
        return side_effect
    hints = mcp_tool.annotations
    return not (hints is not None and hints.read_only_hint is True)


def from_mcp(
    command: str | None = None,
    args: Sequence[str] = (),
    *,
    url: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    headers: Mapping[str, str] | None = None,
    side_effect: bool | None = None,
    timeout: float | None = DEFAULT_TIMEOUT_S,
    max_chars: int | None = DEFAULT_MAX_CHARS,
    connect_timeout: float = 30.0,
) -> MCPToolset:
    """Connect to an MCP server (stdio: ``command`` + ``args``; streamable HTTP: ``url``) and load its tools.

    ``side_effect=None`` follows the server's hints: a tool needs approval unless it is marked read-only.
    ``env`` is added to a minimal safe environment for a stdio server (as the MCP SDK does).
    ``connect_timeout`` bounds each protocol request other than tool calls (those use ``timeout``).
    Raises ConnectionError when the server cannot be started or reached.
    """
    if (command is None) == (url is None):
        raise ValueError("from_mcp needs exactly one of command= (stdio server) or url= (streamable HTTP)")
    mcp = _import_mcp()
    from anyio.from_thread import start_blocking_portal

    target = url or " ".join([command or "", *args])
    portal_cm = start_blocking_portal()
    portal = portal_cm.__enter__()
    try:
        connect = _connect(mcp, command, args, url, env, cwd, headers, connect_timeout)
        client_cm = portal.wrap_async_context_manager(connect)
        client = client_cm.__enter__()
    except Exception as exc:
        portal_cm.__exit__(None, None, None)
        raise ConnectionError(f"could not connect to MCP server {target!r}: {_root_cause(exc)}") from exc
    except BaseException:
        portal_cm.__exit__(None, None, None)
        raise
    toolset = MCPToolset(portal_cm, portal, client_cm, client)
    try:
        for mcp_tool in portal.call(_list_tools, client):
            toolset.add(_remote_tool(toolset, mcp_tool, side_effect, timeout, max_chars))
    except BaseException:
        toolset.close()
        raise
    return toolset


def _root_cause(exc: BaseException) -> str:
    """The first leaf of (nested) exception groups, as "Type: message"."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


def _remote_tool(
    toolset: MCPToolset, mcp_tool: Any, side_effect: bool | None, timeout: float | None, max_chars: int | None
) -> Tool:
    name = mcp_tool.name

    async def call_server(**arguments: Any) -> Any:
        return await toolset.call(name, arguments, timeout)

    schema = {"name": name, "description": mcp_tool.description or "", "parameters": mcp_tool.input_schema}
    return tool_from_schema(
        schema,
        call_server,
        side_effect=_side_effect_of(mcp_tool, side_effect),
        timeout=timeout,
        max_chars=max_chars,
    )


async def afrom_mcp(*args: Any, **kwargs: Any) -> MCPToolset:
    """``from_mcp`` for async code: connects without blocking the running event loop."""
    return await asyncio.to_thread(from_mcp, *args, **kwargs)


def build_mcp_server(registry: ToolRegistry, name: str = "tinycrew") -> Any:
    """A low-level ``mcp`` Server that lists the registry's tools with their own schemas and runs them.

    Tools marked ``side_effect`` are announced as ``readOnlyHint: false``; approval is the client's job.
    """
    mcp = _import_mcp()
    from mcp.server.lowlevel import Server

    types = mcp.types

    async def list_tools(ctx: Any, params: Any) -> Any:
        return types.ListToolsResult(
            tools=[
                types.Tool(
                    name=tool.name,
                    description=tool.description,
                    input_schema=tool.parameters,
                    annotations=types.ToolAnnotations(read_only_hint=not tool.side_effect),
                )
                for tool in registry
            ]
        )

    async def call_tool(ctx: Any, params: Any) -> Any:
        result = await registry.arun(params.name, params.arguments or {})
        return types.CallToolResult(
            content=[types.TextContent(text=result.content)],
            is_error=not result.ok,
        )

    return Server(name, on_list_tools=list_tools, on_call_tool=call_tool)


async def aserve_mcp(
    registry: ToolRegistry,
    transport: Literal["stdio", "streamable-http"] = "stdio",
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    path: str = "/mcp",
    name: str = "tinycrew",
) -> None:
    """Serve ``registry`` over MCP until the client hangs up (stdio) or the task is cancelled (HTTP)."""
    server = build_mcp_server(registry, name)
    if transport == "stdio":
        from mcp.server.stdio import stdio_server

        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
    elif transport == "streamable-http":
        import uvicorn

        app = server.streamable_http_app(streamable_http_path=path, host=host)
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
        await uvicorn.Server(config).serve()
    else:
        raise ValueError(f"transport must be 'stdio' or 'streamable-http', got {transport!r}")


def serve_mcp(
    registry: ToolRegistry,
    transport: Literal["stdio", "streamable-http"] = "stdio",
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    path: str = "/mcp",
    name: str = "tinycrew",
) -> None:
    """Expose ``registry`` as an MCP server (blocking): over stdio, or streamable HTTP at ``http://host:port/path``."""
    import anyio

    _import_mcp()
    anyio.run(lambda: aserve_mcp(registry, transport, host, port, path=path, name=name))
