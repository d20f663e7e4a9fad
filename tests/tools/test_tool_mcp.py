"""MCP both ways with real server processes: serve_mcp over stdio and streamable HTTP, loaded by from_mcp.

The server is ``tests/tools/mcp_demo_server.py`` (a ToolRegistry served by tinycrew) started as a child
process; a second server written with the mcp SDK's own MCPServer checks interop with foreign schemas.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.conftest import stop_process
from tests.tools.mcp_demo_server import build_registry
from tinycrew.tools import MCPToolset, afrom_mcp, from_mcp

REPO = Path(__file__).resolve().parents[2]
SERVER_ENV = {"PYTHONPATH": str(REPO)}
DEMO = ["-m", "tests.tools.mcp_demo_server"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen[bytes], deadline_s: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"MCP server exited early with code {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"MCP server did not listen on port {port} within {deadline_s} s")


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    """The demo registry served over streamable HTTP by a child process on a free port."""
    port = _free_port()
    env = {**os.environ, **SERVER_ENV}
    process = subprocess.Popen(
        [sys.executable, *DEMO, "streamable-http", str(port)], cwd=REPO, env=env, stdin=subprocess.DEVNULL
    )
    try:
        _wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop_process(process, timeout=10)


@pytest.fixture(scope="module", params=["stdio", "streamable-http"])
def demo_tools(request: pytest.FixtureRequest) -> Iterator[MCPToolset]:
    """The demo server's tools, loaded by from_mcp over each transport."""
    if request.param == "stdio":
        toolset = from_mcp(sys.executable, [*DEMO, "stdio"], cwd=str(REPO), env=SERVER_ENV)
    else:
        toolset = from_mcp(url=request.getfixturevalue("http_url"))
    with toolset:
        yield toolset


def test_schemas_round_trip(demo_tools: MCPToolset) -> None:
    original = build_registry()
    assert demo_tools.names() == original.names() == ["add", "greet", "explode"]
    for mine in original:
        loaded = demo_tools.get(mine.name)
        assert loaded.parameters == mine.parameters
        assert loaded.description == mine.description
        assert loaded.openai_schema() == mine.openai_schema()
        assert loaded.schema_hash() == mine.schema_hash()
        assert loaded.side_effect == mine.side_effect
    assert demo_tools.get("greet").side_effect is True
    assert demo_tools.get("add").side_effect is False


def test_calls_go_to_the_server(demo_tools: MCPToolset) -> None:
    added = demo_tools.run("add", {"a": "2", "b": 3})
    assert added.ok and added.content == "5"
    assert demo_tools.run("add", '{"a": 41}').content == "42"
    greeted = demo_tools.run("greet", {"name": "Ada", "style": "loud"})
    assert greeted.ok and greeted.content == '{"greeting":"HELLO ADA"}'


def test_errors_come_back_as_observations(demo_tools: MCPToolset) -> None:
    exploded = demo_tools.run("explode", {"reason": "boom"})
    assert not exploded.ok and exploded.error_kind == "exception"
    assert exploded.error == "RuntimeError: exploded: boom"
    assert exploded.content == "error: RuntimeError: exploded: boom"
    invalid = demo_tools.run("greet", {"name": "Ada", "style": "whisper"})
    assert invalid.error_kind == "arguments"
    assert invalid.error == "argument 'style': expected one of 'plain', 'loud', got 'whisper'"


async def test_concurrent_calls_from_an_event_loop(demo_tools: MCPToolset) -> None:
    results = await asyncio.gather(*(demo_tools.arun("add", {"a": i, "b": i}) for i in range(10)))
    assert [r.content for r in results] == [str(2 * i) for i in range(10)]


async def test_the_server_checks_arguments_and_names_itself(http_url: str) -> None:
    """A plain mcp client sees the registry's own schemas and the server's own validation."""
    import mcp

    async with mcp.Client(http_url) as client:
        listing = await client.list_tools()
        served = {t.name: t for t in listing.tools}
        for mine in build_registry():
            assert served[mine.name].input_schema == mine.parameters
            assert served[mine.name].annotations.read_only_hint is (not mine.side_effect)
        bad = await client.call_tool("add", {"a": "many"})
        assert bad.is_error
        assert bad.content[0].text == "invalid arguments for add: argument 'a': expected integer, got 'many'"
        unknown = await client.call_tool("ad", {"a": 1})
        assert unknown.is_error
        assert unknown.content[0].text.startswith("error: unknown tool 'ad'; did you mean 'add'?")


def _demo_children() -> set[int]:
    children = psutil.Process().children(recursive=True)
    return {p.pid for p in children if "tests.tools.mcp_demo_server" in " ".join(p.cmdline())}


def test_close_ends_the_session_and_the_server_process() -> None:
    before = _demo_children()
    toolset = from_mcp(sys.executable, [*DEMO, "stdio"], cwd=str(REPO), env=SERVER_ENV)
    started = _demo_children() - before
    assert len(started) == 1
    assert toolset.run("add", {"a": 1}).content == "2"
    toolset.close()
    toolset.close()
    (pid,) = started
    deadline = time.monotonic() + 10
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the stdio server outlived its session"
        time.sleep(0.1)
    after = toolset.run("add", {"a": 1})
    assert not after.ok and after.error == "the MCP connection for 'add' is closed"


async def test_afrom_mcp_in_async_code() -> None:
    async with await afrom_mcp(sys.executable, [*DEMO, "stdio"], cwd=str(REPO), env=SERVER_ENV) as toolset:
        result = await toolset.get("greet").arun({"name": "Bo"})
        assert result.content == '{"greeting":"hello Bo"}'


def test_a_server_written_with_the_mcp_sdk() -> None:
    with from_mcp(
        sys.executable, ["-m", "tests.tools.mcp_foreign_server"], cwd=str(REPO), env=SERVER_ENV
    ) as tools:
        assert tools.names() == ["distance", "stats"]
        distance = tools.get("distance")
        point = distance.parameters["properties"]["a"]
        assert point["type"] == "object" and point["required"] == ["x", "y"]
        assert "$defs" not in distance.parameters and "title" not in point
        assert distance.side_effect is True, "tools not marked read-only need approval"
        assert distance.run({"a": {"x": 0, "y": 0}, "b": {"x": "3", "y": 4}}).content == "5.0"
        assert distance.run({"a": {"x": 0}, "b": {"x": 3, "y": 4}}).error == "missing required argument 'a.y'"
        assert tools.run("stats", {"values": [1, 2, "3"]}).content == '{"min":1.0,"max":3.0,"mean":2.0}'


def test_connection_problems_are_clear() -> None:
    with pytest.raises(ValueError, match="exactly one of command="):
        from_mcp()
    with pytest.raises(ValueError, match="exactly one of command="):
        from_mcp("python", url="http://127.0.0.1:1/mcp")
    with pytest.raises(ConnectionError, match="could not connect to MCP server '/no/such/server'"):
        from_mcp("/no/such/server")
    with pytest.raises(ConnectionError, match="could not connect to MCP server 'http://127.0.0.1:"):
        from_mcp(url=f"http://127.0.0.1:{_free_port()}/mcp")
