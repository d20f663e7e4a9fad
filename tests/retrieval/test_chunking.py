"""Chunking by heading and paragraph, under a size cap, with overlap."""

from __future__ import annotations

import pytest

from tinycrew.retrieval import Chunk, chunk_sections, chunk_text, split_sections

MARKDOWN = """Intro line before any heading.

# Router manual

General words.

## Reset

Hold the reset button for ten seconds.

```bash
# not a heading: a shell comment
reboot
```

## Warranty

Two years.

# Appendix

The end.
"""


def test_sections_follow_the_heading_tree() -> None:
    sections = split_sections(MARKDOWN)
    assert [h for h, _ in sections] == [
        "",
        "Router manual",
        "Router manual > Reset",
        "Router manual > Warranty",
        "Appendix",
    ]
    reset = sections[2][1]
    assert reset.startswith("## Reset") and "# not a heading" in reset and "reboot" in reset
    assert split_sections("# A\n\ntext", markdown=False) == [("", "# A\n\ntext")]
    assert split_sections("   \n") == []
    assert split_sections("# Title\n\n## Part\n\nBody.") == [("Title > Part", "## Part\n\nBody.")]


def test_small_sections_are_one_chunk_each() -> None:
    chunks = chunk_text(MARKDOWN)
    assert [c.index for c in chunks] == list(range(5))
    assert chunks[2] == Chunk(chunks[2].text, 2, "Router manual > Reset")
    assert "```bash\n# not a heading: a shell comment\nreboot\n```" in chunks[2].text


def test_paragraphs_pack_under_the_cap_with_overlap() -> None:
    paragraphs = [f"Paragraph {i} " + "word " * 30 for i in range(10)]  # ~170 chars each
    text = "# Long\n\n" + "\n\n".join(p.strip() for p in paragraphs)
    chunks = chunk_text(text, max_chars=400, overlap=60)
    assert len(chunks) > 3
    assert all(len(c.text) <= 400 for c in chunks)
    assert all(c.heading == "Long" for c in chunks)
    for i in range(10):  # every paragraph is whole in some chunk
        assert any(paragraphs[i].strip() in c.text for c in chunks)
    for before, after in zip(chunks, chunks[1:], strict=False):  # neighbours share words
        assert after.text.split("\n\n")[0] in before.text


def test_a_long_paragraph_is_cut_at_words_with_overlap() -> None:
    words = [f"w{i}" for i in range(600)]
    chunks = chunk_text(" ".join(words), markdown=False, max_chars=300, overlap=50)
    assert len(chunks) > 5
    assert all(len(c.text) <= 300 for c in chunks)
    for c in chunks:
        assert all(token in words for token in c.text.split())  # no word was cut
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert after.text.split()[0] in before.text.split()  # overlap
    assert chunks[0].text.split()[0] == "w0" and chunks[-1].text.split()[-1] == "w599"


def test_no_overlap_and_invalid_settings() -> None:
    chunks = chunk_text(" ".join(f"w{i}" for i in range(200)), markdown=False, max_chars=100, overlap=0)
    tokens = [t for c in chunks for t in c.text.split()]
    assert tokens == [f"w{i}" for i in range(200)]
    with pytest.raises(ValueError):
        chunk_sections([("", "x")], max_chars=100, overlap=100)
    assert chunk_text("") == []
