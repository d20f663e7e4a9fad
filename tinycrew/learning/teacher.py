"""Teacher data: a strong model runs the graphs on train tasks, each run recorded and checked.

The small models learn from trajectories a checker has verified, so every teacher run gets a verdict:
`collect_teacher_runs` runs the teacher (any `ChatModel`: the packaged 1.5B through `load_model`, or an
OpenAI-compatible endpoint) through an `Agent` with ``record=True`` on each task and stores the checker's
verdict as feedback on the run (source ``"checker"``, score 1.0 verified / 0.0 not, comment = why).
`verified_runs` then reads back the runs worth training on.

Task sources and their checkers:

- **BFCL, train split only** (`bfcl_train_tasks`): run as the eval's graph modes run them (dry-run tools
  from the entry's schemas, names through `NameMap`), checked by `score_graph_calls` against the ground
  truth. An entry of the eval split is refused before anything runs: the eval split is never trained on.
- **Desktop tasks, train part** (`desktop_train_tasks`): run by the desktop eval's own `run_task` (fresh
  sandbox, the task's clock); verified when the plan that ran matches the expected plan.
- **Synthetic tasks** (`tinycrew.learning.synthetic`): run on the user's tools (or dry-run tools from the
  stored schemas); verified when the calls that ran match the calls the generator wrote.

Collection is resumable: a task whose run (same teacher, same graph) already carries a checker verdict is
skipped, so a stopped collection continues where it stopped.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from rich.console import Console

from tinycrew.evals.bfcl_data import CATEGORIES, BfclEntry, NameMap, load_category
from tinycrew.evals.bfcl_data import split_of as bfcl_split_of
from tinycrew.evals.desktop import Task as DesktopTask
from tinycrew.evals.desktop import load_tasks
from tinycrew.evals.desktop import split_of as desktop_split_of
from tinycrew.evals.runner import (
    MAX_REASON_CHARS,
    MIN_TOP_K,
    entry_registry,
    progress_bars,
    score_graph_calls,
    task_text,
)
from tinycrew.learning.synthetic import SyntheticTask, as_registry, check_synthetic_calls, request_key
from tinycrew.models import ChatModel, ModelSpec, ModelUnavailableError, load_model
from tinycrew.tools import Tool, ToolRegistry, tool_from_schema
from tinycrew.trajectories import RunFilter, RunRecord, TrajectoryStore
from tinycrew.trajectories.records import utc_now

CHECKER = "checker"
"""The feedback source of a checker verdict."""
OK_OUTCOMES = frozenset({"success"})
"""Outcomes a run without a checker must have for user feedback to make it a training run."""
Source = Literal["bfcl", "desktop", "synthetic"]
RUN_PREFIX = "teacher-"


class EvalSplitError(ValueError):
    """A task of an eval split was given to the teacher: eval data is never collected for training."""


@dataclass(frozen=True)
class TeacherTask:
    """One task the teacher solves: where it comes from, its id and text, the task itself, and (for a
    synthetic task) the tools it runs on."""

    source: Source
    id: str
    text: str
    item: BfclEntry | DesktopTask | SyntheticTask
    tools: ToolRegistry | None = None


@dataclass
class TaskOutcome:
    """What became of one task: its run, the checker's verdict and why; `skipped` when an earlier
    collection had already checked it."""

    source: str
    task_id: str
    run_id: str | None
    verified: bool | None
    reason: str
    seconds: float = 0.0
    skipped: bool = False


@dataclass
class TeacherReport:
    """Every task's outcome for one teacher and graph, with the counts a progress line shows."""

    teacher: str
    graph: str
    outcomes: list[TaskOutcome] = field(default_factory=list)

    @property
    def ran(self) -> int:
        """Tasks run in this call (skipped ones not counted)."""
        return sum(not outcome.skipped for outcome in self.outcomes)

    @property
    def skipped(self) -> int:
        """Tasks an earlier collection had already checked."""
        return sum(outcome.skipped for outcome in self.outcomes)

    @property
    def verified(self) -> int:
        """Tasks run in this call whose run the checker verified."""
        return sum(bool(outcome.verified) for outcome in self.outcomes if not outcome.skipped)

    def summary_lines(self) -> list[str]:
        """One line per source: run, verified, skipped."""
        lines = []
        for source in dict.fromkeys(outcome.source for outcome in self.outcomes):
            mine = [outcome for outcome in self.outcomes if outcome.source == source]
            run = [outcome for outcome in mine if not outcome.skipped]
            good = sum(bool(outcome.verified) for outcome in run)
            lines.append(
                f"{source}: {len(run)} run, {good} verified, {len(mine) - len(run)} skipped (done before)"
            )
        return lines


