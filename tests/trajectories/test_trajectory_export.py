"""Exports written with the real `datasets` library load back as well-formed chat samples."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import datasets
import pytest

from tinycrew.trajectories import (
    RunFilter,
    TrajectoryStore,
    build_samples,
    decode_row,
    export_trajectories,
    is_alternating_chat,
    redact_pii,
)


def _clean(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages as loaded, without the None keys Arrow may add for keys other messages have."""
    return [{k: v for k, v in m.items() if v is not None} for m in messages]


def _load_jsonl(path: Path, cache: Path) -> datasets.Dataset:
    return datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(cache))


@pytest.fixture
def filled(sqlite_store: TrajectoryStore, record_run: Callable[..., Any]) -> TrajectoryStore:
    record_run(sqlite_store, "run-a", score=0.9)
    record_run(
        sqlite_store, "run-b", task="Weather in Paris please, mail me at jane.doe@example.com", score=0.2
    )
    return sqlite_store


def test_backbone_jsonl_one_conversation_per_run(filled: TrajectoryStore, tmp_path: Path) -> None:
    result = export_trajectories(filled, tmp_path / "backbone.jsonl", "backbone")
    assert (result.runs, result.samples, result.duplicates_dropped) == (2, 2, 0)
    ds = _load_jsonl(result.path, tmp_path / "cache")
    assert ds.num_rows == 2
    for row in ds:
        run = filled.get_run(row["run_id"])
        assert run is not None
        messages = _clean(row["messages"])
        assert messages[0] == {"role": "user", "content": run.task}
        assistants = [m for m in messages if m["role"] == "assistant"]
        assert [(m["name"], m["content"]) for m in assistants] == [(s.role, s.raw_output) for s in run.steps]
        tools = [m for m in messages if m["role"] == "tool"]
        assert [(m["name"], m["content"]) for m in tools] == [("get_weather", "Sunny, 21 C")]
        caller = messages.index(assistants[2])
        assert messages[caller + 1]["role"] == "tool"  # the observation follows the call that produced it
        assert [t["function"]["name"] for t in row["tools"]] == ["get_weather", "send_email"]
        assert row["graph"] == "umi" and row["outcome"] == "success"


@pytest.mark.parametrize("role", ["planner", "caller", "summarizer"])
def test_role_samples_are_alternating_chats_ending_in_raw_output(
    filled: TrajectoryStore, tmp_path: Path, role: str
) -> None:
    result = export_trajectories(filled, tmp_path / f"{role}.jsonl", "role", role=role, dedupe=False)
    ds = _load_jsonl(result.path, tmp_path / "cache")
    expected = [
        (run.run_id, s)
        for run in filled.iter_runs()
        for s in run.steps
        if s.role == role and s.validation_error is None
    ]
    assert ds.num_rows == len(expected) == {"planner": 4, "caller": 2, "summarizer": 2}[role]
    for row, (run_id, step) in zip(ds, expected, strict=True):
        messages = _clean(row["messages"])
        assert is_alternating_chat(messages)
        assert messages[:-1] == step.messages
        assert messages[-1] == {"role": "assistant", "content": step.raw_output}
        assert (row["run_id"], row["step_index"], row["role"], row["model"]) == (
            run_id,
            step.index,
            role,
            step.model,
        )


