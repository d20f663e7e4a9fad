"""The learning loop in one call: teacher runs -> verified trajectories -> role datasets -> two-stage
LoRA (α-UMi GLPFT) -> GGUF adapters registered on the quantized base -> the gate's model chosen on
held-out train tasks (`tinycrew.learning.selection`) -> held-out eval before and after.

Every stage keeps its output under `out/` and is skipped or resumed when it is already there, so a
stopped `tinycrew train` continues where it stopped: teacher runs already checked are not run again,
datasets built from the same runs are reused, training resumes from its last checkpoint, the gate's
choice is read back, and eval results are read back entry by entry.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from rich.console import Console
from rich.table import Table

from tinycrew.evals.bfcl_data import CATEGORIES
from tinycrew.evals.bootstrap import PairedDelta, paired_bootstrap
from tinycrew.models import DEFAULT_MODEL, ChatModel, ensure_local, load_model

TaskSet = Literal["bfcl", "desktop", "synthetic"]
TASK_SETS: tuple[str, ...] = ("bfcl", "desktop", "synthetic")
BACKBONE_ROLE = "backbone"
"""The stage-1 adapter's role name: it serves every role that has no stage-2 adapter of its own."""


class TrainPlan(BaseModel):
    """What `tinycrew train` does; every field has a CLI option of the same name."""

    out: Path = Field(description="the run's folder: store, datasets, checkpoints, adapters, report")
    base: str = Field(default=DEFAULT_MODEL, description="the GGUF the roles are trained on and served from")
    name: str = Field(default="v1", description="adapters register as <name>-<role>")
    task_sets: list[TaskSet] = Field(default_factory=lambda: ["bfcl", "desktop"])
    task_limit: int | None = Field(default=None, description="at most this many tasks per set (train split)")
    synthetic: int = Field(default=0, ge=0, description="synthetic tasks to generate over the desktop tools")
    store: Path | None = Field(default=None, description="trajectory store; default out/trajectories.sqlite")
    collect: bool = Field(default=True, description="run the teacher; False trains on the store as it is")
    fill_with_student: bool = Field(
        default=False,
        description="also run the base model on the train tasks the teacher did not solve and train on its"
        " verified runs (opt-in: docs/learning.md, 'Filling with the student')",
    )
    gate_check: int = Field(
        default=12,
        ge=0,
        description="train tasks per set, after those the teacher runs, on which the gate's adapter must"
        " decide call / no call at least as well as the stage-1 adapter and the base to serve the gate"
        " (0: it always serves)",
    )
    evaluate: bool = True
    eval_limit: int | None = Field(default=None, description="at most this many eval entries per set")
    bfcl_root: Path | None = None
    bfcl_categories: list[str] = Field(default_factory=lambda: list(CATEGORIES))
    overwrite_adapters: bool = True

    @property
    def store_path(self) -> Path:
        """The trajectory store's file."""
        return self.store or self.out / "trajectories.sqlite"


@dataclass
class EvalRow:
    """One held-out set scored before and after training, with the paired interval of the change."""

    task_set: str
    delta: PairedDelta


@dataclass
class TrainReport:
    """What one pipeline run did, stage by stage."""

    collected: dict[str, Any] = field(default_factory=dict)
    verified_runs: int = 0
    dataset_sizes: dict[str, int] = field(default_factory=dict)
    adapters: dict[str, str] = field(default_factory=dict)  # role -> registered adapter name
    gate: dict[str, Any] = field(default_factory=dict)  # the gate check: chosen candidate and scores
    evals: list[EvalRow] = field(default_factory=list)
    loss_plot: Path | None = None

    def table(self) -> Table:
        """The before/after table `tinycrew train` prints."""
        table = Table(title="held-out split, before -> after training")
        for column in ("task set", "n", "before", "after", "change", "95% interval"):
            table.add_column(column)
        for row in self.evals:
            d = row.delta
            table.add_row(
                row.task_set,
                str(d.n),
                f"{d.before:.1%}",
                f"{d.after:.1%}",
                f"{d.delta * 100:+.1f}",
                f"{d.low * 100:+.1f} .. {d.high * 100:+.1f}",
            )
        return table


AGENT_ROLES = {"crew_planner": "planner"}
"""Step roles whose model an `Agent` binds under another name: the crew graph's planner steps are
recorded as `crew_planner` (apart from umi's `planner` steps) and run on the model bound to "planner"."""


