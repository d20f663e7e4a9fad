"""The α-UMi graph: planner -> caller -> executor -> planner ... -> summarizer.

Each role does one easy thing: the planner only chooses what happens next (under a grammar), the
caller only writes one call (under a grammar built from the offered tools' schemas), the summarizer
only writes the answer.
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from tinycrew.agents import PlannedCall, call_tool, plan_next, summarize
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
from tinycrew.graphs.state import (
    GraphContext,
    RunState,
    commit_step,
    merge_usage,
    open_record,
    record,
    usage_of,
)

OVERRULED = "give_up overruled: with the tools in reverse order the planner chose another step"


def build_umi(context: GraphContext) -> StateGraph:
    """The planner/caller/summarizer state machine with step limit, the policy hook and bounded retries."""

    async def planner(state: RunState, config: RunnableConfig) -> dict[str, Any]:
        if step_limit_reached(context, state):
            return {"next": "summarizer", "outcome": "step_limit"}
        model = context.model("planner")
        tools = context.schemas(state["tools"])
        sink = token_sink(config, "planner")
        task = request_text(state)
        step = await plan_next(model, task, tools, state["calls"], sink)
        steps, usage = state["steps"], usage_of(step)
        if step.parsed.next == "give_up" and len(tools) > 1:
            # A small planner's give_up often flips with the order it reads the tools in (on BFCL's
            # multiple, 4 of 40 questions); it stands only if it holds with the tools reversed.
            second = await plan_next(model, task, tools[::-1], state["calls"], sink)
            usage = merge_usage(usage, usage_of(second))
            if second.parsed.next != "give_up":
                record(context, run_id_of(config), steps, step.model_copy(update={"error": OVERRULED}))
                steps, step = steps + 1, second
        record(context, run_id_of(config), steps, step)
        decision = step.parsed
        if decision.next == "caller" and not tools:
            decision = decision.model_copy(update={"next": "give_up"})
        update: dict[str, Any] = {
            "next": decision.next,
            # Only the reason goes on: the caller picks the tool itself, since it sees every schema in
            # the model's own tool template and picks better than the planner's bare list of names.
            "rationale": decision.rationale,
            "steps": steps + 1,
            "usage": usage,
            "retries": 0,
            "last_error": None,
            "told": [],
        }
        if decision.next == "give_up":
            update["outcome"] = "gave_up"
        return update

    async def caller(state: RunState, config: RunnableConfig) -> dict[str, Any]:
        model = context.model("caller")
        tools = context.schemas(state["tools"])
        step = await call_tool(
            model,
            request_text(state),
            tools,
            state["calls"],
            state.get("rationale", ""),
            state.get("last_error"),
            token_sink(config, "caller"),
        )
        call = step.parsed
        next_id = (state["calls"][-1].id if state["calls"] else 0) + 1
        planned = PlannedCall(id=next_id, name=call.name, arguments=call.arguments)
        # The one policy hook: the call runs as the policies leave it (each rewrite recorded on it), or
        # goes back to the caller with their message.
        checked = check_calls(context, state, [planned])
        [first] = checked.run or checked.refused
        parsed = {"name": first.name, "arguments": first.arguments}
        row = open_record(context, run_id_of(config), state["steps"], step, parsed, checked)
        update = {"steps": state["steps"] + 1, "usage": usage_of(step), "open_step": None, "pending": []}
        if checked.refused:
            commit_step(context, row, checked.refused)
            if checked.stop or step_limit_reached(
                context, update
            ):  # the caller loops: answer with what we have
                return update | {"next": "summarizer"}
            told = [*state.get("told", []), *checked.told]
            return update | {"next": "caller", "told": told, "last_error": checked.message}
        return update | {"pending": checked.run, "open_step": row, "next": "executor"}

    async def executor(state: RunState, config: RunnableConfig) -> dict[str, Any]:
        [call] = state["pending"]
        rejected = ask_approval(context.registry, [call])
        [done] = await execute_plan(context.registry, [call], state["calls"], rejected)
        commit_step(context, state.get("open_step"), [done])
        if done.error_kind == "arguments" and state.get("retries", 0) < context.limits.max_retries:
            return {
                "pending": [],
                "open_step": None,
                "next": "caller",
                "retries": state.get("retries", 0) + 1,
                "last_error": done.observation,
            }
        return {
            "pending": [],
            "open_step": None,
            "next": "planner",
            "calls": [*state["calls"], done],
            "last_error": None,
            "told": [],
        }

    async def summarizer(state: RunState, config: RunnableConfig) -> dict[str, Any]:
        if not context.answer:
            return {"answer": "", "outcome": state.get("outcome") or "success"}
        model = context.model("summarizer")
        notes = {"gave_up": "No available tool fits this task.", "step_limit": "The step limit was reached."}
        note = notes.get(state.get("outcome") or "", "")
        sink = token_sink(config, "summarizer")
        step = await summarize(model, request_text(state), state["calls"], note, sink)
        record(context, run_id_of(config), state["steps"], step)
        return {
            "answer": step.parsed,
            "outcome": state.get("outcome") or "success",
            "steps": state["steps"] + 1,
            "usage": usage_of(step),
        }

    graph = StateGraph(RunState)
    graph.add_node("retrieve", retrieve_node(context))
    graph.add_node("planner", planner)
    graph.add_node("caller", caller)
    graph.add_node("executor", executor)
    graph.add_node("summarizer", summarizer)
    graph.add_edge(START, "retrieve")
    graph.add_edge("retrieve", "planner")
    graph.add_conditional_edges(
        "planner",
        router(lambda s: "caller" if s["next"] == "caller" else "summarizer"),
        ["caller", "summarizer"],
    )
    graph.add_conditional_edges("caller", router(lambda s: s["next"]), ["executor", "caller", "summarizer"])
    graph.add_conditional_edges("executor", router(lambda s: s["next"]), ["caller", "planner", "summarizer"])
    graph.add_edge("summarizer", END)
    return graph
