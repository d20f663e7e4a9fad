"""The desktop plan metric: a bijection of calls with equal names, matching arguments and the same DAG."""

from __future__ import annotations

from datetime import datetime

import pytest

from tinycrew.evals import plan_scorer
from tinycrew.evals.plan_scorer import PlanCall, parse_datetime, plans_match


def _plan(*calls: tuple[int, str, dict, list[int]]) -> list[PlanCall]:
    return [PlanCall(id=i, name=n, args=a, deps=d) for i, n, a, d in calls]


EXPECTED = _plan(
    (1, "get_email_address", {"name": "Sid"}, []),
    (2, "get_email_address", {"name": "Lutfi"}, []),
    (3, "compose_new_email", {"recipients": ["$1", "$2"], "subject": "Meeting", "context": ""}, [1, 2]),
)


def test_identical_plans_match() -> None:
    assert plans_match(EXPECTED, EXPECTED)
    assert plans_match([], [])


def test_reordered_independent_calls_match() -> None:
    predicted = _plan(
        (1, "get_email_address", {"name": "Lutfi"}, []),
        (2, "get_email_address", {"name": "Sid"}, []),
        (3, "compose_new_email", {"recipients": ["$2", "$1"], "subject": "meeting", "context": ""}, [1, 2]),
    )
    assert plans_match(predicted, EXPECTED)


def test_references_must_agree_through_the_bijection() -> None:
    # same calls reordered, but the recipients now cite the results in the other order
    predicted = _plan(
        (1, "get_email_address", {"name": "Lutfi"}, []),
        (2, "get_email_address", {"name": "Sid"}, []),
        (3, "compose_new_email", {"recipients": ["$1", "$2"], "subject": "Meeting", "context": ""}, [1, 2]),
    )
    assert not plans_match(predicted, EXPECTED)


def test_wrong_dependency_does_not_match() -> None:
    expected = _plan(
        (1, "create_note", {"title": "a"}, []),
        (2, "open_note", {"title": "a"}, [1]),
    )
    independent = _plan(
        (1, "create_note", {"title": "a"}, []),
        (2, "open_note", {"title": "a"}, []),
    )
    reversed_edge = _plan(
        (1, "create_note", {"title": "a"}, [2]),
        (2, "open_note", {"title": "a"}, []),
    )
    assert plans_match(expected, expected)
    assert not plans_match(independent, expected)
    assert not plans_match(reversed_edge, expected)


def test_references_in_arguments_count_as_dependencies() -> None:
    declared = _plan((1, "a", {}, []), (2, "b", {"x": "$1"}, [1]))
    implicit = _plan((1, "a", {}, []), (2, "b", {"x": "${1}"}, []))
    assert plans_match(implicit, declared)
    assert plans_match(declared, implicit)


def test_differing_or_extra_call_does_not_match() -> None:
    extra = [*EXPECTED, PlanCall(id=4, name="send_sms", args={"to": "$1"}, deps=[1])]
    assert not plans_match(extra, EXPECTED)
    assert not plans_match(EXPECTED, extra)
    renamed = [EXPECTED[0], EXPECTED[1], EXPECTED[2].model_copy(update={"name": "reply_to_email"})]
    assert not plans_match(renamed, EXPECTED)
    other_value = [EXPECTED[0].model_copy(update={"args": {"name": "Bob"}}), EXPECTED[1], EXPECTED[2]]
    assert not plans_match(other_value, EXPECTED)
    more_args = [EXPECTED[0].model_copy(update={"args": {"name": "Sid", "cc": ""}}), EXPECTED[1], EXPECTED[2]]
    assert not plans_match(more_args, EXPECTED)


def test_strings_normalised_like_bfcl() -> None:
    expected = _plan((1, "open_location", {"place": "New York, NY"}, []))
    assert plans_match(_plan((1, "open_location", {"place": "new york ny"}, [])), expected)
    assert not plans_match(_plan((1, "open_location", {"place": "New Jersey"}, [])), expected)


