"""ToolRegistry: lookup with suggestions, ordered schemas, subsets, unknown tools as observations."""

from __future__ import annotations

import pytest

from tinycrew.tools import Tool, ToolRegistry, tool, tool_from_schema


@tool
def search_web(query: str) -> str:
    """Search the web.

    Args:
        query: Search terms.
    """
    return f"results for {query}"


@tool(side_effect=True)
def send_email(to: str, body: str) -> str:
    """Send an e-mail.

    Args:
        to: Recipient address.
        body: Message text.
    """
    return f"sent to {to}"


def read_file(path: str) -> str:
    """Read a text file.

    Args:
        path: File path.
    """
    return f"contents of {path}"


def make_registry() -> ToolRegistry:
    return ToolRegistry([search_web, send_email, read_file])


def test_add_tools_and_plain_functions() -> None:
    registry = make_registry()
    assert len(registry) == 3
    assert registry.names() == ["search_web", "send_email", "read_file"]
    assert isinstance(registry.get("read_file"), Tool)
    assert registry["search_web"] is search_web
    assert "send_email" in registry and "nothing" not in registry
    assert [t.name for t in registry] == registry.names()
    added = registry.add(tool_from_schema({"name": "spotify.play", "parameters": {"type": "object"}}))
    assert added.name == "spotify.play" and registry.names()[-1] == "spotify.play"


def test_duplicates_are_refused_unless_replaced() -> None:
    registry = make_registry()
    with pytest.raises(ValueError, match="a tool named 'search_web' is already registered"):
        registry.add(search_web)

    @tool(name="search_web")
    def other(q: str) -> str:
        """Another search."""
        return q

    assert registry.add(other, replace=True) is other
    assert registry.get("search_web") is other
    assert registry.names() == ["search_web", "send_email", "read_file"]


def test_unknown_names_suggest_the_closest() -> None:
    registry = make_registry()
    with pytest.raises(KeyError, match="unknown tool 'serch_web'; did you mean 'search_web'"):
        registry.get("serch_web")
    with pytest.raises(KeyError) as caught:
        registry.get("zzz")
    assert "did you mean" not in str(caught.value)


def test_openai_schemas_and_subset() -> None:
    registry = make_registry()
    schemas = registry.openai_schemas()
    assert [s["function"]["name"] for s in schemas] == ["search_web", "send_email", "read_file"]
    picked = registry.openai_schemas(["read_file", "search_web"])
    assert [s["function"]["name"] for s in picked] == ["read_file", "search_web"]
    assert picked[0] == registry.get("read_file").openai_schema()
    small = registry.subset(["send_email", "read_file"])
    assert small.names() == ["send_email", "read_file"]
    assert small.get("send_email") is send_email and small.get("send_email").side_effect
    small.add(tool_from_schema({"name": "extra", "parameters": {"type": "object", "properties": {}}}))
    assert "extra" not in registry
    with pytest.raises(KeyError, match="did you mean 'read_file'"):
        registry.subset(["read_fil"])


async def test_running_through_the_registry() -> None:
    registry = make_registry()
    result = await registry.arun("read_file", {"path": "/tmp/a"})
    assert result.ok and result.content == "contents of /tmp/a"
    unknown = await registry.arun("read_files", {"path": "x"})
    assert not unknown.ok and unknown.error_kind == "unknown_tool"
    assert unknown.content == (
        "error: unknown tool 'read_files'; did you mean 'read_file'?; "
        "available: search_web, send_email, read_file"
    )
    assert registry.run("search_web", '{"query": "llama"}').content == "results for llama"
    assert registry.run("nope", {}).error_kind == "unknown_tool"


def test_langchain_tools_are_taken_as_they_are() -> None:
    from langchain_core.tools import tool as lc_tool

    @lc_tool
    def ping(host: str) -> str:
        """Ping a host."""
        return f"pong from {host}"

    added = ToolRegistry().add(ping)
    assert added.name == "ping" and added.description == "Ping a host."
    assert added.run({"host": "example.org"}).content == "pong from example.org"


def _schema_tool(name: str, description: str, param_doc: str = "") -> Tool:
    properties = {"x": {"type": "string", "description": param_doc}} if param_doc else {}
    return tool_from_schema(
        {"name": name, "description": description, "parameters": {"type": "object", "properties": properties}}
    )


def test_a_tool_references_the_tools_its_schema_names_as_whole_words() -> None:
    registry = ToolRegistry(
        [
            _schema_tool("find_email", "Find a contact's address."),
            _schema_tool("find_email_all", "Every address."),
            _schema_tool("send_email", "Send an e-mail.", "An address from find_email."),
            _schema_tool("attach", "Attach a file; see find_email_all_v2 and send_email_now."),
        ]
    )
    assert registry.referenced("send_email") == ["find_email"]
    assert registry.referenced("find_email") == []
    assert registry.referenced("attach") == []  # longer names that merely contain a tool's name


def test_offered_with_sources_puts_each_source_before_its_user_once_and_survives_cycles() -> None:
    registry = ToolRegistry(
        [
            _schema_tool("find_email", "Find a contact's address."),
            _schema_tool("find_file", "Find a file."),
            _schema_tool("send_email", "Send to an address from find_email; attach from attach_file."),
            _schema_tool("attach_file", "Attach a file from find_file."),
            _schema_tool("ping", "Calls pong."),
            _schema_tool("pong", "Calls ping."),
        ]
    )
    assert registry.offered_with_sources(["send_email"]) == [
        "find_email",
        "find_file",
        "attach_file",
        "send_email",
    ]
    assert registry.offered_with_sources(["find_email", "send_email"]) == [
        "find_email",
        "find_file",
        "attach_file",
        "send_email",
    ]
    assert registry.offered_with_sources(["ping"]) == ["pong", "ping"]
    assert registry.offered_with_sources(["find_file"]) == ["find_file"]
