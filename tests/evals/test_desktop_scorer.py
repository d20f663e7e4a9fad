"""The desktop plan scorer (tinycrew.evals.desktop): each normalisation rule, the structure check, the
plan recovered from a run's calls, and the packaged task set. No model."""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tinycrew.agents import CallRecord
from tinycrew.evals.desktop import (
    DEFAULTS,
    kind_of,
    load_tasks,
    match_plans,
    normalize_text,
    plan_of_calls,
    ran,
    split_of,
)
from tinycrew.evals.desktop_runner import rescore_plans
from tinycrew.tools.desktop import DESKTOP_TOOL_NAMES, desktop_tools, seed_sandbox

NOW = datetime(2026, 12, 3, 9, 0)  # a Thursday


def call(call_id: int, tool: str, /, **args: Any) -> dict[str, Any]:
    return {"id": call_id, "name": tool, "args": args}


EMAIL_ODILE = [
    call(1, "get_email_address", name="Odile"),
    call(2, "open_and_get_file_path", file_name="hedgehog survey"),
    call(3, "compose_new_email", recipients=["$1"], subject="Hedgehog survey", attachments=["$2"]),
]


def ok(predicted: list[dict[str, Any]], expected: list[dict[str, Any]]) -> bool:
    return match_plans(predicted, expected, NOW).ok


# ---------------------------------------------------------------------------------------- structure


def test_a_plan_matches_itself_and_any_consistent_renumbering() -> None:
    assert ok(EMAIL_ODILE, EMAIL_ODILE)
    renumbered = [
        call(7, "open_and_get_file_path", file_name="hedgehog survey"),
        call(3, "get_email_address", name="Odile"),
        call(9, "compose_new_email", recipients=["$3"], subject="Hedgehog survey", attachments=["$7"]),
    ]
    assert ok(renumbered, EMAIL_ODILE)


def test_references_swapped_between_arguments_do_not_match() -> None:
    swapped = [*EMAIL_ODILE[:2], call(3, "compose_new_email", recipients=["$2"], subject="Hedgehog survey",
                                      attachments=["$1"])]  # fmt: skip
    result = match_plans(swapped, EMAIL_ODILE, NOW)
    assert not result.ok and result.reason == "arguments" and result.structure_ok


def test_a_missing_or_extra_call_is_wrong_tools() -> None:
    result = match_plans(EMAIL_ODILE[1:], EMAIL_ODILE, NOW)
    assert (result.ok, result.reason, result.detail) == (False, "wrong tools", "missing get_email_address")
    extra = [*EMAIL_ODILE, call(4, "maps_open_location", location="Oslo")]
    assert match_plans(extra, EMAIL_ODILE, NOW).detail == "extra maps_open_location"


def test_an_extra_or_missing_dependency_is_a_dependency_failure() -> None:
    expected = [call(1, "get_phone_number", name="Kofi"), call(2, "create_reminder", name="Call Kofi")]
    serial = [expected[0], {**expected[1], "deps": [1]}]  # declared by the planner, no "$1" needed
    result = match_plans(serial, expected, NOW)
    assert (result.ok, result.reason, result.structure_ok) == (False, "dependencies", False)
    assert not ok(expected, serial)


def test_no_tool_requests() -> None:
    assert ok([], [])
    assert match_plans([call(1, "maps_open_location", location="Paris")], [], NOW).reason == (
        "call on a no-tool request"
    )
    assert match_plans([], EMAIL_ODILE, NOW).reason == "no call"


# ------------------------------------------------------------------------------------------- values


def test_strings_are_casefolded_whitespace_collapsed_and_final_punctuation_dropped() -> None:
    expected = [call(1, "get_phone_number", name="Quentin"), call(2, "send_sms", recipients=["$1"],
                message="I'm running 10 minutes late")]  # fmt: skip
    predicted = [
        expected[0],
        call(2, "send_sms", recipients=["$1"], message="  i'm RUNNING 10  minutes late."),
    ]
    assert ok(predicted, expected)
    assert normalize_text('"See you at the bridge!"') == "see you at the bridge"
    other = [expected[0], call(2, "send_sms", recipients=["$1"], message="I'm running 15 minutes late")]
    assert not ok(other, expected)


