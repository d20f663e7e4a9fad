"""A user mistake at the command line: one `error:` line naming the problem and the fix, exit status 2,
no traceback unless `--debug`. The real app, through typer's CliRunner and as a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tinycrew.cli import app
from tinycrew.trajectories import TrajectoryStore

runner = CliRunner()
ENV = {"COLUMNS": "80"}


def _tinycrew() -> str:
    script = Path(sys.executable).with_name("tinycrew")
    found = str(script) if script.is_file() else shutil.which("tinycrew")
    assert found, "the tinycrew console script is not installed next to this python"
    return found


def _one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert lines[0].startswith("error: "), output
    assert "Traceback" not in output
    return lines[0]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty TINYCREW_HOME, so nothing here touches the user's trajectories."""
    monkeypatch.setenv("TINYCREW_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "--graph", "nope", "hi"], ["unknown graph 'nope'", "umi", "compiler", "react"]),
        # the graph is checked first, before the model, and before anything is loaded
        (["run", "--graph", "nope", "--model", "/missing.gguf", "hi"], ["unknown graph 'nope'"]),
        (["run", "--model", "/missing.gguf", "hi"], ["model file /missing.gguf does not exist", "fix:"]),
        (["run", "--model", "nope", "hi"], ["unknown model 'nope'", "qwen2.5-coder-0.5b-instruct-q4_k_m"]),
        (
            ["run", "--model", "qwen2.5-coder-0.5b-instruct-q4_k_m+nope", "hi"],
            ["adapter 'nope' is neither a registered adapter", "fix:"],
        ),
        (["models", "pull", "nope"], ["unknown model 'nope'", "tinycrew models list"]),
        (["models", "info", "nope"], ["unknown model 'nope'"]),
        (["traj", "show", "nope"], ["no run 'nope' in", "tinycrew traj list"]),
        (["traj", "list", "--since", "yesterday"], ["--since", "'yesterday' is not an ISO date"]),
        (["traj", "export", "--out", "x.jsonl", "--format", "role"], ["--format role needs --role"]),
        (["eval", "bfcl", "--mode", "chat"], ["'chat' is not one of prompt"]),
        (["doctor", "--model", "/missing.gguf"], ["model file /missing.gguf does not exist"]),
    ],
)
def test_a_user_mistake_is_one_line_and_exit_status_2(
    home: Path, args: list[str], expected: list[str]
) -> None:
    result = runner.invoke(app, args, env=ENV)
    assert result.exit_code == 2, result.output
    line = _one_error_line(result.output)
    for text in expected:
        assert text in line
    assert result.stdout == ""  # the error goes to stderr


def test_a_store_that_cannot_be_opened(home: Path, tmp_path: Path) -> None:
    in_a_file = tmp_path / "plain-file"
    in_a_file.write_text("not a folder")
    result = runner.invoke(app, ["traj", "list", "--store", str(in_a_file / "runs.sqlite")], env=ENV)
    assert result.exit_code == 2, result.output
    assert str(in_a_file) in _one_error_line(result.output)


def test_an_unreachable_postgres_store(home: Path) -> None:
    pytest.importorskip("psycopg")
    url = "postgresql://nobody@127.0.0.1:9/tinycrew?connect_timeout=3"  # port 9 (discard): nothing listens
    result = runner.invoke(app, ["traj", "stats", "--store", url], env=ENV)
    assert result.exit_code == 2, result.output
    assert "cannot reach the PostgreSQL database" in _one_error_line(result.output)


def test_a_bad_environment_setting_is_a_user_mistake(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINYCREW_LLAMA_EXTRA_BUFTS", "maybe")
    result = runner.invoke(app, ["run", "--record", "--checkpointer", "memory", "hi"], env=ENV)
    assert result.exit_code == 2, result.output
    assert "TINYCREW_LLAMA_EXTRA_BUFTS='maybe'" in result.output.splitlines()[-1]


def test_typer_usage_errors_stay_typer_s(home: Path) -> None:
    result = runner.invoke(app, ["run", "--bogus", "x"], env=ENV)
    assert result.exit_code == 2
    assert "No such option" in result.output and "Usage:" in result.output
    missing = runner.invoke(app, ["run"], env=ENV)
    assert missing.exit_code == 2 and "Missing argument" in missing.output


def test_a_real_terminal_gets_one_line_and_debug_gets_the_traceback(home: Path) -> None:
    env = {**os.environ, "COLUMNS": "80"}
    env.pop("TINYCREW_DEBUG", None)
    plain = subprocess.run(
        [_tinycrew(), "run", "--model", "/missing.gguf", "hi"], capture_output=True, text=True, env=env
    )
    assert plain.returncode == 2
    assert plain.stdout == ""
    assert "model file /missing.gguf does not exist" in _one_error_line(plain.stderr)

    debug = subprocess.run(
        [_tinycrew(), "--debug", "run", "--graph", "nope", "hi"], capture_output=True, text=True, env=env
    )
    assert debug.returncode == 2
    assert "Traceback (most recent call last)" in debug.stderr
    assert "in check_graph" in debug.stderr  # the frame that refused it
    assert debug.stderr.rstrip().splitlines()[-1].startswith("error: unknown graph 'nope'")

    by_env = subprocess.run(
        [_tinycrew(), "traj", "show", "nope"],
        capture_output=True,
        text=True,
        env={**env, "TINYCREW_DEBUG": "1"},
    )
    assert by_env.returncode == 2 and "Traceback (most recent call last)" in by_env.stderr


def test_the_unknown_run_message_names_the_store(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    TrajectoryStore.open(path).close()
    result = runner.invoke(app, ["traj", "show", "run-1", "--store", str(path)], env=ENV)
    assert result.exit_code == 2
    assert f"no run 'run-1' in {path}" in _one_error_line(result.output)
