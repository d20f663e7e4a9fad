"""The retrieve node: which tools a task is offered, before any model runs."""

from __future__ import annotations

from typing import Any

from tinycrew.graphs.common import retrieve_node
from tinycrew.graphs.state import MIN_TOOL_SIMILARITY, GraphContext
from tinycrew.retrieval import ToolRetriever
from tinycrew.tools import ToolRegistry
from tinycrew.tools.builtin import builtin_tools

BUILTIN_NAMES = ToolRegistry(builtin_tools()).names()


async def offered(task: str, min_similarity: float | None, top_k: int = 6) -> list[str]:
    registry = ToolRegistry(builtin_tools())
    retriever = ToolRetriever(None)
    retriever.index(list(registry))
    context = GraphContext(
        models={}, registry=registry, retriever=retriever, top_k=top_k, min_similarity=min_similarity
    )
    state: Any = {"task": task}
    return (await retrieve_node(context)(state, {"configurable": {"thread_id": "t"}}))["tools"]


async def test_a_task_no_tool_is_about_is_offered_none() -> None:
    assert await offered("Tell me a joke.", MIN_TOOL_SIMILARITY) == []
    assert await offered("Tell me a joke.", None) == BUILTIN_NAMES


async def test_related_tools_keep_their_given_order() -> None:
    kept = await offered("What is 17 times 23, and what weekday was 2024-03-05?", MIN_TOOL_SIMILARITY)
    assert {"calculate", "day_of_week"} <= set(kept)
    assert kept == [name for name in BUILTIN_NAMES if name in kept]


async def test_top_k_still_ranks_when_there_are_more_tools_than_k() -> None:
    assert await offered("What is 345 plus 12?", MIN_TOOL_SIMILARITY, top_k=1) == ["calculate"]
