"""Nodes and helpers every graph uses: tool retrieval, earlier turns of a thread, token streaming, run ids."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from langchain_core.runnables import RunnableConfig, RunnableLambda
from langgraph.config import get_stream_writer
from langgraph.types import Overwrite

from tinycrew.agents import CallRecord
from tinycrew.agents.common import EARLIER_TURNS, TokenSink
from tinycrew.graphs.state import GraphContext, RunState, Turn
from tinycrew.tools import truncate

Node = Callable[[RunState, RunnableConfig], Awaitable[dict[str, Any]]]


def router(choose: Callable[[RunState], str]) -> RunnableLambda:
    """A conditional edge with a coroutine for async runs (LangGraph runs a plain function on a worker
    thread there, a thread hop at every step for a dictionary lookup) and a plain function for the sync
    API (`Agent.graph.update_state` runs the edge of the node it writes as)."""

    def route(state: RunState) -> str:
        return choose(state)

    async def aroute(state: RunState) -> str:
        return choose(state)

    return RunnableLambda(route, afunc=aroute, name="route")


def run_id_of(config: RunnableConfig) -> str | None:
    """The recorded run (one turn) a node works for, which `Agent` puts in the config; None when the
    graph runs outside an Agent (a subgraph, `Agent.graph.invoke`): then nothing is recorded."""
    return config.get("configurable", {}).get("run_id")


def token_sink(config: RunnableConfig, role: str) -> TokenSink | None:
    """Send a role's tokens to `stream(..., tokens=True)` consumers, or None when nobody listens."""
    if not config.get("configurable", {}).get("stream_tokens"):
        return None
    writer = get_stream_writer()
    return lambda token: writer({"role": role, "token": token})


HISTORY_TURNS = 4
"""The roles see at most this many earlier turns of a thread, the latest ones."""
HISTORY_CHARS = 2000
"""Older turns are left out until the earlier turns' text fits in this many characters (the latest one
always stays; its own parts are cut as below): the 0.5B model reads 4096 tokens, tool schemas included."""
REQUEST_CHARS = 300
CALL_CHARS = 160
RESULT_CHARS = 200
ANSWER_CHARS = 300
CALLS_PER_TURN = 4
"""Per earlier turn: its request, its last few calls (each call and each result cut), its answer."""
HISTORY_KEPT = 20
"""The checkpointed state keeps this many earlier turns; more would only grow every checkpoint."""
_NOT_RUN = {"arguments", "repeated", "duplicate", "refused", "unfounded", "unknown_tool"}


def _one_line(text: str, limit: int) -> str:
    return truncate(" ".join(text.split()), limit)


def shown_calls(turn: Turn) -> tuple[list[CallRecord], int]:
    """The calls of an earlier turn worth showing (those that ran, rejected ones included: a policy's
    send-back or an invalid call is noise to a later turn), the last `CALLS_PER_TURN` of them, and how
    many more there were."""
    ran = [call for call in turn["calls"] if call.ok or call.error_kind not in _NOT_RUN]
    return ran[-CALLS_PER_TURN:], max(0, len(ran) - CALLS_PER_TURN)


def _turn_text(turn: Turn) -> str:
    lines = [f"User: {_one_line(turn['task'], REQUEST_CHARS)}"]
    calls, more = shown_calls(turn)
    if more:
        lines.append(f"({more} earlier calls not shown)")
    lines += [
        f"Call: {_one_line(call.call_text(), CALL_CHARS)} -> {_one_line(call.observation, RESULT_CHARS)}"
        for call in calls
    ]
    if turn.get("answer"):
        lines.append(f"Answer: {_one_line(turn['answer'] or '', ANSWER_CHARS)}")
    return "\n".join(lines)


def earlier_turns(state: RunState) -> tuple[list[Turn], int]:
    """The earlier turns the roles see (the latest `HISTORY_TURNS` that fit in `HISTORY_CHARS`, oldest
    first) and how many older ones are left out."""
    history = list(state.get("history") or [])
    shown = history[-HISTORY_TURNS:]
    while len(shown) > 1 and sum(len(_turn_text(turn)) + 1 for turn in shown) > HISTORY_CHARS:
        shown = shown[1:]
    return shown, len(history) - len(shown)


