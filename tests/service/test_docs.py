"""docs/service.md: its Python examples run as written, and every public name of tinycrew.service and
every `serve` option is shown there."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

from typer.testing import CliRunner

DOC = Path(__file__).resolve().parents[2] / "docs" / "service.md"


def test_docs_examples_run() -> None:
    result = doctest.testfile(str(DOC), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 10
    assert result.failed == 0


def test_every_public_name_and_option_is_documented() -> None:
    import tinycrew.service as service
    from tinycrew.cli import app

    text = DOC.read_text()
    examples = "\n".join(line for line in text.splitlines() if line.startswith((">>> ", "... ")))
    assert [name for name in service.__all__ if name not in examples] == []
    help_text = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"}).output
    options = set(re.findall(r"--[a-z][a-z-]+", help_text)) - {"--help", "--no-help"}
    assert options and [option for option in sorted(options) if f"`{option}`" not in text] == []
