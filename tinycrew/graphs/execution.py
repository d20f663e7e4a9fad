"""The tool executor shared by every graph: approval, validation, `$N` substitution, parallel DAG runs."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from langgraph.types import interrupt

from tinycrew.agents import CallRecord, PlannedCall
from tinycrew.agents.compiler_planner import reference
from tinycrew.switching.ledger import observe_calls
from tinycrew.tools import ToolRegistry


def _approved(decision: Any) -> bool:
    """Accept `True`, "approve"/"approved"/"yes", or `{"approve": bool}` as a decision."""
    if isinstance(decision, dict):
        decision = decision.get("approve", decision.get("decision"))
    if isinstance(decision, str):
        return decision.strip().lower() in {"approve", "approved", "yes", "y", "true"}
    return bool(decision)


def ask_approval(registry: ToolRegistry, calls: list[PlannedCall]) -> set[int]:
    """Interrupt the graph before side-effecting calls; returns the ids the user rejected.

    The run pauses here (checkpointed) until `Agent.resume(run_id, "approve" | "reject")` (with
    `thread=` for a turn of a conversation).
    """
    risky = [call for call in calls if call.name in registry and registry.get(call.name).side_effect]
    if not risky:
        return set()
    decision = interrupt(
        {"type": "approval", "calls": [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in risky]}
    )
    return set() if _approved(decision) else {call.id for call in risky}


def _resolve(value: Any, results: dict[int, CallRecord]) -> Any:
    """Replace a reference `$N` with call N's result where the whole value is one (at any depth: a list
    element, a dict value), keeping the result's JSON type; a `$` inside text ("The fee is $1 per page")
    stays as written, as the plan grammar and parser read it."""
    if isinstance(value, str):
        number = reference(value)
        if number is None or number not in results:
            return value
        text = results[number].observation
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    if isinstance(value, dict):
        return {key: _resolve(item, results) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, results) for item in value]
    return value


async def run_call(registry: ToolRegistry, call: PlannedCall, arguments: dict[str, Any]) -> CallRecord:
    """Validate and run one call; every failure becomes an observation."""
    record = CallRecord(
        id=call.id,
        name=call.name,
        arguments=arguments,
        depends_on=call.depends_on,
        rewrites=call.rewrites,
        model_arguments=call.model_arguments,
    )
    if call.name not in registry:
        known = ", ".join(registry.names())
        return record.model_copy(
            update={
                "ok": False,
                "error_kind": "unknown_tool",
                "observation": f"no tool {call.name!r} ({known})",
            }
        )
    result = await registry.get(call.name).arun(arguments)
    return record.model_copy(
        update={
            "arguments": record.arguments if result.arguments is None else result.arguments,
            "ok": result.ok,
            "observation": result.content,
            "error_kind": None if result.ok else result.error_kind,
        }
    )


async def execute_plan(
    registry: ToolRegistry, plan: list[PlannedCall], done: list[CallRecord], rejected: set[int]
) -> list[CallRecord]:
    """The task-fetching unit: start every call as soon as the calls it references have finished.

    Independent calls run concurrently (async tools on the loop, sync tools in threads).
    """
    results = {call.id: call for call in done}
    finished = {call.id: asyncio.Event() for call in plan}
    for event_id in results:
        finished.setdefault(event_id, asyncio.Event()).set()

    async def run(call: PlannedCall) -> CallRecord:
        for dep in call.depends_on:
            if dep in finished:
                await finished[dep].wait()
        failed = [dep for dep in call.depends_on if dep in results and not results[dep].ok]
        if call.id in rejected:
            record = CallRecord(
                id=call.id, name=call.name, arguments=call.arguments, ok=False, error_kind="rejected",
                observation="not run: the user rejected this call", depends_on=call.depends_on,
                rewrites=call.rewrites, model_arguments=call.model_arguments,
            )  # fmt: skip
        elif failed:
            record = CallRecord(
                id=call.id, name=call.name, arguments=call.arguments, ok=False, error_kind="exception",
                observation=f"not run: call {failed[0]} it depends on failed", depends_on=call.depends_on,
                rewrites=call.rewrites, model_arguments=call.model_arguments,
            )  # fmt: skip
        else:
            record = await run_call(registry, call, _resolve(call.arguments, results))
        results[call.id] = record
        finished[call.id].set()
        return record

    finished_calls = list(await asyncio.gather(*(run(call) for call in plan)))
    observe_calls(finished_calls, registry)  # signals for local/cloud switching (tinycrew.switching)
    return finished_calls
