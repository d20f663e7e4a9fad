"""Write a BFCL report to disk: results as JSON, a markdown table, accuracy and cost-quality plots.

Everything is derived from the JSON, so ``tinycrew eval report DIR`` (``render_report``) redraws the table
and the plot from a saved run without running any model.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from tinycrew.evals.bfcl_data import Split, split_of
from tinycrew.evals.runner import BfclReport, CellResult, EntryResult

RESULTS_FILE = "bfcl_results.json"
TABLE_FILE = "bfcl_table.md"
PLOT_FILE = "bfcl_accuracy.png"
COST_PLOT_FILE = "bfcl_cost_quality.png"


def row_label(cell: CellResult) -> str:
    """A cell's row in a table: its mode, with the call-policy set appended when the graph ran with
    another set than the lossless default ("umi+repairs")."""
    sets = {entry.policies for entry in cell.entries} - {"", "default"}
    return f"{cell.mode}+{'/'.join(sorted(sets))}" if sets else cell.mode


def _only(cell: CellResult, split: Split | None) -> CellResult:
    if split is None:
        return cell
    return replace(cell, entries=[entry for entry in cell.entries if split_of(entry.id) == split])


def table_rows(report: BfclReport, split: Split | None = None) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the summary table: one row per mode, ``acc (correct/n)`` per category, then the
    mean prompt tokens, completion tokens and seconds per entry over all of the mode's entries. With
    `split`, only the entries `split_of` puts there count (the eval rows beside "all")."""
    header = ["mode", *report.categories, "prompt tok", "completion tok", "s/entry"]
    rows: list[list[str]] = []
    for mode in report.modes:
        cells = {cell.category: _only(cell, split) for cell in report.mode_cells(mode)}
        row = [mode]
        for category in report.categories:
            cell = cells.get(category)
            row.append(f"{cell.accuracy:.1%} ({cell.correct}/{cell.n})" if cell is not None else "-")
        entries: list[EntryResult] = [entry for cell in cells.values() for entry in cell.entries]
        count = len(entries) or 1
        row.append(f"{sum(e.prompt_tokens for e in entries) / count:.0f}")
        row.append(f"{sum(e.completion_tokens for e in entries) / count:.0f}")
        row.append(f"{sum(e.seconds for e in entries) / count:.1f}")
        rows.append(row)
    return header, rows


def describe(report: BfclReport) -> str:
    """One line saying what was run: model, split, limit (or, for merged runs of different lengths, the
    questions per category), when and how long."""
    split = report.split or "all"
    sizes: dict[str, int] = {}
    for cell in report.cells:
        sizes[cell.category] = max(sizes.get(cell.category, 0), cell.n)
    if report.limit is None and len(set(sizes.values())) > 1:
        size = "questions: " + ", ".join(f"{category} {n}" for category, n in sizes.items())
    else:
        size = f"limit: {'none' if report.limit is None else report.limit} per category"
    when = f"{report.created}, {report.elapsed_s:.0f} s"
    commits = sorted({entry.commit for cell in report.cells for entry in cell.entries if entry.commit})
    if len(commits) > 1:
        merged = f"merged runs of commits {', '.join(commits)}"
        return f"BFCL AST accuracy of {report.model}, {merged} (split: {split}, {size}; {when})"
    at = f", commit {commits[0]}" if commits else ""
    return f"BFCL AST accuracy of {report.model}{at} (split: {split}, {size}; {when})"


