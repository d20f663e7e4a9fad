"""The LLMCompiler graph: plan a DAG of calls, run every ready call at once, join, maybe replan."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from tinycrew.agents import join, plan_calls, summarize
from tinycrew.agents.compiler_planner import without_repeats
from tinycrew.graphs.common import retrieve_node, router, run_id_of, token_sink
from tinycrew.graphs.execution import ask_approval, execute_plan
from tinycrew.graphs.grounding import grounded_call
from tinycrew.graphs.state import GraphContext, RunState, commit_step, open_record, record, usage_of


def build_compiler(context: GraphContext) -> StateGraph:
    """planner -> task-fetching unit (parallel) -> joiner -> summarizer | planner (bounded replans)."""

    async def planner(state: RunState, config: RunnableConfig) -> dict[str, Any]:
        model = context.model("planner")
        tools = context.schemas(state["tools"])
        if not tools:
            return {"pending": [], "outcome": "gave_up"}
        step = await plan_calls(
            model, state["task"], tools, state["calls"], state.get("feedback"), token_sink(config, "planner")
        )
        # Options the task never mentions take the tool's default, one it names is filled in (see
        # graphs.grounding); calls that differed only in dropped options are then one call.
        task, done = state["task"], state["calls"]
        pruned = [grounded_call(context.registry, task, call, done, step.parsed) for call in step.parsed]
        plan = without_repeats(pruned, done)
        first = plan[0].model_dump(include={"name", "arguments"}) if plan else None
        row = open_record(context, run_id_of(config), state["steps"], step, first)
        if not plan:
            commit_step(context, row)
        # An empty first plan means no tool fits; an empty replan means nothing is left to do.
        outcome = None if plan else ("success" if state["calls"] else "gave_up")
        return {
            "outcome": outcome,
            "pending": plan,
            "steps": state["steps"] + 1,
            "usage": usage_of(step),
            "open_step": row if plan else None,
        }

    async def executor(state: RunState, config: RunnableConfig) -> dict[str, Any]:
        plan = state["pending"]
        rejected = ask_approval(context.registry, plan)
        done = await execute_plan(context.registry, plan, state["calls"], rejected)
        commit_step(context, state.get("open_step"), done)
        return {"calls": [*state["calls"], *done], "pending": [], "open_step": None}

    async def joiner(state: RunState, config: RunnableConfig) -> dict[str, Any]:
        model = context.model("joiner")
        step = await join(model, state["task"], state["calls"], token_sink(config, "joiner"))
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
        step = await summarize(model, state["task"], state["calls"], note, token_sink(config, "summarizer"))
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