def test_role_format_needs_a_role(filled: TrajectoryStore, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs a role"):
        export_trajectories(filled, tmp_path / "x.jsonl", "role")


def test_openai_jsonl_has_tool_calls_and_tools(
    filled: TrajectoryStore, tmp_path: Path, tools: list[dict[str, Any]]
) -> None:
    result = export_trajectories(filled, tmp_path / "openai.jsonl", "openai", dedupe=False)
    lines = [json.loads(line) for line in result.path.read_text().splitlines()]
    assert len(lines) == result.samples == 8  # 2 runs x 4 valid steps
    callers = [s for s in lines if "tools" in s]
    assert len(callers) == 2
    for sample in callers:
        assert set(sample) == {"messages", "tools"} and sample["tools"] == tools
        turn = sample["messages"][-1]
        assert turn["role"] == "assistant" and "content" not in turn
        (call,) = turn["tool_calls"]
        assert call["type"] == "function" and call["function"]["name"] == "get_weather"
        assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    for sample in lines:
        assert all(v is not None for m in sample["messages"] for v in m.values())
        if "tools" not in sample:
            assert sample["messages"][-1]["role"] == "assistant" and sample["messages"][-1]["content"]
    ds = _load_jsonl(result.path, tmp_path / "cache")
    assert ds.num_rows == 8


def test_parquet_and_disk_round_trip(
    filled: TrajectoryStore, tmp_path: Path, tools: list[dict[str, Any]]
) -> None:
    expected, _, _ = build_samples(filled, "role", role="caller")
    parquet = export_trajectories(
        filled, tmp_path / "caller.parquet", "role", role="caller", file_format="parquet"
    )
    loaded = datasets.load_dataset(
        "parquet", data_files=str(parquet.path), split="train", cache_dir=str(tmp_path / "cache")
    )
    assert [decode_row(row) for row in loaded] == expected
    disk = export_trajectories(filled, tmp_path / "caller_ds", "role", role="caller", file_format="disk")
    from_disk = datasets.load_from_disk(str(disk.path))
    assert [decode_row(row) for row in from_disk] == expected
    assert json.loads(from_disk[0]["tools"]) == tools
    openai = export_trajectories(filled, tmp_path / "oa_ds", "openai", file_format="disk")
    assert datasets.load_from_disk(str(openai.path)).column_names == ["messages", "tools"]


def test_empty_export_still_writes_a_dataset(sqlite_store: TrajectoryStore, tmp_path: Path) -> None:
    result = export_trajectories(sqlite_store, tmp_path / "empty", "backbone", file_format="disk")
    assert result.samples == 0 and datasets.load_from_disk(str(result.path)).num_rows == 0


def test_identical_samples_are_deduplicated(
    sqlite_store: TrajectoryStore, record_run: Callable[..., Any]
) -> None:
    record_run(sqlite_store, "one")
    record_run(sqlite_store, "two")  # the same prompts and outputs again
    samples, runs, dropped = build_samples(sqlite_store, "role", role="planner")
    assert (runs, len(samples), dropped) == (2, 2, 2)
    samples, _, dropped = build_samples(sqlite_store, "role", role="planner", dedupe=False)
    assert (len(samples), dropped) == (4, 0)
    backbone, _, dropped = build_samples(sqlite_store, "backbone")
    assert (len(backbone), dropped) == (1, 1)


def test_export_filters(sqlite_store: TrajectoryStore, record_run: Callable[..., Any]) -> None:
    now = datetime.now(UTC)
    record_run(sqlite_store, "good", score=1.0, started_at=now - timedelta(days=5))
    record_run(sqlite_store, "bad", outcome="gave_up", task="other task", started_at=now - timedelta(days=1))
    record_run(sqlite_store, "react", graph="react", task="third task", score=0.1)
    record_run(sqlite_store, "all-teacher", task="fourth", student="qwen-1.5b", teacher="qwen-1.5b")

    def run_ids(fmt: str = "backbone", **kw: Any) -> set[str]:
        samples, _, _ = build_samples(sqlite_store, fmt, filters=RunFilter(**kw))  # type: ignore[arg-type]
        return {s["run_id"] for s in samples}

    assert run_ids(outcome=["success"]) == {"good", "react", "all-teacher"}
    assert run_ids(graph="react") == {"react"}
    assert run_ids(since=now - timedelta(days=2)) == {"bad", "react", "all-teacher"}
    assert run_ids(until=now - timedelta(days=2)) == {"good"}
    assert run_ids(min_score=0.5) == {"good"}
    # a whole-run sample needs every step by the model; per-step samples keep that model's steps only
    assert run_ids(model="qwen-1.5b") == {"all-teacher"}
    teacher, _, _ = build_samples(sqlite_store, "role", role="caller", filters=RunFilter(model="qwen-1.5b"))
    assert {s["model"] for s in teacher} == {"qwen-1.5b"} and len(teacher) == 4
    # invalid steps are left out unless asked for
    valid, _, _ = build_samples(sqlite_store, "role", role="caller", dedupe=False)
    every, _, _ = build_samples(sqlite_store, "role", role="caller", dedupe=False, include_invalid=True)
    assert (len(valid), len(every)) == (4, 8)


def test_redaction_reaches_every_text(sqlite_store: TrajectoryStore, record_run: Callable[..., Any]) -> None:
    task = "Mail jane.doe@example.com or call +1 415 555 2671 about Paris"
    record_run(sqlite_store, "pii", task=task)
    for fmt, role in (("backbone", None), ("role", "planner"), ("openai", None)):
        samples, _, _ = build_samples(sqlite_store, fmt, role=role, redact=redact_pii)  # type: ignore[arg-type]
        text = json.dumps(samples)
        assert "jane.doe@example.com" not in text and "415 555 2671" not in text
        assert "[EMAIL]" in text and "[PHONE]" in text
        unredacted, _, _ = build_samples(sqlite_store, fmt, role=role)  # type: ignore[arg-type]
        assert "jane.doe@example.com" in json.dumps(unredacted)
    # a custom hook sees outputs, observations and tool-call arguments too
    samples, _, _ = build_samples(sqlite_store, "openai", redact=lambda s: s.replace("Paris", "<CITY>"))
    text = json.dumps(samples)
    assert "Paris" not in text and "<CITY>" in text
    backbone, _, _ = build_samples(sqlite_store, "backbone", redact=lambda s: s.replace("Sunny", "<W>"))
    assert "Sunny" not in json.dumps(backbone)
