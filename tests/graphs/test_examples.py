"""Solved examples for the crew planner: retrieved per request, shown before the fixed worked examples,
and their tools offered beside ToolRAG's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tinycrew.agents.crew_planner import EXAMPLES, crew_planner_messages
from tinycrew.graphs import Agent
from tinycrew.graphs.common import retrieve_node
from tinycrew.graphs.state import MIN_TOOL_SIMILARITY, GraphContext
from tinycrew.retrieval import ToolRetriever
from tinycrew.retrieval.examples import ExampleRetriever
from tinycrew.tools import ToolRegistry
from tinycrew.tools.desktop import desktop_tools, seed_sandbox

EMAIL_PLAN = '1. get_email_address(name="Odile")\n2. compose_new_email(recipients=[$1])'


async def _retrieve(context: GraphContext, task: str) -> dict[str, Any]:
    state: Any = {"task": task}
    return await retrieve_node(context)(state, {"configurable": {"thread_id": "t"}})


def _context(tmp_path: Path, examples: ExampleRetriever | None) -> GraphContext:
    registry = ToolRegistry(desktop_tools(seed_sandbox(tmp_path / "sandbox"), approval=False))
    retriever = ToolRetriever(None)
    retriever.index(list(registry))
    return GraphContext(
        models={},
        registry=registry,
        retriever=retriever,
        top_k=2,
        min_similarity=MIN_TOOL_SIMILARITY,
        examples=examples,
        example_k=1,
    )


async def test_an_examples_tools_are_offered_beside_toolrags_and_it_reaches_the_state(tmp_path) -> None:
    plan = '1. compose_new_email(recipients=["Odile"])\n2. create_reminder(title="follow up with Odile")'
    examples = ExampleRetriever(None)
    examples.add(
        "Email Odile the agenda and remind me to follow up", plan, ["compose_new_email", "create_reminder"]
    )
    examples.add("Text Pepe that I am late", '1. get_phone_number(name="Pepe")\n2. send_sms(to=$1)', [])
    task = "Write an email to Bettina about the budget"
    plain = await _retrieve(_context(tmp_path / "a", None), task)
    assert "examples" not in plain and "create_reminder" not in plain["tools"]
    update = await _retrieve(_context(tmp_path / "b", examples), task)
    assert update["tools"][: len(plain["tools"])] == plain["tools"]
    assert {"create_reminder", "compose_new_email"} <= set(update["tools"])
    assert update["examples"] == [
        {"query": "Email Odile the agenda and remind me to follow up", "plan": plan}
    ]


async def test_a_lookup_the_offered_tool_names_as_its_input_source_is_offered_before_it(tmp_path) -> None:
    task = "Compose a new email to Bettina with the subject Budget"
    update = await _retrieve(_context(tmp_path, None), task)
    tools = update["tools"]
    assert "compose_new_email" in tools and "get_email_address" in tools
    assert tools.index("get_email_address") < tools.index("compose_new_email")
    assert "get_phone_number" not in tools  # only what an offered tool names comes along


async def test_an_example_with_a_tool_the_agent_lacks_is_not_retrieved(tmp_path) -> None:
    examples = ExampleRetriever(None)
    examples.add("Email Odile the agenda", EMAIL_PLAN, ["get_email_address", "fax_document"])
    update = await _retrieve(_context(tmp_path, examples), "Write an email to Bettina about the budget")
    assert update["examples"] == [] and "fax_document" not in update["tools"]


def test_retrieved_examples_come_before_the_fixed_ones_the_most_similar_last() -> None:
    shots = [{"query": "nearest", "plan": "1. a(x=1)"}, {"query": "second", "plan": "1. b(y=2)"}]
    messages = crew_planner_messages("the request", [], [], examples=shots)
    contents = [message["content"] for message in messages[1:]]
    assert contents[:4] == ["second", "1. b(y=2)", "nearest", "1. a(x=1)"]
    assert contents[4] == EXAMPLES[0][0] and contents[-1] == "the request"
    assert crew_planner_messages("the request", [], [])[1]["content"] == EXAMPLES[0][0]


def test_only_the_crew_graph_takes_examples() -> None:
    with pytest.raises(ValueError, match="examples= are read by the crew planner; graph 'umi' takes none"):
        Agent([], graph="umi", examples=ExampleRetriever(None))
