"""The crew graph, the default: α-UMi's roles over an LLMCompiler DAG.

gate -> planner -> executor -> caller -> executor ... -> [joiner -> planner] -> summarizer

- The gate asks the model, in its own tool-calling template, whether the request needs a tool at all
  (`tinycrew.agents.gate`); if not, its text reply is the answer and the run ends.
- The planner writes the DAG of intended calls as draft calls under each tool's typed schema grammar,
  `$N` standing for call N's result; or it decides that no tool applies, or asks the user for a
  missing value (then the run ends with the question as its answer).
- A draft that uses no result runs as the planner wrote it. The caller writes the arguments of a call
  that uses results, under that one tool's schema constraint, seeing the request, the draft and the
  results (not `$N` placeholders: it takes the value it needs out of a result). A call a policy sends
  back, or whose arguments fail validation, goes back to the caller with the message, at most
  `Limits.max_retries` times.
- The executor runs every ready call at once; nodes whose dependencies are done become ready next.
- The joiner runs only when a call failed: a plan whose calls all ran is done, since its dependencies
  were planned up front. It finishes or replans (at most `Limits.max_replans` times).
- The summarizer writes the answer (skipped with `answer=False`).
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from tinycrew.agents import CallRecord, PlannedCall, call_tool, call_tools, join, summarize
from tinycrew.agents.caller import MAX_CALLS_PER_PART
from tinycrew.agents.crew_planner import PlanNode, plan_crew
from tinycrew.agents.gate import answer_without_tools, needs_tools
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
from tinycrew.graphs.lookups import look_up_sources
from tinycrew.graphs.state import (
    GraphContext,
    RunState,
    commit_step,
    merge_usage,
    open_record,
    record,
    usage_of,
)
from tinycrew.policies import Checked

NO_TOOL_NOTE = (
    "No tool was used: none fits. Answer from general knowledge if that is enough (a joke, a definition); "
    "for anything that needs a tool (live data, an action), say you cannot do it."
)
RETRY_KINDS = ("arguments", "refused", "unfounded", "repeated")
"""Error kinds that send a node back to the caller (with the message) instead of ending it."""
NO_REPLAN_KINDS = ("rejected", "duplicate")
"""Failed calls that do not call the joiner: the user said no, or the call was a copy of another."""
CALL_IDS = "call_ids"
"""Key of an open step row that lists the calls (of one caller step) whose results the row waits for."""


def _ready(plan: list[PlanNode], calls: list[CallRecord]) -> list[PlanNode]:
    """The nodes whose dependencies have all finished (in plan order)."""
    finished = {call.id for call in calls}
    return [node for node in plan if all(dep in finished for dep in node.depends_on)]


def build_crew(context: GraphContext) -> StateGraph:
    """The crew state machine: plan once, write and run the calls wave by wave, join only on failure."""

    async def gate(state: RunState, config: RunnableConfig) -> dict[str, Any]:
        tools = context.schemas(state["tools"])
        base = {"plan": [], "open_steps": {}, "pending": [], "feedback": None}
        if not tools:
            return base | {"outcome": "gave_up", "next": "summarizer"}
        model, run_id = context.model("gate"), run_id_of(config)
        step = await needs_tools(model, request_text(state), tools)
        record(context, run_id, state["steps"], step)
        update = base | {"steps": state["steps"] + 1, "usage": usage_of(step)}
        if step.parsed:
            return update | {"next": "planner"}
        update["outcome"] = "gave_up"
        if not context.answer:
            return update | {"answer": "", "next": "end"}
        reply = await answer_without_tools(model, request_text(state), tools, token_sink(config, "gate"))
        record(context, run_id, state["steps"] + 1, reply)
        steps, usage = state["steps"] + 2, merge_usage(usage_of(step), usage_of(reply))
        return update | {"answer": reply.parsed, "steps": steps, "usage": usage, "next": "end"}

    async def planner(state: RunState, config: RunnableConfig) -> dict[str, Any]:
        tools = context.schemas(state["tools"])
        base = {"plan": [], "open_steps": {}, "pending": [], "feedback": None}
        model = context.model("planner")
        sink = token_sink(config, "planner")
        task, shots = request_text(state), state.get("examples")
        step = await plan_crew(
            model,
            task,
            tools,
            state["calls"],
            state.get("feedback"),
            sink,
            shots,
            context.extend_below,
            context.second_opinion,
        )
        plan, run_id = step.parsed, run_id_of(config)
        update = base | {"steps": state["steps"] + 1, "usage": usage_of(step)}
        drafts = [node for node in plan.nodes if _runs_as_drafted(node)]
        if not drafts:
            record(context, run_id, state["steps"], step)
        if plan.decision == "ask":
            return update | {"answer": plan.text, "outcome": "asked", "next": "end"}
        if plan.decision == "none":
            return update | {"outcome": "success" if state["calls"] else "gave_up", "next": "summarizer"}
        if not drafts:
            return update | {"plan": plan.nodes, "next": "caller"}
        # The drafts that use no result run as written, through the one policy hook; the planner's step
        # is recorded with their results. A draft sent back goes to the caller with the message.
        fresh = max([0, *(node.id for node in plan.nodes), *(call.id for call in state["calls"])]) + 1
        drafted = [PlannedCall(id=node.id, name=node.tool, arguments=node.arguments or {}) for node in drafts]
        written, lookups = await _with_lookups(context, drafted, state["calls"], fresh)
        checked = check_calls(context, state, written)
        first = {"name": written[0].name, "arguments": written[0].arguments}
        row = open_record(context, run_id, state["steps"], step, first, checked)
        nodes, calls = plan.nodes, [*state["calls"], *lookups]
        for refused in checked.refused:
            nodes, ended = _retry(nodes, refused, context.limits.max_retries, checked.stop)
            calls += ended
        update |= {"plan": nodes, "calls": calls, "pending": checked.run, "told": list(checked.told)}
        if checked.run and row is not None:
            update["open_steps"] = {drafts[0].id: row | {CALL_IDS: [call.id for call in checked.run]}}
        elif row is not None:
            commit_step(context, row, checked.refused)
        if checked.run:
            return update | {"next": "executor"}
        return update | {"next": "caller" if nodes else _after_calls(context, state, calls)}

    async def caller(state: RunState, config: RunnableConfig) -> dict[str, Any]:
        if step_limit_reached(context, state):
            return {"next": "summarizer", "outcome": "step_limit", "plan": []}
        model = context.model("caller")
        results = {call.id: call for call in state["calls"]}
        planned: list[PlannedCall] = []
        skipped: list[CallRecord] = []
        lookups: list[CallRecord] = []
        steps, usage, rows = state["steps"], {}, {}
        fresh = max([0, *(item.id for item in [*state["plan"], *state["calls"]])]) + 1
        fanned: dict[int, list[int]] = {}  # first node of a caller step -> every call it wrote
        extra: dict[int, list[int]] = {}  # node -> calls beyond one per node, which its dependents wait for
        unwritten: dict[int, str] = {}  # node of a group that got no call -> why (it is written alone next)
        ready: list[PlanNode] = []
        for node in _ready(state["plan"], state["calls"]):
            deps = [results[dep] for dep in node.depends_on]
            if failed := [dep.id for dep in deps if not dep.ok]:
                why = f"not run: call {failed[0]} it depends on failed"
                skipped.append(
                    CallRecord(
                        id=node.id,
                        name=node.tool,
                        ok=False,
                        error_kind="exception",
                        observation=why,
                        depends_on=node.depends_on,
                    )
                )
            else:
                ready.append(node)
        for group in _caller_groups(ready):
            first = group[0]
            tools, deps = context.schemas([first.tool]), [results[dep] for dep in first.depends_on]
            sink = token_sink(config, "caller")
            if len(group) == 1:
                step = await call_tool(
                    model, request_text(state), tools, deps, "", first.error, sink, part=_part(first)
                )
                written_calls = [step.parsed]
            else:
                parts = json.dumps([_part(node) for node in group], ensure_ascii=False)
                most = max(len(group), MAX_CALLS_PER_PART)
                step = await call_tools(model, request_text(state), tools, deps, parts, None, sink, most)
                written_calls = step.parsed
            ids = []
            for k, call in enumerate(written_calls):
                call_id = group[k].id if k < len(group) else fresh
                fresh += k >= len(group)
                written = PlannedCall(
                    id=call_id, name=call.name, arguments=call.arguments, depends_on=first.depends_on
                )
                [written], found = await _with_lookups(context, [written], [*state["calls"], *lookups], fresh)
                lookups += found
                fresh += len(found)
                planned.append(written)
                ids.append(call_id)
            fanned[first.id] = ids
            extra |= {node.id: ids[len(group) :] for node in group}
            unwritten |= {node.id: "no call was written for this part" for node in group[len(ids) :]}
            rows[first.id] = (steps, step)
            steps, usage = steps + 1, merge_usage(usage, usage_of(step))
        # The one policy hook: the wave's calls run as the policies leave them, or go back to the caller.
        planned.sort(key=lambda call: call.id)  # policies compare a call with the siblings before it
        checked = check_calls(context, state, planned)
        run_id = run_id_of(config)
        open_steps = {}
        for node_id, (index, step) in rows.items():
            ran = [call for call in checked.run if call.id in fanned[node_id]]
            refused = [call for call in checked.refused if call.id in fanned[node_id]]
            first = (ran or refused)[0]
            parsed = {"name": first.name, "arguments": first.arguments}
            row = open_record(context, run_id, index, step, parsed, Checked(run=ran, refused=refused))
            if row is not None and ran:
                open_steps[node_id] = row | {CALL_IDS: [call.id for call in ran]}
            elif row is not None:
                commit_step(context, row, refused)
        ended_ids = {call.id for call in skipped}
        plan = [node for node in state["plan"] if node.id not in ended_ids]
        calls = [*state["calls"], *skipped, *lookups]
        plan = _with_extra_deps(plan, extra)
        plan = [
            node.model_copy(update={"error": unwritten[node.id], "attempts": node.attempts + 1})
            if node.id in unwritten
            else node
            for node in plan
        ]
        for refused in checked.refused:
            plan, ended = _retry(plan, refused, context.limits.max_retries, checked.stop)
            calls += ended
        update = {"steps": steps, "usage": usage, "pending": checked.run, "open_steps": open_steps}
        update |= {"plan": plan, "calls": sorted(calls, key=lambda call: call.id), "told": list(checked.told)}
        if checked.run:
            return update | {"next": "executor"}
        return update | {"next": "caller" if plan else _after_calls(context, state, calls)}

    async def executor(state: RunState, config: RunnableConfig) -> dict[str, Any]:
        pending = state["pending"]
        rejected = ask_approval(context.registry, pending)
        done = await execute_plan(context.registry, pending, state["calls"], rejected)
        rows = state.get("open_steps") or {}
        plan, calls = list(state["plan"]), list(state["calls"])
        for row in rows.values():
            ids = row[CALL_IDS]
            commit_step(
                context, {k: v for k, v in row.items() if k != CALL_IDS}, [c for c in done if c.id in ids]
            )
        for call in done:
            plan, ended = _retry(plan, call, context.limits.max_retries)
            calls += ended
        calls.sort(key=lambda call: call.id)
        update = {"pending": [], "open_steps": {}, "plan": plan, "calls": calls}
        return update | {"next": "caller" if plan else _after_calls(context, state, calls)}

    async def joiner(state: RunState, config: RunnableConfig) -> dict[str, Any]:
        model = context.model("joiner")
        step = await join(model, request_text(state), state["calls"], token_sink(config, "joiner"))
        record(context, run_id_of(config), state["steps"], step)
        update: dict[str, Any] = {"steps": state["steps"] + 1, "usage": usage_of(step)}
        if step.parsed.action == "replan" and not step_limit_reached(context, update):
            return update | {
                "next": "planner",
                "replans": state.get("replans", 0) + 1,
                "feedback": step.parsed.thought,
            }
        return update | {"next": "summarizer", "outcome": "success"}

    async def summarizer(state: RunState, config: RunnableConfig) -> dict[str, Any]:
        outcome = state.get("outcome") or "success"
        if not context.answer:
            return {"answer": "", "outcome": outcome}
        model = context.model("summarizer")
        notes = {"gave_up": NO_TOOL_NOTE, "step_limit": "The step limit was reached."}
        sink = token_sink(config, "summarizer")
        step = await summarize(model, request_text(state), state["calls"], notes.get(outcome, ""), sink)
        record(context, run_id_of(config), state["steps"], step)
        return {
            "answer": step.parsed,
            "outcome": outcome,
            "steps": state["steps"] + 1,
            "usage": usage_of(step),
        }

    graph = StateGraph(RunState)
    graph.add_node("retrieve", retrieve_node(context))
    graph.add_node("gate", gate)
    graph.add_node("planner", planner)
    graph.add_node("caller", caller)
    graph.add_node("executor", executor)
    graph.add_node("joiner", joiner)
    graph.add_node("summarizer", summarizer)
    graph.add_edge(START, "retrieve")
    graph.add_edge("retrieve", "gate")
    graph.add_conditional_edges(
        "gate", router(lambda s: END if s["next"] == "end" else s["next"]), ["planner", "summarizer", END]
    )
    graph.add_conditional_edges(
        "planner",
        router(lambda s: END if s["next"] == "end" else s["next"]),
        ["executor", "caller", "joiner", "summarizer", END],
    )
    graph.add_conditional_edges(
        "caller", router(lambda s: s["next"]), ["executor", "caller", "joiner", "summarizer"]
    )
    graph.add_conditional_edges("executor", router(lambda s: s["next"]), ["caller", "joiner", "summarizer"])
    graph.add_conditional_edges("joiner", router(lambda s: s["next"]), ["planner", "summarizer"])
    graph.add_edge("summarizer", END)
    return graph


async def _with_lookups(
    context: GraphContext, written: list[PlannedCall], known: list[CallRecord], fresh: int
) -> tuple[list[PlannedCall], list[CallRecord]]:
    """The calls with their sourced values looked up where the agent does lookups
    (`tinycrew.graphs.lookups`), and the lookup calls that ran (ids from `fresh`)."""
    if not context.lookups:
        return written, []
    looked_up: list[PlannedCall] = []
    lookups: list[CallRecord] = []
    for call in written:
        call, found = await look_up_sources(context.registry, call, [*known, *lookups], fresh + len(lookups))
        looked_up.append(call)
        lookups += found
    return looked_up, lookups


def _runs_as_drafted(node: PlanNode) -> bool:
    """Whether the planner's draft runs as written: it uses no result (the caller takes a value out of a
    result) and was not sent back (the caller fixes it with the message)."""
    return node.arguments is not None and not node.depends_on and not node.attempts


def _part(node: PlanNode) -> str:
    """What the caller is told the call does: the planner's draft, its `$N` explained."""
    if node.depends_on and node.arguments is not None:
        return f"{node.purpose}, where $N is the result of call N"
    return node.purpose


