"""`tinycrew desktop eval`: the default desktop agent on a task file, plans written, accuracy printed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()


def eval_command(
    tasks: Annotated[
        Path | None,
        typer.Option(help="tasks JSONL ({id, now, request, plan?}); default: the packaged desktop task set"),
    ] = None,
    out: Annotated[Path, typer.Option(help="where the plans go, one JSON line per task")] = Path(
        "results/desktop/plans.jsonl"
    ),
    split: Annotated[str, typer.Option(help="train | eval | all")] = "all",
    limit: Annotated[int | None, typer.Option(help="only the first N tasks (after --split)")] = None,
    model: Annotated[
        str | None, typer.Option(help="packaged model name or .gguf path (default: the packaged 0.5B)")
    ] = None,
    answer: Annotated[
        bool, typer.Option(help="also write the answer (summarizer step); counts in the latency")
    ] = False,
    examples: Annotated[
        bool,
        typer.Option(help="show the planner solved train-split requests like each one (own one left out)"),
    ] = False,
    policies: Annotated[
        str, typer.Option(help="call policies: default (lossless) or repairs (every opt-in repair)")
    ] = "default",
    rescore: Annotated[
        bool, typer.Option(help="run nothing: score the plans already in --out against the tasks again")
    ] = False,
) -> None:
    """Run the default desktop agent on each task in a fresh seeded sandbox; write the plans it ran
    (`$N` where an argument is call N's result) and print the exact plan accuracy and latency.

    Example: `tinycrew desktop eval --split eval --out results/desktop/eval.jsonl`
    (add `--policies repairs` to let every opt-in call repair run, docs/policies.md)
    """
    from tinycrew.evals.desktop import load_tasks
    from tinycrew.evals.desktop_runner import TaskRun, rescore_plans, run_desktop_eval
    from tinycrew.policies import POLICY_SETS

    if policies not in POLICY_SETS:
        raise typer.BadParameter(f"choose one of {', '.join(POLICY_SETS)}", param_hint="--policies")
    if split not in ("train", "eval", "all"):
        raise typer.BadParameter("choose train, eval or all", param_hint="--split")
    chosen = load_tasks(tasks, split=split, limit=limit)
    if not chosen:
        raise typer.BadParameter(f"no tasks in {tasks or 'the packaged set'} for split {split}")
    if rescore:
        if not out.is_file():
            raise typer.BadParameter(f"no plans file {out} to score", param_hint="--out")
        for line in rescore_plans(chosen, out, model or "").summary_lines():
            console.print(line, highlight=False, markup=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)

    def show(run: TaskRun) -> None:
        mark = {True: "[green]ok[/green]", False: "[red]miss[/red]", None: "-"}[run.ok]
        why = "" if run.ok in (True, None) else f" {run.reason}: {run.detail}"
        console.print(f"{run.id:<24} {run.seconds:6.2f} s  {mark}{why}", highlight=False)

    with out.open("w", encoding="utf-8") as handle:
        report = run_desktop_eval(
            chosen, model, out=handle, answer=answer, progress=show, examples=examples, policies=policies
        )
    console.print(f"model: {report.model}, split: {split}, plans: {out}", highlight=False)
    for line in report.summary_lines():
        console.print(line, highlight=False, markup=False)
