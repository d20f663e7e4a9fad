"""`tinycrew eval bfcl` and `tinycrew eval report` end to end, mounted the way the main app mounts them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tinycrew.cli import eval as eval_commands

app = typer.Typer()
app.add_typer(eval_commands.app, name="eval")
runner = CliRunner()
WIDE = {"COLUMNS": "200"}


@pytest.mark.slow
def test_bfcl_runs_one_entry_prints_the_table_and_writes_the_report(default_model, tmp_path: Path) -> None:
    out = tmp_path / "bfcl"
    # --n-ctx 4096 matches the session's default_model, so llama.cpp reuses that loaded context
    arguments = ["eval", "bfcl", "--mode", "prompt", "--category", "simple_python", "--limit", "1"]
    result = runner.invoke(app, [*arguments, "--n-ctx", "4096", "--out", str(out)], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "prompt" in result.output and "simple_python" in result.output
    assert "(1/1)" in result.output or "(0/1)" in result.output
    data = json.loads((out / "bfcl_results.json").read_text())
    assert data["modes"] == ["prompt"] and data["categories"] == ["simple_python"] and data["limit"] == 1
    assert [entry["id"] for entry in data["cells"][0]["entries"]] == ["simple_python_0"]
    assert data["model"] == default_model.name
    assert "| prompt |" in (out / "bfcl_table.md").read_text()
    assert (out / "bfcl_accuracy.png").stat().st_size > 0

    (out / "bfcl_table.md").unlink()
    redrawn = runner.invoke(app, ["eval", "report", str(out)], env=WIDE)
    assert redrawn.exit_code == 0, redrawn.output
    assert (out / "bfcl_table.md").read_text().count("simple_python") == 1


def test_bfcl_refuses_an_unknown_mode_before_loading_a_model(tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", "bfcl", "--mode", "chat", "--out", str(tmp_path)], env=WIDE)
    assert result.exit_code == 2
    assert "chat" in result.output and "prompt" in result.output
    assert not any(tmp_path.iterdir())


def test_report_needs_a_saved_run(tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", "report", str(tmp_path)], env=WIDE)
    assert result.exit_code == 2 and "bfcl_results.json" in result.output


def test_report_merges_runs_into_one_folder(tmp_path: Path) -> None:
    from tests.evals.test_report import _one_mode, _report
    from tinycrew.evals.report import save_report

    whole = _report()
    save_report(_one_mode(whole, "prompt"), tmp_path / "a")
    save_report(_one_mode(whole, "native"), tmp_path / "b")
    args = ["eval", "report", str(tmp_path / "a"), str(tmp_path / "b")]
    assert runner.invoke(app, args, env=WIDE).exit_code == 2  # no --out for a merge
    merged = runner.invoke(app, [*args, "--out", str(tmp_path / "all")], env=WIDE)
    assert merged.exit_code == 0, merged.output
    table = (tmp_path / "all" / "bfcl_table.md").read_text()
    assert "| prompt |" in table and "| native |" in table
    again = runner.invoke(app, [*args, str(tmp_path / "a"), "--out", str(tmp_path / "x")], env=WIDE)
    assert again.exit_code == 2 and "more than one run" in again.output