# ------------------------------------------------------------------------------------------ task sets


def bfcl_train_tasks(
    root: str | Path | None = None, categories: Sequence[str] = CATEGORIES, limit: int | None = None
) -> list[BfclEntry]:
    """BFCL entries of the train split (`split_of` says "train"), read where the data lives
    (`bfcl_data.default_root()` unless `root`); the first `limit` of each category."""
    return [entry for category in categories for entry in load_category(category, root, limit, "train")]


def desktop_train_tasks(path: str | Path | None = None, limit: int | None = None) -> list[DesktopTask]:
    """The desktop tasks of the train part (default: the packaged set); with `limit`, that many taken in
    turn from each kind (none, single, chain, parallel, long), each kind in file order: the file is
    ordered by kind, and its first N would all be single-tool tasks. Limited lists agree on their
    common prefix, whatever the limit, so tasks [N:M] of a limit M are the next ones after a limit N."""
    tasks = load_tasks(path, split="train")
    if limit is None:
        return tasks
    by_kind: dict[str, list[DesktopTask]] = {}
    for task in tasks:
        by_kind.setdefault(task.kind, []).append(task)
    queues = list(by_kind.values())
    chosen: list[DesktopTask] = []
    for rank in range(max(len(queue) for queue in queues)):
        chosen += [queue[rank] for queue in queues if rank < len(queue)]
    return chosen[:limit]


def synthetic_teacher_tasks(
    tasks: Iterable[SyntheticTask],
    tools: ToolRegistry | Iterable[Tool | Callable[..., Any] | dict[str, Any]] | None = None,
) -> list[TeacherTask]:
    """Kept synthetic tasks bound to the tools they run on (the user's real tools; None: dry-run tools
    built from each task's stored schemas). Dropped tasks are left out."""
    registry = None if tools is None else as_registry(tools)
    return [as_teacher_task(task, registry) for task in tasks if task.kept]


def as_teacher_task(
    item: BfclEntry | DesktopTask | SyntheticTask | TeacherTask, tools: ToolRegistry | None = None
) -> TeacherTask:
    """Any task as a `TeacherTask`; `EvalSplitError` for a BFCL or desktop task of the eval split (either
    by the split it declares or by its id), since eval data must never reach training."""
    if isinstance(item, TeacherTask):
        return as_teacher_task(item.item, item.tools or tools)
    if isinstance(item, BfclEntry):
        if bfcl_split_of(item.id) != "train":
            raise EvalSplitError(
                f"BFCL entry {item.id} is in the eval split: only train entries are collected"
            )
        return TeacherTask("bfcl", item.id, task_text(item), item)
    if isinstance(item, DesktopTask):
        if item.split != "train" or desktop_split_of(item.id) != "train":
            raise EvalSplitError(
                f"desktop task {item.id} is in the eval split: only train tasks are collected"
            )
        return TeacherTask("desktop", item.id, item.request, item)
    if isinstance(item, SyntheticTask):
        return TeacherTask("synthetic", item.id, item.request, item, tools)
    raise TypeError(f"not a teacher task: {type(item).__name__}")


# ------------------------------------------------------------------------------------------- one run


def _run_tag(teacher: ChatModel, graph: str) -> str:
    return hashlib.sha256(f"{teacher.name}|{graph}".encode()).hexdigest()[:8]


def _free_run_id(store: TrajectoryStore, base: str) -> str:
    """`base`, or `base-rN` when earlier attempts (stopped before their verdict) hold the name."""
    candidate, attempt = base, 1
    while store.get_run(candidate) is not None:
        attempt += 1
        candidate = f"{base}-r{attempt}"
    return candidate


