"""The LLMCompiler graph: plan a DAG of calls, run every ready call at once, join, maybe replan."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from tinycrew.agents import join, plan_calls, summarize
from tinycrew.graphs.common import request_text, retrieve_node, router, run_id_of, token_sink
from tinycrew.graphs.execution import ask_approval, execute_plan
from tinycrew.graphs.hook import check_calls
from tinycrew.graphs.state import GraphContext, RunState, commit_step, open_record, record, usage_of


def build_compiler(context: GraphContext) -> StateGraph:
    """planner -> task-fetching unit (parallel) -> joiner -> summarizer | planner (bounded replans)."""

    async def planner(state: RunState, config: RunnableConfig) -> dict[str, Any]:
        model = context.model("planner")
        tools = context.schemas(state["tools"])
        if not tools:
            return {"pending": [], "outcome": "gave_up"}
        step = await plan_calls(
            model,
            request_text(state),
            tools,
            state["calls"],
            state.get("feedback"),
            token_sink(config, "planner"),
        )
        # The one policy hook: calls run as the policies leave them; a call sent back does not run and
        # its message joins the results the joiner (and a replan) reads.
        checked = check_calls(context, state, step.parsed)
        plan = checked.run
        planned = sorted([*checked.run, *checked.refused], key=lambda call: call.id)
        first = planned[0].model_dump(include={"name", "arguments"}) if planned else None
        row = open_record(context, run_id_of(config), state["steps"], step, first, checked)
        if not plan:
            commit_step(context, row, checked.refused)
        # An empty first plan means no tool fits; an empty replan means nothing is left to do.
        outcome = None if plan else ("success" if state["calls"] else "gave_up")
        return {
            "outcome": outcome,
            "pending": plan,
            "refused": checked.refused if plan else [],
            "steps": state["steps"] + 1,
            "usage": usage_of(step),
            "open_step": row if plan else None,
        }

    async def executor(state: RunState, config: RunnableConfig) -> dict[str, Any]:
        plan, refused = state["pending"], state.get("refused") or []
        rejected = ask_approval(context.registry, plan)
        # a call that references a refused one does not run (its dependency failed)
        done = await execute_plan(context.registry, plan, [*state["calls"], *refused], rejected)
        made = sorted([*done, *refused], key=lambda call: call.id)
        commit_step(context, state.get("open_step"), made)
        return {"calls": [*state["calls"], *made], "pending": [], "refused": [], "open_step": None}

    async def joiner(state: RunState, config: RunnableConfig) -> dict[str, Any]:
        model = context.model("joiner")
        step = await join(model, request_text(state), state["calls"], token_sink(config, "joiner"))
        record(context, run_id_of(config), state["steps"], step)
        decision = step.parsed
        update: dict[str, Any] = {"steps": state["steps"] + 1, "usage": usage_of(step)}
        can_replan = state.get("replans", 0) < context.limits.max_replans and bool(state["tools"])
        if decision.action == "replan" and can_replan:
            return update | {
                "next": "planner",
                "replans": state.get("replans", 0) + 1,
                "feedback": decision.thought,
            }
        outcome = "success" if decision.action == "finish" else "step_limit"
        if not state["tools"] and not state["calls"]:
            outcome = "gave_up"
        return update | {"next": "summarizer", "outcome": outcome}

    async def summarizer(state: RunState, config: RunnableConfig) -> dict[str, Any]:
        if not context.answer:
            return {"answer": ""}
        model = context.model("summarizer")
        note = "No available tool fits this task." if state.get("outcome") == "gave_up" else ""
        sink = token_sink(config, "summarizer")
        step = await summarize(model, request_text(state), state["calls"], note, sink)
        record(context, run_id_of(config), state["steps"], step)
        return {"answer": step.parsed, "steps": state["steps"] + 1, "usage": usage_of(step)}

    graph = StateGraph(RunState)
    graph.add_node("retrieve", retrieve_node(context))
    graph.add_node("planner", planner)
    graph.add_node("executor", executor)
    graph.add_node("joiner", joiner)
    graph.add_node("summarizer", summarizer)
    graph.add_edge(START, "retrieve")
    graph.add_edge("retrieve", "planner")
    graph.add_conditional_edges(
        "planner", router(lambda s: "executor" if s["pending"] else "summarizer"), ["executor", "summarizer"]
    )
    graph.add_edge("executor", "joiner")
    graph.add_conditional_edges("joiner", router(lambda s: s["next"]), ["planner", "summarizer"])
    graph.add_edge("summarizer", END)
    return graph