GATE_CANDIDATES = ("gate", BACKBONE_ROLE, "base")
"""What may serve the gate, in the order ties are broken: its own adapter, the stage-1 one, the base."""


def role_bindings(base: str, adapters: dict[str, str], gate: str = "gate") -> dict[str, str]:
    """The `Agent(models=...)` of a trained set: each role its own adapter, the rest the stage-1 one.
    A `crew_planner` adapter serves "planner" unless an adapter trained on "planner" steps is there.
    `gate` is the gate check's choice (`GATE_CANDIDATES`): the stage-1 adapter or the base serve the
    gate instead of its own adapter.

    >>> role_bindings("m", {"backbone": "v1-backbone", "crew_planner": "v1-crew_planner"})
    {'planner': 'm+v1-crew_planner', 'default': 'm+v1-backbone'}
    >>> role_bindings("m", {"backbone": "v1-backbone", "gate": "v1-gate"}, gate="base")
    {'gate': 'm', 'default': 'm+v1-backbone'}
    """
    if gate not in GATE_CANDIDATES:
        raise ValueError(f"gate={gate!r}: expected one of {GATE_CANDIDATES}")
    bindings = {
        AGENT_ROLES.get(role, role) if AGENT_ROLES.get(role, role) not in adapters else role: f"{base}+{name}"
        for role, name in adapters.items()
        if role != BACKBONE_ROLE
    }
    backbone = adapters.get(BACKBONE_ROLE)
    bindings["default"] = f"{base}+{backbone}" if backbone else base
    if "gate" in adapters and gate != "gate":
        bindings["gate"] = base if gate == "base" else bindings["default"]
    return bindings


def run_pipeline(
    plan: TrainPlan,
    teacher: ChatModel | None,
    *,
    console: Console | None = None,
    train_config: Any = None,
    dataset_config: Any = None,
    tools_for_synthetic: Any = None,
    generator: ChatModel | None = None,
) -> TrainReport:
    """Run every stage of the learning loop for `plan` (see the module docstring); returns the report."""
    from tinycrew.trajectories import TrajectoryStore

    console = console or Console()
    plan.out.mkdir(parents=True, exist_ok=True)
    report = TrainReport()
    with TrajectoryStore.open(plan.store_path) as store:
        if plan.collect:
            if teacher is None:
                raise ValueError("collecting needs a teacher model (or collect=False to reuse the store)")
            report.collected = _collect(plan, teacher, store, console, tools_for_synthetic, generator)
        runs = _verified(store)
    report.verified_runs = len(runs)
    console.print(f"[bold]verified teacher runs:[/bold] {len(runs)}")
    if not runs:
        raise ValueError(f"no verified run in {plan.store_path}: nothing to train on")
    adapters, sizes, loss_plot = _train_and_register(plan, runs, console, train_config, dataset_config)
    report.adapters, report.dataset_sizes, report.loss_plot = adapters, sizes, loss_plot
    if plan.gate_check and "gate" in adapters:
        report.gate = _check_gate(plan, adapters, console)
    chosen = report.gate.get("chosen", "gate")
    if plan.evaluate:
        report.evals = _evaluate(plan, role_bindings(plan.base, adapters, chosen), console)
        _write_scores(plan, adapters, report)
    (plan.out / "report.json").write_text(json.dumps(_report_json(plan, report), indent=2, default=str))
    console.print(report.table())
    return report


# ------------------------------------------------------------------------------------------ stages


def _collect(
    plan: TrainPlan,
    teacher: ChatModel,
    store: Any,
    console: Console,
    tools_for_synthetic: Any,
    generator: ChatModel | None,
) -> dict[str, Any]:
    """The teacher on every task set's train part, each run checked and its verdict stored."""
    from tinycrew.learning import teacher as teaching

    collected: dict[str, Any] = {}
    for task_set in plan.task_sets:
        tasks = _train_tasks(plan, task_set, tools_for_synthetic, generator or teacher)
        console.print(f"[bold]teacher on {task_set}:[/bold] {len(tasks)} train tasks")
        report = teaching.collect_teacher_runs(teacher, tasks, store, console=console)
        collected[task_set] = report
        if plan.fill_with_student:
            missed = teaching.unverified_tasks(tasks, report)
            console.print(f"[bold]student on {task_set}:[/bold] {len(missed)} tasks the teacher missed")
            collected[f"{task_set} (student)"] = teaching.collect_teacher_runs(
                plan.base, missed, store, console=console
            )
    return collected


