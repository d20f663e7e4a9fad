"""compare_reports and `tinycrew eval diff` on reports scored from real BFCL entries (no model needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.evals.test_report import _report
from tinycrew.cli import app
from tinycrew.evals import split_of
from tinycrew.evals.compare import change_counts, compare_reports, mode_standing
from tinycrew.evals.report import save_report
from tinycrew.evals.runner import BfclReport


def _flipped(report: BfclReport, category: str) -> BfclReport:
    """A copy in which the prompt mode's entry of `category` got the other score and no calls."""
    copy = BfclReport.from_dict(json.loads(json.dumps(report.to_dict())))
    entry = copy.cell("prompt", category).entries[0]
    entry.ok, entry.calls, entry.reason = not entry.ok, [], "changed by hand"
    return copy


def test_a_flipped_entry_is_the_only_change_and_is_counted() -> None:
    before = _report()
    after = _flipped(before, "multiple")
    [change] = compare_reports(before, after)
    assert (change.mode, change.category) == ("prompt", "multiple")
    assert change.kind == ("gained" if change.after.ok else "lost")
    assert change_counts([change])["prompt"][change.kind] == 1
    assert change.id in change.line() and "changed by hand" in change.line()
    assert compare_reports(before, before) == []


def test_split_keeps_only_that_splits_entries() -> None:
    before = _report()
    after = _flipped(before, "multiple")
    entry_id = after.cell("prompt", "multiple").entries[0].id
    other = "train" if split_of(entry_id) == "eval" else "eval"
    assert compare_reports(before, after, split=split_of(entry_id))
    assert compare_reports(before, after, split=other) == []  # type: ignore[arg-type]


def test_the_diff_command_prints_the_change(tmp_path: Path) -> None:
    before = _report()
    save_report(before, tmp_path / "a")
    save_report(_flipped(before, "parallel"), tmp_path / "b")
    result = CliRunner().invoke(app, ["eval", "diff", str(tmp_path / "a"), str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    assert "changed by hand" in result.output and "prompt: " in result.output


def test_a_graph_under_another_policy_set_compares_with_its_default_run() -> None:
    before = _report()
    after = _flipped(before, "multiple")
    for cell in after.cells:
        cell.mode = f"{cell.mode}+repairs"  # as `tinycrew eval report` labels a merged opt-in run
    [change] = compare_reports(before, after)
    assert (change.mode, change.category) == ("prompt+repairs", "multiple")


def test_standing_puts_one_mode_against_the_best_other_per_category() -> None:
    report = _report()  # prompt answers right, native wrong, on every category
    standing = mode_standing(report, "native")
    assert [row.category for row in standing.categories] == report.categories
    for row in standing.categories:
        assert row.best_other == ("prompt", report.cell("prompt", row.category).accuracy)
        assert row.gap == report.cell("native", row.category).accuracy - row.best_other[1]
    assert standing.mean("prompt") > standing.mean("native")
    assert standing.paired["prompt"].delta < 0  # native minus prompt, paired over the same entries
    assert mode_standing(report, "prompt").paired["native"].delta == -standing.paired["prompt"].delta


def test_standing_keeps_to_the_categories_every_mode_ran() -> None:
    report = _report()
    report.cells = [c for c in report.cells if (c.mode, c.category) != ("prompt", "parallel")]
    standing = mode_standing(report, "native")
    assert [row.category for row in standing.categories] == [c for c in report.categories if c != "parallel"]


def test_standing_refuses_a_mode_the_report_lacks() -> None:
    with pytest.raises(ValueError, match="not in the report"):
        mode_standing(_report(), "crew")


def test_the_versus_command_prints_gaps_means_and_intervals(tmp_path: Path) -> None:
    save_report(_report(), tmp_path / "run")
    result = CliRunner().invoke(app, ["eval", "versus", str(tmp_path / "run"), "--mode", "native"])
    assert result.exit_code == 0, result.output
    assert "best other" in result.output and "mean" in result.output and "native vs prompt" in result.output
    missing = CliRunner().invoke(app, ["eval", "versus", str(tmp_path / "run"), "--mode", "crew"])
    assert missing.exit_code == 2 and "not in the report" in missing.output
