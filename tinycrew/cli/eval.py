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
NARROW = 140
"""Below this many columns the BFCL table turns: a column per mode, a row per category."""


def _print_table(report: BfclReport) -> None:
    """The summary table, rows per mode and a column per category."""
    from tinycrew.evals.report import describe, table_rows

    header, rows = table_rows(report)
    table = Table(title=describe(report))
    if console.width < NARROW:  # one column per mode, one row per category: fits 80 columns
        table.add_column("", no_wrap=True)
        for row in rows:
            table.add_column(row[0], justify="right")
        for index, name in enumerate(header[1:], start=1):
            table.add_row(name, *(row[index].replace(" (", "\n(") for row in rows))
    else:
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
        list[str] | None,
        typer.Option(help="prompt | native | crew | umi | compiler | react (repeat; default all)"),
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
    resume: Annotated[
        bool, typer.Option(help="reuse the entries --out already holds (same model and split)")
    ] = False,
    policies: Annotated[
        str, typer.Option(help="call policies of the graph modes: default (lossless) | repairs (opt-in set)")
    ] = "default",
) -> None:
    """Score a model on BFCL's single-turn categories in each mode; print the table, write the report.

    Results are saved after every entry, so a killed run can go on with `--resume`.

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
    from tinycrew.policies import POLICY_SETS

    if policies not in POLICY_SETS:
        raise typer.BadParameter(f"use one of {', '.join(POLICY_SETS)}", param_hint="--policies")
    if split not in (None, "train", "eval"):
        raise typer.BadParameter("use train or eval", param_hint="--split")
    if base_url:
        chat_model = OpenAIChatModel(model or DEFAULT_MODEL, base_url=base_url)
    else:
        # no saved prompt states: an entry's reply must not depend on which entries ran before it
        # (a restored prefix is read in another batch, so a near tie could fall the other way)
        options = {"state_cache_bytes": 0} | ({"n_ctx": n_ctx} if n_ctx else {})
        chat_model = load_model(model, **options)
    try:
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
            save_to=out / "bfcl_results.json",
            resume=resume,
            policies=policies,
        )
    except ValueError as error:  # --resume on a folder that holds another model's run
        raise typer.BadParameter(str(error), param_hint="--resume") from error
    _print_table(report)
    _print_files(save_report(report, out))


@app.command("report")
def report_command(
    folders: Annotated[
        list[Path] | None, typer.Argument(help="folders written by `tinycrew eval bfcl` (several: merged)")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="where a merged report goes (default: the only folder given)")
    ] = None,
) -> None:
    """Redraw the markdown table and the plot from saved bfcl_results.json files, without running a model;
    several runs (say one process per mode) are merged into one report first.

    Example: `tinycrew eval report results/bfcl-raw results/bfcl-graphs --out results/bfcl`
    """
    from tinycrew.evals.report import load_report, merge_reports, render_report, save_report

    folders = folders or [Path("results/bfcl")]
    paths = [folder / "bfcl_results.json" if folder.is_dir() else folder for folder in folders]
    for path, folder in zip(paths, folders, strict=True):
        if not path.is_file():
            raise typer.BadParameter(f"no bfcl_results.json at {folder}", param_hint="FOLDERS")
    if len(paths) > 1 and out is None:
        raise typer.BadParameter("say where the merged report goes", param_hint="--out")
    try:
        report = merge_reports([load_report(path) for path in paths])
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="FOLDERS") from error
    _print_table(report)
    if len(paths) == 1 and out is None:
        _print_files(render_report(report, paths[0].parent))
    else:
        _print_files(save_report(report, out or paths[0].parent))


@app.command("diff")
def diff_command(
    before: Annotated[Path, typer.Argument(help="a folder (or bfcl_results.json) of the first run")],
    after: Annotated[Path, typer.Argument(help="a folder (or bfcl_results.json) of the second run")],
    split: Annotated[str | None, typer.Option(help="train | eval: compare that split's entries only")] = None,
) -> None:
    """List the entries whose score or calls differ between two runs of the same modes, and count the
    gains and losses per mode (say `--policies default` against `--policies repairs`).

    Example: `tinycrew eval diff results/default results/repairs --split eval`
    """
    from tinycrew.evals.compare import change_counts, compare_reports
    from tinycrew.evals.report import load_report

    if split not in (None, "train", "eval"):
        raise typer.BadParameter("use train or eval", param_hint="--split")
    reports = []
    for folder in (before, after):
        path = folder / "bfcl_results.json" if folder.is_dir() else folder
        if not path.is_file():
            raise typer.BadParameter(f"no bfcl_results.json at {folder}", param_hint="BEFORE/AFTER")
        reports.append(load_report(path))
    changes = compare_reports(*reports, split=split)  # type: ignore[arg-type]
    for change in changes:
        console.print(change.line(), markup=False, soft_wrap=True)
    for mode, counts in change_counts(changes).items():
        console.print(
            f"{mode}: {counts['gained']} gained, {counts['lost']} lost, {counts['changed']} changed"
        )
    if not changes:
        console.print("no entry differs")


@app.command("versus")
def versus_command(
    folder: Annotated[Path, typer.Argument(help="a folder (or bfcl_results.json) holding several modes")],
    mode: Annotated[str, typer.Option(help="the mode that stands against the others")] = "crew",
    split: Annotated[str | None, typer.Option(help="train | eval: that split's entries only")] = None,
) -> None:
    """Print how one mode of a run stands against the others: per category its accuracy, the best other
    mode's and the gap, the mean over categories of each mode, and a paired bootstrap interval of the
    difference to each other mode over the same entries.

    Example: `tinycrew eval versus results/bfcl-graphs --mode crew --split eval`
    """
    from tinycrew.evals.compare import mode_standing
    from tinycrew.evals.report import load_report

    if split not in (None, "train", "eval"):
        raise typer.BadParameter("use train or eval", param_hint="--split")
    path = folder / "bfcl_results.json" if folder.is_dir() else folder
    if not path.is_file():
        raise typer.BadParameter(f"no bfcl_results.json at {folder}", param_hint="FOLDER")
    try:
        standing = mode_standing(load_report(path), mode, split=split)  # type: ignore[arg-type]
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--mode") from error
    for line in standing.lines():
        console.print(line, markup=False, soft_wrap=True)
