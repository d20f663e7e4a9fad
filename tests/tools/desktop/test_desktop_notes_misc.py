"""Notes, maps, SMS and the meeting link: files on disk, URLs, the SMS log."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from tinycrew.tools import Tool
from tinycrew.tools.desktop import desktop_tools

from .conftest import NOW, error, ok


def test_notes_create_open_append(tools: dict[str, Tool], root: Path) -> None:
    assert "Notes/Work/Ideas.md" in ok(
        tools["create_note"], name="Ideas", content="# Ideas\n- trail camera", folder="Work"
    )
    path = root / "Notes" / "Work" / "Ideas.md"
    assert path.read_text(encoding="utf-8") == "# Ideas\n- trail camera\n"
    ok(tools["append_note_content"], name="ideas", content="- footprint tunnels", folder="Work")
    assert (
        ok(tools["open_note"], name="Ideas", folder="Work")
        == "# Ideas\n- trail camera\n- footprint tunnels\n"
    )
    assert "already exists" in error(tools["create_note"], name="Ideas", content="again", folder="Work")
    assert path.read_text(encoding="utf-8").count("again") == 0
    assert "- oat milk" in ok(tools["open_note"], name="Shopping list.md")  # seed note, default folder


def test_missing_note_lists_the_folder(tools: dict[str, Tool]) -> None:
    text = error(tools["open_note"], name="Groceries")
    assert "no note 'Groceries' in folder 'Notes'; notes there: Shopping list" in text
    assert "no note" in error(tools["append_note_content"], name="Groceries", content="x")


@pytest.mark.parametrize(("name", "folder"), [("../../escape", "Notes"), ("x", "../.."), ("..", "Notes")])
def test_note_names_cannot_climb(tools: dict[str, Tool], root: Path, name: str, folder: str) -> None:
    assert "may not contain '..'" in error(tools["create_note"], name=name, content="x", folder=folder)
    assert not list(root.parent.glob("*.md")) and not (root / "escape.md").exists()


def test_separators_in_names_are_flattened(tools: dict[str, Tool], root: Path) -> None:
    ok(tools["create_note"], name="Trip/Lisbon", content="x", folder="/etc")
    assert (root / "Notes" / "-etc" / "Trip-Lisbon.md").is_file()


def test_maps_links(tools: dict[str, Tool]) -> None:
    assert ok(tools["maps_open_location"], location="Santa Apolónia, Lisbon") == (
        "https://www.openstreetmap.org/search?query=Santa+Apol%C3%B3nia%2C+Lisbon"
    )
    url = urlparse(
        ok(tools["maps_show_directions"], start_location="St Pancras", end_location="British Museum")
    )
    assert (url.netloc, url.path) == ("www.openstreetmap.org", "/directions")
    assert parse_qs(url.query) == {
        "engine": ["fossgis_osrm_car"],
        "from": ["St Pancras"],
        "to": ["British Museum"],
    }
    walking = ok(tools["maps_show_directions"], end_location="British Museum", transport="walking")
    assert parse_qs(urlparse(walking).query) == {"engine": ["fossgis_osrm_foot"], "to": ["British Museum"]}
    assert "transport must be" in error(tools["maps_show_directions"], end_location="x", transport="plane")
    assert "end_location is empty" in error(tools["maps_show_directions"], start_location="x")


def test_sms_is_logged_not_sent(tools: dict[str, Tool], root: Path) -> None:
    ok(tools["send_sms"], recipients=["Bettina", "+44 7700 900 999"], message="Running 10 minutes late")
    ok(tools["send_sms"], recipients=["Mum"], message="Home at 6")
    lines = (root / "Messages" / "outbox.jsonl").read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    assert first == {
        "time": "2026-12-03T09:30:00",
        "to": [
            {"recipient": "Bettina", "phone": "+49 151 2345 6789"},
            {"recipient": "+44 7700 900 999", "phone": "+44 7700 900 999"},
        ],
        "message": "Running 10 minutes late",
    }
    assert json.loads(lines[1])["to"][0]["phone"] == "+44 7700 900 456"
    assert "no contact named 'Nobody'" in error(tools["send_sms"], recipients=["Nobody"], message="hi")
    assert len((root / "Messages" / "outbox.jsonl").read_text(encoding="utf-8").splitlines()) == 2


def test_meeting_link_is_the_configured_url(tools: dict[str, Tool], root: Path) -> None:
    args = {"topic": "Budget", "start_time": "tomorrow at 2pm", "duration": 30, "meeting_invitees": ["Kofi"]}
    assert ok(tools["get_zoom_meeting_link"], **args) == "https://zoom.us/j/0000000000"
    mine = {t.name: t for t in desktop_tools(root, now=NOW, meeting_url="https://meet.example.org/sam")}
    assert ok(mine["get_zoom_meeting_link"], **args) == "https://meet.example.org/sam"
    assert "duration must be a positive" in error(tools["get_zoom_meeting_link"], **{**args, "duration": 0})
    assert "start_time: cannot read" in error(
        tools["get_zoom_meeting_link"], **{**args, "start_time": "sometime"}
    )
    with pytest.raises(ValueError, match="meeting_url"):
        desktop_tools(root, meeting_url="zoom")
