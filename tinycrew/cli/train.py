"""`tinycrew train`: the learning loop of issue #26 in one command (docs/learning.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from tinycrew.cli.errors import UserError
from tinycrew.models import DEFAULT_MODEL, TEACHER_MODEL

console = Console()
TARGET_SETS = {
    "all": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "attention": ["q_proj", "k_proj", "v_proj", "o_proj"],
}
"""The projections a LoRA adapts: llama.cpp decodes ~0.8x with all seven, ~0.92x with attention only."""


def train_command(
    out: Annotated[Path, typer.Option(help="the run's folder: store, datasets, checkpoints, adapters")],
    teacher: Annotated[
        str, typer.Option(help="teacher: a packaged model name or .gguf path (or what --teacher-url serves)")
    ] = TEACHER_MODEL,
    teacher_url: Annotated[
        str | None, typer.Option(help="an OpenAI-compatible server (.../v1) to use as the teacher")
    ] = None,
    teacher_key_env: Annotated[
        str, typer.Option(help="environment variable holding the teacher server's API key")
    ] = "OPENAI_API_KEY",
    tasks: Annotated[
        list[str] | None, typer.Option("--tasks", help="task sets: bfcl, desktop, synthetic (repeatable)")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="at most this many train tasks per set")] = None,
    category: Annotated[
        list[str] | None, typer.Option(help="BFCL categories (repeatable; default: all five)")
    ] = None,
    synthetic: Annotated[int, typer.Option(help="synthetic tasks to generate over the desktop tools")] = 8,
    base: Annotated[str, typer.Option(help="the model trained and served (packaged name or .gguf)")] = (
        DEFAULT_MODEL
    ),
    name: Annotated[str, typer.Option(help="adapters register as <name>-<role>")] = "v1",
    role: Annotated[
        list[str] | None,
        typer.Option(help="stage-2 roles to train (repeatable; default: all present)"),
    ] = None,
    store: Annotated[Path | None, typer.Option(help="store (default: <out>/trajectories.sqlite)")] = (None),
    collect: Annotated[bool, typer.Option(help="run the teacher; --no-collect trains on the store")] = True,
    fill_with_student: Annotated[
        bool,
        typer.Option(help="run the base model on the tasks the teacher missed; train on its verified runs"),
    ] = False,
    gate_check: Annotated[
        int,
        typer.Option(
            help="train tasks per set (after the teacher's) on which the gate adapter must decide call or"
            " no call at least as well as the stage-1 adapter and the base to serve the gate; 0: it serves"
        ),
    ] = 12,
    evaluate: Annotated[bool, typer.Option(help="score the held-out split before and after")] = True,
    eval_limit: Annotated[int | None, typer.Option(help="at most this many eval entries per set")] = None,
    bfcl: Annotated[Path | None, typer.Option(help="BFCL data folder (default: ../shared/bfcl)")] = None,
    epochs: Annotated[float, typer.Option(help="passes over each dataset")] = 1.0,
    max_steps: Annotated[int | None, typer.Option(help="optimizer steps per stage (over --epochs)")] = None,
    rank: Annotated[int, typer.Option("--lora-r", help="LoRA rank")] = 16,
    targets: Annotated[
        str,
        typer.Option(
            help="all (q,k,v,o,gate,up,down) | attention (q,k,v,o: faster decode, docs/adapters.md)"
        ),
    ] = "all",
    learning_rate: Annotated[float, typer.Option(help="peak learning rate")] = 2e-4,
    max_length: Annotated[int, typer.Option(help="tokens per sample (prompts cut from the left)")] = 2048,
    cpu_precision: Annotated[
        str,
        typer.Option(
            help="auto | bf16 | fp32: CPU training under bf16 autocast (auto: where the CPU has it)"
        ),
    ] = "auto",
) -> None:
    """Teacher trajectories -> verified runs -> per-role datasets -> two-stage LoRA -> GGUF adapters on
    the base -> held-out accuracy before and after, as a table (and losses.png in <out>/training).

    Every stage resumes: run the same command again after a stop.
    Example: `tinycrew train --out runs/v1 --tasks bfcl --tasks desktop --limit 50 --eval-limit 40`.
    """
    from tinycrew.learning.datasets import DatasetConfig
    from tinycrew.learning.pipeline import TASK_SETS, TrainPlan, run_pipeline
    from tinycrew.learning.train import TrainConfig

    if cpu_precision not in ("auto", "bf16", "fp32"):
        raise UserError(f"--cpu-precision {cpu_precision!r}", fix="--cpu-precision auto|bf16|fp32")
    if targets not in TARGET_SETS:
        raise UserError(f"--targets {targets!r} is not all or attention", fix="--targets all|attention")
    chosen = tasks or ["bfcl", "desktop"]
    unknown = [task for task in chosen if task not in TASK_SETS]
    if unknown:
        raise UserError(f"unknown task set {', '.join(unknown)}", fix=f"choose from {', '.join(TASK_SETS)}")
    plan = TrainPlan(
        out=out, base=base, name=name, task_sets=chosen, task_limit=limit, synthetic=synthetic,
        store=store, collect=collect, fill_with_student=fill_with_student, gate_check=gate_check,
        evaluate=evaluate,
        eval_limit=eval_limit, bfcl_root=bfcl,
        **({"bfcl_categories": category} if category else {}),
    )  # fmt: skip
    training = TrainConfig(
        epochs=epochs, max_steps=max_steps, r=rank, alpha=2.0 * rank, learning_rate=learning_rate,
        max_length=max_length, target_modules=TARGET_SETS[targets], cpu_precision=cpu_precision,
    )  # fmt: skip
    tools = None
    if "synthetic" in chosen:
        from tinycrew.tools.desktop import desktop_tools, seed_sandbox

        tools = desktop_tools(seed_sandbox(out / "synthetic-sandbox"), approval=False)
    run_pipeline(
        plan,
        _teacher(teacher, teacher_url, teacher_key_env) if collect else None,
        console=console,
        train_config=training,
        dataset_config=DatasetConfig(max_length=max_length, roles=role or None),
        tools_for_synthetic=tools,
    )


def _teacher(model: str, url: str | None, key_env: str):  # noqa: ANN202 - a ChatModel
    """The teacher: a local GGUF through llama.cpp, or an OpenAI-compatible server."""
    import os

    from tinycrew.models import OpenAIChatModel, load_model

    if url:
        return OpenAIChatModel(model, base_url=url, api_key=os.environ.get(key_env) or "none", timeout=300.0)
    return load_model(model)
