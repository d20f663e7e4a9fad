"""Run the default desktop agent on desktop tasks and score the plans it ran (issue 25).

Each task gets a fresh temporary sandbox with the seed data, the 16 desktop tools on it with the
task's clock (`now`) and approvals off, and the default agent (crew graph) told the same clock. The
plan it ran is recovered from its calls (`tinycrew.evals.desktop.plan_of_calls`) and compared with the
task's expected plan (`match_plans`).
"""

from __future__ import annotations

import json
import math
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from tinycrew.evals.desktop import KINDS, Task, match_plans, plan_of_calls, ran
from tinycrew.models import ChatModel
from tinycrew.models.bindings import Bound, bindings_name, load_bindings


@dataclass
class TaskRun:
    """What one task's run produced: the plan, how long the request took, and its score."""

    id: str
    kind: str
    split: str
    plan: list[dict[str, Any]]
    """The calls that ran (`tinycrew.evals.desktop.ran`): what is scored."""
    seconds: float
    ok: bool | None = None
    """None when the task has no expected plan."""
    reason: str = ""
    detail: str = ""
    structure_ok: bool | None = None
    answer: str | None = None
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_calls: int = 0
    not_run: list[dict[str, Any]] = field(default_factory=list)
    """Calls the agent wrote that never ran (invalid, dropped as a copy, dependency failed)."""

    def row(self) -> dict[str, Any]:
        """The line written to the plans file: ``{"id", "plan", ...}``."""
        kept = {key: value for key, value in asdict(self).items() if value is not None}
        if not self.not_run:
            del kept["not_run"]
        return kept

    def score(self, task: Task) -> None:
        """Score the plan against the task's expected plan (nothing when it has none)."""
        if task.plan is not None:
            match = match_plans(self.plan, task.plan, task.now)
            self.ok, self.reason, self.detail = match.ok, match.reason, match.detail
            self.structure_ok = match.structure_ok


@dataclass
class DesktopReport:
    """Every task's run, with the accuracy and latency figures over them."""

    model: str
    runs: list[TaskRun] = field(default_factory=list)

    @property
    def scored(self) -> list[TaskRun]:
        return [run for run in self.runs if run.ok is not None]

    def accuracy(self, kind: str | None = None) -> tuple[int, int]:
        """(exact matches, scored tasks), of one kind or all."""
        runs = [run for run in self.scored if kind is None or run.kind == kind]
        return sum(bool(run.ok) for run in runs), len(runs)

    def structure_accuracy(self) -> tuple[int, int]:
        """(same tools and DAG, arguments aside; scored tasks): TinyAgent-style structure match."""
        return sum(bool(run.structure_ok) for run in self.scored), len(self.scored)

    def latency(self) -> tuple[float, float]:
        """Median and 95th percentile seconds per request."""
        seconds = sorted(run.seconds for run in self.runs)
        if not seconds:
            return 0.0, 0.0
        p95 = seconds[max(0, math.ceil(0.95 * len(seconds)) - 1)]  # nearest rank
        return statistics.median(seconds), p95

    def failure_kinds(self) -> Counter[str]:
        """Failures counted by kind: each missing or extra tool, each parameter that differed, "no call",
        "call on a no-tool request", "dependencies"."""
        counts: Counter[str] = Counter()
        for run in self.scored:
            if run.ok:
                continue
            if run.reason == "arguments":
                counts.update(f"arguments: {item}" for item in run.detail.split(", "))
            elif run.reason == "wrong tools":
                for part in run.detail.split("; "):
                    which, _, names = part.partition(" ")
                    counts.update(f"{which} call: {name}" for name in dict.fromkeys(names.split(", ")))
            else:
                counts[run.reason] += 1
        return counts

    def summary_lines(self) -> list[str]:
        """What the command line prints: accuracy overall and per kind, latency, worst failures."""
        median, p95 = self.latency()
        lines = []
        correct, total = self.accuracy()
        if total:
            lines.append(f"accuracy: {correct / total:.1%} ({correct}/{total} exact plan matches)")
            kinds = [kind for kind in KINDS if self.accuracy(kind)[1]]
            parts = [f"{kind} {self.accuracy(kind)[0]}/{self.accuracy(kind)[1]}" for kind in kinds]
            lines.append("per kind: " + ", ".join(parts))
            same, _ = self.structure_accuracy()
            lines.append(f"structure (tools + DAG, arguments aside): {same / total:.1%} ({same}/{total})")
        lines.append(
            f"latency per request: median {median:.2f} s, p95 {p95:.2f} s ({len(self.runs)} requests)"
        )
        if self.runs:
            prompt = statistics.median(run.prompt_tokens for run in self.runs)
            generated = statistics.median(run.completion_tokens for run in self.runs)
            calls = statistics.median(run.model_calls for run in self.runs)
            lines.append(
                f"per request (median): {prompt:.0f} prompt tokens, {generated:.0f} generated, "
                f"{calls:.0f} model calls"
            )
        worst = self.failure_kinds().most_common(8)
        if worst:
            lines.append("failures: " + "; ".join(f"{kind} x{count}" for kind, count in worst))
        return lines


