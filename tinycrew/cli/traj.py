"""`tinycrew traj`: list, show, export and count the recorded trajectories."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, cast

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from tinycrew.cli.errors import UserError
from tinycrew.trajectories import (
    RunFilter,
    RunSummary,
    TrajectoryStore,
    export_trajectories,
    redact_pii,
)
from tinycrew.trajectories.export import FileFormat
from tinycrew.trajectories.samples import SampleFormat

app = typer.Typer(
    help="Inspect and export recorded trajectories (runs and their role steps).", no_args_is_help=True
)
console = Console()

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Store URL: sqlite:///path, a file path or postgresql://..."
        " (default: trajectories.sqlite under TINYCREW_HOME)",
    ),
]
OutcomeOption = Annotated[
    list[str] | None, typer.Option("--outcome", help="Keep runs with this outcome (repeatable).")
]
GraphOption = Annotated[str | None, typer.Option("--graph", help="Keep runs of this graph.")]
ModelOption = Annotated[str | None, typer.Option("--model", help="Keep steps written by this model.")]
SinceOption = Annotated[
    str | None, typer.Option("--since", help="Runs started at or after this ISO date/time (UTC if naive).")
]
UntilOption = Annotated[str | None, typer.Option("--until", help="Runs started before this ISO date/time.")]
MinScoreOption = Annotated[
    float | None, typer.Option("--min-score", help="Keep runs whose mean feedback score is at least this.")
]


class SampleFormatChoice(StrEnum):
    """Export sample formats."""

    backbone = "backbone"
    role = "role"
    openai = "openai"


class FileFormatChoice(StrEnum):
    """Export file formats."""

    jsonl = "jsonl"
    parquet = "parquet"
    disk = "disk"


def _time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not an ISO date or date-time", param_hint=option) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _filters(
    outcome: list[str] | None,
    graph: str | None,
    model: str | None,
    since: str | None,
    until: str | None,
    min_score: float | None,
    limit: int | None = None,
) -> RunFilter:
    return RunFilter(
        outcome=outcome or None,
        graph=graph,
        model=model,
        since=_time(since, "--since"),
        until=_time(until, "--until"),
        min_score=min_score,
        limit=limit,
    )


def _when(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _clip(text: str | None, width: int = 60) -> str:
    """One line of at most `width` characters, escaped for rich markup (recorded text is not markup)."""
    text = (text or "").replace("\n", " ")
    return escape(text if len(text) <= width else text[: width - 1] + "…")


NARROW = 120
"""Below this many columns `traj list` puts each run's task under its id instead of in a column."""


def _issues(run: RunSummary) -> str:
    counts = (
        (run.n_validation_errors, "invalid"),
        (run.n_errors, "failed"),
        (run.n_escalations, "escalated"),
    )
    return ", ".join(f"{n} {what}" for n, what in counts if n)


def runs_table(runs: list[RunSummary], width: int) -> Table:
    """The `traj list` table, readable at `width` columns: the issues and score columns only when some
    run has one; below NARROW columns a compact layout, each run on two lines (the task under the run
    id, the issues under the outcome). Run ids are never cut: `traj show` needs them whole.

    Example: `Console().print(runs_table(store.list_runs(), 80))`
    """
    narrow = width < NARROW
    show_issues = any(_issues(run) for run in runs)
    show_score = any(run.mean_score is not None for run in runs)
    id_width = min(40, max((len(run.run_id) for run in runs), default=6))
    table = Table(
        title=f"{len(runs)} run(s)",
        caption="issues: steps with invalid calls, failed steps, escalated steps" if show_issues else None,
        **(
            {"box": box.SIMPLE_HEAD, "show_edge": False, "pad_edge": False, "collapse_padding": True}
            if narrow
            else {}
        ),
    )
    if narrow:
        table.add_column(
            "run id / task", no_wrap=True, overflow="ellipsis", min_width=id_width, max_width=id_width
        )
        table.add_column("started\n(UTC)", no_wrap=True)
    else:
        table.add_column("run id", no_wrap=True, min_width=id_width)
        table.add_column("started (UTC)", no_wrap=True)
    table.add_column("graph", no_wrap=True, overflow="ellipsis")
    table.add_column("outcome / issues" if narrow and show_issues else "outcome", overflow="fold")
    table.add_column("steps", justify="right", no_wrap=True)
    if show_issues and not narrow:
        table.add_column("issues")
    if show_score:
        table.add_column("score", justify="right", no_wrap=True)
    if not narrow:
        table.add_column("task", no_wrap=True, overflow="ellipsis", ratio=1)
    for run in runs:
        started = _when(run.started_at)
        outcome = escape(run.outcome or "unfinished")
        score = ["" if run.mean_score is None else f"{run.mean_score:.2f}"] if show_score else []
        if narrow:
            issues = _issues(run)
            table.add_row(
                f"{escape(run.run_id)}\n[dim]{_clip(run.task, 200)}[/dim]",
                started.replace(" ", "\n"),
                escape(run.graph),
                outcome + (f"\n[dim]{escape(issues)}[/dim]" if issues else ""),
                str(run.n_steps),
                *score,
            )
        else:
            issues_cell = [_issues(run)] if show_issues else []
            cells = [escape(run.run_id), started, escape(run.graph), outcome, str(run.n_steps)]
            table.add_row(*cells, *issues_cell, *score, _clip(run.task, 200))
    return table


