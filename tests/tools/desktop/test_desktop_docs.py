"""Run every ```python block of the "Tools" section of docs/desktop.md: the examples must stay true."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
DOC = REPO / "docs" / "desktop.md"


def test_desktop_tools_doc_examples_run() -> None:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("\n## Tools\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```python\n(.*?)^```", section, flags=re.S | re.M)
    assert len(blocks) >= 10
    namespace: dict[str, object] = {"__name__": "desktop_docs"}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"{DOC.name} Tools block {number}", "exec"), namespace)  # noqa: S102 - our doc
