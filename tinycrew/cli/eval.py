"""`tinycrew eval ...`: run BFCL in any mode on any model, print the table, write the report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from tinycrew.evals.runner import BfclReport

app = typer.Typer(help="Evaluate models and graphs: BFCL accuracy tables and plots.", no_args_is_help=True)
console = Console()


def _print_table(report: BfclReport) -> None:
    """The summary table, rows per mode and a column per category."""
    from tinycrew.evals.report import describe, table_rows

    header, rows = table_rows(report)
    table = Table(title=describe(report))
    for index, name in enumerate(header):
        table.add_column(name, justify="left" if index == 0 else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def _print_files(files: dict[str, Path]) -> None:
    for kind, path in files.items():
        console.print(f"[dim]{kind}:[/dim] {path}")


@app.command("bfcl")
def bfcl_command(
    model: Annotated[
        str | None, typer.Option(help="packaged model name or .gguf path (default: the packaged 0.5B)")
    ] = None,
    base_url: Annotated[
        str | None, typer.Option(help="an OpenAI-compatible server (.../v1); --model names what it serves")
    ] = None,
    mode: Annotated[
        list[str] | None, typer.Option(help="prompt | native | umi | compiler | react (repeat; default all)")
    ] = None,
    category: Annotated[
        list[str] | None, typer.Option(help="a BFCL category (repeat; default all five)")
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="first N entries of each category (after --split)")
    ] = None,
    split: Annotated[str | None, typer.Option(help="train | eval (default: every entry)")] = None,
    bfcl: Annotated[
        Path | None, typer.Option(help="BFCL data folder (default: $TINYCREW_BFCL or ../shared/bfcl)")
    ] = None,
    out: Annotated[Path, typer.Option(help="where the JSON, markdown table and plot go")] = Path(
        "results/bfcl"
    ),
    n_ctx: Annotated[
        int | None, typer.Option(help="llama.cpp context length (default: the model's own)")
    ] = None,
    max_tokens: Annotated[int, typer.Option(help="completion budget of each raw-model answer")] = 512,
) -> None:
    """Score a model on BFCL's single-turn categories in each mode; print the table, write the report.

    Example: `tinycrew eval bfcl --mode prompt --mode native --limit 3 --out results/bfcl`
    """
    from tinycrew.evals import CATEGORIES
    from tinycrew.evals.report import save_report
    from tinycrew.evals.runner import MODES, run_bfcl
    from tinycrew.models import DEFAULT_MODEL, OpenAIChatModel, load_model

    modes = mode or list(MODES)
    categories = category or list(CATEGORIES)
    for name in modes:
        if name not in MODES:
            raise typer.BadParameter(f"{name!r} is not one of {', '.join(MODES)}", param_hint="--mode")
    for name in categories:
        if name not in CATEGORIES:
            raise typer.BadParameter(
                f"{name!r} is not one of {', '.join(CATEGORIES)}", param_hint="--category"
            )
    if split not in (None, "train", "eval"):
        raise typer.BadParameter("use train or eval", param_hint="--split")
    if base_url:
        chat_model = OpenAIChatModel(model or DEFAULT_MODEL, base_url=base_url)
    else:
        chat_model = load_model(model, **({"n_ctx": n_ctx} if n_ctx else {}))
    report = run_bfcl(
        chat_model,
        modes,
        categories,
        root=bfcl,
        limit=limit,
        split=split,  # type: ignore[arg-type]
        progress=True,
        max_tokens=max_tokens,
        console=console,
    )
    _print_table(report)
    _print_files(save_report(report, out))


@app.command("report")
def report_command(
    folder: Annotated[Path, typer.Argument(help="a folder written by `tinycrew eval bfcl`")] = Path(
        "results/bfcl"
    ),
) -> None:
    """Redraw the markdown table and the plot from a saved bfcl_results.json, without running a model.

    Example: `tinycrew eval report results/bfcl`
    """
    from tinycrew.evals.report import load_report, render_report

    results = folder / "bfcl_results.json" if folder.is_dir() else folder
    if not results.is_file():
        raise typer.BadParameter(f"no bfcl_results.json at {folder}", param_hint="FOLDER")
    report = load_report(results)
    _print_table(report)
    _print_files(render_report(report, results.parent))