@app.command("list")
def list_runs(
    store: StoreOption = None,
    outcome: OutcomeOption = None,
    graph: GraphOption = None,
    model: ModelOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    min_score: MinScoreOption = None,
    limit: Annotated[int, typer.Option("--limit", help="Show at most this many runs.")] = 50,
) -> None:
    """List runs, newest first, with their outcome signals.

    Example: tinycrew traj list --outcome success --graph umi --limit 20
    """
    filters = _filters(outcome, graph, model, since, until, min_score, limit)
    with TrajectoryStore.open(store) as st:
        runs = st.list_runs(filters)
    console.print(runs_table(runs, console.width))


@app.command("show")
def show_run(
    run_id: Annotated[str, typer.Argument(help="The run (LangGraph thread) id.")],
    store: StoreOption = None,
    messages: Annotated[bool, typer.Option("--messages", help="Print every step's full prompt.")] = False,
) -> None:
    """Show one run: its task, outcome and answer, then a table of its steps.

    Example: tinycrew traj show 3f2a9c --messages
    """
    with TrajectoryStore.open(store) as st:
        run = st.get_run(run_id)
        where = st.display_url
    if run is None:
        raise UserError(f"no run {run_id!r} in {where}", fix="`tinycrew traj list` shows the recorded runs")
    lines = [
        ("task", run.task),
        ("graph", run.graph),
        ("outcome", run.outcome or "unfinished"),
        ("tinycrew", run.tinycrew_version),
        ("started", _when(run.started_at)),
        ("finished", _when(run.finished_at)),
        ("models", json.dumps(run.models)),
        ("retrieved tools", ", ".join(run.retrieved_tools)),
        ("answer", run.answer or ""),
        *([("error", run.error)] if run.error else []),
        *([("cost", json.dumps(run.cost))] if run.cost else []),
        *[("feedback", f"{f.score:g} ({f.source}) {f.comment or ''}") for f in run.feedback],
    ]
    header = "\n".join(f"[b]{name}[/b]: {escape(value)}" for name, value in lines)
    console.print(Panel(header, title=escape(f"run {run.run_id}")))
    table = Table(title=f"{len(run.steps)} step(s)")
    for name in ("#", "role", "model", "output / call", "validation", "observation"):
        table.add_column(name)
    for name in ("tokens", "s"):
        table.add_column(name, justify="right")
    table.add_column("esc.")
    for step in run.steps:
        call = step.parsed_call
        shown = f"{call.get('name')}({json.dumps(call.get('arguments'))})" if call else step.raw_output
        table.add_row(
            str(step.index),
            escape(step.role),
            escape(step.model + (f" +{step.adapter}" if step.adapter else "")),
            _clip(shown),
            _clip(step.validation_error or step.error, 30),
            _clip(step.observation, 40),
            f"{step.prompt_tokens}+{step.completion_tokens}",
            f"{step.latency_s:.2f}",
            escape(step.escalation_reason or "yes") if step.escalated else _clip(step.escalation_reason, 30),
        )
    console.print(table)
    for step in run.steps:  # what call policies changed before a call ran (tinycrew.policies)
        for rewrite in step.rewrites:
            change = f"{rewrite.get('before')} -> {rewrite.get('after')} ({rewrite.get('reason')})"
            where = f"step {step.index} call {rewrite.get('call_id')}"
            console.print(escape(f"{where}: rewritten by {rewrite.get('policy')}: {change}"))
    if messages:
        for step in run.steps:
            console.rule(escape(f"step {step.index} · {step.role} · {step.model}"))
            for message in step.messages:
                content = message.get("content")
                shown = (
                    content if isinstance(content, str) else json.dumps(message.get("tool_calls", content))
                )
                console.print(Text.assemble((f"{message.get('role')}: ", "bold"), shown))
            console.print(Text.assemble(("output: ", "bold"), step.raw_output))


