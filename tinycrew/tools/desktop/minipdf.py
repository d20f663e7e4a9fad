"""A tiny PDF writer for the seed documents and tests: real PDFs with text, no extra dependency.

The seed PDFs must be real files that pypdf reads, yet the project should not depend on a PDF
library just to write four one-page documents. This writes the smallest valid PDF 1.4: one page per
list of lines, Helvetica, a correct cross-reference table.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

_PAGE_HEIGHT = 842  # A4 in points
_LINE_HEIGHT = 15
_LINES_PER_PAGE = 48


def _escape(text: str) -> str:
    """PDF string literal escaping; characters outside Latin-1 become '?' (WinAnsi font)."""
    text = text.encode("latin-1", "replace").decode("latin-1")
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _wrap(paragraphs: Sequence[str], width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in paragraphs:
        lines.extend(textwrap.wrap(paragraph, width) or [""])
    return lines


def pdf_bytes(title: str, paragraphs: Sequence[str], *, width: int = 90) -> bytes:
    """The bytes of a PDF showing a bold ``title`` and the ``paragraphs`` wrapped at ``width`` characters.

    >>> pdf_bytes("Hello", ["A short text."]).startswith(b"%PDF-1.4")
    True
    """
    lines = _wrap(paragraphs, width)
    pages = [lines[i : i + _LINES_PER_PAGE] for i in range(0, max(len(lines), 1), _LINES_PER_PAGE)]
    objects: list[bytes] = []
    # 1 catalog, 2 pages, 3 regular font, 4 bold font, then (page, content) pairs
    page_ids = [5 + 2 * i for i in range(len(pages))]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{pid} 0 R" for pid in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    for base in ("Helvetica", "Helvetica-Bold"):
        font = f"<< /Type /Font /Subtype /Type1 /BaseFont /{base} /Encoding /WinAnsiEncoding >>"
        objects.append(font.encode())
    for number, page_lines in enumerate(pages):
        y = _PAGE_HEIGHT - 60
        ops = ["BT"]
        if number == 0:
            ops += [f"/F2 16 Tf 1 0 0 1 56 {y} Tm ({_escape(title)}) Tj"]
            y -= 2 * _LINE_HEIGHT
        ops.append("/F1 11 Tf")
        for line in page_lines:
            ops.append(f"1 0 0 1 56 {y} Tm ({_escape(line)}) Tj")
            y -= _LINE_HEIGHT
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        content_id = page_ids[number] + 1
        objects.append(
            (
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
                f"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {content_id} 0 R >>"
            ).encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for index, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % index + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def write_pdf(path: str | Path, title: str, paragraphs: Sequence[str]) -> Path:
    """Write a text PDF to ``path`` (see ``pdf_bytes``) and return the path."""
    path = Path(path)
    path.write_bytes(pdf_bytes(title, paragraphs))
    return path
