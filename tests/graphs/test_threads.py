"""Conversations (issue #27, item 2): `Agent.run(task, thread=...)` adds a turn to a thread, and the new
turn's roles see the earlier requests, calls, results and answers; each turn is its own recorded run."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.types import Overwrite

from tinycrew.agents import CallRecord
from tinycrew.graphs import Agent
from tinycrew.graphs.common import (
    HISTORY_CHARS,
    HISTORY_KEPT,
    HISTORY_TURNS,
    request_text,
    retrieve_node,
)
from tinycrew.graphs.state import MIN_TOOL_SIMILARITY, GraphContext, RunState, Turn
from tinycrew.retrieval import ToolRetriever
from tinycrew.tools import ToolRegistry, tool
from tinycrew.tools.builtin import builtin_tools
from tinycrew.trajectories import TrajectoryStore

KOFI = "kofi.mensah@example.com"


def call(id_: int, name: str, arguments: dict[str, Any], observation: str, **fields: Any) -> CallRecord:
    return CallRecord(id=id_, name=name, arguments=arguments, observation=observation, **fields)


FOUND = Turn(
    task="Find Kofi's email address.",
    calls=[call(1, "find_email", {"name": "Kofi"}, KOFI)],
    answer=f"Kofi's email address is {KOFI}.",
)


def test_a_fresh_thread_shows_the_task_alone_and_a_later_turn_the_earlier_ones() -> None:
    assert request_text({"task": "Find Kofi's email address."}) == "Find Kofi's email address."
    refused = call(2, "find_email", {"name": "Kofi"}, "already called", ok=False, error_kind="repeated")
    rejected = call(
        3, "send_email", {"to": KOFI}, "not run: the user rejected this call", ok=False, error_kind="rejected"
    )
    earlier = Turn(task=FOUND["task"], calls=[*FOUND["calls"], refused, rejected], answer=FOUND["answer"])
    state: RunState = {"task": "Now send him the message 'hello'.", "history": [earlier]}
    assert request_text(state) == (
        "Earlier in this conversation:\n"
        "User: Find Kofi's email address.\n"
        'Call: find_email(name="Kofi") -> kofi.mensah@example.com\n'
        'Call: send_email(to="kofi.mensah@example.com") -> not run: the user rejected this call\n'
        "Answer: Kofi's email address is kofi.mensah@example.com.\n\n"
        "Current request: Now send him the message 'hello'."
    )  # a policy's send-back is left out: it never ran


def test_earlier_turns_are_cut_to_fit() -> None:
    long_result = "x" * 5000
    turns = [
        Turn(task=f"Request {n}", calls=[call(1, "fetch", {"page": n}, long_result)], answer=f"Answer {n}")
        for n in range(1, 8)
    ]
    busy = Turn(
        task="Fetch ten pages. " * 40,
        calls=[call(i, "fetch", {"page": i}, f"page {i} " + "p" * 1000) for i in range(1, 11)],
        answer="Done. " * 100,
    )
    few = request_text({"task": "And now?", "history": turns})
    assert few.startswith(f"Earlier in this conversation:\n({7 - HISTORY_TURNS} earlier turns not shown)\n")
    assert [f"User: Request {n}" in few for n in (3, 4, 7)] == [False, True, True]
    assert few.count("[truncated, 5000 chars in all]") == HISTORY_TURNS  # each result cut, not dropped
    text = request_text({"task": "And now?", "history": [*turns, busy]})
    # four turns would not fit in HISTORY_CHARS: the older ones go first, the latest always stays
    assert text.startswith("Earlier in this conversation:\n(6 earlier turns not shown)\nUser: Request 7\n")
    assert text.endswith("\n\nCurrent request: And now?")
    assert len(text.split("\n\nCurrent request:")[0]) <= HISTORY_CHARS
    assert "(6 earlier calls not shown)" in text and "page 6 " not in text and "page 7 " in text
    assert "[truncated, 1007 chars in all]" in text  # each result of a call
    assert "[truncated, 679 chars in all]" in text and "[truncated, 599 chars in all]" in text


def builtin_context() -> GraphContext:
    registry = ToolRegistry(builtin_tools())
    retriever = ToolRetriever(None)
    retriever.index(list(registry))
    return GraphContext(models={}, registry=registry, retriever=retriever, min_similarity=MIN_TOOL_SIMILARITY)


async def test_the_first_node_moves_the_finished_turn_into_history_and_starts_afresh() -> None:
    retrieve = retrieve_node(builtin_context())
    config: Any = {"configurable": {"thread_id": "t"}}
    first = await retrieve({"task": "What weekday was 2024-03-05?"}, config)
    assert first["turn_task"] == "What weekday was 2024-03-05?" and first["history"] == []
    assert "usage" not in first and "answer" not in first  # a first turn has nothing to reset
    done = call(1, "day_of_week", {"day": "2024-03-05"}, "Tuesday")
    state: RunState = {
        **first,
        "task": "And the other one?",
        "calls": [done],
        "answer": "Tuesday.",
        "outcome": "success",
        "messages": [{"role": "user", "content": "What weekday was 2024-03-05?"}],
        "usage": {"m": {"calls": 2}},
        "steps": 3,
    }
    second = await retrieve(state, config)
    assert second["history"] == [Turn(task="What weekday was 2024-03-05?", calls=[done], answer="Tuesday.")]
    assert second["turn_task"] == "And the other one?"
    assert second["calls"] == [] and second["steps"] == 0 and second["messages"] == []
    assert second["answer"] is None and second["outcome"] is None
    assert isinstance(second["usage"], Overwrite) and second["usage"].value == {}
    # "And the other one?" names no tool; the request it follows does
    alone = await retrieve({"task": "And the other one?"}, config)
    assert alone["tools"] == [] and "day_of_week" in second["tools"]
    many: RunState = {**state, "history": [FOUND] * HISTORY_KEPT}
    assert len((await retrieve(many, config))["history"]) == HISTORY_KEPT


@tool
def find_email(name: str) -> str:
    """Look up the email address of a colleague.

    Args:
        name: The colleague's first name, e.g. "Ana".
    """
    return {"kofi": KOFI, "ana": "ana@example.com"}[name.strip().lower()]


@pytest.mark.slow
def test_a_second_turn_uses_what_the_first_found_and_each_turn_is_its_own_run(
    default_model, tmp_path
) -> None:
    sent: list[tuple[str, str]] = []

    @tool(side_effect=True)
    def send_email(to: str, text: str) -> str:
        """Send an email.

        Args:
            to: The recipient's email address.
            text: The message.
        """
        sent.append((to, text))
        return "sent"

    store = TrajectoryStore.open(tmp_path / "trajectories.sqlite")
    checkpoints = tmp_path / "checkpoints.sqlite"
    # The first turn is offered the lookup alone: on some CPUs the 0.5B also proposes a send there, and
    # the test is about what the next turn sees. The thread then goes on in an agent with both tools
    # over the same checkpoints, as in an app that adds a tool between turns.
    lookup = Agent([find_email], "umi", default_model, checkpointer=checkpoints, store=store, answer=False)
    first = lookup.run("Find Kofi's email address.", thread="kofi")
    registry = ToolRegistry([find_email, send_email])
    agent = Agent(registry, "umi", default_model, checkpointer=checkpoints, store=store, answer=False)
    assert first.thread == "kofi" and first.status == "done"
    assert [(c.name, c.observation) for c in first.calls][:1] == [("find_email", KOFI)]

    second = agent.run("Now send him the message 'hello'.", thread="kofi")
    assert second.status == "interrupted" and second.run_id != first.run_id and second.thread == "kofi"
    assert second.pending_approval[0]["arguments"] == {"to": KOFI, "text": "hello"}
    with pytest.raises(ValueError, match=f"unfinished turn, run '{second.run_id}'"):
        agent.run("Also tell Ana.", thread="kofi")
    with pytest.raises(ValueError, match="resumes with thread="):
        agent.resume(second.run_id, "approve")  # a turn of a thread is not its own thread
    with pytest.raises(ValueError, match="not the latest turn"):
        agent.resume(first.run_id, "approve", thread="kofi")
    resumed = agent.resume(second.run_id, "approve", thread="kofi")
    assert resumed.status == "done" and resumed.run_id == second.run_id
    assert sent[0] == (KOFI, "hello") and resumed.calls[0].name == "send_email"

    runs = {run_id: store.get_run(run_id) for run_id in (first.run_id, second.run_id)}
    assert [run.task for run in runs.values()] == [
        "Find Kofi's email address.",
        "Now send him the message 'hello'.",
    ]
    assert all(run.metadata["thread"] == "kofi" and run.outcome == "success" for run in runs.values())
    planner = runs[second.run_id].steps[0]
    assert (
        planner.role == "planner" and f'find_email(name="Kofi") -> {KOFI}' in planner.messages[-1]["content"]
    )
    assert all(step.run_id == second.run_id for step in runs[second.run_id].steps)
    state = agent.graph.get_state({"configurable": {"thread_id": "kofi"}}).values
    assert [turn["task"] for turn in state["history"]] == ["Find Kofi's email address."]
    assert state["run_id"] == second.run_id and state["usage"] == resumed.usage


@pytest.mark.slow
def test_a_react_turn_continues_the_conversation(default_model) -> None:
    sent: list[tuple[str, str]] = []

    @tool
    def send_email(to: str, text: str) -> str:
        """Send an email.

        Args:
            to: The recipient's email address.
            text: The message.
        """
        sent.append((to, text))
        return "sent"

    registry = ToolRegistry([find_email, send_email])
    agent = Agent(registry, "react", default_model, checkpointer="memory", record=False)
    config = {"configurable": {"thread_id": "kofi"}}
    # the first turn as the graph leaves it, written through LangGraph's own API: no model run needed
    first = {
        "task": FOUND["task"],
        "turn_task": FOUND["task"],
        "calls": FOUND["calls"],
        "answer": FOUND["answer"],
    }
    agent.graph.update_state(config, first, as_node="model")
    events = list(agent.stream("Now send him the message 'hello'.", thread="kofi", tokens=False))
    result = events[-1][1]
    assert result.thread == "kofi" and result.status == "done"
    assert sent[:1] == [(KOFI, "hello")], result.calls
    asked = agent.graph.get_state(config).values["messages"][1]["content"]
    assert asked.endswith("Current request: Now send him the message 'hello'.")
    assert f'Call: find_email(name="Kofi") -> {KOFI}' in asked
