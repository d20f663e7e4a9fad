"""`Agent.run`, `resume` and `stream` from sync code inside a running event loop (Jupyter, a FastAPI
handler), on the packaged 0.5B model: `asyncio.run` would raise there."""

from __future__ import annotations

import asyncio
import threading

import pytest

from tinycrew.graphs import Agent
from tinycrew.tools import ToolRegistry, tool
from tinycrew.tools.builtin import builtin_tools

pytestmark = pytest.mark.slow


async def test_run_and_stream_work_inside_a_running_loop(default_model) -> None:
    asyncio.get_running_loop()  # the premise: this test body runs on a live loop
    agent = Agent(builtin_tools(), graph="react", models=default_model, checkpointer="memory", record=False)
    result = agent.run("What is 17 times 23?")
    assert result.status == "done" and any("391" in call.observation for call in result.calls)
    events = list(agent.stream("What is 17 times 23?", tokens=True))
    kinds = {kind for kind, _ in events}
    assert {"update", "token", "result"} <= kinds and events[-1][1].status == "done"


async def test_resume_works_inside_a_running_loop(default_model, tmp_path) -> None:
    outbox = tmp_path / "outbox.txt"

    @tool(side_effect=True)
    def send_message(to: str, text: str) -> str:
        """Send a short message to a colleague.

        Args:
            to: The colleague's first name.
            text: The message.
        """
        outbox.write_text(f"{to}: {text}\n")
        return "sent"

    agent = Agent(ToolRegistry([send_message]), graph="umi", models=default_model, checkpointer="memory")
    paused = agent.run("Send Bob the message 'lunch at noon'.")
    assert paused.status == "interrupted"
    approved = agent.resume(paused.run_id, "approve")
    assert approved.status in ("done", "interrupted") and "Bob" in outbox.read_text()


async def test_a_resumed_run_streams_its_steps(default_model, tmp_path) -> None:
    sent: list[str] = []

    @tool(side_effect=True)
    def send_message(to: str, text: str) -> str:
        """Send a short message to a colleague.

        Args:
            to: The colleague's first name.
            text: The message.
        """
        sent.append(to)
        return "sent"

    agent = Agent(ToolRegistry([send_message]), graph="umi", models=default_model, checkpointer="memory")
    paused = await agent.arun("Send Bob the message 'lunch at noon'.")
    assert paused.status == "interrupted" and not sent
    events = [event async for event in agent.astream_resume(paused.run_id, "approve")]
    assert "update" in {kind for kind, _ in events} and events[-1][0] == "result"
    assert events[-1][1].run_id == paused.run_id and sent == ["Bob"]


def test_plain_sync_code_still_runs_on_the_calling_thread(default_model) -> None:
    seen: list[str] = []

    @tool
    def where() -> str:
        """Name the thread this tool runs on."""
        seen.append(threading.current_thread().name)
        return "here"

    agent = Agent(
        ToolRegistry([where]), graph="react", models=default_model, checkpointer="memory", record=False
    )
    agent.run("Call the where tool.")
    assert not any(name.startswith("tinycrew-run") for name in seen), "no worker thread without a loop"