def request_text(state: RunState) -> str:
    """The task the roles see: the request alone on a fresh thread; on a later turn, the earlier turns
    (each request, its calls with their results, its answer; cut as `earlier_turns` and the *_CHARS
    limits say) and then the new request, so "now send him 'hello'" can use the address found before.
    With a clock (`Agent(now=...)`) a last line tells the current date and time, so "tomorrow at 10"
    can be written as a date.

    >>> request_text({"task": "What is 2 + 2?"})
    'What is 2 + 2?'
    """
    turns, left_out = earlier_turns(state)
    clock = f"\n\nCurrent date and time: {state['now']}" if state.get("now") else ""
    if not turns:
        return state["task"] + clock
    older = f"({left_out} earlier turns not shown)\n" if left_out else ""
    earlier = "\n\n".join(_turn_text(turn) for turn in turns)
    return f"{EARLIER_TURNS}\n{older}{earlier}\n\nCurrent request: {state['task']}{clock}"


def clock_text(now: datetime) -> str:
    """How the roles are told the time (`Agent(now=...)`): weekday, ISO date, 24-hour clock.

    >>> clock_text(datetime(2026, 12, 3, 9, 30))
    'Thursday 2026-12-03 09:30'
    """
    return now.strftime("%A %Y-%m-%d %H:%M")


def retrieval_query(state: RunState) -> list[str]:
    """What tool retrieval matches: the new request, then the previous one (a follow-up such as "and
    for Paris?" names no tool; the tools of the turn it follows still fit)."""
    history = state.get("history") or []
    return [state["task"], *([history[-1]["task"]] if history else [])]


def new_turn(state: RunState) -> dict[str, Any]:
    """The state update that starts a turn: the previous turn (when the state still holds one) moves
    into `history`, and every per-turn field starts afresh."""
    update: dict[str, Any] = {"turn_task": state["task"], "calls": [], "steps": 0, "retries": 0, "replans": 0}
    if state.get("turn_task") is None:
        return update | {"history": list(state.get("history") or [])}
    finished = Turn(task=state["turn_task"], calls=list(state.get("calls") or []), answer=state.get("answer"))
    return update | {
        "history": [*(state.get("history") or []), finished][-HISTORY_KEPT:],
        "answer": None,
        "outcome": None,
        "messages": [],
        "pending": [],
        "refused": [],
        "open_step": None,
        "rationale": "",
        "feedback": None,
        "last_error": None,
        "told": [],
        "usage": Overwrite({}),  # usage adds up within a turn; each turn is its own recorded run
    }


def retrieve_node(context: GraphContext) -> Node:
    """Start a turn (see `new_turn`) and pick the tools it may see: top-k by ToolRAG when there are more
    than k, without those unrelated to it (`GraphContext.min_similarity`); a few tools keep the order
    they were given in. A tool retrieval kept brings the tools its description names as the sources of
    its inputs (`ToolRegistry.offered_with_sources`), unless the graph looks them up itself
    (`GraphContext.lookups`). A later turn of a thread is matched as its request
    and the previous one. With solved examples (`GraphContext.examples`) the k most like the request are
    kept for the planner and their tools are offered too."""

    async def retrieve(state: RunState, config: RunnableConfig) -> dict[str, Any]:
        update = new_turn(state)
        names = context.registry.names()
        floor = context.min_similarity
        if context.retriever is not None and (len(names) > context.top_k or floor is not None):
            found = [
                context.retriever.retrieve(query, context.top_k, -1.0 if floor is None else floor)
                for query in retrieval_query({**state, **update})
            ]
            # the requests take turns, the new one first: the previous one's best tools get a slot too
            ranked = [name for rank in itertools.zip_longest(*found) for name in rank if name is not None]
            kept = list(dict.fromkeys(ranked))[: context.top_k]
            names = kept if len(names) > context.top_k else [name for name in names if name in kept]
            if not context.lookups:  # with lookups the graph runs the sources itself
                names = context.registry.offered_with_sources(names)
        if context.examples is not None:
            found = context.examples.retrieve(
                state["task"], context.example_k, allowed_tools=set(context.registry.names())
            )
            # the tools of solved examples like this request come along (TinyAgent's ToolRAG learns
            # which tools go together): a lookup is rarely similar to the request that needs it
            names = names + [name for example in found for name in example.tools if name not in names]
            names = list(dict.fromkeys(names))
            update["examples"] = [{"query": example.query, "plan": example.plan} for example in found]
        return update | {"tools": names}

    return retrieve


def step_limit_reached(context: GraphContext, state: RunState) -> bool:
    return state.get("steps", 0) >= context.limits.max_steps
