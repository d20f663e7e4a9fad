"""The ReAct baseline: one model with native tool calls in a loop. Everything is measured against it."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from tinycrew.agents import PlannedCall, RoleStep
from tinycrew.agents.common import run_model
from tinycrew.graphs.common import (
    request_text,
    retrieve_node,
    router,
    run_id_of,
    step_limit_reached,
    token_sink,
)
from tinycrew.graphs.execution import ask_approval, execute_plan
from tinycrew.graphs.hook import check_calls
from tinycrew.graphs.state import GraphContext, RunState, commit_step, open_record, usage_of
from tinycrew.models import ToolCall

SYSTEM = "You are a helpful assistant. Use the tools when they help; answer briefly when you are done."


def build_react(context: GraphContext) -> StateGraph:
    """model -> tools -> model ... until the model answers without a call (or the step limit)."""

    async def model_node(state: RunState, config: RunnableConfig) -> dict[str, Any]:
        model = context.model("react")
        # A later turn of a thread shows the earlier ones as text in its request, as the other graphs
        # do: given them as native chat turns (user, tool calls, tool results, answer), the 0.5B model
        # wrote "send him 'hello'" as an unparsed JSON text in 3 of 4 tries, as text 0 of 4.
        messages = state.get("messages") or [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": request_text(state)},
        ]
        tools = context.schemas(state["tools"])
        result = await run_model(
            model, messages, token_sink(config, "react"), tools=tools, max_tokens=256, logprobs=True
        )
        step = RoleStep(role="react", model=model.name, messages=messages, tools=tools, result=result)
        base = len(state.get("calls", []))
        proposed = [
            PlannedCall(id=base + i + 1, name=call.name, arguments=call.arguments)
            for i, call in enumerate(result.tool_calls)
        ]
        # The one policy hook: calls run as the policies leave them; one sent back is answered with the
        # policy's message as its tool result.
        checked = check_calls(context, {**state, "calls": state.get("calls", [])}, proposed)
        pending, refused = checked.run, checked.refused
        planned = sorted([*pending, *refused], key=lambda call: call.id)
        first = planned[0].model_dump(include={"name", "arguments"}) if planned else None
        row = open_record(context, run_id_of(config), state["steps"], step, first, checked)
        if not pending:
            commit_step(context, row, refused)
        # The conversation shows the calls as they ran, so each tool message answers the call it names;
        # copies of a call within this turn (a stutter, sent back by loop protection and recorded) are
        # shown once, or the conversation would grow by every copy and its refusal.
        copies = {record.id for record in refused if record.error_kind == "duplicate"}
        ran = [
            ToolCall(id=raw.id, name=call.name, arguments=call.arguments)
            for raw, call in zip(result.tool_calls, planned, strict=True)
            if call.id not in copies
        ]
        update: dict[str, Any] = {
            "open_step": row if pending else None,
            "messages": [*messages, result.model_copy(update={"tool_calls": ran}).message],
            "steps": state["steps"] + 1,
            "usage": usage_of(step),
            "pending": pending,
            "refused": refused,
            "told": list(checked.told),
        }
        if not planned:
            update |= {"answer": result.content.strip(), "outcome": "success"}
        elif checked.stop:
            # The model asks again for results it already has: stop the loop and answer with them.
            asked = {(call.name, repr(call.arguments)) for call in refused}
            results = [
                c.observation for c in state.get("calls", []) if c.ok and (c.name, repr(c.arguments)) in asked
            ]
            answer = "\n".join(results) or result.content.strip()
            update |= {
                "answer": answer,
                "outcome": "success",
                "pending": [],
                "refused": [],
                "open_step": None,
            }
        elif step_limit_reached(context, {**state, "steps": state["steps"] + 1}):
            update |= {
                "answer": result.content.strip(),
                "outcome": "step_limit",
                "pending": [],
                "refused": [],
            }
        return update

    async def tools_node(state: RunState, config: RunnableConfig) -> dict[str, Any]:
        pending, refused = state.get("pending") or [], state.get("refused") or []
        rejected = ask_approval(context.registry, pending)
        done = await execute_plan(context.registry, pending, state.get("calls", []), rejected)
        commit_step(context, state.get("open_step"), sorted([*done, *refused], key=lambda call: call.id))
        assistant = state["messages"][-1]
        ids = [call["id"] for call in assistant.get("tool_calls", [])]
        answered = sorted(  # in the order the model wrote them; a copy within the turn is not shown
            [*done, *(record for record in refused if record.error_kind != "duplicate")],
            key=lambda call: call.id,
        )
        tool_messages = [
            {"role": "tool", "tool_call_id": call_id, "name": record_.name, "content": record_.observation}
            for call_id, record_ in zip(ids, answered, strict=False)
        ]
        return {
            "calls": [*state.get("calls", []), *done],
            "messages": [*state["messages"], *tool_messages],
            "open_step": None,
            "pending": [],
            "refused": [],
        }

    graph = StateGraph(RunState)
    graph.add_node("retrieve", retrieve_node(context))
    graph.add_node("model", model_node)
    graph.add_node("tools", tools_node)
    graph.add_edge(START, "retrieve")
    graph.add_edge("retrieve", "model")
    graph.add_conditional_edges(
        "model", router(lambda s: "tools" if s.get("pending") or s.get("refused") else END), ["tools", END]
    )
    graph.add_edge("tools", "model")
    return graph
