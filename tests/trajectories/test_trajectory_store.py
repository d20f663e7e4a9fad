"""The store on real SQLite and real PostgreSQL: rows, blob dedup, signals, filters, errors, threads."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from tinycrew.trajectories import (
    Recorder,
    RunFilter,
    StepRecord,
    TrajectoryError,
    TrajectoryStore,
)
from tinycrew.trajectories.canonical import canonical_json
from tinycrew.trajectories.schema import LATEST_VERSION


def test_recorded_run_reads_back_exactly(store: TrajectoryStore, record_run: Callable[..., Any]) -> None:
    steps = record_run(store, "run-1", score=0.75)
    run = store.get_run("run-1")
    assert run is not None
    assert [s.model_dump() for s in run.steps] == [s.model_dump() for s in steps]
    assert [s.role for s in run.steps] == ["planner", "caller", "caller", "planner", "summarizer"]
    assert run.graph == "umi" and run.task == "What is the weather in Paris?"
    assert run.retrieved_tools == ["get_weather", "send_email"]
    assert run.models["caller"] == "qwen-0.5b" and run.metadata == {"seed": 1}
    assert run.outcome == "success" and run.answer == "It is sunny and 21 C in Paris."
    assert run.cost == {"usd": 0.0} and run.error is None
    assert run.finished_at is not None and run.finished_at >= run.started_at
    assert [(f.score, f.source, f.comment) for f in run.feedback] == [(0.75, "evaluator", "ok")]
    # the outcome signals derived from the steps
    assert (run.n_steps, run.n_validation_errors, run.n_step_errors, run.n_escalations) == (5, 1, 0, 1)
    assert run.prompt_tokens == sum(s.prompt_tokens for s in steps)
    assert run.mean_score == 0.75 and run.n_feedback == 1
    assert store.get_run("no-such-run") is None


def test_messages_and_tools_are_stored_once(
    store: TrajectoryStore, record_run: Callable[..., Any], tools: list[dict[str, Any]]
) -> None:
    steps = record_run(store, "run-1")
    steps += record_run(store, "run-2")  # same prompts again: no new blobs
    distinct = {canonical_json(m) for s in steps for m in s.messages} | {
        canonical_json(s.tools) for s in steps
    }
    stats = store.stats()
    assert stats.blobs == len(distinct) == 10  # 3 system prompts, 4 user turns, 1 assistant, 2 tool lists
    payload = sum(len(canonical_json(m).encode()) for s in steps for m in s.messages)
    payload += sum(len(canonical_json(s.tools).encode()) for s in steps)
    assert stats.payload_bytes == payload
    assert stats.blob_bytes == sum(len(d.encode()) for d in distinct)
    assert stats.dedup_ratio > 2
    # the two runs share every blob
    first, second = store.get_run("run-1"), store.get_run("run-2")
    assert first is not None and second is not None
    assert [s.messages for s in first.steps] == [s.messages for s in second.steps]
    assert first.steps[1].tools == tools


def test_signals_errors_and_list_order(store: TrajectoryStore, record_run: Callable[..., Any]) -> None:
    record_run(store, "clean", with_invalid=False)
    recorder = Recorder(store)
    recorder.start_run("broken", graph="react", task="send mail")
    recorder.record_step(
        StepRecord(
            run_id="broken",
            index=0,
            role="react",
            model="qwen-0.5b",
            messages=[{"role": "user", "content": "send mail"}],
            raw_output="{}",
            error="tool timed out",
        )
    )
    recorder.finish_run("broken", answer=None, outcome="error", error="tool timed out")
    runs = {r.run_id: r for r in store.list_runs()}
    assert (runs["clean"].n_validation_errors, runs["clean"].n_errors, runs["clean"].n_escalations) == (
        0,
        0,
        0,
    )
    assert (runs["broken"].n_step_errors, runs["broken"].n_errors) == (1, 2)
    assert [r.run_id for r in store.list_runs()] == ["broken", "clean"]  # newest first
    stats = store.stats()
    assert stats.runs_by_outcome == {"error": 1, "success": 1}
    assert stats.steps_by_role == {"caller": 1, "planner": 2, "react": 1, "summarizer": 1}
    assert stats.step_errors == 1 and stats.validation_errors == 0
    assert stats.schema_version == LATEST_VERSION


def test_filters(store: TrajectoryStore, record_run: Callable[..., Any]) -> None:
    now = datetime.now(UTC)
    record_run(store, "old-success", started_at=now - timedelta(days=10), score=1.0)
    record_run(store, "new-success", started_at=now - timedelta(hours=1), score=0.4, with_invalid=False)
    record_run(store, "gave-up", outcome="gave_up", graph="react", started_at=now - timedelta(days=2))
    record_run(store, "teacher", teacher="qwen-1.5b", student="qwen-1.5b", started_at=now - timedelta(days=3))

    def ids(**kw: object) -> set[str]:
        return {r.run_id for r in store.list_runs(RunFilter(**kw))}

    assert ids() == {"old-success", "new-success", "gave-up", "teacher"}
    assert ids(outcome=["gave_up"]) == ids(outcome="gave_up") == {"gave-up"}
    assert ids(outcome=["gave_up", "success"]) == ids()
    assert ids(graph="react") == {"gave-up"}
    assert ids(model="qwen-0.5b") == {"old-success", "new-success", "gave-up"}
    assert ids(model="qwen-1.5b") == ids()  # every run has a teacher step (the caller)
    assert ids(since=now - timedelta(days=2, hours=1)) == {"new-success", "gave-up"}
    assert ids(until=now - timedelta(days=2, hours=1)) == {"old-success", "teacher"}
    assert ids(min_score=0.5) == {"old-success"}
    assert ids(min_score=0.0) == {"old-success", "new-success"}
    assert [r.run_id for r in store.list_runs(RunFilter(limit=2))] == ["new-success", "gave-up"]


def test_refused_writes(store: TrajectoryStore, record_run: Callable[..., Any]) -> None:
    record_run(store, "run-1")
    recorder = Recorder(store)
    blobs_before = store.stats().blobs
    with pytest.raises(TrajectoryError, match="already exists"):
        recorder.start_run("run-1", graph="umi", task="again")
    fresh = [{"role": "user", "content": "a message nobody stored"}]
    with pytest.raises(TrajectoryError, match="unknown run or duplicate"):
        recorder.record_step(StepRecord(run_id="nope", index=0, role="caller", model="m", messages=fresh))
    with pytest.raises(TrajectoryError, match="unknown run or duplicate"):
        recorder.record_step(StepRecord(run_id="run-1", index=0, role="caller", model="m", messages=fresh))
    assert store.stats().blobs == blobs_before  # the failed transactions left no blobs behind
    with pytest.raises(TrajectoryError, match="unknown run"):
        recorder.finish_run("nope", answer=None, outcome="error")
    with pytest.raises(TrajectoryError, match="unknown run"):
        recorder.record_feedback("nope", 1.0)
    # the refused step's message is stored properly once a valid step brings it
    recorder.record_step(StepRecord(run_id="run-1", index=99, role="caller", model="m", messages=fresh))
    run = store.get_run("run-1")
    assert run is not None and run.steps[-1].messages == fresh


def test_threads_record_concurrently(store: TrajectoryStore, tools: list[dict[str, Any]]) -> None:
    recorder = Recorder(store)
    recorder.start_run("shared", graph="compiler", task="parallel")

    def work(worker: int) -> None:
        for i in range(20):
            recorder.record_step(
                StepRecord(
                    run_id="shared",
                    index=worker * 100 + i,
                    role="joiner",
                    model="m",
                    messages=[
                        {"role": "system", "content": "same"},
                        {"role": "user", "content": f"{worker}-{i}"},
                    ],
                    tools=tools,
                )
            )

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(work, range(6)))
    run = store.get_run("shared")
    assert run is not None
    assert [s.index for s in run.steps] == sorted(w * 100 + i for w in range(6) for i in range(20))
    assert store.stats().blobs == 1 + 120 + 1


def test_reopen_keeps_data_and_schema(store_url: str, record_run: Callable[..., Any]) -> None:
    with TrajectoryStore.open(store_url) as first:
        record_run(first, "run-1")
        assert first.schema_version() == LATEST_VERSION
    with TrajectoryStore.open(store_url) as again:  # migrations are not applied twice
        assert again.schema_version() == LATEST_VERSION
        run = again.get_run("run-1")
        assert run is not None and len(run.steps) == 5


def test_newer_schema_is_refused(store_url: str) -> None:
    TrajectoryStore.open(store_url).close()
    sql = "INSERT INTO schema_version (version, description, applied_at_us) VALUES (999, 'future', 0)"
    if store_url.startswith("postgresql://"):
        with psycopg.connect(store_url, autocommit=True) as conn:
            conn.execute(sql)
    else:
        with sqlite3.connect(store_url) as conn:
            conn.execute(sql)
    with pytest.raises(TrajectoryError, match="newer than this tinycrew"):
        TrajectoryStore.open(store_url)
