"""benchmarks/replay_policies.py on a handful of BFCL questions: its counts add up, and each replay
finds what it is meant to on an entry whose outcome is known (a harm, a restoration, a false alarm)."""

from __future__ import annotations

import importlib.util
import json
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "replay_policies.py"
IDS = {
    "simple_python_286",  # drop_unfounded_options drops date='04-2022' ("April 2022" in the task)
    "parallel_51",  # fill_stated_options writes diet='Vegan' (the second dish's) into the first call
    "parallel_125",  # a percentage of the task: percent_as_fraction restores it
    "parallel_41",  # "City, ST" values: complete_us_places puts the state back
    "parallel_92",  # a unit argument convert_units fills back in
    "parallel_159",  # overused_numbers sends back a correct call that uses 2 twice
    "multiple_62",  # 'Boston, MA' and 'Boston' both accepted: no slip when the state goes
}


@cache
def replay_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("replay_policies", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["replay_policies"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@cache
def result(shape: str) -> dict[str, Any]:
    replay = replay_module()
    cases = replay.load_cases("all", ids=IDS)
    return replay.replay(cases, shape)


def _outcomes(counts: dict[str, Any]) -> dict[str, int]:
    return {key: value for key, value in counts.items() if key not in ("calls", "entries")}


def test_the_cases_are_the_chosen_entries_with_correct_ground_truth() -> None:
    cases = replay_module().load_cases("all", ids=IDS)
    assert {case.entry.id for case in cases} == IDS
    for case in cases:
        assert case.forms, case.entry.id
        for calls in case.forms.values():
            assert all(case.correct(index, arguments) for index, arguments in enumerate(calls))


@pytest.mark.parametrize("shape", ["umi", "plan"])
def test_every_replay_adds_up(shape: str) -> None:
    counted = result(shape)
    cases = replay_module().load_cases("all", ids=IDS)
    calls = {form: sum(len(case.forms.get(form, [])) for case in cases) for form in ("minimal", "full")}
    assert counted["entries"] == len(IDS)
    for kind, outcomes in (("harm", {"unchanged", "changed", "harmed"}), ("false_alarms", None)):
        for forms in counted[kind].values():
            for form, counts in forms.items():
                assert counts["calls"] == calls[form]
                assert sum(_outcomes(counts).values()) == counts["calls"]
                if outcomes is not None:
                    assert set(_outcomes(counts)) <= outcomes
                for ids in counts["entries"].values():
                    assert set(ids) <= IDS
    for slips in counted["help"].values():
        for counts in slips.values():
            assert set(_outcomes(counts)) <= {"restored", "left", "wrong"}
            assert sum(_outcomes(counts).values()) == counts["calls"]
            for outcome, ids in counts["entries"].items():
                assert len(ids) <= counts[outcome]


def test_harm_is_a_correct_call_made_wrong() -> None:
    harm = result("umi")["harm"]
    drop = harm["drop_unfounded_options"]["minimal"]
    assert drop["harmed"] == 1 and drop["entries"]["harmed"] == ["simple_python_286"]
    fill = harm["fill_stated_options"]["minimal"]
    assert fill["entries"]["harmed"] == ["parallel_51"]
    # the umi caller's first call cannot see the second; a plan holds both, so the fill holds back
    assert "harmed" not in result("plan")["harm"]["fill_stated_options"]["minimal"]
    for name in ("convert_units", "percent_as_fraction", "complete_us_places"):
        assert harm[name]["minimal"].get("harmed", 0) == 0


def test_help_restores_the_slip_each_rewrite_is_for() -> None:
    help_ = result("umi")["help"]
    assert "parallel_125" in help_["percent_as_fraction"]["fraction as percent"]["entries"]["restored"]
    assert "parallel_92" in help_["convert_units"]["unit argument taken out"]["entries"]["restored"]
    places = help_["complete_us_places"]["state taken off"]
    assert places["entries"]["restored"] == ["parallel_41"]
    # multiple_62 accepts 'Boston' as well as 'Boston, MA': taking the state off is no slip there
    assert all("multiple_62" not in ids for ids in places["entries"].values())


def test_a_slip_counts_only_when_it_makes_the_call_wrong() -> None:
    replay = replay_module()
    made: dict[str, list[bool]] = {}
    for case in replay.load_cases("all", ids={"parallel_41", "multiple_62"}):
        base = case.base()
        made[case.entry.id] = [
            case.correct(index, arguments)
            for index, call in enumerate(base)
            for arguments in replay.state_taken_off(case, index, call)
        ]
    assert made["multiple_62"] == [True]  # 'Boston' is still right: not counted
    assert made["parallel_41"] and not any(made["parallel_41"])
    assert result("umi")["help"]["complete_us_places"]["state taken off"]["calls"] == len(made["parallel_41"])


def test_false_alarms_name_the_correct_calls_sent_back() -> None:
    alarms = result("umi")["false_alarms"]["overused_numbers"]["minimal"]
    assert alarms["entries"]["sent_back"] == ["parallel_159"]


def test_main_prints_tables_and_a_trailing_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    replay_module().main(["--split", "eval", "--limit", "2"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("split eval, shape umi, commit ")
    assert any(line.startswith("drop_unfounded_options   minimal") for line in lines)
    printed = json.loads(lines[-1])
    assert printed["split"] == "eval" and printed["shape"] == "umi"
    assert set(printed["harm"]) == set(replay_module().SLIPS)
    assert set(printed["false_alarms"]) == {"overused_numbers"}