def test_accents_count() -> None:
    assert not ok([call(1, "get_email_address", name="Zoe")], [call(1, "get_email_address", name="Zoë")])


def test_dates_are_resolved_against_now() -> None:
    expected = [call(1, "create_calendar_event", title="Dentist", start_date="2026-12-04T10:00",
                     end_date="2026-12-04T11:00")]  # fmt: skip
    spoken = [call(1, "create_calendar_event", title="dentist", start_date="tomorrow at 10",
                   end_date="1 hour")]  # fmt: skip
    assert ok(spoken, expected)
    later = [call(1, "create_calendar_event", title="Dentist", start_date="tomorrow at 11", end_date="noon")]
    assert "create_calendar_event.start_date" in match_plans(later, expected, NOW).detail


def test_an_expected_date_without_time_matches_any_time_that_day() -> None:
    expected = [call(1, "create_reminder", name="Pay rent", due_date="2026-12-04")]
    assert ok([call(1, "create_reminder", name="Pay rent", due_date="Friday at 9")], expected)
    assert ok([call(1, "create_reminder", name="Pay rent", due_date="2026-12-04T18:30:00")], expected)
    assert not ok([call(1, "create_reminder", name="Pay rent", due_date="Saturday")], expected)
    timed = [call(1, "create_reminder", name="Pay rent", due_date="2026-12-04T10:00")]
    assert not ok([call(1, "create_reminder", name="Pay rent", due_date="2026-12-04")], timed)


def test_optional_arguments_equal_to_their_default_are_absent() -> None:
    expected = [call(1, "maps_show_directions", end_location="Heathrow Airport")]
    explicit = [call(1, "maps_show_directions", start_location="", end_location="Heathrow Airport",
                     transport="d")]  # fmt: skip
    assert ok(explicit, expected)
    walking = [call(1, "maps_show_directions", end_location="Heathrow Airport", transport="w")]
    assert match_plans(walking, expected, NOW).detail == "maps_show_directions.transport"
    reminder = [call(1, "create_reminder", name="Water the plants", priority=0, all_day=False, list_name="")]
    assert ok(reminder, [call(1, "create_reminder", name="Water the plants")])


def test_recipient_lists_are_sets() -> None:
    expected = [call(1, "get_email_address", name="Tom"), call(2, "get_email_address", name="Ingrid"),
                call(3, "compose_new_email", recipients=["$1", "$2"], subject="Ski trip")]  # fmt: skip
    reordered = [
        *expected[:2],
        call(3, "compose_new_email", recipients=["$2", "$1", "$2"], subject="Ski trip"),
    ]
    assert ok(reordered, expected)
    one_only = [*expected[:2], call(3, "compose_new_email", recipients=["$1"], subject="Ski trip")]
    assert not ok(one_only, expected)


def test_names_are_not_conflated_with_looked_up_addresses() -> None:
    written = call(
        3, "compose_new_email", recipients=["Odile"], subject="Hedgehog survey", attachments=["$2"]
    )
    # the planner made call 3 wait for the lookup, but the caller wrote the name instead of its result
    by_name = [*EMAIL_ODILE[:2], {**written, "deps": [1, 2]}]
    result = match_plans(by_name, EMAIL_ODILE, NOW)
    assert (result.ok, result.detail) == (False, "compose_new_email.recipients")
    assert match_plans([*EMAIL_ODILE[:2], written], EMAIL_ODILE, NOW).reason == "dependencies"
    assert match_plans([EMAIL_ODILE[1], written], EMAIL_ODILE, NOW).reason == "wrong tools"


def test_prose_is_checked_only_where_the_task_fixes_it() -> None:
    free = [*EMAIL_ODILE[:2], call(3, "compose_new_email", recipients=["$1"], subject="Hedgehog survey",
                                   attachments=["$2"], context="Hi Odile, here is the survey.")]  # fmt: skip
    assert ok(free, EMAIL_ODILE)
    fixed = [call(1, "reply_to_email", context="Count me in")]
    assert ok([call(1, "reply_to_email", context="count me in!")], fixed)
    assert not ok([call(1, "reply_to_email", context="No thanks")], fixed)
    assert not ok([call(1, "reply_to_email")], fixed)