@app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="File (jsonl, parquet) or directory (disk) to write.")],
    fmt: Annotated[SampleFormatChoice, typer.Option("--format", help="Sample format.")] = (
        SampleFormatChoice.openai
    ),
    role: Annotated[
        str | None, typer.Option("--role", help="Role to export (required for --format role).")
    ] = None,
    file_format: Annotated[FileFormatChoice, typer.Option("--file-format", help="How to write it.")] = (
        FileFormatChoice.jsonl
    ),
    store: StoreOption = None,
    outcome: OutcomeOption = None,
    graph: GraphOption = None,
    model: ModelOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    min_score: MinScoreOption = None,
    include_invalid: Annotated[
        bool, typer.Option("--include-invalid", help="Keep steps with validation errors or errors.")
    ] = False,
    dedupe: Annotated[bool, typer.Option("--dedupe/--no-dedupe", help="Drop identical samples.")] = True,
    redact: Annotated[
        bool, typer.Option("--redact-pii", help="Mask e-mail addresses and phone numbers.")
    ] = False,
) -> None:
    """Export training samples with Hugging Face datasets (JSONL, Parquet or save_to_disk).

    Example: tinycrew traj export --format role --role caller --outcome success --out caller.jsonl
    """
    if fmt is SampleFormatChoice.role and not role:
        raise typer.BadParameter("--format role needs --role (planner, caller, summarizer, ...)")
    filters = _filters(outcome, graph, model, since, until, min_score)
    with TrajectoryStore.open(store) as st:
        result = export_trajectories(
            st,
            out,
            cast(SampleFormat, fmt.value),
            file_format=cast(FileFormat, file_format.value),
            role=role,
            filters=filters,
            include_invalid=include_invalid,
            dedupe=dedupe,
            redact=redact_pii if redact else None,
        )
    console.print(
        f"wrote {result.samples} {result.format} sample(s) from {result.runs} run(s) to {result.path} "
        f"({result.file_format}; {result.duplicates_dropped} duplicate(s) dropped)",
        markup=False,
        highlight=False,
    )


def _usage_cell(usage: dict[str, float]) -> str:
    """Tokens in+out, seconds and cost of a model's or a role's steps, in one cell."""
    tokens = f"{usage.get('prompt_tokens', 0):.0f}+{usage.get('completion_tokens', 0):.0f} tok"
    cost = f", ${usage['cost_usd']:.6f}" if usage.get("cost_usd") else ""
    return f"{tokens}, {usage.get('seconds', 0):.1f} s{cost}"


@app.command("stats")
def stats(store: StoreOption = None) -> None:
    """Count runs, steps, errors, tokens and how much the blob table saves.

    Example: tinycrew traj stats --store postgresql://localhost/tinycrew
    """
    with TrajectoryStore.open(store) as st:
        s = st.stats()
        where = st.display_url
    table = Table(title=escape(f"trajectory store {where}"))
    table.add_column("what")
    table.add_column("value", justify="right")
    rows: list[tuple[str, str]] = [
        ("runs", str(s.runs)),
        *((f"  outcome {k}", str(v)) for k, v in s.runs_by_outcome.items()),
        ("steps", str(s.steps)),
        *((f"  role {k}", str(v)) for k, v in s.steps_by_role.items()),
        *((f"  model {k}", str(v)) for k, v in s.steps_by_model.items()),
        ("validation errors", str(s.validation_errors)),
        ("step errors", str(s.step_errors)),
        ("escalations", str(s.escalations)),
        ("prompt tokens", str(s.prompt_tokens)),
        ("completion tokens", str(s.completion_tokens)),
        ("cloud cost (USD)", f"{s.cost_usd:.6f}"),
        *((f"  model {k}", _usage_cell(v)) for k, v in s.usage_by_model.items()),
        *((f"  role {k}", _usage_cell(v)) for k, v in s.usage_by_role.items()),
        ("feedback", str(s.feedback)),
        ("blobs", str(s.blobs)),
        ("blob bytes", str(s.blob_bytes)),
        ("payload bytes (before dedup)", str(s.payload_bytes)),
        ("dedup ratio", f"{s.dedup_ratio:.1f}x"),
        ("schema version", str(s.schema_version)),
    ]
    for what, value in rows:
        table.add_row(escape(what), value)
    console.print(table)
