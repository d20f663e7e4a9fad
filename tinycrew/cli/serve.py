"""`tinycrew serve`: the OpenAI-compatible tool-calling service (docs/service.md)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from tinycrew.cli.errors import UserError
from tinycrew.cli.run import check_model

console = Console(soft_wrap=True)
ENGINE_KEY_ENV = "TINYCREW_ENGINE_API_KEY"


def serve_command(
    host: str = typer.Option("127.0.0.1", help="address to bind; beyond loopback an API key is required"),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port"),
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            help="packaged name or .gguf path (with --engine: a model name the engine serves); repeat to "
            "serve several (default: packaged 0.5B)",
        ),
    ] = None,
    engine: str | None = typer.Option(
        None,
        help="an OpenAI-compatible engine (vLLM, llama.cpp's server) that runs the --model names instead of "
        "this process, e.g. http://127.0.0.1:8080/v1; its key from TINYCREW_ENGINE_API_KEY",
    ),
    engine_dialect: str = typer.Option(
        "llama.cpp", help="how the engine takes constraints: llama.cpp (GBNF) or openai (JSON schema)"
    ),
    api_key_file: Annotated[
        Path | None,
        typer.Option(help="accepted keys, one per line (or sha256:<hex>); TINYCREW_API_KEYS adds more"),
    ] = None,
    queue_size: int = typer.Option(
        8, min=1, help="requests per model at once (one generating); more get 429"
    ),
    rate_limit: float = typer.Option(120.0, min=0.0, help="requests per minute per API key; 0 turns it off"),
    max_body_bytes: int = typer.Option(1_048_576, min=1024, help="larger request bodies get 413"),
    log_level: str = typer.Option("info", help="uvicorn's log level"),
    tools: Annotated[
        list[str] | None,
        typer.Option(
            "--tools",
            help="server-side tools for POST /v1/runs: module:name of a tool, registry or list, or "
            "module:factory(); repeat for more",
        ),
    ] = None,
    mcp: Annotated[
        list[str] | None,
        typer.Option(help="an MCP server whose tools runs may call: its URL or its stdio command line"),
    ] = None,
    graph: str = typer.Option("crew", help="the agent graph runs use: crew, umi, compiler or react"),
    checkpointer: str = typer.Option(
        "sqlite", help="run checkpoints: sqlite, a .sqlite path, memory, or a postgresql:// URL"
    ),
    trajectories: str | None = typer.Option(
        None, help="trajectory store: a path or postgresql:// URL (default under TINYCREW_HOME)"
    ),
    shutdown_grace: float = typer.Option(
        30.0, min=0.0, help="seconds runs in flight get to finish on shutdown; the rest stay checkpointed"
    ),
) -> None:
    """Serve local models behind an OpenAI-compatible /v1/chat/completions with tool calling.

    Example: `tinycrew serve --port 8000` then `OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="-")`;
    `TINYCREW_API_KEYS=sk-1 tinycrew serve --host 0.0.0.0` to serve beyond this machine;
    `tinycrew serve --tools tinycrew.tools.builtin:builtin_tools()` to serve agent runs too;
    `tinycrew serve --engine http://127.0.0.1:8080/v1 --model qwen` serves a model a llama.cpp server runs.
    """
    import shlex

    from pydantic import ValidationError

    from tinycrew.models import DEFAULT_MODEL
    from tinycrew.service import AgentProfile, InsecureBindError, MCPServer, ServiceConfig, load_key_hashes

    models = list(model or [DEFAULT_MODEL])
    try:
        servers = [
            MCPServer(url=item) if item.startswith(("http://", "https://")) else _stdio(shlex.split(item))
            for item in mcp or []
        ]
        agents = [AgentProfile(graph=graph, tools=list(tools or []), mcp=servers)] if tools or mcp else []
    except (ValidationError, ValueError) as error:
        raise UserError(
            f"bad agent settings: {_first_error(error)}",
            fix="give --tools module:name and --mcp URL or 'command args', --graph crew|umi|compiler|react",
        ) from None
    config = ServiceConfig(
        models=models,
        key_hashes=load_key_hashes(api_key_file),
        queue_size=queue_size,
        rate_per_minute=rate_limit,
        max_body_bytes=max_body_bytes,
        agents=agents,
        checkpointer=checkpointer,
        trajectories=trajectories,
        shutdown_grace_s=shutdown_grace,
    )
    try:
        config.check_bind(host)
    except InsecureBindError as error:
        raise UserError(
            str(error), fix="give --api-key-file FILE or set TINYCREW_API_KEYS, or bind --host 127.0.0.1"
        ) from None
    if engine is None:
        for name in models:
            check_model(name, "--model")
    for path in tools or []:
        _check_tools(path)
    import uvicorn

    from tinycrew.models import load_model
    from tinycrew.service import create_app

    if engine is None:
        loaded = [load_model(name) for name in models]
    else:
        loaded = engine_models(engine, models, engine_dialect)
    names = ", ".join(item.name for item in loaded)
    guard = "API key required" if config.key_hashes else "no API key: this machine only"
    console.print(f"serving {escape(names)} on http://{escape(host)}:{port}/v1 ({guard})", highlight=False)
    uvicorn.run(create_app(config, loaded), host=host, port=port, log_level=log_level)


def engine_models(engine: str, names: list[str], dialect: str) -> list[object]:
    """The `--model` names as models of the engine at `engine`, after checking it answers and serves them.

    Example: `engine_models("http://127.0.0.1:8080/v1", ["qwen"], "llama.cpp")` is one `OpenAIChatModel`;
    an engine that does not answer, or does not list "qwen", is a `UserError` naming what it serves.
    """
    import httpx

    from tinycrew.models import OpenAIChatModel
    from tinycrew.models.openai_backend import DIALECT_CAPABILITIES

    if dialect not in DIALECT_CAPABILITIES:
        raise UserError(f"--engine-dialect: unknown dialect {dialect!r}", fix="give llama.cpp or openai")
    key = os.environ.get(ENGINE_KEY_ENV)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        reply = httpx.get(f"{engine.rstrip('/')}/models", headers=headers, timeout=10)
        reply.raise_for_status()
        served = [item.get("id") for item in reply.json().get("data", [])]
    except (httpx.HTTPError, ValueError, AttributeError) as error:
        raise UserError(
            f"--engine: {engine} did not list its models ({type(error).__name__}: {error})",
            fix="start the engine first, and give its OpenAI base URL (ending in /v1)",
        ) from None
    missing = [name for name in names if name not in served]
    if missing:
        raise UserError(
            f"--engine serves no model named {', '.join(missing)}; it serves {', '.join(map(str, served))}",
            fix="give --model one of the names the engine serves",
        )
    return [
        OpenAIChatModel(name, base_url=engine, api_key_env=ENGINE_KEY_ENV, dialect=dialect, timeout=600.0)
        for name in names
    ]


def _stdio(words: list[str]) -> object:
    """An MCP server started as `command args...`."""
    from tinycrew.service import MCPServer

    if not words:
        raise ValueError("an empty --mcp command")
    return MCPServer(command=words[0], args=words[1:])


def _first_error(error: Exception) -> str:
    """The first message of a pydantic validation error (else the error's text), on one line."""
    errors = getattr(error, "errors", None)
    if callable(errors):
        found = errors()
        if found:
            return str(found[0].get("msg", error)).removeprefix("Value error, ")
    return str(error).splitlines()[0]


def _check_tools(path: str) -> None:
    """Import a --tools path now, so that a typo is one error line rather than a server never ready."""
    from tinycrew.service import load_tools

    try:
        load_tools([path])
    except Exception as error:  # an import, attribute or factory failure: all the user's to fix
        raise UserError(
            f"cannot load the tools {path!r} ({type(error).__name__}: {error})",
            fix="give module:name of a tool, a registry or a list (module:factory() for a factory)",
        ) from None
