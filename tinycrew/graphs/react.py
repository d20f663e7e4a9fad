"""The ReAct baseline: one model with native tool calls in a loop. Everything is measured against it."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from tinycrew.agents import PlannedCall, RoleStep
from tinycrew.agents.common import run_model
from tinycrew.graphs.common import retrieve_node, router, run_id_of, step_limit_reached, token_sink
from tinycrew.graphs.execution import ask_approval, execute_plan
from tinycrew.graphs.grounding import grounded_call
from tinycrew.graphs.state import GraphContext, RunState, commit_step, open_record, usage_of
from tinycrew.models import ToolCall

SYSTEM = "You are a helpful assistant. Use the tools when they help; answer briefly when you are done."


def build_react(context: GraphContext) -> StateGraph:
    """model -> tools -> model ... until the model answers without a call (or the step limit)."""

    async def model_node(state: RunState, config: RunnableConfig) -> dict[str, Any]:
        model = context.model("react")
        messages = state.get("messages") or [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": state["task"]},
        ]
        tools = context.schemas(state["tools"])
        result = await run_model(
            model, messages, token_sink(config, "react"), tools=tools, max_tokens=256, logprobs=True
        )
        step = RoleStep(role="react", model=model.name, messages=messages, tools=tools, result=result)
        base = len(state.get("calls", []))
        unique = {(call.name, repr(call.arguments)): call for call in result.tool_calls}  # models stutter
        proposed = [
            PlannedCall(id=base + i + 1, name=call.name, arguments=call.arguments)
            for i, call in enumerate(unique.values())
        ]
        # Options the task never mentions take the tool's default, one it names is filled in (see
        # graphs.grounding).
        done = state.get("calls", [])
        pending = [grounded_call(context.registry, state["task"], call, done, proposed) for call in proposed]
        first = pending[0].model_dump(include={"name", "arguments"}) if pending else None
        row = open_record(context, run_id_of(config), state["steps"], step, first)
        if not pending:
            commit_step(context, row)
        # The conversation shows the calls that run, so each tool message answers the call it names.
        ran = [
            ToolCall(id=raw.id, name=call.name, arguments=call.arguments)
            for raw, call in zip(unique.values(), pending, strict=True)
        ]
        update: dict[str, Any] = {
            "open_step": row if pending else None,
            "messages": [*messages, result.model_copy(update={"tool_calls": ran}).message],
            "steps": state["steps"] + 1,
            "usage": usage_of(step),
            "pending": pending,
        }
        known = {(c.name, repr(c.arguments)): c for c in state.get("calls", []) if c.ok}
        repeats = [known.get((call.name, repr(call.arguments))) for call in pending]
        if not pending:
            update |= {"answer": result.content.strip(), "outcome": "success"}
        elif all(repeats):
            # The model asks again for results it already has: stop the loop and answer with them.
            commit_step(context, row, [call for call in repeats if call is not None])
            answer = "\n".join(call.observation for call in repeats if call)
            update |= {"answer": answer, "outcome": "success", "pending": [], "open_step": None}
        elif step_limit_reached(context, {**state, "steps": state["steps"] + 1}):
            update |= {"answer": result.content.strip(), "outcome": "step_limit", "pending": []}
        return update

    async def tools_node(state: RunState, config: RunnableConfig) -> dict[str, Any]:
        pending = state["pending"]
        rejected = ask_approval(context.registry, pending)
        done = await execute_plan(context.registry, pending, state.get("calls", []), rejected)
        commit_step(context, state.get("open_step"), done)
        assistant = state["messages"][-1]
        ids = [call["id"] for call in assistant.get("tool_calls", [])]
        tool_messages = [
            {"role": "tool", "tool_call_id": call_id, "name": record_.name, "content": record_.observation}
            for call_id, record_ in zip(ids, done, strict=False)
        ]
        return {
            "calls": [*state.get("calls", []), *done],
            "messages": [*state["messages"], *tool_messages],
            "open_step": None,
        }

    graph = StateGraph(RunState)
    graph.add_node("retrieve", retrieve_node(context))
    graph.add_node("model", model_node)
    graph.add_node("tools", tools_node)
    graph.add_edge(START, "retrieve")
    graph.add_edge("retrieve", "model")
    graph.add_conditional_edges(
        "model", router(lambda s: "tools" if s.get("pending") else END), ["tools", END]
    )
    graph.add_edge("tools", "model")
    return graph
