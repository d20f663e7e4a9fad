"""DocumentRetriever on real files: markdown, text and a real PDF; search and the agent tool."""

from __future__ import annotations

import inspect
from pathlib import Path

import matplotlib
import pytest

from tinycrew.retrieval import (
    DocumentHit,
    DocumentRetriever,
    format_hits,
    read_pdf_pages,
    search_documents_tool,
)

matplotlib.use("Agg")

MANUAL = """# Router manual

## Reset

To reset the router, hold the small button on the back for ten seconds until the light blinks.

## Wi-Fi password

The default Wi-Fi password is printed on the sticker under the device.
"""

NOTES = """Shopping list for the weekend: apples, oat milk, coffee beans.

The dentist appointment is on Tuesday at 3 pm.
"""


def make_pdf(path: Path, pages: list[str]) -> Path:
    """A real PDF with one line of text per page, written by matplotlib."""
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    with PdfPages(path) as pdf:
        for text in pages:
            figure = plt.figure(figsize=(8.5, 11))
            figure.text(0.1, 0.9, text)
            pdf.savefig(figure)
            plt.close(figure)
    return path


@pytest.fixture
def docs_dir(tmp_path: Path) -> Path:
    (tmp_path / "manual.md").write_text(MANUAL, encoding="utf-8")
    (tmp_path / "notes.txt").write_text(NOTES, encoding="utf-8")
    make_pdf(
        tmp_path / "warranty.pdf",
        ["The warranty lasts two years from the date of purchase.", "Batteries are not covered by it."],
    )
    return tmp_path


def test_pdf_text_is_extracted(docs_dir: Path) -> None:
    assert read_pdf_pages(docs_dir / "warranty.pdf") == [
        "The warranty lasts two years from the date of purchase.",
        "Batteries are not covered by it.",
    ]


@pytest.mark.parametrize("persistent", [False, True], ids=["memory", "disk"])
def test_ingest_md_txt_pdf_and_search(docs_dir: Path, tmp_path: Path, persistent: bool) -> None:
    retriever = DocumentRetriever(tmp_path / "chroma" if persistent else None)
    assert retriever.add_file(docs_dir / "manual.md") == 2
    assert retriever.add_file(docs_dir / "notes.txt") == 1
    assert retriever.add_file(docs_dir / "warranty.pdf") == 2
    assert len(retriever) == 5
    assert retriever.sources() == sorted(
        str((docs_dir / n).resolve()) for n in ["manual.md", "notes.txt", "warranty.pdf"]
    )

    (hit,) = retriever.search("how do I reset my router?", k=1)
    assert isinstance(hit, DocumentHit)
    assert hit.source == str((docs_dir / "manual.md").resolve())
    assert hit.heading == "Router manual > Reset" and hit.chunk_index == 0
    assert "ten seconds" in hit.text

    hits = retriever.search("how long is the guarantee valid", k=2)
    assert hits[0].source.endswith("warranty.pdf") and hits[0].heading == "page 1"
    assert hits[0].distance <= hits[1].distance

    assert retriever.search("when do I see the dentist", k=1)[0].source.endswith("notes.txt")


def test_reingest_replaces_instead_of_duplicating(docs_dir: Path, tmp_path: Path) -> None:
    store = tmp_path / "chroma"
    retriever = DocumentRetriever(store)
    retriever.add_file(docs_dir / "manual.md")
    retriever.add_file(docs_dir / "notes.txt")
    assert retriever.add_file(docs_dir / "manual.md") == 2
    assert len(retriever) == 3

    (docs_dir / "manual.md").write_text("# Router manual\n\nThe router is blue.\n", encoding="utf-8")
    assert retriever.add_file(docs_dir / "manual.md") == 1
    reopened = DocumentRetriever(store)
    assert len(reopened) == 2
    hits = reopened.search("what colour is the router", k=5)
    assert [h.text for h in hits if h.source.endswith("manual.md")] == [
        "# Router manual\n\nThe router is blue."
    ]
    assert not any("ten seconds" in h.text for h in hits)


def test_add_text_and_remove() -> None:
    retriever = DocumentRetriever(None, max_chars=200, overlap=20)
    count = retriever.add_text(MANUAL, source="manual")
    assert count == 2
    assert retriever.add_text(NOTES, source="notes", markdown=False) == 1
    assert retriever.add_text(NOTES, source="notes", markdown=False) == 1
    assert len(retriever) == 3
    retriever.remove("manual")
    assert retriever.sources() == ["notes"]
    assert retriever.search("reset the router", k=3)[0].source == "notes"
    with pytest.raises(ValueError):
        DocumentRetriever(None, max_chars=100, overlap=150)


def test_search_documents_tool(docs_dir: Path) -> None:
    retriever = DocumentRetriever(None)
    retriever.add_file(docs_dir / "manual.md")
    search_documents = search_documents_tool(retriever)
    assert search_documents.__name__ == "search_documents"
    signature = inspect.signature(search_documents)
    assert list(signature.parameters) == ["query", "k"]
    assert signature.parameters["k"].default == 3
    assert search_documents.__annotations__ == {"query": str, "k": int, "return": str}
    assert "Args:" in (search_documents.__doc__ or "")

    answer = search_documents("where is the wifi password", k=1)
    assert answer.startswith("[1] ") and "sticker" in answer and "Wi-Fi password" in answer
    assert "[2]" not in answer
    assert search_documents("router", k=50).count("\n[") == 1  # all that exists: 2 chunks


def test_format_hits() -> None:
    assert format_hits([]) == "No matching passages found."
    hit = DocumentHit(text="Body.", source="a.md", chunk_index=2, heading="H", distance=0.1)
    assert format_hits([hit]) == "[1] a.md > H (chunk 2)\nBody."