def test_a_lone_reference_matches_text_that_quotes_the_result() -> None:
    expected = [call(1, "get_zoom_meeting_link", topic="Sync", start_time="2026-12-04T10:00", duration=30,
                     meeting_invitees=["kofi@example.com"]),
                call(2, "create_note", name="Sync", content="$1")]  # fmt: skip
    quoted = [expected[0], call(2, "create_note", name="Sync", content="Join here: $1")]
    assert ok(quoted, expected)
    assert not ok([expected[0], call(2, "create_note", name="Sync", content="Join here")], expected)


def test_alternatives_written_with_the_task() -> None:
    expected = [call(1, "create_reminder", name={"$one_of": ["Call the vet", "Vet"]})]
    assert ok([call(1, "create_reminder", name="vet")], expected)
    assert not ok([call(1, "create_reminder", name="Dentist")], expected)


def test_numbers_and_booleans() -> None:
    expected = [call(1, "create_reminder", name="Birthday", due_date="2027-01-20", all_day=True)]
    assert ok([call(1, "create_reminder", name="Birthday", due_date="January 20", all_day=True)], expected)
    assert not ok([call(1, "create_reminder", name="Birthday", due_date="January 20")], expected)
    zoom = [call(1, "get_zoom_meeting_link", topic="Q1", start_time="2026-12-04T11:00", duration=45,
                 meeting_invitees=["a@b.c"])]  # fmt: skip
    as_text = [call(1, "get_zoom_meeting_link", topic="Q1", start_time="2026-12-04T11:00", duration="45",
                    meeting_invitees=["a@b.c"])]  # fmt: skip
    assert ok(as_text, zoom)


# --------------------------------------------------------------------------------- the plan of a run


def test_plan_of_calls_writes_references_from_the_planners_dependencies() -> None:
    request = "Email Odile the hedgehog survey and tell her the link."
    records = [
        CallRecord(id=1, name="get_email_address", arguments={"name": "Odile"},
                   observation="odile.menard@herisson-conservation.org"),
        CallRecord(id=2, name="open_and_get_file_path", arguments={"file_name": "hedgehog survey"},
                   observation="/tmp/x/Documents/hedgehog_survey.pdf"),
        CallRecord(id=3, name="get_zoom_meeting_link", arguments={"topic": "Survey"},
                   observation="https://zoom.us/j/0000000000"),
        CallRecord(id=4, name="compose_new_email", depends_on=[1, 2, 3], arguments={
            "recipients": ["odile.menard@herisson-conservation.org", "Odile"], "subject": "Hedgehog survey",
            "context": "Join: https://zoom.us/j/0000000000",
            "attachments": ["/tmp/x/Documents/hedgehog_survey.pdf"]}),
    ]  # fmt: skip
    plan = plan_of_calls(records, request)
    assert plan[3]["args"] == {
        "recipients": ["$1", "Odile"],  # the name is the request's, not the lookup's result
        "subject": "Hedgehog survey",
        "context": "Join: $3",
        "attachments": ["$2"],
    }
    assert plan[3]["deps"] == [1, 2, 3] and plan[0]["deps"] == []


def test_plan_of_calls_never_cites_a_call_the_planner_did_not_make_a_dependency() -> None:
    records = [
        CallRecord(id=1, name="get_phone_number", arguments={"name": "Kofi"}, observation="+233 24 555 0142"),
        CallRecord(id=2, name="send_sms", arguments={"recipients": ["+233 24 555 0142"], "message": "hi"}),
        CallRecord(id=3, name="send_sms", arguments={"recipients": ["Kofi"], "message": "x"}, ok=False,
                   error_kind="exception", observation="failed"),
    ]  # fmt: skip
    plan = plan_of_calls(records, "text Kofi hi")
    assert plan[1]["args"]["recipients"] == ["+233 24 555 0142"] and plan[2]["error"] == "exception"


# ----------------------------------------------------------------------------------- the task set


def test_kinds_and_the_split() -> None:
    assert kind_of([]) == "none" and kind_of(EMAIL_ODILE[:1]) == "single" and kind_of(EMAIL_ODILE) == "chain"
    assert (
        kind_of(EMAIL_ODILE[:2]) == "parallel"
        and kind_of([*EMAIL_ODILE, call(4, "open_note", name="x")]) == "long"
    )
    three = [call(1, "get_phone_number", name="Q"), call(2, "send_sms", recipients=["$1"], message="hi"),
             call(3, "create_reminder", name="x")]  # fmt: skip
    assert kind_of(three) == "parallel"
    assert split_of("desktop-chain-01") == split_of("desktop-chain-01")
    shares = Counter(split_of(f"task-{number}") for number in range(2000))
    assert 0.36 < shares["eval"] / 2000 < 0.44


