"""Every example in docs/retrieval.md runs and prints what the page says."""

from __future__ import annotations

import doctest
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "retrieval.md"


def test_docs_examples_run() -> None:
    result = doctest.testfile(str(DOC), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 40
    assert result.failed == 0


def test_every_public_name_has_an_example() -> None:
    import tinycrew.retrieval as retrieval

    examples = "\n".join(line for line in DOC.read_text().splitlines() if line.startswith((">>> ", "... ")))
    missing = [name for name in retrieval.__all__ if name not in examples]
    assert missing == []