def run_task(
    task: Task,
    model: Bound,
    *,
    answer: bool = False,
    agent_options: dict[str, Any] | None = None,
) -> TaskRun:
    """Run one task in a fresh sandbox and score the plan the agent ran."""
    from tinycrew.graphs import Agent
    from tinycrew.tools.desktop import AGENT_OPTIONS, desktop_tools, seed_sandbox

    with tempfile.TemporaryDirectory(prefix="tinycrew-desktop-") as folder:
        root = seed_sandbox(Path(folder) / "sandbox")
        tools = desktop_tools(root, now=task.now, approval=False)
        options = {"checkpointer": "memory", "record": False, "answer": answer, **AGENT_OPTIONS}
        options |= agent_options or {}
        # the roles are not told the time: the tools read dates in the user's words against task.now
        agent = Agent(tools, models=model, **options)
        error, usage = None, {}
        started = time.perf_counter()
        try:
            result = agent.run(task.request)
            calls, reply, usage = result.calls, result.answer, result.usage
        except Exception as exc:  # a crashed run is a failed task, the eval goes on
            calls, reply, error = [], None, f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - started
    rows = plan_of_calls(calls, task.request)
    plan = ran(rows)
    run = TaskRun(task.id, task.kind, task.split, plan, seconds, answer=reply or None, error=error)
    run.not_run = [row for row in rows if row not in plan]
    run.prompt_tokens = int(sum(counts.get("prompt_tokens", 0) for counts in usage.values()))
    run.completion_tokens = int(sum(counts.get("completion_tokens", 0) for counts in usage.values()))
    run.model_calls = int(sum(counts.get("calls", 0) for counts in usage.values()))
    run.score(task)
    return run


def run_desktop_eval(
    tasks: Iterable[Task],
    model: ChatModel | str | None | Mapping[str, ChatModel | str | None] = None,
    *,
    out: TextIO | None = None,
    answer: bool = False,
    progress: Callable[[TaskRun], None] | None = None,
    examples: bool = False,
    policies: str = "default",
) -> DesktopReport:
    """Run every task (one model for all roles, or a role -> model mapping), writing each plan line to
    `out` as soon as it is done. With `examples` the crew planner sees solved train-split requests
    (`desktop_examples`); a train task's own example is left out while it runs. `policies` names the
    call policy set (`tinycrew.policies.POLICY_SETS`): the lossless defaults, or every opt-in repair."""
    from tinycrew.policies import policy_set

    chosen_policies = policy_set(policies, graph="crew")
    chat = load_bindings(model)
    report = DesktopReport(model=bindings_name(chat))
    shots, own = None, {}
    if examples:
        from tinycrew.evals.desktop_examples import desktop_examples, plan_lines

        shots, own = desktop_examples()
    for task in tasks:
        options: dict[str, Any] = {"policies": chosen_policies}
        if shots is not None:
            options["examples"] = shots
        left_out = own.get(task.id)
        if shots is not None and left_out is not None:
            shots.remove([left_out])
        try:
            run = run_task(task, chat, answer=answer, agent_options=options)
        finally:
            if shots is not None and left_out is not None and task.plan:
                shots.add(task.request, plan_lines(task.plan), [call.name for call in task.plan])
        report.runs.append(run)
        if out is not None:
            out.write(json.dumps(run.row(), ensure_ascii=False) + "\n")
            out.flush()
        if progress is not None:
            progress(run)
    return report


def rescore_plans(tasks: Iterable[Task], plans: str | Path, model: str = "") -> DesktopReport:
    """Score a plans file written earlier against `tasks` again (after a scorer change, say), without
    running anything; only the tasks the file has a line for count."""
    by_id = {task.id: task for task in tasks}
    report = DesktopReport(model=model)
    with Path(plans).open(encoding="utf-8") as handle:
        for line in handle:
            task = by_id.get(json.loads(line)["id"]) if line.strip() else None
            if task is None:
                continue
            row = json.loads(line)
            counts = ("prompt_tokens", "completion_tokens", "model_calls")
            run = TaskRun(task.id, task.kind, task.split, ran(row["plan"]), float(row.get("seconds", 0.0)))
            for key in counts:
                setattr(run, key, int(row.get(key, 0)))
            run.not_run = [*row.get("not_run", []), *(item for item in row["plan"] if item not in run.plan)]
            run.score(task)
            report.runs.append(run)
    return report
