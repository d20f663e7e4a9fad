"""`tinycrew desktop eval` end to end on the packaged model: two tasks, the plans file, the figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tinycrew.cli import app

pytestmark = pytest.mark.slow

TASKS = [
    {"id": "t-none", "now": "2026-12-03T09:00:00", "request": "Tell me a joke about hedgehogs.", "plan": []},
    {
        "id": "t-phone",
        "now": "2026-12-03T09:00:00",
        "request": "What's Kofi's phone number?",
        "plan": [{"id": 1, "name": "get_phone_number", "args": {"name": "Kofi"}}],
    },
]


def test_desktop_eval_writes_plans_and_prints_accuracy(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join(json.dumps(task) + "\n" for task in TASKS), encoding="utf-8")
    out = tmp_path / "plans.jsonl"
    result = CliRunner().invoke(app, ["desktop", "eval", "--tasks", str(tasks), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [row["id"] for row in rows] == ["t-none", "t-phone"]
    for row in rows:
        assert isinstance(row["plan"], list) and row["seconds"] > 0
        for call in row["plan"]:
            assert (
                isinstance(call["id"], int)
                and isinstance(call["name"], str)
                and isinstance(call["args"], dict)
            )
    assert "accuracy: " in result.output and "/2 exact plan matches" in result.output
    assert "latency per request: median" in result.output


@pytest.mark.parametrize("option", [["--policies", "guesswork"], ["--split", "dev"]])
def test_desktop_eval_refuses_an_unknown_choice_before_running(tmp_path: Path, option: list[str]) -> None:
    out = tmp_path / "plans.jsonl"
    result = CliRunner().invoke(app, ["desktop", "eval", "--out", str(out), *option])
    assert result.exit_code == 2, result.output
    assert option[0] in result.output and not out.exists()
