"""save_report / load_report / markdown_table on a report scored from real BFCL entries (no model needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinycrew.evals import CATEGORIES, load_category, score_output
from tinycrew.evals.report import (
    cost_quality,
    describe,
    load_report,
    markdown_table,
    merge_reports,
    pareto_front,
    render_report,
    save_report,
    table_rows,
)
from tinycrew.evals.runner import BfclReport, CellResult, EntryResult

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# One right and one wrong prompting-mode answer per category, in BFCL's own format.
ANSWERS = {
    "simple_python": ["[calculate_triangle_area(base=10, height=5)]", "[calculate_triangle_area(base=1)]"],
    "multiple": ["[triangle_properties.get(side1=5, side2=4, side3=3)]", "no idea"],
    "parallel": [
        "[spotify.play(artist='Taylor Swift', duration=20), spotify.play(artist='Maroon 5', duration=15)]",
        "[spotify.play(artist='Taylor Swift', duration=20)]",
    ],
    "parallel_multiple": [
        "[math_toolkit.product_of_primes(count=5), "
        "math_toolkit.sum_of_multiples(lower_limit=1, upper_limit=1000, multiples=[3, 5])]",
        "[math_toolkit.product_of_primes(count=5)]",
    ],
    "irrelevance": ["I cannot help with that.", "[determine_body_mass_index(weight=70.0, height=1.8)]"],
}


def _report() -> BfclReport:
    """Two modes on every category; the second mode gets the wrong answers first."""
    report = BfclReport(model="hand-scored", modes=["prompt", "native"], categories=list(CATEGORIES), limit=1)
    for mode in report.modes:
        for category in CATEGORIES:
            entry = load_category(category, limit=1)[0]
            answers = ANSWERS[category] if mode == "prompt" else ANSWERS[category][::-1]
            scored = score_output(entry, answers[0])
            result = EntryResult(
                id=entry.id,
                ok=scored.ok,
                reason=scored.reason,
                output=answers[0],
                prompt_tokens=100,
                completion_tokens=10,
                seconds=0.5,
                model_calls=1,
            )
            report.cells.append(CellResult(mode=mode, category=category, entries=[result]))
    return report


def test_cells_summarise_their_entries() -> None:
    report = _report()
    simple = report.cell("prompt", "simple_python")
    assert (simple.n, simple.correct, simple.accuracy) == (1, 1, 1.0)
    assert report.cell("native", "simple_python").correct == 0
    assert report.cell("prompt", "irrelevance").entries[0].reason == "ok: no call"
    assert report.cell("native", "irrelevance").failure_reasons() == {"irrelevance": 1}
    assert simple.score.accuracy == 1.0 and simple.mean_prompt_tokens == 100
    with pytest.raises(KeyError):
        report.cell("umi", "simple_python")


def test_markdown_table_has_every_mode_and_category() -> None:
    report = _report()
    text = markdown_table(report)
    header, rows = table_rows(report)
    assert header == ["mode", *CATEGORIES, "prompt tok", "completion tok", "s/entry"]
    assert [row[0] for row in rows] == ["prompt", "native"]
    for name in (*report.modes, *CATEGORIES):
        assert name in text
    prompt_row = next(line for line in text.splitlines() if line.startswith("| prompt"))
    assert prompt_row.count("100.0% (1/1)") == len(CATEGORIES) and prompt_row.endswith("| 100 | 10 | 0.5 |")
    native_row = next(line for line in text.splitlines() if line.startswith("| native"))
    assert native_row.count("0.0% (0/1)") == len(CATEGORIES)


def test_save_report_writes_json_markdown_and_png(tmp_path: Path) -> None:
    report = _report()
    files = save_report(report, tmp_path / "out")
    assert set(files) == {"json", "markdown", "plot", "cost_plot"}
    for plot in (files["plot"], files["cost_plot"]):
        assert plot.read_bytes()[:8] == PNG_MAGIC and plot.stat().st_size > 5000
    assert files["markdown"].read_text() == markdown_table(report)
    data = json.loads(files["json"].read_text())
    first = data["cells"][0]
    assert (first["mode"], first["category"], first["n"], first["correct"]) == (
        "prompt",
        "simple_python",
        1,
        1,
    )
    assert first["entries"][0]["id"] == "simple_python_0"


def test_load_report_round_trips_and_redraws(tmp_path: Path) -> None:
    report = _report()
    save_report(report, tmp_path)
    loaded = load_report(tmp_path)
    assert loaded == report
    assert markdown_table(loaded) == markdown_table(report)
    (tmp_path / "bfcl_accuracy.png").unlink()
    files = render_report(loaded, tmp_path)
    assert files["plot"].is_file() and files["markdown"].is_file()


def test_cost_quality_points_and_frontier() -> None:
    report = _report()
    assert cost_quality(report) == [("prompt", 110.0, 1.0), ("native", 110.0, 0.0)]
    points = [("a", 100.0, 0.5), ("b", 300.0, 0.4), ("c", 200.0, 0.7), ("d", 50.0, 0.2), ("e", 400.0, 0.9)]
    # b costs more than c and is less accurate: off the frontier
    assert [mode for mode, _, _ in pareto_front(points)] == ["d", "a", "c", "e"]


def _one_mode(report: BfclReport, mode: str) -> BfclReport:
    """The part of a report that one process running only ``mode`` would have written."""
    return BfclReport(
        model=report.model,
        modes=[mode],
        categories=report.categories,
        cells=report.mode_cells(mode),
        limit=report.limit,
        created=mode,
        elapsed_s=1.0,
    )


def test_merge_reports_joins_runs_made_one_mode_at_a_time() -> None:
    whole = _report()
    merged = merge_reports([_one_mode(whole, "native"), _one_mode(whole, "prompt")])
    assert merged.modes == ["prompt", "native"]  # the runner's order, not the order given
    assert table_rows(merged) == table_rows(whole)
    assert merged.elapsed_s == 2.0 and merged.limit == 1


def test_a_merge_of_runs_of_different_lengths_names_the_questions_per_category() -> None:
    whole = _report()
    longer = _one_mode(whole, "native")
    longer.limit = 2
    longer.cells[0].entries.append(longer.cells[0].entries[0])
    merged = merge_reports([_one_mode(whole, "prompt"), longer])
    assert merged.limit is None
    first = merged.cells[0].category
    assert f"questions: {first} 2, " in describe(merged) and "limit" not in describe(merged)
    assert "limit: 1 per category" in describe(whole)


def test_merge_reports_refuses_a_cell_run_twice_or_another_model() -> None:
    whole = _report()
    with pytest.raises(ValueError, match="more than one run"):
        merge_reports([_one_mode(whole, "prompt"), _one_mode(whole, "prompt")])
    other = _one_mode(whole, "native")
    other.model = "another-model"
    with pytest.raises(ValueError, match="cannot merge"):
        merge_reports([_one_mode(whole, "prompt"), other])


def _with(report: BfclReport, **fields: str) -> BfclReport:
    """A copy whose every entry has `fields` set (a policy set, a commit)."""
    copy = BfclReport.from_dict(json.loads(json.dumps(report.to_dict())))
    for cell in copy.cells:
        for entry in cell.entries:
            for name, value in fields.items():
                setattr(entry, name, value)
    return copy


def test_runs_under_two_policy_sets_merge_into_one_row_each() -> None:
    whole = _report()
    default = _with(_one_mode(whole, "prompt"), policies="default", commit="abc")
    repairs = _with(_one_mode(whole, "prompt"), policies="repairs", commit="abc")
    merged = merge_reports([repairs, default])
    assert merged.modes == ["prompt", "prompt+repairs"]
    _, rows = table_rows(merged)
    assert rows[0][1:] == rows[1][1:]  # the same answers, two rows
    assert "commit abc" in describe(merged) and "merged runs" not in describe(merged)


def test_a_report_merging_two_commits_says_so_in_its_title() -> None:
    whole = _report()
    merged = merge_reports(
        [_with(_one_mode(whole, "prompt"), commit="abc"), _with(_one_mode(whole, "native"), commit="def")]
    )
    assert describe(merged).startswith("BFCL AST accuracy of hand-scored, merged runs of commits abc, def")


def test_the_table_of_a_whole_run_has_eval_split_rows_beside_all() -> None:
    from tinycrew.evals import split_of

    report = _report()
    text = markdown_table(report)
    assert "eval split only" in text
    _, rows = table_rows(report, "eval")
    first = report.mode_cells("prompt")
    for category, cell in zip(report.categories, first, strict=True):
        in_eval = [e for e in cell.entries if split_of(e.id) == "eval"]
        column = rows[0][1 + report.categories.index(category)]
        assert column.endswith(f"/{len(in_eval)})")
