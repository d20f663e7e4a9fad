"""A seeded sandbox and its tools, with the clock fixed at Thursday 2026-12-03 09:30."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from tinycrew.tools import Tool
from tinycrew.tools.desktop import desktop_tools, seed_sandbox

NOW = datetime(2026, 12, 3, 9, 30)  # a Thursday


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return seed_sandbox(tmp_path / "desk")


@pytest.fixture
def tools(root: Path) -> dict[str, Tool]:
    return {t.name: t for t in desktop_tools(root, now=NOW)}


def ok(tool: Tool, **args: object) -> str:
    """Run a tool and insist it worked: the observation text."""
    result = tool.run(args)
    assert result.ok, result.content
    return result.content


def error(tool: Tool, **args: object) -> str:
    """Run a tool and insist it failed: the error text the model would read."""
    result = tool.run(args)
    assert not result.ok, result.content
    return result.content