@pytest.mark.parametrize(
    ("predicted", "expected", "same"),
    [
        ("2024-03-05", "March 5, 2024", True),
        ("2024-03-05", "Mar 5 2024", True),
        ("03/05/2024", "2024-03-05", True),
        ("2024-03-05 15:00", "March 5, 2024 3:00 PM", True),
        ("2024-03-05T15:00:00", "2024-03-05 15:00", True),
        ("2024-03-05", "March 6, 2024", False),
        ("2024-03-05 15:00", "2024-03-05 16:00", False),
    ],
)
def test_dates_compared_as_datetimes(predicted: str, expected: str, same: bool) -> None:
    expected_plan = _plan((1, "create_calendar_event", {"start_date": expected}, []))
    predicted_plan = _plan((1, "create_calendar_event", {"start_date": predicted}, []))
    assert plans_match(predicted_plan, expected_plan) is same


@pytest.mark.parametrize("use_dateutil", [True, False])
def test_parse_datetime_with_and_without_dateutil(
    monkeypatch: pytest.MonkeyPatch, use_dateutil: bool
) -> None:
    if not use_dateutil:
        monkeypatch.setattr(plan_scorer, "_dateutil_parser", None)
    else:
        assert plan_scorer._dateutil_parser is not None  # python-dateutil is installed in the venv
    assert parse_datetime("2024-03-05") == datetime(2024, 3, 5)
    assert parse_datetime("March 5, 2024") == datetime(2024, 3, 5)
    assert parse_datetime("03/05/2024") == datetime(2024, 3, 5)
    assert parse_datetime("March 5, 2024 3:00 PM") == datetime(2024, 3, 5, 15, 0)
    assert parse_datetime("5") is None
    assert parse_datetime("hello") is None
    assert parse_datetime("") is None


def test_numbers_booleans_and_nested_values() -> None:
    expected = _plan((1, "f", {"n": 5, "flag": True, "opts": {"tags": ["A b", 2]}}, []))
    assert plans_match(_plan((1, "f", {"n": 5.0, "flag": True, "opts": {"tags": ["ab", 2]}}, [])), expected)
    assert not plans_match(_plan((1, "f", {"n": 5, "flag": 1, "opts": {"tags": ["ab", 2]}}, [])), expected)
    assert not plans_match(_plan((1, "f", {"n": 5, "flag": True, "opts": {"tags": ["ab"]}}, [])), expected)
    assert not plans_match(
        _plan((1, "f", {"n": "5", "flag": True, "opts": {"tags": ["ab", 2]}}, [])), expected
    )


def test_references_embedded_in_text_and_dangling_references() -> None:
    expected = _plan((1, "summarize_pdf", {"path": "a.pdf"}, []), (2, "send", {"body": "Summary: $1"}, []))
    predicted = _plan(
        (7, "summarize_pdf", {"path": "a.pdf"}, []), (9, "send", {"body": "summary: ${7}"}, [7])
    )
    assert plans_match(predicted, expected)
    dangling = _plan((7, "summarize_pdf", {"path": "a.pdf"}, []), (9, "send", {"body": "Summary: $1"}, []))
    assert not plans_match(dangling, expected)


def test_duplicate_ids_and_cycles() -> None:
    duplicated = _plan((1, "a", {}, []), (1, "b", {}, []))
    assert not plans_match(duplicated, duplicated)
    cycle = _plan((1, "a", {}, [2]), (2, "b", {}, [1]))
    assert plans_match(cycle, cycle)
    assert not plans_match(_plan((1, "a", {}, [2]), (2, "b", {}, [])), cycle)


def test_many_identical_independent_calls_match_in_any_order() -> None:
    expected = _plan(*[(i, "get_email_address", {"name": f"p{i}"}, []) for i in range(1, 9)])
    predicted = _plan(*[(i, "get_email_address", {"name": f"p{9 - i}"}, []) for i in range(1, 9)])
    assert plans_match(predicted, expected)