def _train_tasks(
    plan: TrainPlan, task_set: str, tools_for_synthetic: Any, generator: ChatModel
) -> Sequence[Any]:
    from tinycrew.learning import teacher as teaching

    if task_set == "bfcl":
        return teaching.bfcl_train_tasks(plan.bfcl_root, plan.bfcl_categories, limit=plan.task_limit)
    if task_set == "desktop":
        return teaching.desktop_train_tasks(limit=plan.task_limit)
    if task_set == "synthetic":
        from tinycrew.learning.synthetic import synthesize_tasks

        if tools_for_synthetic is None:
            raise ValueError("the synthetic task set needs a tool set (tools_for_synthetic=)")
        made = synthesize_tasks(tools_for_synthetic, generator, generator, generator, n=plan.synthetic or 8)
        return teaching.synthetic_teacher_tasks([task for task in made if task.kept], tools_for_synthetic)
    raise ValueError(f"unknown task set {task_set!r}; expected one of {TASK_SETS}")


def _verified(store: Any) -> list[Any]:
    from tinycrew.learning.teacher import verified_runs

    return verified_runs(store)


def _train_and_register(
    plan: TrainPlan, runs: list[Any], console: Console, train_config: Any, dataset_config: Any
) -> tuple[dict[str, str], dict[str, int], Path | None]:
    """Datasets, both training stages, GGUF export and registration; returns role -> adapter name."""
    from tinycrew.learning.datasets import prepare_datasets
    from tinycrew.learning.train import STAGE1, TrainConfig, train_stages
    from tinycrew.models.adapters import export_gguf_lora, register_adapter

    base_gguf = ensure_local(plan.base)
    data = prepare_datasets(runs, base_gguf, plan.out / "datasets", dataset_config)
    sizes = dict(data.meta.get("sizes", {}))
    console.print(f"[bold]datasets:[/bold] {sizes}")
    config = train_config or TrainConfig()
    roles = train_stages(base_gguf, data.backbone, data.roles, plan.out / "training", config)
    trained = {BACKBONE_ROLE: plan.out / "training" / STAGE1 / "adapter", **roles}
    adapters: dict[str, str] = {}
    for role, peft_dir in trained.items():
        name = f"{plan.name}-{role}"
        exported = export_gguf_lora(peft_dir, base_gguf, plan.out / "adapters" / f"{name}.gguf")
        card = {
            "role": role,
            "stage": 1 if role == BACKBONE_ROLE else 2,
            "trained_on": {"runs": len(runs), "samples": sizes.get(role), "store": str(plan.store_path)},
            "dataset_fingerprint": data.meta.get("fingerprint"),
            "hyperparameters": config.model_dump() if hasattr(config, "model_dump") else str(config),
            "task_sets": list(plan.task_sets),
        }
        register_adapter(exported, name, plan.base, card, overwrite=plan.overwrite_adapters)
        adapters[role] = name
    console.print(f"[bold]registered adapters:[/bold] {', '.join(adapters.values())}")
    loss_plot = plan.out / "training" / "losses.png"
    return adapters, sizes, loss_plot if loss_plot.exists() else None


def _check_gate(plan: TrainPlan, adapters: dict[str, str], console: Console) -> dict[str, Any]:
    """Choose what serves the gate (`tinycrew.learning.selection`) on the `gate_check` train tasks of
    each set after the first `task_limit` (the teacher's; with no limit the teacher ran them all, and
    the first `gate_check` are used). Read back from out/gate.json when it chose among these adapters."""
    from tinycrew.learning import selection
    from tinycrew.models.adapters import update_adapter_card

    saved = plan.out / "gate.json"
    names = {label: adapters.get(label, "") for label in GATE_CANDIDATES}
    if saved.exists():
        earlier = json.loads(saved.read_text())
        if earlier.get("adapters") == names:
            console.print(f"[bold]gate:[/bold] {earlier['chosen']} (chosen before, {saved})")
            update_adapter_card(adapters["gate"], {"gate_check": earlier})
            return earlier
    start, stop = plan.task_limit or 0, (plan.task_limit or 0) + plan.gate_check
    base = load_model(plan.base)
    cases: list[Any] = []
    if "bfcl" in plan.task_sets:
        from tinycrew.evals.bfcl_data import load_category

        entries = [
            entry
            for category in plan.bfcl_categories
            for entry in load_category(category, plan.bfcl_root, stop, "train")[start:]
        ]
        cases += selection.bfcl_gate_cases(entries, base)
    if "desktop" in plan.task_sets:
        from tinycrew.learning.teacher import desktop_train_tasks

        cases += selection.desktop_gate_cases(desktop_train_tasks(limit=stop)[start:], base)
    candidates = {label: base if label == "base" else f"{plan.base}+{adapters[label]}" for label in names}
    chosen, scores = selection.choose_gate(candidates, cases)
    for label, score in scores.items():
        console.print(f"[bold]gate check[/bold] {label}: {score.text()}")
    console.print(f"[bold]gate:[/bold] {chosen} serves the gate ({len(cases)} held-out train tasks)")
    result = {
        "chosen": chosen,
        "adapters": names,
        "cases": len(cases),
        "scores": {label: score.as_dict() for label, score in scores.items()},
    }
    saved.write_text(json.dumps(result, indent=2))
    update_adapter_card(adapters["gate"], {"gate_check": result})
    return result


