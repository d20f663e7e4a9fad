"""The summarizer reads what ran as plain actions and answers in sentences, on the packaged 0.5B."""

from __future__ import annotations

import asyncio

import pytest

from tinycrew.agents import CallRecord
from tinycrew.agents.summarizer import summarize, summarizer_messages

EVENT = CallRecord(
    id=1,
    name="create_calendar_event",
    arguments={
        "title": "Lunch with Bettina",
        "start_date": "2026-12-04T12:00:00",
        "end_date": "2026-12-04T13:00:00",
    },
    observation="Event 'Lunch with Bettina' on 2026-12-04 12:00-13:00 written to calendar.ics",
)
MISSING = CallRecord(
    id=2,
    name="get_phone_number",
    arguments={"name": "Quentin"},
    ok=False,
    error_kind="exception",
    observation="Error: no contact matches 'Quentin'",
)


def test_done_and_failed_calls_are_listed_apart_as_actions_not_code() -> None:
    user = summarizer_messages("Lunch with Bettina tomorrow at noon; text Quentin", [EVENT, MISSING])[1][
        "content"
    ]
    assert user.startswith("Request: Lunch with Bettina tomorrow at noon; text Quentin")
    done, failed = user.split("Done:\n")[1].split("\n\nFailed:\n")
    assert done == (
        '- create_calendar_event (title "Lunch with Bettina", start_date "2026-12-04T12:00:00", '
        'end_date "2026-12-04T13:00:00"): ' + EVENT.observation
    )
    assert failed == "- get_phone_number (name \"Quentin\"): Error: no contact matches 'Quentin'"
    assert "create_calendar_event(" not in user
    assert "Failed" not in summarizer_messages("x", [EVENT])[1]["content"]
    assert "No action was run." in summarizer_messages("x", [])[1]["content"]


@pytest.mark.slow
def test_the_answer_is_prose_that_quotes_the_result(default_model) -> None:
    lookup = CallRecord(
        id=1, name="get_phone_number", arguments={"name": "Odile"}, observation="+33 6 12 34 56 78"
    )
    for task, calls, quoted in [
        ("What is Odile's phone number?", [lookup], "+33 6 12 34 56 78"),
        ("Put lunch with Bettina tomorrow at noon in my calendar", [EVENT], None),
    ]:
        answer = asyncio.run(summarize(default_model, task, calls)).parsed
        assert answer and "```" not in answer and "create_calendar_event(" not in answer, answer
        if quoted:
            assert quoted in answer, answer