@pytest.fixture(scope="module")
def schemas() -> dict[str, dict[str, Any]]:
    root = seed_sandbox(Path(tempfile.mkdtemp()) / "sandbox")
    return {tool.name: tool.parameters for tool in desktop_tools(root, now=NOW, approval=False)}


def test_defaults_are_those_of_the_tools(schemas: dict[str, dict[str, Any]]) -> None:
    found = {
        name: {key: spec["default"] for key, spec in schema["properties"].items() if "default" in spec}
        for name, schema in schemas.items()
    }
    assert found == DEFAULTS


def _pick(value: Any, index: int) -> Any:
    if isinstance(value, dict) and "$one_of" in value:
        return value["$one_of"][index]
    if isinstance(value, dict):
        return {key: _pick(item, index) for key, item in value.items()}
    return value


def test_the_packaged_task_set(schemas: dict[str, dict[str, Any]]) -> None:
    tasks = load_tasks()
    assert len(tasks) >= 100 and len({task.id for task in tasks}) == len(tasks)
    kinds = Counter(task.kind for task in tasks)
    assert set(kinds) == {"single", "chain", "parallel", "long", "none"}, kinds
    assert 0.3 < sum(task.split == "eval" for task in tasks) / len(tasks) < 0.5
    for task in tasks:
        assert task.split == split_of(task.id) and task.plan is not None
        assert len(task.plan) <= 6, task.id
        for planned in task.plan:
            assert planned.name in DESKTOP_TOOL_NAMES, task.id
            schema = schemas[planned.name]
            assert set(planned.args) <= set(schema["properties"]), task.id
            assert set(schema.get("required", [])) <= set(planned.args), task.id
            assert all(dep < planned.id for dep in planned.deps), task.id
        for pick in (0, -1):  # the first and the last alternative of every value
            chosen = [{"id": c.id, "name": c.name, "args": _pick(c.args, pick)} for c in task.plan]
            assert match_plans(chosen, task.plan, task.now).ok, task.id
    assert len(load_tasks(split="eval")) + len(load_tasks(split="train")) == len(tasks)


def test_calls_that_never_ran_are_not_part_of_the_plan(tmp_path: Path) -> None:
    records = [
        CallRecord(id=1, name="maps_open_location", arguments={"location": "Louvre"}, observation="https://osm"),
        CallRecord(id=2, name="maps_open_location", arguments={"location": "Louvre"}, ok=False,
                   error_kind="duplicate", observation="a copy of call 1"),
        CallRecord(id=3, name="get_phone_number", arguments={"name": "Zed"}, ok=False, error_kind="exception",
                   observation="no contact named 'Zed'"),
        CallRecord(id=4, name="send_sms", depends_on=[3], ok=False, error_kind="exception",
                   observation="not run: call 3 it depends on failed"),
    ]  # fmt: skip
    rows = plan_of_calls(records, "Show the Louvre and text Zed")
    assert [row.get("error") for row in rows] == [None, "duplicate", "exception", "not run"]
    assert [row["id"] for row in ran(rows)] == [1, 3]
    task = {"id": "t", "now": "2026-12-03T09:00:00", "request": "Show me the Louvre on the map.",
            "plan": [call(1, "maps_open_location", location="the Louvre")]}  # fmt: skip
    tasks_file, plans_file = tmp_path / "tasks.jsonl", tmp_path / "plans.jsonl"
    tasks_file.write_text(json.dumps(task) + "\n", encoding="utf-8")
    plans_file.write_text(json.dumps({"id": "t", "plan": rows[:2], "seconds": 1.5}) + "\n", encoding="utf-8")
    report = rescore_plans(load_tasks(tasks_file), plans_file)
    assert report.accuracy() == (0, 1) and report.runs[0].reason == "arguments"  # "Louvre" vs "the Louvre"
    assert report.runs[0].not_run[0]["error"] == "duplicate"
    assert "accuracy: 0.0% (0/1 exact plan matches)" in report.summary_lines()
