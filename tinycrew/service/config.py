"""What a service instance serves and how much it accepts: models, keys, limits.

One object, so that the CLI, tests and an embedding application configure the service the same way.
"""

from __future__ import annotations

import ipaddress
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tinycrew.models.packaged import DEFAULT_MODEL

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class InsecureBindError(ValueError):
    """Serving beyond this machine without an API key: anyone who can reach the port could use it."""


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine.

    Example: `is_loopback("127.0.0.1")` and `is_loopback("::1")` are True, `is_loopback("0.0.0.0")` False.
    """
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name other than localhost: it may resolve to anything
        return False


IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*(\(\))?$")
GRAPHS = ("crew", "umi", "compiler", "react")


class MCPServer(BaseModel):
    """An MCP server whose tools an agent profile mounts: a stdio `command` (+ `args`) or a `url`.

    Example: `MCPServer(command="python", args=["-m", "my_tools", "stdio"])` or
    `MCPServer(url="http://127.0.0.1:9000/mcp")`. `side_effect=None` follows the server's hints (a tool
    not marked read-only waits for approval).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    command: str | None = None
    args: list[str] = Field(default_factory=list)
    url: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    side_effect: bool | None = None

    @model_validator(mode="after")
    def _one_transport(self) -> MCPServer:
        if (self.command is None) == (self.url is None):
            raise ValueError("an MCP server needs exactly one of command (stdio) or url (streamable HTTP)")
        return self


class AgentProfile(BaseModel):
    """An agent that `POST /v1/runs` may run: a graph, a served model and server-side tools.

    `tools` are import paths `"module:name"` of a @tool function (a plain function is wrapped as @tool
    would), a Tool, a ToolRegistry or a list of tools; `"module:name()"` calls a factory that returns
    one of those (`"tinycrew.tools.builtin:builtin_tools()"`). `mcp` mounts MCP servers' tools. Example:
    `AgentProfile(name="ops", graph="umi", tools=["my_pkg.tools:send_message"])`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(default="agent", pattern=r"^[A-Za-z0-9][\w.:-]{0,63}$")
    graph: str = "crew"
    """Any graph of `tinycrew.graphs.Agent`: "crew" (default), "umi", "compiler", "react"."""
    model: str | None = None
    """A served model's name (`ServiceConfig.models`); None is the first one."""
    tools: list[str] = Field(default_factory=list)
    mcp: list[MCPServer] = Field(default_factory=list)
    top_k: int = Field(default=6, ge=1)
    min_similarity: float | None = 0.2
    """Tools less similar than this to the request are not offered (`Agent(min_similarity=...)`)."""

    @field_validator("graph")
    @classmethod
    def _known_graph(cls, graph: str) -> str:
        if graph not in GRAPHS:
            raise ValueError(f"unknown graph {graph!r}: choose one of {', '.join(GRAPHS)}")
        return graph

    @field_validator("tools")
    @classmethod
    def _import_paths(cls, tools: list[str]) -> list[str]:
        for path in tools:
            if not IMPORT_PATH.match(path):
                raise ValueError(f"tool {path!r} is not an import path module:name")
        return tools


class ServiceConfig(BaseModel):
    """Settings of one service instance (`tinycrew serve` builds one from its options).

    Example: `ServiceConfig(models=["qwen2.5-coder-0.5b-instruct-q4_k_m"], queue_size=4)`.
    """

    model_config = ConfigDict(frozen=True)

    models: list[str] = Field(default_factory=lambda: [DEFAULT_MODEL], min_length=1)
    """Packaged names or .gguf paths, loaded when `create_app` is given no model objects."""
    key_hashes: frozenset[str] = frozenset()
    """sha256 hex digests of the accepted API keys; empty means no key is asked for (loopback only)."""
    queue_size: int = Field(default=8, ge=1)
    """Requests one model admits at once: the one generating plus those waiting; more get 429."""
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    """A larger request body gets 413."""
    max_messages: int = Field(default=256, ge=1)
    max_tools: int = Field(default=128, ge=1)
    max_parallel_calls: int = Field(default=4, ge=1)
    """Most tool calls one reply may hold when `parallel_tool_calls` is true."""
    rate_per_minute: float = Field(default=120.0, ge=0)
    """Requests each API key (or, without keys, each client address) may make per minute; 0 is no limit."""
    rate_burst: int = Field(default=30, ge=1)
    """How many requests a key may make at once before the per-minute rate applies."""
    min_tool_similarity: float | None = 0.2
    """With `tool_choice="auto"`, tools whose embedding similarity to the user's request is below this
    are not considered (the agents' `MIN_TOOL_SIMILARITY`); if none is left the reply is text. None
    turns the check off."""

    agents: list[AgentProfile] = Field(default_factory=list)
    """What `POST /v1/runs` may run, by name; empty turns runs off (404)."""
    checkpointer: str = "sqlite"
    """Where runs are checkpointed: "sqlite" (under TINYCREW_HOME), a .sqlite path, "memory" (this
    process only) or a postgresql:// URL shared by replicas."""
    trajectories: str | None = None
    """The trajectory store: None is trajectories.sqlite under TINYCREW_HOME; a path or postgresql:// URL."""
    shutdown_grace_s: float = Field(default=30.0, ge=0)
    """On shutdown, runs in flight get this long to finish; the rest stop at their last checkpoint."""
    max_runs: int = Field(default=64, ge=1)
    """Runs this instance drives at once (queued, running); more get 429."""

    @model_validator(mode="after")
    def _unique_agents(self) -> ServiceConfig:
        names = [agent.name for agent in self.agents]
        if len(names) != len(set(names)):
            raise ValueError("two agent profiles share a name; name each once")
        return self

    def agent(self, name: str | None) -> AgentProfile | None:
        """The profile called `name` (None: the first), or None when there is no such profile."""
        if name is None:
            return self.agents[0] if self.agents else None
        return next((agent for agent in self.agents if agent.name == name), None)

    def check_bind(self, host: str) -> None:
        """Refuse to serve beyond loopback without an API key.

        Example: `ServiceConfig().check_bind("0.0.0.0")` raises InsecureBindError.
        """
        if not self.key_hashes and not is_loopback(host):
            raise InsecureBindError(
                f"refusing to serve on {host} without an API key: anyone who can reach it could use the model"
            )