def _agent(tools: ToolRegistry, teacher: ChatModel, store: TrajectoryStore, **options: Any) -> Any:
    from tinycrew.graphs import Agent

    return Agent(tools, models=teacher, checkpointer="memory", record=True, store=store, **options)


def _run_bfcl(
    task: TeacherTask, teacher: ChatModel, store: TrajectoryStore, run_id: str, options: dict[str, Any]
) -> tuple[str | None, bool, str]:
    """As the eval's graph modes run an entry (`tinycrew.evals.runner._run_graph`), but recorded."""
    from tinycrew.policies import policy_set

    entry = task.item
    assert isinstance(entry, BfclEntry)
    names = NameMap()
    registry = entry_registry(entry, names)
    agent = _agent(
        registry,
        teacher,
        store,
        graph=options["graph"],
        top_k=max(MIN_TOP_K, len(registry)),
        answer=options["answer"],
        policies=policy_set(options["policies"], options["graph"]),
    )
    result = agent.run(task.text, run_id)
    scored, _, _ = score_graph_calls(entry, result.calls, names)
    return run_id, scored.ok, scored.reason


def _run_desktop(
    task: TeacherTask, teacher: ChatModel, store: TrajectoryStore, options: dict[str, Any]
) -> tuple[str | None, bool, str]:
    """The desktop eval's own `run_task`, recorded; the run is found in the store by its request."""
    from tinycrew.evals.desktop_runner import run_task

    item = task.item
    assert isinstance(item, DesktopTask)
    started = utc_now() - timedelta(milliseconds=1)
    agent_options = {"record": True, "store": store, "graph": options["graph"]}
    run = run_task(item, teacher, answer=options["answer"], agent_options=agent_options)
    found = [
        summary
        for summary in store.list_runs(RunFilter(graph=options["graph"], since=started))
        if summary.task == item.request and teacher.name in summary.models.values()
    ]
    reason = "ok" if run.ok else f"{run.reason}: {run.detail}" if run.detail else run.reason
    if run.error:
        reason = f"error: {run.error}"
    return (found[0].run_id if found else None), bool(run.ok), reason


def rehearsal_tools(registry: ToolRegistry) -> ToolRegistry:
    """The tools a teacher run uses: read-only tools as they are, side-effecting ones (`side_effect=True`:
    send, delete, pay) as dry-run tools with the same schema. Collecting data must not send an e-mail,
    and a side-effecting tool would stop the run for an approval nobody gives."""
    return ToolRegistry(
        tool_from_schema(item.openai_schema()) if item.side_effect else item for item in registry
    )


def _run_synthetic(
    task: TeacherTask, teacher: ChatModel, store: TrajectoryStore, run_id: str, options: dict[str, Any]
) -> tuple[str | None, bool, str]:
    """The teacher on the task's tools (`rehearsal_tools` of the real ones, or dry-run tools from the
    stored schemas), calls compared with the generator's."""
    item = task.item
    assert isinstance(item, SyntheticTask)
    if task.tools is not None:
        registry = rehearsal_tools(task.tools)
    else:
        registry = ToolRegistry(tool_from_schema(schema) for schema in item.tool_schemas)
    agent = _agent(
        registry,
        teacher,
        store,
        graph=options["graph"],
        top_k=options["top_k"] or max(MIN_TOP_K, min(len(registry), 8)),
        answer=options["answer"],
        now=item.now,
    )
    result = agent.run(task.text, run_id)
    ok, reason = check_synthetic_calls(item, result.calls)
    return run_id, ok, reason


# --------------------------------------------------------------------------------------- collection


def checker_verdict(run: RunRecord) -> tuple[bool, str] | None:
    """The latest checker verdict on a run, ``(verified, reason)``; None when no checker judged it."""
    verdicts = [feedback for feedback in run.feedback if feedback.source == CHECKER]
    if not verdicts:
        return None
    last = verdicts[-1]
    return last.score >= 1.0, last.comment or ""


