"""The public interface the web UI and eval runner rely on: names, order, flags, schemas."""

from __future__ import annotations

import inspect
from pathlib import Path

from tinycrew.tools import ToolRegistry
from tinycrew.tools.desktop import (
    DESKTOP_TOOL_NAMES,
    SIDE_EFFECT_TOOLS,
    SandboxError,
    desktop_tools,
    seed_sandbox,
)

ISSUE_PARAMETERS = {
    "get_phone_number": ["name"],
    "get_email_address": ["name"],
    "create_calendar_event": ["title", "start_date", "end_date", "location", "invitees", "notes", "calendar"],
    "open_and_get_file_path": ["file_name"],
    "summarize_pdf": ["pdf_path"],
    "compose_new_email": ["recipients", "subject", "context", "attachments", "cc"],
    "reply_to_email": ["context", "attachments", "cc"],
    "forward_email": ["recipients", "context", "attachments", "cc"],
    "maps_open_location": ["location"],
    "maps_show_directions": ["start_location", "end_location", "transport"],
    "create_note": ["name", "content", "folder"],
    "open_note": ["name", "folder"],
    "append_note_content": ["name", "content", "folder"],
    "create_reminder": ["name", "due_date", "notes", "list_name", "priority", "all_day"],
    "send_sms": ["recipients", "message"],
    "get_zoom_meeting_link": ["topic", "start_time", "duration", "meeting_invitees"],
}


def test_names_order_and_parameters_are_the_issues(tmp_path: Path) -> None:
    tools = desktop_tools(tmp_path)
    assert tuple(ISSUE_PARAMETERS) == DESKTOP_TOOL_NAMES
    assert [t.name for t in tools] == list(DESKTOP_TOOL_NAMES)
    for t in tools:
        assert list(t.parameters["properties"]) == ISSUE_PARAMETERS[t.name], t.name
        for name, spec in t.parameters["properties"].items():
            assert spec.get("description"), f"{t.name}.{name} has no description"
    schema = {t.name: t.parameters for t in tools}
    assert schema["create_calendar_event"]["required"] == ["title", "start_date", "end_date"]
    assert schema["create_calendar_event"]["properties"]["invitees"]["default"] == []
    assert schema["create_reminder"]["properties"]["priority"]["type"] == "integer"
    assert schema["get_zoom_meeting_link"]["required"] == [
        "topic",
        "start_time",
        "duration",
        "meeting_invitees",
    ]
    assert "required" not in schema["reply_to_email"]
    ToolRegistry(tools)  # unique names, a registry takes them as they are


def test_approval_marks_exactly_the_side_effect_tools(tmp_path: Path) -> None:
    assert {
        "create_calendar_event", "compose_new_email", "reply_to_email", "forward_email",
        "create_note", "append_note_content", "create_reminder", "send_sms",
    } == SIDE_EFFECT_TOOLS  # fmt: skip
    marked = {t.name for t in desktop_tools(tmp_path) if t.side_effect}
    assert marked == SIDE_EFFECT_TOOLS
    assert not any(t.side_effect for t in desktop_tools(tmp_path, approval=False))
    opening = {t.name for t in desktop_tools(tmp_path, open_files=True) if t.side_effect}
    assert opening == SIDE_EFFECT_TOOLS | {
        "open_and_get_file_path",
        "maps_open_location",
        "maps_show_directions",
    }


def test_seed_sandbox_fills_a_root(tmp_path: Path) -> None:
    root = seed_sandbox(tmp_path / "new")
    assert root == (tmp_path / "new").resolve()
    assert (root / "Contacts" / "contacts.vcf").read_text(encoding="utf-8").count("BEGIN:VCARD") >= 12
    assert len(list((root / "Mail" / "Inbox" / "new").iterdir())) == 3
    assert sorted(p.name for p in (root / "Documents").glob("*.pdf")) == [
        "flat_lease_summary.pdf", "hedgehog_survey.pdf", "q1_budget_draft.pdf", "train_tickets_lisbon.pdf",
    ]  # fmt: skip
    assert (root / "Notes" / "Notes" / "Shopping list.md").is_file()
    seed_sandbox(root)  # seeding twice does not duplicate the inbox
    assert len(list((root / "Mail" / "Inbox" / "new").iterdir())) == 3


def test_sandbox_error_is_a_value_error_and_docstrings_exist() -> None:
    import tinycrew.tools.desktop as desktop

    assert issubclass(SandboxError, ValueError)
    for name in desktop.__all__:
        value = getattr(desktop, name)
        if inspect.isfunction(value) or inspect.isclass(value):
            assert inspect.getdoc(value), name
