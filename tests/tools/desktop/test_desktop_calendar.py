"""create_calendar_event, create_reminder and resolve_when: ICS files that parse back, dates from phrases."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import icalendar
import pytest

from tinycrew.tools import Tool
from tinycrew.tools.desktop import resolve_when

from .conftest import NOW, error, ok


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("2026-12-04T10:00", datetime(2026, 12, 4, 10, 0)),
        ("2026-12-04", datetime(2026, 12, 4)),
        ("tomorrow at 10", datetime(2026, 12, 4, 10, 0)),
        ("tomorrow at 10 o'clock", datetime(2026, 12, 4, 10, 0)),
        ("next Friday", datetime(2026, 12, 4)),
        ("Friday 3pm", datetime(2026, 12, 4, 15, 0)),
        ("Monday at 9:15", datetime(2026, 12, 7, 9, 15)),
        ("in 2 hours", datetime(2026, 12, 3, 11, 30)),
        ("today", NOW),
        ("tonight at 8", datetime(2026, 12, 3, 20, 0)),
        ("tomorrow evening at 6", datetime(2026, 12, 4, 18, 0)),
        ("this afternoon at 3:30", datetime(2026, 12, 3, 15, 30)),
        ("tomorrow morning at 8", datetime(2026, 12, 4, 8, 0)),
        ("Thursday", datetime(2026, 12, 10)),  # said on a Thursday: next week's, see docs/desktop.md
    ],
)
def test_resolve_when(phrase: str, expected: datetime) -> None:
    assert resolve_when(phrase, NOW) == expected


def test_resolve_when_keeps_the_clocks_time_zone_and_refuses_nonsense() -> None:
    aware = NOW.replace(tzinfo=timezone(timedelta(hours=1)))
    assert resolve_when("tomorrow at 10", aware) == datetime(2026, 12, 4, 10, tzinfo=aware.tzinfo)
    with pytest.raises(ValueError, match="cannot read the date 'whenever'"):
        resolve_when("whenever", NOW)
    with pytest.raises(ValueError, match="no date given"):
        resolve_when("  ", NOW)


def _components(path: Path, kind: str) -> list[icalendar.Component]:
    return list(icalendar.Calendar.from_ical(path.read_bytes()).walk(kind))


def test_event_is_written_to_an_ics_that_parses_back(tools: dict[str, Tool], root: Path) -> None:
    text = ok(
        tools["create_calendar_event"],
        title="Hedgehog walk",
        start_date="tomorrow at 18:00",
        end_date="20:00",  # a time only: the start's day
        location="Mill Lane",
        invitees=["Odile", "kofi.mensah@example.com.gh"],
        notes="Bring torches",
    )
    assert "Fri 2026-12-04 18:00 to Fri 2026-12-04 20:00" in text and "Calendar/Calendar.ics" in text
    (event,) = _components(root / "Calendar" / "Calendar.ics", "VEVENT")
    assert str(event["SUMMARY"]) == "Hedgehog walk"
    assert event.decoded("DTSTART") == datetime(2026, 12, 4, 18, 0)
    assert event.decoded("DTEND") == datetime(2026, 12, 4, 20, 0)
    assert str(event["LOCATION"]) == "Mill Lane" and str(event["DESCRIPTION"]) == "Bring torches"
    attendees = [str(a) for a in event["ATTENDEE"]]
    assert attendees == ["mailto:odile.menard@herisson-conservation.org", "mailto:kofi.mensah@example.com.gh"]
    assert event["ATTENDEE"][0].params["CN"] == "Odile Ménard"


def test_events_accumulate_per_calendar_and_accept_durations(tools: dict[str, Tool], root: Path) -> None:
    create = tools["create_calendar_event"]
    ok(create, title="A", start_date="2026-12-07T09:00", end_date="1 hour", calendar="Work")
    ok(create, title="B", start_date="2026-12-08T09:00", end_date="for 30 minutes", calendar="Work")
    events = _components(root / "Calendar" / "Work.ics", "VEVENT")
    assert [str(e["SUMMARY"]) for e in events] == ["A", "B"]
    assert events[1].decoded("DTEND") == datetime(2026, 12, 8, 9, 30)
    assert not (root / "Calendar" / "Calendar.ics").exists()


def test_event_errors_name_the_argument(tools: dict[str, Tool], root: Path) -> None:
    create = tools["create_calendar_event"]
    assert "end_date is missing" in error(create, title="X", start_date="tomorrow at 10", end_date="")
    assert "start_date: cannot read the date 'soonish'" in error(
        create, title="X", start_date="soonish", end_date="1 hour"
    )
    assert "is not after start_date" in error(
        create, title="X", start_date="2026-12-04T10:00", end_date="2026-12-04T09:00"
    )
    assert "invitees: no contact named 'Bob'" in error(
        create, title="X", start_date="tomorrow at 10", end_date="1 hour", invitees=["Bob"]
    )
    assert "missing required argument 'end_date'" in error(create, title="X", start_date="tomorrow")
    assert not (root / "Calendar").exists()  # nothing half-written


def test_reminder_is_a_vtodo(tools: dict[str, Tool], root: Path) -> None:
    ok(tools["create_reminder"], name="Send the survey", due_date="Friday at 9", priority=1, notes="to Odile")
    ok(tools["create_reminder"], name="Pay rent", due_date="2027-01-01", all_day=True, list_name="Home")
    ok(tools["create_reminder"], name="Someday")
    first, undated = _components(root / "Reminders" / "Reminders.ics", "VTODO")
    assert str(first["SUMMARY"]) == "Send the survey" and first.decoded("DUE") == datetime(2026, 12, 4, 9)
    assert int(first["PRIORITY"]) == 1 and str(first["DESCRIPTION"]) == "to Odile"
    assert "DUE" not in undated
    (rent,) = _components(root / "Reminders" / "Home.ics", "VTODO")
    assert rent.decoded("DUE") == date(2027, 1, 1)
    assert "priority must be 0" in error(tools["create_reminder"], name="x", priority=12)


async def test_parallel_calls_keep_every_component(tools: dict[str, Tool], root: Path) -> None:
    # a DAG plan runs independent calls at once; read-modify-write of one .ics must not lose any
    import asyncio

    names = [f"Task {n}" for n in range(12)]
    results = await asyncio.gather(
        *(tools["create_reminder"].arun({"name": n, "due_date": "Friday"}) for n in names)
    )
    assert all(r.ok for r in results), [r.content for r in results]
    todos = _components(root / "Reminders" / "Reminders.ics", "VTODO")
    assert sorted(str(t["SUMMARY"]) for t in todos) == sorted(names)