def _checked_runs(store: TrajectoryStore, teacher: ChatModel, graph: str) -> list[RunRecord]:
    """Runs of this teacher and graph that carry a checker verdict."""
    runs = []
    for summary in store.list_runs(RunFilter(graph=graph)):
        if summary.n_feedback and teacher.name in summary.models.values():
            run = store.get_run(summary.run_id)
            if run is not None and checker_verdict(run) is not None:
                runs.append(run)
    return runs


def collect_teacher_runs(
    teacher: ChatModel | ModelSpec | str | None,
    tasks: Iterable[BfclEntry | DesktopTask | SyntheticTask | TeacherTask],
    store: TrajectoryStore,
    *,
    graph: str = "crew",
    tools: ToolRegistry | Iterable[Tool | Callable[..., Any] | dict[str, Any]] | None = None,
    answer: bool = True,
    policies: str = "default",
    top_k: int | None = None,
    progress: bool = True,
    console: Console | None = None,
) -> TeacherReport:
    """Run `teacher` through an Agent (`graph`, recording into `store`) once per task and store the
    checker's verdict on each run as feedback (source "checker": 1.0 verified, 0.0 not, comment = why).

    `tasks` mixes BFCL entries (train split only: any eval-split entry, BFCL or desktop, raises
    `EvalSplitError` before anything runs), desktop tasks, synthetic tasks (kept ones; they run on
    `tools` when given, side-effecting ones as dry runs (`rehearsal_tools`), else on dry-run tools from
    their stored schemas) and `TeacherTask`s. A task
    whose run by this teacher on this graph already carries a checker verdict is skipped (resume).
    `answer` runs the summarizer too, so the trajectories hold samples for every role; `policies` is
    the call-policy set BFCL entries run with, as in the eval; `top_k` the number of tools retrieval
    offers on a synthetic task (default: 6, up to 8 for a larger tool set; BFCL offers every tool of
    an entry, as the eval does, and desktop tasks run as the desktop eval runs them). An unreachable
    model stops the collection; any other failure of one run is that run's verdict ("error: ...").
    """
    chat = load_model(teacher)
    registry = None if tools is None else as_registry(tools)
    jobs = [as_teacher_task(item, registry) for item in tasks]
    jobs = [job for job in jobs if not isinstance(job.item, SyntheticTask) or job.item.kept]
    report = TeacherReport(teacher=chat.name, graph=graph)
    options = {"graph": graph, "answer": answer, "policies": policies, "top_k": top_k}
    tag = _run_tag(chat, graph)
    checked = _checked_runs(store, chat, graph)
    checked_ids = {run.run_id: run for run in checked}
    checked_texts = {run.task: run for run in checked if not run.run_id.startswith(RUN_PREFIX)}
    with progress_bars(progress, console, field="note") as bars:
        bar = bars.add_task(f"teacher {graph}", total=len(jobs), note="")
        for job in jobs:
            base = f"{RUN_PREFIX}{job.source}-{job.id}-{tag}"
            earlier = checked_texts.get(job.text) if job.source == "desktop" else None
            if earlier is None and job.source != "desktop":
                earlier = next(
                    (
                        run
                        for run_id, run in checked_ids.items()
                        if run_id == base or run_id.startswith(base + "-r")
                    ),
                    None,
                )
            if earlier is not None:
                verdict = checker_verdict(earlier)
                assert verdict is not None
                report.outcomes.append(
                    TaskOutcome(job.source, job.id, earlier.run_id, verdict[0], verdict[1], skipped=True)
                )
            else:
                report.outcomes.append(_collect_one(job, chat, store, _free_run_id(store, base), options))
            bars.update(
                bar,
                advance=1,
                note=f"{report.verified} verified of {report.ran} run, {report.skipped} done before",
            )
    return report


