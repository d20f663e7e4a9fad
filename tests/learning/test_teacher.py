"""Teacher data: the packaged 0.5B stands in for the teacher on one BFCL train entry, one desktop train task
and one synthetic task, recorded into a real SQLite store; verdicts, resume and `verified_runs`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tinycrew.evals.bfcl_data import load_category, split_of
from tinycrew.evals.desktop import load_tasks
from tinycrew.evals.runner import task_text
from tinycrew.learning.synthetic import SyntheticTask
from tinycrew.learning.teacher import (
    CHECKER,
    EvalSplitError,
    TaskOutcome,
    TeacherReport,
    _run_tag,
    bfcl_train_tasks,
    checker_verdict,
    collect_teacher_runs,
    desktop_train_tasks,
    rehearsal_tools,
    synthetic_teacher_tasks,
    unverified_tasks,
    verified_runs,
)
from tinycrew.tools import ToolRegistry, tool
from tinycrew.trajectories import Recorder, StepRecord, TrajectoryStore


@tool
def get_weather(city: str, unit: str = "celsius") -> str:
    """The current weather in a city.

    Args:
        city: The city's name, e.g. "Lyon".
        unit: "celsius" or "fahrenheit".
    """
    return f"{city}: 14 degrees {unit}, light rain"


SENT: list[str] = []


@tool(side_effect=True)
def send_sms(to: str, text: str) -> str:
    """Send a text message.

    Args:
        to: The recipient's phone number.
        text: The message.
    """
    SENT.append(to)
    return "sent"


WEATHER_TASK = SyntheticTask(
    id="syn-weather-lyon",
    request="What's the weather like in Lyon right now?",
    calls=[{"name": "get_weather", "arguments": {"city": "Lyon"}}],
    tool_schemas=[get_weather.openai_schema()],
    now=datetime(2026, 12, 3, 9, 0),
    kept=True,
)
DROPPED_TASK = WEATHER_TASK.model_copy(update={"id": "syn-dropped", "request": "Weather?", "kept": False})


def test_train_task_sets_hold_only_train_ids() -> None:
    entries = bfcl_train_tasks(categories=["simple_python", "parallel"], limit=5)
    assert len(entries) == 10 and all(split_of(entry.id) == "train" for entry in entries)
    desktop = desktop_train_tasks()
    assert desktop and all(task.split == "train" for task in desktop)
    assert not {task.id for task in desktop} & {task.id for task in load_tasks(split="eval")}


def test_a_desktop_limit_takes_every_kind_in_turn() -> None:
    every = desktop_train_tasks()
    kinds = {task.kind for task in every}
    assert len(kinds) == 5
    first = desktop_train_tasks(limit=len(kinds))
    assert {task.kind for task in first} == kinds  # not the file's first five (all single-tool)
    twelve = desktop_train_tasks(limit=12)
    assert len(twelve) == 12 and len({task.id for task in twelve}) == 12
    assert all(task in every for task in twelve)
    assert max(Counter(task.kind for task in twelve).values()) <= 3
    everything = desktop_train_tasks(limit=1000)
    assert sorted(t.id for t in everything) == sorted(t.id for t in every)  # the whole set, kinds in turn
    assert everything[:12] == twelve and desktop_train_tasks(limit=24)[:12] == twelve  # prefixes agree


def test_eval_split_tasks_are_refused_before_anything_runs(tmp_path: Path) -> None:
    eval_entry = load_category("simple_python", split="eval", limit=1)[0]
    train_entry = bfcl_train_tasks(categories=["simple_python"], limit=1)[0]
    eval_desktop = load_tasks(split="eval", limit=1)[0]
    with TrajectoryStore.open(tmp_path / "t.sqlite") as store:
        for bad in (eval_entry, eval_desktop):
            with pytest.raises(EvalSplitError, match="eval split"):
                # the model is never loaded nor asked: the refusal comes first
                collect_teacher_runs(object(), [train_entry, bad], store, progress=False)  # type: ignore[arg-type]
        relabelled = eval_desktop.__class__(
            eval_desktop.id, eval_desktop.now, eval_desktop.request, split="train"
        )
        with pytest.raises(EvalSplitError):
            collect_teacher_runs(object(), [relabelled], store, progress=False)  # type: ignore[arg-type]
        assert store.list_runs() == []


def test_teacher_runs_never_run_side_effecting_tools() -> None:
    tools = rehearsal_tools(ToolRegistry([get_weather, send_sms]))
    assert tools.get("get_weather") is get_weather
    dry = tools.get("send_sms")
    assert dry.fn is None and not dry.side_effect and dry.openai_schema() == send_sms.openai_schema()
    assert dry.run({"to": "+33 6 12", "text": "hi"}).ok and SENT == []


def test_unverified_tasks_are_those_the_teacher_did_not_solve() -> None:
    entries = bfcl_train_tasks(categories=["simple_python"], limit=3)
    desktop = desktop_train_tasks(limit=1)
    report = TeacherReport("t", "crew")
    report.outcomes = [
        TaskOutcome("bfcl", entries[0].id, "r0", True, "ok"),
        TaskOutcome("bfcl", entries[1].id, "r1", False, "value error"),
        TaskOutcome("desktop", desktop[0].id, "r2", True, "ok", skipped=True),  # verified before
    ]
    missed = unverified_tasks([*entries, *desktop], report)
    # failed, and never run (no outcome): both go to the student; solved ones, even earlier, do not
    assert [(job.source, job.id) for job in missed] == [("bfcl", entries[1].id), ("bfcl", entries[2].id)]
    with pytest.raises(EvalSplitError):
        unverified_tasks(load_category("simple_python", split="eval", limit=1), report)


# --------------------------------------------------------------------------------- with the 0.5B


@pytest.fixture(scope="module")
def collected(default_model: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, ...]]:
    """One collection over three tasks (one per source), after a stale run of the synthetic task (started,
    never checked, as a killed collection leaves it); then the same collection again."""
    path = tmp_path_factory.mktemp("teacher") / "trajectories.sqlite"
    tasks = [
        bfcl_train_tasks(categories=["simple_python"], limit=1)[0],
        desktop_train_tasks(limit=1)[0],
        *synthetic_teacher_tasks([WEATHER_TASK, DROPPED_TASK], [get_weather]),
    ]
    stale = f"teacher-synthetic-{WEATHER_TASK.id}-{_run_tag(default_model, 'crew')}"
    with TrajectoryStore.open(path) as store:
        Recorder(store).start_run(stale, "crew", WEATHER_TASK.request, models={"default": default_model.name})
        first = collect_teacher_runs(default_model, tasks, store, answer=False, progress=False)
        runs_after_first = len(store.list_runs())
        second = collect_teacher_runs(default_model, tasks, store, answer=False, progress=False)
        yield store, tasks, first, second, runs_after_first, stale


@pytest.mark.slow
def test_every_run_carries_the_checker_verdict(collected: tuple[Any, ...]) -> None:
    store, tasks, first, _, _, _ = collected
    assert isinstance(first, TeacherReport) and first.ran == 3 and first.skipped == 0
    assert [outcome.source for outcome in first.outcomes] == ["bfcl", "desktop", "synthetic"]
    assert "syn-dropped" not in {outcome.task_id for outcome in first.outcomes}  # dropped: never run
    for outcome in first.outcomes:
        run = store.get_run(outcome.run_id)
        assert run is not None and run.steps, outcome
        verdicts = [feedback for feedback in run.feedback if feedback.source == CHECKER]
        assert len(verdicts) == 1
        assert verdicts[0].score == (1.0 if outcome.verified else 0.0)
        assert verdicts[0].comment == outcome.reason and outcome.reason
        assert (outcome.reason == "ok") == bool(outcome.verified)
        assert run.models == {"default": "qwen2.5-coder-0.5b-instruct-q4_k_m"} and run.graph == "crew"
    bfcl = first.outcomes[0]
    assert bfcl.run_id.startswith("teacher-bfcl-simple_python_")
    assert store.get_run(bfcl.run_id).task == task_text(tasks[0])


@pytest.mark.slow
def test_a_stale_unchecked_run_is_run_again_under_a_new_id(collected: tuple[Any, ...]) -> None:
    store, _, first, _, _, stale = collected
    synthetic = first.outcomes[2]
    assert synthetic.run_id == f"{stale}-r2"
    assert checker_verdict(store.get_run(stale)) is None


@pytest.mark.slow
def test_resume_skips_tasks_already_checked(collected: tuple[Any, ...]) -> None:
    store, _, first, second, runs_after_first, _ = collected
    assert second.ran == 0 and second.skipped == 3
    assert len(store.list_runs()) == runs_after_first
    assert [(o.run_id, o.verified, o.reason) for o in second.outcomes] == [
        (o.run_id, o.verified, o.reason) for o in first.outcomes
    ]
    assert any("skipped" in line for line in second.summary_lines())


@pytest.mark.slow
def test_verified_runs_returns_the_verified_collected_runs(collected: tuple[Any, ...]) -> None:
    store, _, first, _, _, _ = collected
    expected = {outcome.run_id for outcome in first.outcomes if outcome.verified}
    assert {run.run_id for run in verified_runs(store)} == expected


# ----------------------------------------------------------------------- verified_runs, no model


def _record(
    store: TrajectoryStore,
    run_id: str,
    task: str,
    calls: list[dict[str, Any]],
    outcome: str = "success",
    feedback: tuple[tuple[float, str], ...] = (),
    extra_steps: int = 0,
) -> None:
    """A finished run recorded through the real Recorder: one caller step per call, plus planner steps."""
    recorder = Recorder(store)
    recorder.start_run(run_id, "crew", task, models={"default": "m"})
    index = 0
    for _ in range(extra_steps):
        recorder.record_step(StepRecord(run_id=run_id, index=index, role="planner", model="m", messages=[]))
        index += 1
    for call in calls:
        step = StepRecord(run_id=run_id, index=index, role="caller", model="m", messages=[], parsed_call=call)
        recorder.record_step(step)
        index += 1
    recorder.finish_run(run_id, answer="done", outcome=outcome)
    for score, source in feedback:
        recorder.record_feedback(run_id, score, comment="test", source=source)


def test_verified_runs_filters_by_checker_then_user_feedback_and_dedupes(tmp_path: Path) -> None:
    lyon = [{"name": "get_weather", "arguments": {"city": "Lyon"}}]
    eval_text = task_text(load_category("simple_python", split="eval", limit=1)[0])
    with TrajectoryStore.open(tmp_path / "t.sqlite") as store:
        _record(store, "a", "Weather in Lyon?", lyon, feedback=((1.0, CHECKER),), extra_steps=2)
        _record(store, "b", "weather in  LYON", lyon, feedback=((1.0, CHECKER),))  # a near-duplicate of a
        _record(store, "c", "Weather in Paris?", [], feedback=((0.0, CHECKER), (1.0, "user")))
        _record(store, "d", "Weather in Oslo?", lyon, feedback=((1.0, "user"),))
        _record(store, "e", "Weather in Rome?", lyon, outcome="error", feedback=((1.0, "user"),))
        _record(store, "f", "Weather in Nice?", lyon, feedback=((0.5, "user"),))
        _record(store, "g", eval_text, lyon, feedback=((1.0, CHECKER),))
        _record(store, "h", "Weather in Bonn?", lyon)
        _record(store, "i", "Weather in Pisa?", lyon, feedback=((0.0, CHECKER), (1.0, CHECKER)))
        assert [run.run_id for run in verified_runs(store)] == ["b", "d", "i"]
        assert [run.run_id for run in verified_runs(store, dedupe=False)] == ["a", "b", "d", "i"]
        assert "g" in {run.run_id for run in verified_runs(store, exclude_eval=False)}
        assert "f" in {run.run_id for run in verified_runs(store, min_user_score=0.5)}
        assert verified_runs(store, graph="react") == []


def test_docs_examples_run(tmp_path: Path) -> None:
    import doctest

    doc = Path(__file__).resolve().parents[2] / "docs" / "learning_data.md"
    result = doctest.testfile(str(doc), module_relative=False, globs={"tmp": tmp_path})
    assert result.attempted >= 10 and result.failed == 0