def _markdown_rows(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def markdown_table(report: BfclReport) -> str:
    """The summary table in markdown, headed by the line ``describe`` writes; a run over every entry
    (no split) also gets the eval-split table: the same rows on the ids `split_of` puts in eval, when
    the run holds any."""
    lines = [describe(report), "", *_markdown_rows(*table_rows(report))]
    has_eval = any(split_of(entry.id) == "eval" for cell in report.cells for entry in cell.entries)
    if report.split is None and has_eval:
        lines += ["", "The same runs, eval split only:", "", *_markdown_rows(*table_rows(report, "eval"))]
    return "\n".join(lines) + "\n"


def plot_accuracy(report: BfclReport, path: str | Path) -> Path:
    """Grouped bars, accuracy per category with one bar per mode, drawn with matplotlib's Agg canvas
    (no display needed, and pyplot's global state is left alone)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    categories, modes = report.categories, report.modes
    figure = Figure(figsize=(max(6.0, 1.6 * len(categories) + 3), 4.2), dpi=120)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    width = 0.8 / max(1, len(modes))
    for index, mode in enumerate(modes):
        cells = {cell.category: cell for cell in report.mode_cells(mode)}
        heights = [100 * cells[c].accuracy if c in cells else 0.0 for c in categories]
        offsets = [i - 0.4 + width * (index + 0.5) for i in range(len(categories))]
        bars = axes.bar(offsets, heights, width, label=mode)
        axes.bar_label(bars, fmt="%.0f", fontsize=7, padding=1)
    axes.set_xticks(range(len(categories)), categories, rotation=15)
    axes.set_ylim(0, 105)
    axes.set_ylabel("accuracy (%)")
    counts = sorted({cell.n for cell in report.cells})
    per = "/".join(str(n) for n in counts)
    axes.set_title(f"BFCL AST accuracy: {report.model} (n = {per} per category)", fontsize=9)
    axes.legend(title="mode", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path


def cost_quality(report: BfclReport) -> list[tuple[str, float, float]]:
    """(mode, mean tokens per entry, accuracy) over all of each mode's entries: prompt plus completion
    tokens, which unlike seconds do not depend on how busy the machine was."""
    points = []
    for mode in report.modes:
        entries = report.mode_entries(mode)
        if entries:
            tokens = sum(e.prompt_tokens + e.completion_tokens for e in entries) / len(entries)
            points.append((mode, tokens, sum(e.ok for e in entries) / len(entries)))
    return points


def pareto_front(points: list[tuple[str, float, float]]) -> list[tuple[str, float, float]]:
    """The modes no other mode beats on both cost and accuracy, cheapest first."""
    front: list[tuple[str, float, float]] = []
    for point in sorted(points, key=lambda p: (p[1], -p[2])):
        if not front or point[2] > front[-1][2]:
            front.append(point)
    return front


def plot_cost_quality(report: BfclReport, path: str | Path) -> Path:
    """Accuracy over all categories against mean tokens per entry, one labelled point per mode, with the
    cost-quality frontier (the modes worth choosing at some budget) drawn as a line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    points = cost_quality(report)
    figure = Figure(figsize=(6.0, 4.2), dpi=120)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for mode, tokens, accuracy in points:
        axes.scatter([tokens], [100 * accuracy], s=30)
        axes.annotate(mode, (tokens, 100 * accuracy), textcoords="offset points", xytext=(4, 4), fontsize=8)
    front = pareto_front(points)
    axes.plot([p[1] for p in front], [100 * p[2] for p in front], linestyle="--", color="grey", linewidth=1)
    axes.set_xlabel("tokens per entry (prompt + completion, mean)")
    axes.set_ylabel("accuracy over all categories (%)")
    axes.set_ylim(0, 105)
    axes.set_title(f"BFCL cost and quality: {report.model}", fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path


def render_report(report: BfclReport, out_dir: str | Path) -> dict[str, Path]:
    """Write the markdown table and both plots of ``report`` into ``out_dir``; returns their paths."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    table = folder / TABLE_FILE
    table.write_text(markdown_table(report), encoding="utf-8")
    return {
        "markdown": table,
        "plot": plot_accuracy(report, folder / PLOT_FILE),
        "cost_plot": plot_cost_quality(report, folder / COST_PLOT_FILE),
    }


def save_report(report: BfclReport, out_dir: str | Path) -> dict[str, Path]:
    """Write ``bfcl_results.json`` (every entry), ``bfcl_table.md``, ``bfcl_accuracy.png`` and
    ``bfcl_cost_quality.png`` into ``out_dir``; returns their paths by kind: ``{"json", "markdown",
    "plot", "cost_plot"}``."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    results = folder / RESULTS_FILE
    text = json.dumps(report.to_dict(), indent=1, ensure_ascii=False, default=repr)
    results.write_text(text + "\n", encoding="utf-8")
    return {"json": results, **render_report(report, folder)}


def merge_reports(reports: list[BfclReport]) -> BfclReport:
    """One report from runs of the same model and split made separately (say one process per mode).

    Modes and categories keep the runner's order; a (mode, category) cell found in two runs, or runs
    of different models or splits, is an error rather than a silent choice.
    """
    from tinycrew.evals.bfcl_data import CATEGORIES
    from tinycrew.evals.runner import MODES

    if not reports:
        raise ValueError("nothing to merge")
    first = reports[0]
    for report in reports[1:]:
        if (report.model, report.split) != (first.model, first.split):
            raise ValueError(
                f"cannot merge runs of {report.model!r} (split {report.split}) and {first.model!r} "
                f"(split {first.split})"
            )
    cells: dict[tuple[str, str], CellResult] = {}
    for report in reports:
        for cell in report.cells:
            key = (row_label(cell), cell.category)
            if key in cells:
                raise ValueError(f"mode {key[0]!r} on {cell.category!r} is in more than one run")
            cells[key] = replace(cell, mode=key[0])
    modes = {mode for mode, _ in cells}
    categories = {category for report in reports for category in report.categories}
    order = [c for c in CATEGORIES if c in categories] + sorted(categories - set(CATEGORIES))
    # each mode's row, then the same mode under other policy sets ("umi", "umi+repairs", "compiler", ...)
    mode_order = [m for base in MODES for m in sorted(modes) if m.split("+")[0] == base]
    mode_order += sorted(modes - set(mode_order))
    limits = {report.limit for report in reports}
    return BfclReport(
        model=first.model,
        modes=mode_order,
        categories=order,
        cells=[cells[(m, c)] for m in mode_order for c in order if (m, c) in cells],
        limit=limits.pop() if len(limits) == 1 else None,
        split=first.split,
        created=min(report.created for report in reports),
        elapsed_s=sum(report.elapsed_s for report in reports),
    )


def load_report(path: str | Path) -> BfclReport:
    """Read a report saved by ``save_report`` (the JSON file, or the folder that holds it)."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILE
    return BfclReport.from_dict(json.loads(path.read_text(encoding="utf-8")))