def _collect_one(
    job: TeacherTask, teacher: ChatModel, store: TrajectoryStore, run_id: str, options: dict[str, Any]
) -> TaskOutcome:
    """Run one task, check it, and store the verdict on its run."""
    started = time.perf_counter()
    try:
        if job.source == "bfcl":
            found, ok, reason = _run_bfcl(job, teacher, store, run_id, options)
        elif job.source == "desktop":
            found, ok, reason = _run_desktop(job, teacher, store, options)
        else:
            found, ok, reason = _run_synthetic(job, teacher, store, run_id, options)
    except ModelUnavailableError:
        raise
    except Exception as error:  # noqa: BLE001 - one bad task must not end a long collection
        ok, reason = False, f"error: {type(error).__name__}: {error}"[:MAX_REASON_CHARS]
        found = run_id if store.get_run(run_id) is not None else None
    if found is not None:
        store.add_feedback(found, 1.0 if ok else 0.0, comment=reason[:MAX_REASON_CHARS], source=CHECKER)
    return TaskOutcome(job.source, job.id, found, ok, reason, time.perf_counter() - started)


def unverified_tasks(
    tasks: Iterable[BfclEntry | DesktopTask | SyntheticTask | TeacherTask], report: TeacherReport
) -> list[TeacherTask]:
    """The tasks of `tasks` that `report` holds no verified run for (failed, errored or not run): what a
    second model (`TrainPlan.fill_with_student`) is run on after the teacher."""
    solved = {(outcome.source, outcome.task_id) for outcome in report.outcomes if outcome.verified}
    jobs = [as_teacher_task(item) for item in tasks]
    return [job for job in jobs if (job.source, job.id) not in solved]


# ---------------------------------------------------------------------------------- verified runs


def run_calls(run: RunRecord) -> list[dict[str, Any]]:
    """The calls a recorded run made (each step's parsed call whose arguments validated), in order."""
    return [step.parsed_call for step in run.steps if step.parsed_call and not step.validation_error]


def _dedupe_key(run: RunRecord) -> tuple[str, str]:
    from tinycrew.learning.synthetic import canonical_calls

    return request_key(run.task), canonical_calls(run_calls(run))


@lru_cache(maxsize=4)
def eval_task_texts(bfcl_root: str | None = None) -> frozenset[str]:
    """The normalised texts of every eval-split task (BFCL, where its data is found, and the packaged
    desktop set): a recorded run on one of them is never returned for training."""
    texts = {request_key(task.request) for task in load_tasks(split="eval")}
    for category in CATEGORIES:
        try:
            entries = load_category(category, bfcl_root, split="eval")
        except FileNotFoundError:
            break
        texts.update(request_key(task_text(entry)) for entry in entries)
    return frozenset(texts)


def _is_verified(run: RunRecord, min_user_score: float) -> bool:
    verdict = checker_verdict(run)
    if verdict is not None:
        return verdict[0]
    scores = [feedback.score for feedback in run.feedback if feedback.source != CHECKER]
    return bool(scores) and sum(scores) / len(scores) >= min_user_score and run.outcome in OK_OUTCOMES


def verified_runs(
    store: TrajectoryStore,
    *,
    graph: str | None = None,
    model: str | None = None,
    min_user_score: float = 0.8,
    dedupe: bool = True,
    exclude_eval: bool = True,
    bfcl_root: str | Path | None = None,
) -> list[RunRecord]:
    """The runs worth training on, oldest first.

    A run a checker judged counts when its latest checker verdict is 1.0 (whatever else it got); a run no
    checker judged counts when the mean of its other feedback (users, evaluators) is at least
    `min_user_score` and its outcome is ok ("success"). `graph` and `model` narrow the runs as
    `RunFilter` does. With `dedupe`, near-identical runs (same normalised task text, same calls) are kept
    once, the one with the fewest steps. With `exclude_eval` (default), runs whose task is an eval-split
    task of BFCL or the desktop set are never returned, whoever recorded them.
    """
    excluded = eval_task_texts(None if bfcl_root is None else str(bfcl_root)) if exclude_eval else frozenset()
    chosen: dict[Any, RunRecord] = {}
    for summary in reversed(store.list_runs(RunFilter(graph=graph, model=model))):
        if not summary.n_feedback or request_key(summary.task) in excluded:
            continue
        run = store.get_run(summary.run_id)
        if run is None or not _is_verified(run, min_user_score):
            continue
        key = _dedupe_key(run) if dedupe else run.run_id
        if key not in chosen or len(run.steps) < len(chosen[key].steps):
            chosen[key] = run
    return sorted(chosen.values(), key=lambda run: run.started_at)
