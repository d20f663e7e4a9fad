"""Nodes and helpers every graph uses: tool retrieval, token streaming, run ids."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer

from tinycrew.agents.common import TokenSink
from tinycrew.graphs.state import GraphContext, RunState

Node = Callable[[RunState, RunnableConfig], Awaitable[dict[str, Any]]]


def router(choose: Callable[[RunState], str]) -> Callable[[RunState], Awaitable[str]]:
    """A conditional edge as a coroutine: LangGraph runs a plain function in a worker thread, which
    would cost a thread hop at every step for a dictionary lookup."""

    async def route(state: RunState) -> str:
        return choose(state)

    return route


def run_id_of(config: RunnableConfig) -> str:
    return config["configurable"]["thread_id"]


def token_sink(config: RunnableConfig, role: str) -> TokenSink | None:
    """Send a role's tokens to `stream(..., tokens=True)` consumers, or None when nobody listens."""
    if not config["configurable"].get("stream_tokens"):
        return None
    writer = get_stream_writer()
    return lambda token: writer({"role": role, "token": token})


def retrieve_node(context: GraphContext) -> Node:
    """Pick the tools this task may see: top-k by ToolRAG when there are more than k, without those
    unrelated to it (`GraphContext.min_similarity`); a few tools keep the order they were given in."""

    async def retrieve(state: RunState, config: RunnableConfig) -> dict[str, Any]:
        names = context.registry.names()
        floor = context.min_similarity
        if context.retriever is not None and (len(names) > context.top_k or floor is not None):
            kept = context.retriever.retrieve(state["task"], context.top_k, -1.0 if floor is None else floor)
            names = kept if len(names) > context.top_k else [name for name in names if name in kept]
        return {"tools": names, "calls": [], "steps": 0, "retries": 0, "replans": 0}

    return retrieve


def step_limit_reached(context: GraphContext, state: RunState) -> bool:
    return state.get("steps", 0) >= context.limits.max_steps
