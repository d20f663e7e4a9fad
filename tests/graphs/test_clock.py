"""The clock an Agent tells its roles (`Agent(now=...)`): a last line of the request text."""

from __future__ import annotations

from datetime import datetime

from tinycrew.graphs.common import clock_text, request_text


def test_clock_text_names_the_weekday() -> None:
    assert clock_text(datetime(2026, 12, 4, 13, 5)) == "Friday 2026-12-04 13:05"


def test_request_text_ends_with_the_clock() -> None:
    state = {"task": "Remind me tomorrow at 10", "now": "Thursday 2026-12-03 09:00"}
    assert (
        request_text(state) == "Remind me tomorrow at 10\n\nCurrent date and time: Thursday 2026-12-03 09:00"
    )


def test_no_clock_no_line() -> None:
    assert request_text({"task": "What is 2 + 2?", "now": ""}) == "What is 2 + 2?"
    assert request_text({"task": "What is 2 + 2?"}) == "What is 2 + 2?"


def test_later_turn_has_the_clock_after_the_current_request() -> None:
    turn = {"task": "Find Kofi's email", "calls": [], "answer": "kofi@example.com"}
    state = {"task": "Email him tomorrow", "history": [turn], "now": "Thursday 2026-12-03 09:00"}
    assert request_text(state).endswith(
        "Current request: Email him tomorrow\n\nCurrent date and time: Thursday 2026-12-03 09:00"
    )
