"""open_and_get_file_path, summarize_pdf and the sandbox: real PDFs, refusals outside the root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tinycrew.tools import Tool
from tinycrew.tools.desktop import SandboxError, desktop_tools
from tinycrew.tools.desktop.minipdf import write_pdf
from tinycrew.tools.desktop.sandbox import Sandbox

from .conftest import NOW, error, ok


@pytest.mark.parametrize(
    "name",
    [
        "hedgehog_survey.pdf",
        "Hedgehog_Survey.PDF",
        "hedgehog survey",
        "hedgehog_servey",
        "Documents/hedgehog_survey.pdf",
    ],
)
def test_find_a_file_by_name(tools: dict[str, Tool], root: Path, name: str) -> None:
    assert ok(tools["open_and_get_file_path"], file_name=name) == str(
        root / "Documents" / "hedgehog_survey.pdf"
    )


@pytest.mark.parametrize(
    ("name", "found"),
    [("budget", "q1_budget_draft.pdf"), ("Lisbon train tickets", "train_tickets_lisbon.pdf")],
)
def test_find_a_file_by_its_words(tools: dict[str, Tool], root: Path, name: str, found: str) -> None:
    assert ok(tools["open_and_get_file_path"], file_name=name) == str(root / "Documents" / found)


def test_ambiguous_and_missing_files_are_errors(tools: dict[str, Tool], root: Path) -> None:
    (root / "Archive").mkdir()
    (root / "Archive" / "hedgehog_survey.pdf").write_bytes(b"%PDF-1.4 old")
    text = error(tools["open_and_get_file_path"], file_name="hedgehog_survey.pdf")
    assert "several files" in text and "Archive/hedgehog_survey.pdf" in text
    assert "no file named 'tax return 2019'" in error(
        tools["open_and_get_file_path"], file_name="tax return 2019"
    )


def test_summarize_pdf_without_a_summarizer_is_a_labelled_excerpt(tools: dict[str, Tool]) -> None:
    text = ok(tools["summarize_pdf"], pdf_path="Documents/hedgehog_survey.pdf")
    assert text.startswith("[no summarizer configured; the first part of Documents/hedgehog_survey.pdf")
    assert "37 sightings" in text


def test_summarize_pdf_hands_the_text_to_the_summarizer(root: Path) -> None:
    seen: list[str] = []

    def summarizer(text: str) -> str:
        seen.append(text)
        return f"{len(text.split())} words about hedgehogs"

    tools = {t.name: t for t in desktop_tools(root, now=NOW, summarize=summarizer)}
    path = str(root / "Documents" / "hedgehog_survey.pdf")
    assert ok(tools["summarize_pdf"], pdf_path=path).endswith("words about hedgehogs")
    assert "Winter Hedgehog Survey 2026" in seen[0] and "footprint tunnels" in seen[0]


def test_summarize_pdf_refuses_broken_and_foreign_files(tools: dict[str, Tool], root: Path) -> None:
    (root / "Documents" / "broken.pdf").write_bytes(b"not a pdf at all")
    assert "not a readable PDF" in error(tools["summarize_pdf"], pdf_path="broken.pdf")
    write_pdf(root / "Documents" / "blank.pdf", "", [])
    assert "no extractable text" in error(tools["summarize_pdf"], pdf_path="blank.pdf")
    assert "outside the sandbox root" in error(tools["summarize_pdf"], pdf_path="/etc/hostname")


def test_sandbox_refuses_dotdot_absolute_and_escaping_symlinks(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.pdf").write_bytes(b"%PDF secret")
    box = Sandbox(tmp_path / "root")
    with pytest.raises(SandboxError, match=r"'\.\.' is not allowed"):
        box.path("Documents/../../outside/secret.pdf")
    with pytest.raises(SandboxError, match="outside the sandbox root"):
        box.path(str(outside / "secret.pdf"))
    os.symlink(outside, box.root / "escape")
    with pytest.raises(SandboxError, match="outside the sandbox root"):
        box.path("escape/secret.pdf")
    assert box.path("Notes/a.md") == box.root / "Notes" / "a.md"
    assert box.path(str(box.root / "x.txt")) == box.root / "x.txt"  # absolute inside is fine
    assert [p.name for p in box.files()] == []  # the file behind the symlink is not listed


def test_tools_do_not_follow_symlinks_out(tools: dict[str, Tool], root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    write_pdf(outside / "leak.pdf", "Leak", ["private text"])
    os.symlink(outside / "leak.pdf", root / "Documents" / "leak.pdf")
    os.symlink(outside, root / "Notes" / "Linked")
    assert "no file named 'leak.pdf'" in error(tools["open_and_get_file_path"], file_name="leak.pdf")
    assert "outside the sandbox root" in error(tools["summarize_pdf"], pdf_path="Documents/leak.pdf")
    assert "outside the sandbox root" in error(tools["create_note"], name="x", content="y", folder="Linked")
    assert "outside the sandbox root" in error(
        tools["compose_new_email"], recipients=["Odile"], subject="x", attachments=["Documents/leak.pdf"]
    )
    assert list(outside.iterdir()) == [outside / "leak.pdf"]  # nothing was written there


def test_a_symlinked_mail_folder_is_refused(tools: dict[str, Tool], root: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "mail-elsewhere"
    elsewhere.mkdir()
    outbox = root / "Mail" / "Outbox"
    for sub in outbox.iterdir():
        sub.rmdir()
    outbox.rmdir()
    os.symlink(elsewhere, outbox)
    assert "outside the sandbox root" in error(tools["compose_new_email"], recipients=["Odile"], subject="x")
    assert list(elsewhere.iterdir()) == []
