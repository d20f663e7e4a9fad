"""Split documents into retrievable chunks: by markdown heading, then paragraph, under a size cap.

A chunk should be one coherent piece (a section, a few paragraphs) small enough for a small model's
prompt. Long paragraphs are cut at word boundaries, and neighbouring chunks of one section share
`overlap` characters so that a sentence cut in two is still found whole in one of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")

DEFAULT_MAX_CHARS = 1000
DEFAULT_OVERLAP = 150


@dataclass(frozen=True)
class Chunk:
    """One piece of a document: its text, its position, and the heading path it sits under."""

    text: str
    index: int
    heading: str = ""


def split_sections(text: str, markdown: bool = True) -> list[tuple[str, str]]:
    """Split text into `(heading path, section text)` pairs at markdown ATX headings (`#` .. `######`).

    The heading path joins the enclosing headings with " > "; the section text keeps its heading line.
    A heading directly followed by a subheading gives no section of its own (it is in the path).
    Lines inside fenced code blocks are never headings. With `markdown=False` the whole text is one
    section with an empty heading.
    """
    if not markdown:
        return [("", text)] if text.strip() else []
    sections: list[tuple[str, str]] = []
    stack: list[tuple[int, str]] = []
    heading = ""
    lines: list[str] = []
    in_fence = False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match:
            _flush(sections, heading, lines)
            level = len(match.group(1))
            stack = [(lvl, title) for lvl, title in stack if lvl < level] + [(level, match.group(2))]
            heading = " > ".join(title for _, title in stack)
            lines = [line]
        else:
            lines.append(line)
    _flush(sections, heading, lines)
    return sections


def _flush(sections: list[tuple[str, str]], heading: str, lines: list[str]) -> None:
    """Append a finished section, unless it is empty or nothing but its heading line."""
    body = lines[1:] if heading and lines and _HEADING.match(lines[0]) else lines
    if "\n".join(body).strip():
        sections.append((heading, "\n".join(lines).strip("\n")))


def _paragraphs(section: str) -> list[str]:
    """Blank-line separated paragraphs; a fenced code block stays in one paragraph."""
    paragraphs: list[str] = []
    current: list[str] = []
    in_fence = False
    for line in section.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        if not line.strip() and not in_fence:
            if current:
                paragraphs.append("\n".join(current))
                current = []
        else:
            current.append(line)
    if current:
        paragraphs.append("\n".join(current))
    return paragraphs


def _split_long(text: str, max_chars: int, overlap: int) -> list[str]:
    """Windows of at most `max_chars` cut at whitespace, each starting `overlap` chars before the last end."""
    windows: list[str] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + max_chars)
        if end < len(text):
            cut = max(text.rfind(" ", start + 1, end), text.rfind("\n", start + 1, end))
            if cut > start:
                end = cut
        piece = text[start:end].strip()
        if piece:
            windows.append(piece)
        if end >= len(text):
            break
        next_start = max(end - overlap, start + 1)
        space = text.find(" ", next_start, end)
        start = space + 1 if space != -1 else end
    return windows


def _tail(text: str, overlap: int) -> str:
    """The last at most `overlap` characters of `text`, starting at a word."""
    if overlap <= 0:
        return ""
    if len(text) <= overlap:
        return text.strip()
    tail = text[-overlap:]
    space = tail.find(" ")
    return (tail[space + 1 :] if space != -1 else tail).strip()


def chunk_sections(
    sections: Iterable[tuple[str, str]],
    max_chars: int = DEFAULT_MAX_CHARS,
    overlap: int = DEFAULT_OVERLAP,
) -> list[Chunk]:
    """Pack each section's paragraphs into chunks of at most `max_chars`, numbered across all sections.

    A new chunk of the same section starts with the last `overlap` characters of the previous one.
    """
    if max_chars <= 0 or not 0 <= overlap < max_chars:
        raise ValueError(f"need max_chars > 0 and 0 <= overlap < max_chars, got {max_chars}, {overlap}")
    chunks: list[Chunk] = []
    for heading, section in sections:
        pieces: list[str] = []
        for paragraph in _paragraphs(section):
            if len(paragraph) <= max_chars:
                pieces.append(paragraph)
            else:
                pieces.extend(_split_long(paragraph, max_chars, overlap))
        current = ""
        for piece in pieces:
            if current and len(current) + 2 + len(piece) <= max_chars:
                current = f"{current}\n\n{piece}"
                continue
            if current:
                chunks.append(Chunk(current, len(chunks), heading))
                tail = _tail(current, overlap)
                if tail and len(tail) + 2 + len(piece) <= max_chars:
                    piece = f"{tail}\n\n{piece}"
            current = piece
        if current:
            chunks.append(Chunk(current, len(chunks), heading))
    return chunks


def chunk_text(
    text: str,
    markdown: bool = True,
    max_chars: int = DEFAULT_MAX_CHARS,
    overlap: int = DEFAULT_OVERLAP,
) -> list[Chunk]:
    """Chunk a whole text: sections by heading (when `markdown`), then paragraphs under the size cap."""
    return chunk_sections(split_sections(text, markdown), max_chars, overlap)