def _evaluate(plan: TrainPlan, after: dict[str, str], console: Console) -> list[EvalRow]:
    """The default graph on each set's held-out (eval) split, with the base alone and with `after`
    (the trained set's `role_bindings`)."""
    rows = []
    for task_set in plan.task_sets:
        if task_set == "synthetic":
            continue  # generated for the user's tools: no held-out split to compare on
        scorer = _bfcl_eval if task_set == "bfcl" else _desktop_eval
        before_scores = scorer(plan, plan.base, plan.out / "eval" / task_set / "before", console)
        after_scores = scorer(plan, after, plan.out / "eval" / task_set / "after", console)
        ids = sorted(set(before_scores) & set(after_scores))
        delta = paired_bootstrap([before_scores[i] for i in ids], [after_scores[i] for i in ids])
        console.print(f"[bold]{task_set} eval split:[/bold] {delta.text()}")
        rows.append(EvalRow(task_set, delta))
    return rows


def _bfcl_eval(plan: TrainPlan, models: Any, folder: Path, console: Console) -> dict[str, bool]:
    from tinycrew.evals.runner import run_bfcl

    report = run_bfcl(
        models,
        modes=["crew"],
        categories=plan.bfcl_categories,
        root=plan.bfcl_root,
        limit=plan.eval_limit,
        split="eval",
        console=console,
        save_to=folder / "bfcl_results.json",
        resume=True,
    )
    return {f"{cell.category}/{entry.id}": entry.ok for cell in report.cells for entry in cell.entries}


def _desktop_eval(plan: TrainPlan, models: Any, folder: Path, console: Console) -> dict[str, bool]:
    from tinycrew.evals.desktop import load_tasks
    from tinycrew.evals.desktop_runner import rescore_plans, run_desktop_eval

    tasks = load_tasks(split="eval", limit=plan.eval_limit)
    plans = folder / "plans.jsonl"
    if plans.exists() and len(plans.read_text().splitlines()) == len(tasks):  # finished earlier
        report = rescore_plans(tasks, plans)
    else:
        folder.mkdir(parents=True, exist_ok=True)
        with plans.open("w", encoding="utf-8") as out:
            report = run_desktop_eval(tasks, models, out=out)
    return {run.id: bool(run.ok) for run in report.runs if run.ok is not None}


def _write_scores(plan: TrainPlan, adapters: dict[str, str], report: TrainReport) -> None:
    """Each adapter's card gets the held-out scores of the set it belongs to."""
    from tinycrew.models.adapters import update_adapter_card

    scores = {
        row.task_set: {
            "n": row.delta.n,
            "before": row.delta.before,
            "after": row.delta.after,
            "interval": [row.delta.low, row.delta.high],
        }
        for row in report.evals
    }
    for name in adapters.values():
        update_adapter_card(name, {"scores": scores})


def _report_json(plan: TrainPlan, report: TrainReport) -> dict[str, Any]:
    return {
        "plan": plan.model_dump(mode="json"),
        "collected": report.collected,
        "verified_runs": report.verified_runs,
        "dataset_sizes": report.dataset_sizes,
        "adapters": report.adapters,
        "gate": report.gate,
        "bindings": role_bindings(plan.base, report.adapters, report.gate.get("chosen", "gate")),
        "evals": [
            {
                "task_set": row.task_set,
                "n": row.delta.n,
                "before": row.delta.before,
                "after": row.delta.after,
                "low": row.delta.low,
                "high": row.delta.high,
            }
            for row in report.evals
        ],  # fmt: skip
        "loss_plot": str(report.loss_plot) if report.loss_plot else None,
    }
