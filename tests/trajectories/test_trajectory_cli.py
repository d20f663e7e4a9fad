"""`tinycrew traj` commands through typer's CliRunner, on a store in tmp_path."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import datasets
import pytest
from typer.testing import CliRunner

from tinycrew.cli.traj import app
from tinycrew.trajectories import TrajectoryStore

runner = CliRunner()
WIDE = {"COLUMNS": "250"}


@pytest.fixture
def store_path(tmp_path: Path, record_run: Callable[..., Any]) -> str:
    path = tmp_path / "traj.sqlite"
    with TrajectoryStore.open(path) as store:
        record_run(store, "run-ok", score=0.8)
        record_run(store, "run-gave-up", outcome="gave_up", graph="react", task="Impossible task")
    return str(path)


def test_list_shows_runs_and_filters(store_path: str) -> None:
    result = runner.invoke(app, ["list", "--store", store_path], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "run-ok" in result.output and "run-gave-up" in result.output and "2 run(s)" in result.output
    result = runner.invoke(app, ["list", "--store", store_path, "--outcome", "gave_up"], env=WIDE)
    assert "run-gave-up" in result.output and "run-ok" not in result.output
    result = runner.invoke(app, ["list", "--store", f"sqlite:///{store_path}", "--graph", "umi"], env=WIDE)
    assert "run-ok" in result.output and "run-gave-up" not in result.output
    result = runner.invoke(app, ["list", "--store", store_path, "--since", "yesterday"], env=WIDE)
    assert result.exit_code != 0 and "ISO" in result.output


def test_show_prints_steps_and_messages(store_path: str) -> None:
    result = runner.invoke(app, ["show", "run-ok", "--store", store_path, "--messages"], env=WIDE)
    assert result.exit_code == 0, result.output
    for text in ("What is the weather in Paris?", "summarizer", "get_weather", "city: field required", "0.8"):
        assert text in result.output
    assert "You are the caller." in result.output  # --messages prints the prompts
    missing = runner.invoke(app, ["show", "nope", "--store", store_path], env=WIDE)
    assert missing.exit_code == 2 and "no run 'nope' in" in missing.output


def test_recorded_text_is_not_taken_for_markup(tmp_path: Path, record_run: Callable[..., Any]) -> None:
    path = tmp_path / "markup.sqlite"
    task = "Parse [bold]this[/] and [/oops] literally"
    with TrajectoryStore.open(path) as store:
        record_run(store, "run-[x]", task=task)
    for args in (["list"], ["show", "run-[x]", "--messages"]):
        result = runner.invoke(app, [*args, "--store", str(path)], env=WIDE)
        assert result.exit_code == 0, result.output
        assert "run-[x]" in result.output and "[/oops]" in result.output


def test_export_formats(store_path: str, tmp_path: Path) -> None:
    out = tmp_path / "caller.jsonl"
    result = runner.invoke(
        app,
        ["export", "--store", store_path, "--format", "role", "--role", "caller", "--out", str(out)],
        env=WIDE,
    )
    assert result.exit_code == 0, result.output
    assert "wrote 2 role sample(s) from 2 run(s)" in result.output and "0 duplicate(s)" in result.output
    lines = out.read_text().splitlines()
    assert [json.loads(line)["messages"][-1]["role"] for line in lines] == ["assistant", "assistant"]

    parquet = tmp_path / "openai.parquet"
    args = ["export", "--store", store_path, "--format", "openai", "--file-format", "parquet"]
    result = runner.invoke(
        app, [*args, "--out", str(parquet), "--outcome", "success", "--no-dedupe"], env=WIDE
    )
    assert result.exit_code == 0, result.output
    assert datasets.Dataset.from_parquet(str(parquet)).num_rows == 4

    disk = tmp_path / "backbone"
    result = runner.invoke(
        app,
        [
            "export",
            "--store",
            store_path,
            "--format",
            "backbone",
            "--file-format",
            "disk",
            "--out",
            str(disk),
        ],
        env=WIDE,
    )
    assert result.exit_code == 0, result.output
    assert datasets.load_from_disk(str(disk)).num_rows == 2

    result = runner.invoke(
        app, ["export", "--store", store_path, "--format", "role", "--out", str(out)], env=WIDE
    )
    assert result.exit_code != 0 and "--role" in result.output


def test_export_redacts(tmp_path: Path, record_run: Callable[..., Any]) -> None:
    path = tmp_path / "pii.sqlite"
    with TrajectoryStore.open(path) as store:
        record_run(store, "pii", task="Write to bob@example.org about Paris")
    out = tmp_path / "pii.jsonl"
    args = ["export", "--store", str(path), "--format", "backbone", "--out", str(out)]
    assert runner.invoke(app, [*args, "--redact-pii"], env=WIDE).exit_code == 0
    assert "bob@example.org" not in out.read_text() and "[EMAIL]" in out.read_text()


def test_stats(store_path: str) -> None:
    result = runner.invoke(app, ["stats", "--store", store_path], env=WIDE)
    assert result.exit_code == 0, result.output
    for text in (
        "runs",
        "outcome gave_up",
        "role caller",
        "model qwen-1.5b",
        "validation errors",
        "dedup ratio",
    ):
        assert text in result.output


def test_default_store_comes_from_tinycrew_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, record_run: Callable[..., Any]
) -> None:
    monkeypatch.setenv("TINYCREW_HOME", str(tmp_path / "home"))
    with TrajectoryStore.open() as store:
        record_run(store, "in-home")
    result = runner.invoke(app, ["list"], env=WIDE)
    assert result.exit_code == 0 and "in-home" in result.output
