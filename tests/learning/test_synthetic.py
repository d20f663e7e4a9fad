"""Synthetic tasks after GRA with the packaged 0.5B as generator, reviewer and adjudicator, on real tools;
the settle rule, the duplicate filter, the call checker and the JSONL round trip."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tinycrew.agents import CallRecord
from tinycrew.learning.synthetic import (
    RoleDecision,
    SyntheticTask,
    _Duplicates,
    as_registry,
    check_synthetic_calls,
    generate_candidate,
    load_synthetic_tasks,
    request_key,
    save_synthetic_tasks,
    settle,
    synthesize_tasks,
    task_id_of,
    unsaid_values,
    without_unfounded_options,
)
from tinycrew.models import DEFAULT_MODEL, load_model
from tinycrew.tools import tool


@tool
def get_weather(city: str, unit: str = "celsius") -> str:
    """The current weather in a city.

    Args:
        city: The city's name, e.g. "Lyon".
        unit: "celsius" or "fahrenheit".
    """
    return f"{city}: 14 degrees {unit}"


@tool
def convert_currency(amount: float, from_currency: str, to_currency: str) -> str:
    """Convert an amount of money from one currency to another.

    Args:
        amount: How much money, e.g. 25.5.
        from_currency: Three-letter code of the currency held, e.g. "EUR".
        to_currency: Three-letter code of the currency wanted, e.g. "USD".
    """
    return f"{amount * 1.08:.2f} {to_currency}"


TOOLS = [get_weather, convert_currency]
NOW = datetime(2026, 12, 3, 9, 0)


def _task(reviews: list[RoleDecision], **fields: Any) -> SyntheticTask:
    calls = [{"name": "get_weather", "arguments": {"city": "Lyon"}}]
    return SyntheticTask(
        id=task_id_of("Weather in Lyon?", calls),
        request="Weather in Lyon?",
        calls=calls,
        tool_schemas=[get_weather.openai_schema()],
        reviews=reviews,
        **fields,
    )


def _call(call_id: int, name: str, arguments: dict[str, Any], ok: bool = True) -> CallRecord:
    return CallRecord(id=call_id, name=name, arguments=arguments, ok=ok, observation="done")


# ---------------------------------------------------------------------------------------- no model


def test_settle_keeps_on_unanimous_accept_and_drops_a_reject_without_adjudicator() -> None:
    accept = RoleDecision(model="m", verdict="accept", reason="values stated")
    reject = RoleDecision(model="m", verdict="reject", reason="city invented")
    kept = settle(_task([accept]), None)
    assert kept.kept and kept.decided_by == "reviewer" and kept.adjudication is None
    dropped = settle(_task([accept, reject]), None)
    assert not dropped.kept and dropped.decided_by == "reviewer" and dropped.drop_reason == "city invented"


def test_duplicates_by_normalised_text() -> None:
    seen = _Duplicates(similarity=None)
    seen.add(_task([]))
    assert request_key("  WEATHER in lyon ?") == request_key("Weather in Lyon?") == "weather in lyon"
    assert seen.why(_task([]).model_copy(update={"request": "weather in LYON"}))
    assert not seen.why(_task([]).model_copy(update={"request": "Weather in Oslo?"}))


def test_check_synthetic_calls_compares_like_the_desktop_plan_matcher() -> None:
    task = _task([], now=NOW)
    assert check_synthetic_calls(task, [_call(1, "get_weather", {"city": "lyon."})]) == (True, "ok")
    # an explicit default is the same call as an absent one
    assert check_synthetic_calls(task, [_call(1, "get_weather", {"city": "Lyon", "unit": "celsius"})])[0]
    wrong = check_synthetic_calls(task, [_call(1, "get_weather", {"city": "Lyon", "unit": "fahrenheit"})])
    assert wrong == (False, "arguments: get_weather.unit")
    extra = [_call(1, "get_weather", {"city": "Lyon"}), _call(2, "get_weather", {"city": "Oslo"})]
    assert check_synthetic_calls(task, extra)[1].startswith("wrong tools")
    assert check_synthetic_calls(task, [_call(1, "get_weather", {"city": "Lyon"}, ok=False)])[0] is True
    assert check_synthetic_calls(task, [])[1].startswith("no call")


def test_optional_values_the_request_never_says_leave_the_expected_calls() -> None:
    registry = as_registry(TOOLS)
    invented = [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "fahrenheit"}}]
    calls, dropped = without_unfounded_options(registry, "Get the current weather in Paris", invented)
    assert calls == [{"name": "get_weather", "arguments": {"city": "Paris"}}]
    assert dropped == ["get_weather.unit='fahrenheit'"]
    asked = "Weather in Paris, in Fahrenheit please"
    assert without_unfounded_options(registry, asked, invented) == (invented, [])
    money = [
        {
            "name": "convert_currency",
            "arguments": {"amount": 100.0, "from_currency": "EUR", "to_currency": "JPY"},
        }
    ]
    assert unsaid_values("Change 100 euros into dollars", money) == ["convert_currency.to_currency='JPY'"]
    assert unsaid_values("Change $100.00 from EUR into JPY", money) == []


def test_synthesize_refuses_an_empty_tool_set() -> None:
    with pytest.raises(ValueError, match="at least one tool"):
        synthesize_tasks([], None, None, None, n=1)


@pytest.mark.slow
def test_duplicates_by_embedding_when_asked() -> None:
    seen = _Duplicates(similarity=0.9)
    seen.add(_task([]).model_copy(update={"request": "What's the weather in Lyon today?"}))
    assert "similar" in seen.why(
        _task([]).model_copy(update={"request": "What is the weather in Lyon today"})
    )
    assert not seen.why(_task([]).model_copy(update={"request": "Convert 20 euros to dollars"}))


# --------------------------------------------------------------------------------- with the 0.5B


@pytest.fixture(scope="module")
def made(default_model: Any) -> list[SyntheticTask]:
    """Every candidate of a toy run: two tasks wanted, at most four candidates."""
    return synthesize_tasks(
        TOOLS,
        default_model,
        default_model,
        default_model,
        n=2,
        seed=1,
        max_attempts=4,
        now=NOW,
        include_dropped=True,
        progress=False,
    )


@pytest.mark.slow
def test_every_candidate_records_each_roles_decision(made: list[SyntheticTask]) -> None:
    assert 1 <= len(made) <= 4 and sum(task.kept for task in made) <= 2
    for task in made:
        assert task.generator["model"] == "qwen2.5-coder-0.5b-instruct-q4_k_m"
        assert {"seed", "temperature", "style", "tools", "n_calls"} <= task.generator.keys()
        if task.decided_by in ("generator", "schema", "duplicate"):
            assert not task.kept and task.drop_reason and not task.reviews
            continue
        assert len(task.reviews) == 1 and task.reviews[0].verdict in ("accept", "reject")
        rejected = any(review.verdict == "reject" for review in task.reviews)
        assert (task.adjudication is not None) == rejected
        assert task.decided_by == ("adjudicator" if rejected else "reviewer")
        if rejected:
            assert task.adjudication.verdict in ("keep", "drop") and task.adjudication.reason
            assert task.kept == (task.adjudication.verdict == "keep")
        else:
            assert task.kept


@pytest.mark.slow
def test_kept_tasks_are_valid_calls_to_the_real_tools(made: list[SyntheticTask]) -> None:
    registry = as_registry(TOOLS)
    for task in made:
        if task.decided_by == "generator":
            continue
        assert task.request and task.id == task_id_of(task.request, task.calls) and task.now == NOW
        assert len(task.calls) == task.generator["n_calls"]
        for call in task.calls:
            assert call["name"] in task.generator["tools"]
            if task.kept:
                assert registry.get(call["name"]).canonical_arguments(call["arguments"]) == call["arguments"]
    kept = [task for task in made if task.kept]
    assert len({request_key(task.request) for task in kept}) == len(kept)


@pytest.mark.slow
def test_the_same_seed_writes_the_same_candidate(default_model: Any) -> None:
    registry = as_registry(TOOLS)
    exact = load_model(DEFAULT_MODEL, state_cache_bytes=0)  # as synthesize_tasks loads a named model
    one = generate_candidate(exact, registry, 11, now=NOW)
    two = generate_candidate(exact, registry, 11, now=NOW)
    assert (one.request, one.calls, one.generator) == (two.request, two.calls, two.generator)


@pytest.mark.slow
def test_the_adjudicator_settles_a_rejected_task(default_model: Any) -> None:
    reject = RoleDecision(model="m", verdict="reject", reason="the request names no unit")
    task = settle(_task([reject]), default_model)
    assert task.decided_by == "adjudicator" and task.adjudication is not None
    assert task.adjudication.model == default_model.name and task.adjudication.verdict in ("keep", "drop")
    assert task.kept == (task.adjudication.verdict == "keep")


@pytest.mark.slow
def test_jsonl_round_trip(made: list[SyntheticTask], tmp_path: Path) -> None:
    path = save_synthetic_tasks(made, tmp_path / "tasks" / "synthetic.jsonl")
    assert load_synthetic_tasks(path) == made
    assert load_synthetic_tasks(path, kept_only=True) == [task for task in made if task.kept]
    assert len(path.read_text().splitlines()) == len(made)
