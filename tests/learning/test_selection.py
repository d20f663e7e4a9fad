"""The gate check (tinycrew.learning.selection): cases from held-out train tasks with the tools the default
graph offers, each candidate's balanced accuracy, and the bindings the choice gives."""

from __future__ import annotations

import asyncio

import pytest

from tinycrew.agents.gate import needs_tools
from tinycrew.evals.bfcl_data import NameMap, load_category, to_openai_tools
from tinycrew.learning.pipeline import role_bindings
from tinycrew.learning.selection import (
    GateScore,
    bfcl_gate_cases,
    choose_gate,
    desktop_gate_cases,
    score_gate,
)
from tinycrew.learning.teacher import desktop_train_tasks

ADAPTERS = {"backbone": "v1-backbone", "gate": "v1-gate", "summarizer": "v1-summarizer"}


def test_balanced_accuracy_weighs_each_class_alike() -> None:
    always_calls = GateScore("m", called=10, needed=10, declined=0, not_needed=2)
    balanced = GateScore("m", called=8, needed=10, declined=2, not_needed=2)
    assert always_calls.balanced_accuracy == 0.5 and balanced.balanced_accuracy == pytest.approx(0.9)
    assert GateScore("m", called=3, needed=4).balanced_accuracy == 0.75  # one class: its own rate
    assert GateScore("m").balanced_accuracy == 0.0
    assert balanced.text() == "calls 8/10, declines 2/2, balanced 90.0%"


def test_the_gate_choice_decides_what_serves_the_gate() -> None:
    own = role_bindings("m", ADAPTERS)
    assert own == {"gate": "m+v1-gate", "summarizer": "m+v1-summarizer", "default": "m+v1-backbone"}
    assert role_bindings("m", ADAPTERS, "backbone")["gate"] == "m+v1-backbone"
    assert role_bindings("m", ADAPTERS, "base")["gate"] == "m"
    assert role_bindings("m", ADAPTERS, "base")["summarizer"] == "m+v1-summarizer"  # only the gate moves
    assert "gate" not in role_bindings("m", {"backbone": "v1-backbone"}, "base")  # no gate adapter: no check
    with pytest.raises(ValueError, match="expected one of"):
        role_bindings("m", ADAPTERS, "planner")


@pytest.mark.slow
def test_cases_say_which_decision_is_right_and_each_candidate_is_scored_as_the_graph_asks(
    default_model,
) -> None:
    entries = [load_category(category, None, 1, "train")[0] for category in ("simple_python", "irrelevance")]
    cases = bfcl_gate_cases(entries, default_model)
    assert [case.needs_call for case in cases] == [True, False]
    schemas = to_openai_tools(entries[0].functions, NameMap())
    assert [tool["function"]["name"] for tool in cases[0].tools] == [s["function"]["name"] for s in schemas]

    by_kind = {task.kind: task for task in desktop_train_tasks()}
    desktop = desktop_gate_cases([by_kind["none"], by_kind["single"]], default_model)
    assert [case.needs_call for case in desktop] == [False, True]
    assert desktop[1].tools and all("function" in tool for tool in desktop[1].tools)

    asked = [case for case in cases + desktop if case.tools]
    wants = [asyncio.run(needs_tools(default_model, case.request, case.tools)).parsed for case in asked]
    score = score_gate(default_model, cases + desktop)
    assert score.needed + score.not_needed == len(asked)  # a case offered no tool is never asked
    assert score.called == sum(w for w, case in zip(wants, asked, strict=True) if case.needs_call)
    assert score.declined == sum(not w for w, case in zip(wants, asked, strict=True) if not case.needs_call)

    chosen, scores = choose_gate({"first": default_model, "second": default_model}, cases + desktop)
    assert chosen == "first" and scores["first"] == scores["second"]  # a tie goes to the earlier one
