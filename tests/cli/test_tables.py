"""The CLI's tables stay readable in an 80-column terminal: no line wider than the terminal, no header
cut to an ellipsis, no squeezed empty columns, run ids and model names whole."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from tests.trajectories.conftest import synthetic_steps
from tinycrew.cli import app
from tinycrew.cli.run import usage_table
from tinycrew.graphs import RunResult
from tinycrew.models import PACKAGED_MODELS
from tinycrew.trajectories import Recorder, TrajectoryStore

runner = CliRunner()
RUN_IDS = ("8dd082560fd441c089d778a665107a25", "86efe9df542947c0865677717256b040")


BOX = set("─━┏┳┓┡╇┩ ")


def _header(lines: list[str], title: str) -> str:
    """The header row(s) of a table: the lines after its title down to the rule under them, joined."""
    start = next(i for i, line in enumerate(lines) if title in line) + 1
    end = next(i for i in range(start + 1, len(lines)) if set(lines[i]) <= BOX)
    rows = [line for line in lines[start:end] if not set(line) <= BOX]
    return " ".join(" ".join(line.replace("┃", " ").split()) for line in rows)


def _fits(output: str, width: int = 80) -> list[str]:
    lines = output.splitlines()
    assert lines, "nothing printed"
    too_wide = [line for line in lines if len(line) > width]
    assert not too_wide, "\n".join(too_wide)
    return lines


def _record(store: TrajectoryStore, run_id: str, task: str, *, invalid: bool, score: float | None) -> None:
    recorder = Recorder(store)
    recorder.start_run(run_id, graph="umi", task=task, models={"caller": "qwen-0.5b"})
    steps = synthetic_steps(run_id, task, with_invalid=invalid)
    for step in steps:
        recorder.record_step(step)
    recorder.finish_run(run_id, answer=steps[-1].raw_output, outcome="success")
    if score is not None:
        recorder.record_feedback(run_id, score, source="evaluator")


@pytest.fixture
def plain_store(tmp_path: Path) -> str:
    """Two clean runs: no invalid calls, no scores (the case that showed squeezed empty columns)."""
    path = tmp_path / "plain.sqlite"
    with TrajectoryStore.open(path) as store:
        _record(store, RUN_IDS[0], "What weekday was 2024-03-05?", invalid=False, score=None)
        _record(store, RUN_IDS[1], "What is 17 times 23? " * 8, invalid=False, score=None)
    return str(path)


def test_traj_list_at_80_columns_has_no_empty_columns(plain_store: str) -> None:
    result = runner.invoke(app, ["traj", "list", "--store", plain_store], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = _fits(result.output)
    header = _header(lines, "run(s)")
    for column in ("started", "graph", "outcome", "steps"):
        assert column in header
    assert "…" not in header
    assert "issues" not in header and "score" not in header  # no run has any
    for run_id in RUN_IDS:
        assert run_id in result.output  # whole, so it can be pasted into `traj show`
    assert "What weekday was 2024-03-05?" in result.output  # the task, under its run id


def test_traj_list_shows_issues_and_scores_when_a_run_has_them(tmp_path: Path) -> None:
    path = tmp_path / "mixed.sqlite"
    with TrajectoryStore.open(path) as store:
        _record(store, RUN_IDS[0], "What is the weather in Paris?", invalid=True, score=0.75)
        _record(store, RUN_IDS[1], "What is 17 times 23?", invalid=False, score=None)
    for width in ("80", "200"):
        result = runner.invoke(app, ["traj", "list", "--store", str(path)], env={"COLUMNS": width})
        assert result.exit_code == 0, result.output
        lines = _fits(result.output, int(width))
        header = _header(lines, "run(s)")
        assert "issues" in header and "score" in header and "…" not in header
        assert "1 invalid" in result.output and "0.75" in result.output
        assert all(run_id in result.output for run_id in RUN_IDS)


def test_traj_stats_at_80_columns(plain_store: str) -> None:
    result = runner.invoke(app, ["traj", "stats", "--store", plain_store], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    _fits(result.output)
    assert "runs" in result.output and "dedup ratio" in result.output


def test_models_list_at_80_columns_keeps_names_whole() -> None:
    result = runner.invoke(app, ["models", "list"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = _fits(result.output)
    header = _header(lines, "packaged models")
    for column in ("size", "quant", "state"):
        assert column in header
    assert "…" not in result.output
    for name in PACKAGED_MODELS:
        assert name in result.output


def test_run_usage_table_at_80_columns_keeps_the_model_name_whole() -> None:
    name = "qwen2.5-coder-0.5b-instruct-q4_k_m"
    result = RunResult(
        run_id=RUN_IDS[0],
        graph="compiler",
        status="done",
        outcome="success",
        usage={name: {"calls": 3, "prompt_tokens": 549, "completion_tokens": 44, "seconds": 68.3}},
    )
    console = Console(width=80, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(usage_table(result))
    text = console.export_text()
    lines = _fits(text)
    assert name in text and "…" not in text
    header = _header(lines, f"run {RUN_IDS[0]}")
    for column in ("calls", "tokens in", "tokens out", "time"):
        assert column in header
    assert "549" in text and "68.3 s" in text


def test_bfcl_table_at_80_columns_turns_to_a_column_per_mode(tmp_path: Path) -> None:
    saved = Path(__file__).resolve().parents[2] / "docs" / "bfcl" / "bfcl_results.json"
    (tmp_path / "bfcl_results.json").write_bytes(saved.read_bytes())
    result = runner.invoke(app, ["eval", "report", str(tmp_path)], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = _fits(result.output)
    table = lines[next(i for i, line in enumerate(lines) if line.startswith("┏")) :]
    assert "…" not in "\n".join(table)
    header = next(line for line in table if "prompt" in line)
    for mode in ("prompt", "native", "umi", "compiler", "react"):
        assert mode in header
    for category in ("simple_python", "multiple", "parallel_multiple", "irrelevance", "s/entry"):
        assert any(line.startswith(f"│ {category} ") for line in table)
