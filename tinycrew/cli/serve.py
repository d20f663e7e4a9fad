"""`tinycrew serve`: the OpenAI-compatible tool-calling service (docs/service.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from tinycrew.cli.errors import UserError
from tinycrew.cli.run import check_model

console = Console(soft_wrap=True)


def serve_command(
    host: str = typer.Option("127.0.0.1", help="address to bind; beyond loopback an API key is required"),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port"),
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            help="packaged name or .gguf path; repeat to serve several (default: packaged 0.5B)",
        ),
    ] = None,
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
) -> None:
    """Serve local models behind an OpenAI-compatible /v1/chat/completions with tool calling.

    Example: `tinycrew serve --port 8000` then `OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="-")`;
    `TINYCREW_API_KEYS=sk-1 tinycrew serve --host 0.0.0.0` to serve beyond this machine.
    """
    from tinycrew.models import DEFAULT_MODEL
    from tinycrew.service import InsecureBindError, ServiceConfig, load_key_hashes

    models = list(model or [DEFAULT_MODEL])
    config = ServiceConfig(
        models=models,
        key_hashes=load_key_hashes(api_key_file),
        queue_size=queue_size,
        rate_per_minute=rate_limit,
        max_body_bytes=max_body_bytes,
    )
    try:
        config.check_bind(host)
    except InsecureBindError as error:
        raise UserError(
            str(error), fix="give --api-key-file FILE or set TINYCREW_API_KEYS, or bind --host 127.0.0.1"
        ) from None
    for name in models:
        check_model(name, "--model")
    import uvicorn

    from tinycrew.models import load_model
    from tinycrew.service import create_app

    loaded = [load_model(name) for name in models]
    names = ", ".join(item.name for item in loaded)
    guard = "API key required" if config.key_hashes else "no API key: this machine only"
    console.print(f"serving {escape(names)} on http://{escape(host)}:{port}/v1 ({guard})", highlight=False)
    uvicorn.run(create_app(config, loaded), host=host, port=port, log_level=log_level)
