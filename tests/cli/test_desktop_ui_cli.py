"""`tinycrew desktop` and `tinycrew desktop demo`: the option checks (no model) and the README's first
command end to end on the packaged 0.5B (slow)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tinycrew.cli import app
from tinycrew.cli.desktop_ui import demo_app_file, ensure_sandbox

runner = CliRunner()


def test_bad_clock_is_one_error_line_before_anything_loads(tmp_path: Path) -> None:
    result = runner.invoke(app, ["desktop", "--root", str(tmp_path), "--now", "tomorrow"])
    assert result.exit_code == 2
    assert "--now 'tomorrow' is not an ISO 8601 date and time" in result.output
    assert not any(tmp_path.iterdir())  # refused before the sandbox was seeded


def test_root_that_is_a_file_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "box"
    file.write_text("not a folder")
    result = runner.invoke(app, ["desktop", "--root", str(file), "--port", "0"])
    assert result.exit_code == 2
    assert "is a file" in result.output


def test_sandbox_is_seeded_once(tmp_path: Path) -> None:
    root, seeded = ensure_sandbox(tmp_path / "box")
    assert seeded and (root / "Contacts" / "contacts.vcf").is_file()
    (root / "Notes" / "Notes" / "mine.md").write_text("kept\n")
    again, seeded_again = ensure_sandbox(root)
    assert again == root and not seeded_again
    assert (root / "Notes" / "Notes" / "mine.md").read_text() == "kept\n"


def test_ui_is_found_in_the_checkout_or_under_tinycrew_demos(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    checkout = demo_app_file()
    assert checkout.parts[-3:] == ("demos", "desktop_assistant", "app.py")
    other = tmp_path / "demos" / "desktop_assistant"
    other.mkdir(parents=True)
    (other / "app.py").write_text(checkout.read_text())
    monkeypatch.setenv("TINYCREW_DEMOS", str(tmp_path / "demos"))
    assert demo_app_file() == other / "app.py"


@pytest.mark.slow
def test_terminal_demo_shows_plan_approval_and_the_file_it_wrote(tmp_path: Path) -> None:
    root = tmp_path / "box"
    command = [
        sys.executable, "-c", "from tinycrew.cli import main; main()", "desktop", "demo",
        "Create a note called groceries that says eggs and milk", "--root", str(root),
        "--now", "2026-12-03T09:00",
    ]  # fmt: skip
    env = {**os.environ, "COLUMNS": "200"}
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env=env, stdin=subprocess.DEVNULL
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "plan 1. create_note" in out
    assert "approval needed" in out and "(answered automatically: no terminal to ask in)" in out
    notes = [p for p in (root / "Notes").rglob("*.md") if "grocer" in p.name.lower()]
    assert notes, out
    assert f"wrote {notes[0]}" in out
    assert "milk" in notes[0].read_text().lower()
    assert f"tinycrew desktop --root {root.resolve()} --open" in out
