"""What a graph step costs besides the model (issue #4): no per-run compile, no thread hop per edge,
no step rows built when nothing records. A scripted model stands in for llama.cpp here."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from langgraph.graph import StateGraph

import tinycrew.graphs.state as graph_state
from tinycrew.graphs import Agent
from tinycrew.models.base import BlockingChatModel
from tinycrew.models.types import ChatResult, StreamChunk, ToolCall
from tinycrew.tools.builtin import builtin_tools


class Scripted(BlockingChatModel):
    """ReAct turns: first a calculate call, then the answer."""

    name = "scripted"

    def chat(self, messages: list[dict[str, Any]], **kwargs: Any) -> ChatResult:
        if any(message["role"] == "tool" for message in messages):
            return ChatResult(model=self.name, content="7006652")
        call = ToolCall(id="call_1", name="calculate", arguments={"expression": "1234 * 5678"})
        return ChatResult(model=self.name, content="", tool_calls=[call], finish_reason="tool_calls")

    def stream(self, messages: list[dict[str, Any]], **kwargs: Any) -> Iterator[StreamChunk]:
        yield StreamChunk(result=self.chat(messages, **kwargs))


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    counts = {"compile": 0, "executor": 0, "step_record": 0}
    compile_, run_in_executor = StateGraph.compile, asyncio.BaseEventLoop.run_in_executor
    step_record = graph_state.step_record

    def count(name: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(StateGraph, "compile", count("compile", compile_))
    monkeypatch.setattr(asyncio.BaseEventLoop, "run_in_executor", count("executor", run_in_executor))
    monkeypatch.setattr(graph_state, "step_record", count("step_record", step_record))
    return counts


def test_runs_reuse_the_compiled_graph_and_stay_on_the_loop(counted: dict[str, int]) -> None:
    agent = Agent(builtin_tools(), graph="react", models=Scripted(), checkpointer="memory", record=False)
    assert counted["compile"] == 1
    for _ in range(2):
        events = list(agent.stream("What is 1234 times 5678?", tokens=False))
        result = events[-1][1]
        assert result.answer == "7006652" and [call.observation for call in result.calls] == ["7006652"]
    assert counted["compile"] == 1, "compiled once per Agent, not per run"
    assert counted["executor"] == 0, "conditional edges and model calls use no per-loop executor"
    assert counted["step_record"] == 0, "no step rows are built when nothing records"


def test_a_sqlite_run_gets_its_own_saver(counted: dict[str, int], tmp_path) -> None:
    path = tmp_path / "checkpoints.sqlite"
    agent = Agent(builtin_tools(), graph="react", models=Scripted(), checkpointer=str(path), record=False)
    result = agent.run("What is 1234 times 5678?")
    assert result.status == "done" and result.answer == "7006652"
    assert path.stat().st_size > 0 and counted["compile"] == 1