def _caller_groups(ready: list[PlanNode]) -> list[list[PlanNode]]:
    """Ready nodes of one tool that wait for the same calls, in plan order, form one caller step: the
    0.5B writes each instance's values when it writes them all in one list (as LLMCompiler's planner
    does), where a caller per node copied the first instance's values into the others (docs/crew.md).
    A node sent back (a retry) is written alone."""
    groups: dict[tuple[str, tuple[int, ...]], list[PlanNode]] = {}
    alone: list[list[PlanNode]] = []
    for node in ready:
        if node.attempts:
            alone.append([node])
        else:
            groups.setdefault((node.tool, tuple(node.depends_on)), []).append(node)
    return sorted([*groups.values(), *alone], key=lambda group: group[0].id)


def _with_extra_deps(plan: list[PlanNode], extra: dict[int, list[int]]) -> list[PlanNode]:
    """Calls a caller step wrote beyond one per node: the nodes after it wait for (and see) them too."""
    extra = {node_id: ids for node_id, ids in extra.items() if ids}
    if not extra:
        return plan
    return [
        node.model_copy(
            update={
                "depends_on": sorted(
                    {*node.depends_on, *(i for d in node.depends_on for i in extra.get(d, []))}
                )
            }
        )
        for node in plan
    ]


def _retry(
    plan: list[PlanNode], call: CallRecord | PlannedCall, max_retries: int, stop: bool = False
) -> tuple[list[PlanNode], list[CallRecord]]:
    """After a call came back: its node leaves the plan with the call as its record, or stays for one
    more attempt (the message kept for the caller) when it failed in a way the caller can fix."""
    if not isinstance(call, CallRecord):
        return plan, []
    node = next((node for node in plan if node.id == call.id), None)
    if node is None:
        return plan, [call]
    if not call.ok and call.error_kind in RETRY_KINDS and node.attempts < max_retries and not stop:
        again = node.model_copy(update={"error": call.observation, "attempts": node.attempts + 1})
        return [again if item.id == node.id else item for item in plan], []
    return [item for item in plan if item.id != node.id], [call]


def _after_calls(context: GraphContext, state: RunState, calls: list[CallRecord]) -> str:
    """Every node is done: the joiner when a call failed and a replan is left, else the summarizer."""
    failed = [call for call in calls if not call.ok and call.error_kind not in NO_REPLAN_KINDS]
    if failed and state.get("replans", 0) < context.limits.max_replans:
        return "joiner"
    return "summarizer"
