"""run_bfcl on the packaged 0.5B model: a few entries per mode, scored by the real AST scorer."""

from __future__ import annotations

import json

import pytest

from tinycrew.agents import CallRecord
from tinycrew.evals import NameMap, calls_from_tool_calls, load_category, parse_python_calls, score_entry
from tinycrew.evals.runner import (
    MODES,
    BfclReport,
    prompt_messages,
    run_bfcl,
    score_graph_calls,
    task_text,
)

pytestmark = pytest.mark.slow

RAW_MODES = ["prompt", "native"]
RAW_CATEGORIES = ["simple_python", "irrelevance"]


@pytest.fixture(scope="module")
def raw_report(default_model) -> BfclReport:
    """Prompt and native mode, one entry of simple_python and of irrelevance."""
    return run_bfcl(default_model, RAW_MODES, RAW_CATEGORIES, limit=1, progress=False)


@pytest.fixture(scope="module")
def graph_report(default_model) -> BfclReport:
    """The ReAct graph on one simple_python entry."""
    return run_bfcl(default_model, ["react"], ["simple_python"], limit=1, progress=False)


def test_report_has_one_cell_per_mode_and_category_with_the_right_counts(raw_report: BfclReport) -> None:
    assert raw_report.modes == RAW_MODES and raw_report.categories == RAW_CATEGORIES
    assert [(c.mode, c.category) for c in raw_report.cells] == [
        (mode, category) for mode in RAW_MODES for category in RAW_CATEGORIES
    ]
    for cell in raw_report.cells:
        assert cell.n == 1 and cell.correct == sum(e.ok for e in cell.entries)
        assert cell.entries[0].id == f"{cell.category}_0"
        assert cell.mean_prompt_tokens > 50 and cell.mean_completion_tokens > 0 and cell.mean_seconds > 0
        assert cell.entries[0].model_calls == 1
    assert raw_report.model == "qwen2.5-coder-0.5b-instruct-q4_k_m" and raw_report.limit == 1


def test_prompt_mode_decodes_the_answer_and_scores_it(raw_report: BfclReport) -> None:
    entry = load_category("simple_python", limit=1)[0]
    result = raw_report.cell("prompt", "simple_python").entries[0]
    assert not result.reason.startswith("decode error"), result.output
    assert result.calls == parse_python_calls(result.output)
    assert next(iter(result.calls[0])) == "calculate_triangle_area"
    rescored = score_entry(entry, result.calls)
    assert (result.ok, result.reason) == (rescored.ok, rescored.reason)


def test_native_mode_scores_the_parsed_tool_calls(raw_report: BfclReport) -> None:
    entry = load_category("simple_python", limit=1)[0]
    result = raw_report.cell("native", "simple_python").entries[0]
    assert result.calls, f"no tool call parsed from {result.output!r}"
    assert next(iter(result.calls[0])) == "calculate_triangle_area"
    rescored = score_entry(entry, result.calls)
    assert (result.ok, result.reason) == (rescored.ok, rescored.reason)


def test_irrelevance_passes_exactly_when_no_call_was_made(raw_report: BfclReport) -> None:
    for mode in RAW_MODES:
        result = raw_report.cell(mode, "irrelevance").entries[0]
        assert result.ok == (not result.calls), (mode, result)
        assert result.reason == (
            "ok: no call" if result.ok else f"irrelevance: made {len(result.calls)} call(s)"
        )


def test_prompt_messages_list_the_functions_and_keep_the_question() -> None:
    entry = load_category("parallel", limit=1)[0]
    system, user = prompt_messages(entry)
    assert system["role"] == "system" and '"name": "spotify.play"' in system["content"]
    assert "[func_name1(params_name1=params_value1" in system["content"]
    assert user == entry.messages[0]
    assert task_text(entry) == entry.messages[0]["content"]


def test_graph_mode_scores_the_calls_the_graph_made(graph_report: BfclReport) -> None:
    entry = load_category("simple_python", limit=1)[0]
    result = graph_report.cell("react", "simple_python").entries[0]
    assert result.calls, f"the graph made no valid call: {result}"
    assert all(next(iter(call)) == "calculate_triangle_area" for call in result.calls)
    rescored = score_entry(entry, result.calls)
    assert (result.ok, result.reason) == (rescored.ok, rescored.reason)
    assert result.model_calls >= 2 and result.prompt_tokens > 0  # a call, then an answer after it


def test_graph_scoring_keeps_valid_calls_and_maps_names_back() -> None:
    entry = load_category("parallel", limit=1)[0]
    names = NameMap(["spotify.play"])
    records = [
        CallRecord(id=1, name="spotify_play", arguments={"artist": "Taylor Swift", "duration": 20}),
        CallRecord(id=2, name="spotify_play", arguments={"artist": "Maroon 5", "duration": "x"}, ok=False,
                   error_kind="arguments"),
        CallRecord(id=3, name="spotify_play", arguments={"artist": "Maroon 5", "duration": 15}),
        CallRecord(id=4, name="play", arguments={}, ok=False, error_kind="unknown_tool"),
    ]  # fmt: skip
    score, calls, dropped = score_graph_calls(entry, records, names)
    assert score.ok and score.reason == "ok"
    expected = [("spotify_play", records[0].arguments), ("spotify_play", records[2].arguments)]
    assert calls == calls_from_tool_calls(expected, names)
    assert [item["error_kind"] for item in dropped] == ["arguments", "unknown_tool"]
    assert not score_graph_calls(entry, records[:1], names)[0].ok


def test_graph_scoring_on_irrelevance_passes_only_without_any_attempted_call() -> None:
    entry = load_category("irrelevance", limit=1)[0]
    assert score_graph_calls(entry, [])[0].reason == "ok: no call"
    tried = CallRecord(id=1, name="determine_body_mass_index", arguments={"weight": "a lot"}, ok=False,
                       error_kind="arguments")  # fmt: skip
    score, calls, dropped = score_graph_calls(entry, [tried])
    assert not score.ok and calls == [] and len(dropped) == 1


def test_unknown_modes_and_categories_are_refused(default_model) -> None:
    with pytest.raises(ValueError, match="unknown mode"):
        run_bfcl(default_model, ["chat"], ["simple_python"], limit=1, progress=False)
    with pytest.raises(ValueError, match="unknown BFCL categories"):
        run_bfcl(default_model, ["prompt"], ["live_simple"], limit=1, progress=False)
    assert set(MODES) == {"prompt", "native", "crew", "umi", "compiler", "react"}


def test_a_saved_run_resumes_without_running_finished_entries_again(default_model, tmp_path) -> None:
    saved = tmp_path / "bfcl_results.json"
    first = run_bfcl(default_model, ["prompt"], ["simple_python"], limit=1, progress=False, save_to=saved)
    assert json.loads(saved.read_text())["cells"][0]["entries"][0]["id"] == "simple_python_0"

    more = run_bfcl(
        default_model, ["prompt"], ["simple_python"], limit=2, progress=False, save_to=saved, resume=True
    )
    reused, new = more.cells[0].entries
    assert reused == first.cells[0].entries[0]  # same seconds and output: it was not run again
    assert new.id == "simple_python_1" and new.model_calls == 1

    data = json.loads(saved.read_text())
    data["model"] = "another-model"
    saved.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="another-model"):
        run_bfcl(default_model, ["prompt"], ["simple_python"], progress=False, save_to=saved, resume=True)
