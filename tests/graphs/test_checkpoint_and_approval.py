"""Crash-and-resume from the SQLite checkpoint, and approval of side-effecting tools."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tinycrew.graphs import Agent
from tinycrew.tools import ToolRegistry, tool

pytestmark = pytest.mark.slow
TASK = "What is the price of an apple and the price of bread?"


def run_script(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "tests.graphs.crash_run", *args]
    root = Path(__file__).resolve().parents[2]
    return subprocess.Popen(command, cwd=root, env=os.environ | env, stdout=subprocess.PIPE, text=True)


def test_killed_run_resumes_from_its_sqlite_checkpoint(default_model, tmp_path, monkeypatch) -> None:
    checkpoint, marker = str(tmp_path / "checkpoints.sqlite"), tmp_path / "marker"
    env = {"CRASH_MARKER": str(marker)}
    crashed = run_script(checkpoint, "crashed", TASK, "start", env=env | {"CRASH_BLOCK": "1"})
    deadline = time.monotonic() + 600
    while not marker.exists():
        assert crashed.poll() is None, "the run ended before reaching the tool"
        assert time.monotonic() < deadline
        time.sleep(0.2)
    crashed.send_signal(signal.SIGKILL)
    crashed.wait()

    resumed = run_script(checkpoint, "crashed", TASK, "resume", env=env)
    resumed_out, _ = resumed.communicate(timeout=600)
    after_crash = json.loads(resumed_out)
    assert after_crash["status"] == "done" and after_crash["answer"]
    prices = {"apple": "0.5", "bread": "2.25"}
    looked_up = [call for call in after_crash["calls"] if call["name"] == "lookup_price"]
    assert looked_up
    assert all(prices.get(c["arguments"]["item"].lower()) == c["observation"] for c in looked_up)

    monkeypatch.setenv("CRASH_MARKER", str(marker))
    from tests.graphs.crash_run import make_agent

    uninterrupted = make_agent(str(tmp_path / "other.sqlite")).run(TASK)
    shape = [(c["name"], c["arguments"], c["observation"]) for c in after_crash["calls"]]
    assert shape == [(c.name, c.arguments, c.observation) for c in uninterrupted.calls]


def test_side_effect_tool_waits_for_approval(default_model, tmp_path) -> None:
    outbox = tmp_path / "outbox.txt"

    @tool(side_effect=True)
    def send_message(to: str, text: str) -> str:
        """Send a short message to a colleague.

        Args:
            to: The colleague's first name.
            text: The message.
        """
        with outbox.open("a") as handle:
            handle.write(f"{to}: {text}\n")
        return "sent"

    agent = Agent(
        ToolRegistry([send_message]), graph="umi", models=default_model, checkpointer="memory", record=False
    )
    task = "Send Bob the message 'lunch at noon'."

    paused = agent.run(task)
    assert paused.status == "interrupted" and not outbox.exists()
    assert paused.pending_approval[0]["name"] == "send_message"
    rejected = agent.resume(paused.run_id, "reject")
    for _ in range(3):  # the planner may try again; every attempt waits and is rejected
        if rejected.status == "done":
            break
        rejected = agent.resume(paused.run_id, "reject")
    assert not outbox.exists(), "a rejected call never runs"
    assert rejected.status == "done"
    assert any(call.error_kind == "rejected" for call in rejected.calls)

    approved_run = agent.run(task)
    assert approved_run.status == "interrupted"
    approved = agent.resume(approved_run.run_id, "approve")
    assert approved.status in ("done", "interrupted")
    assert "Bob" in outbox.read_text()
