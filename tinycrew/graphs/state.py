"""The typed state every graph checkpoints, and the context (models, tools, recorder) it runs with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict

from tinycrew.agents import CallRecord, PlannedCall, RoleStep
from tinycrew.agents.crew_planner import EXTEND_BELOW, PlanNode
from tinycrew.models import ChatModel
from tinycrew.policies import Checked, PolicyPipeline, default_policies
from tinycrew.tools import ToolRegistry
from tinycrew.trajectories import StepRecord

Usage = dict[str, dict[str, float]]


def merge_usage(left: Usage | None, right: Usage | None) -> Usage:
    """Add per-model token and time counters."""
    merged = {model: dict(counts) for model, counts in (left or {}).items()}
    for model, counts in (right or {}).items():
        target = merged.setdefault(model, {})
        for key, value in counts.items():
            target[key] = target.get(key, 0) + value
    return merged


class Turn(TypedDict):
    """One finished turn of a conversation: what the user asked, the calls it made, the answer."""

    task: str
    calls: list[CallRecord]
    answer: str | None


class RunState(TypedDict, total=False):
    """What a run knows; checkpointed after every node so a crashed run resumes where it was.

    A thread (the LangGraph thread id) holds a conversation: each `Agent.run(task, thread=...)` is one
    turn, recorded as its own run (`run_id`). The retrieve node moves the previous turn's `turn_task`,
    `calls` and `answer` into `history` and resets the per-turn fields (see `retrieve_node`).
    """

    task: str
    examples: list[dict[str, str]]  # this turn's retrieved solved examples: {"query", "plan"} each
    now: str  # the clock the roles are told (`Agent(now=...)`, see `clock_text`); absent: none is told
    run_id: str  # the recorded run of the current turn (absent when the graph runs outside an Agent)
    turn_task: str  # the request the per-turn fields below belong to, set by the retrieve node
    history: list[Turn]  # the thread's earlier turns, oldest first (at most HISTORY_KEPT)
    tools: list[str]
    calls: list[CallRecord]
    steps: int
    retries: int
    next: str
    rationale: str
    last_error: str | None
    pending: list[PlannedCall]
    replans: int
    feedback: str | None
    messages: list[dict[str, Any]]
    answer: str | None
    outcome: str | None
    usage: Annotated[Usage, merge_usage]
    open_step: dict[str, Any] | None  # a recorded step waiting for its tool observation
    told: list[str]  # the policies that sent this step's previous attempt back (see tinycrew.policies)
    refused: list[CallRecord]  # react: calls of the last turn a policy sent back, answered as tool messages
    plan: list[PlanNode]  # crew: the plan's calls not yet run
    open_steps: dict[int, dict[str, Any]]  # crew: recorded caller steps waiting for their call's result


MIN_TOOL_SIMILARITY = 0.2
"""Agents offer no tool when no tool's cosine similarity to the request, or to a part of it, reaches
this: a request no tool is about ("Tell me a joke") then gets an answer, not a call to the least
unrelated tool. A request about some tool gets the top k by rank (`ToolRetriever.retrieve_scored`).
The scale is all-MiniLM-L6-v2's. Chosen on the BFCL *train* split (`benchmarks/bench_retrieval.py`
prints the table, each question asked of its own functions): at 0.2, 95 of 198 irrelevance questions
(48%) are left with none, and 3 of 810 answerable ones (0.4%) lost a needed tool under the per-tool
floor this rule replaced, which can only lose fewer; at 0.25 it was 0.9% for 57%, at 0.15 0.1% for 37%."""


@dataclass
class Limits:
    """Bounds that keep a small model from looping."""

    max_steps: int = 12
    max_retries: int = 2
    max_replans: int = 2


@dataclass
class GraphContext:
    """Everything nodes need that is not state: models per role, tools, recorder, limits."""

    models: dict[str, ChatModel]
    registry: ToolRegistry
    limits: Limits = field(default_factory=Limits)
    recorder: Any = None  # tinycrew.trajectories.Recorder, or None to record nothing
    retriever: Any = None  # tinycrew.retrieval.ToolRetriever, or None to offer every tool
    top_k: int = 6
    min_similarity: float | None = None  # tools less similar to the request are not offered
    answer: bool = True  # False: no summarizer step, the run ends once the calls are done
    examples: Any = None
    """tinycrew.retrieval.ExampleRetriever of solved requests (plans in the crew planner's line format),
    or None: the planner sees only its fixed worked examples."""
    example_k: int = 3
    extend_below: float | None = EXTEND_BELOW
    """The crew planner asks for one more call where it ended its plan less sure than this (None: never)."""
    second_opinion: bool = True
    """The crew planner asks the compiler planner too where its plan repeats a tool and invents a value."""
    policies: PolicyPipeline = field(default_factory=lambda: PolicyPipeline(default_policies()))
    """What checks or changes each planned call before it runs; every graph hands its calls to it once."""
    escalation: Any = None
    """tinycrew.switching.Escalation (a cloud model and its policy), or None: every step stays local."""
    lookups: bool = False
    """Crew only: pass a sourced parameter's values through the tool its description names
    (`tinycrew.graphs.lookups`), each lookup a call of its own."""

    def model(self, role: str) -> ChatModel:
        """The model bound to a role, falling back to the "default" binding; with a cloud model, that
        model wrapped so the escalation policy may have the cloud redo its steps."""
        model = self.models.get(role) or self.models["default"]
        return model if self.escalation is None else self.escalation.wrap(role, model)

    def schemas(self, names: list[str]) -> list[dict[str, Any]]:
        return self.registry.openai_schemas(names)


ROLE_PREFIX = "role:"
"""With a cloud model, a run's usage also holds one entry per role, under this prefix
(`RunResult.usage_by_role`)."""


def usage_of(step: RoleStep) -> Usage:
    """Tokens and seconds a role step cost, keyed by model; a step the cloud redid (see
    `tinycrew.switching`) splits them between the local and the cloud model, prices the cloud's share
    (`cost_usd`) and adds them up per role too."""
    usage, timings = step.result.usage, step.result.timings
    whole = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "seconds": timings.total_s,
        "calls": 1,
    }
    escalation = step.result.escalation
    if escalation is None:
        return {step.model: whole}
    cloud = escalation.get("cloud") or {}
    role = {**whole, "cost_usd": float(cloud.get("cost_usd", 0.0))}
    if not escalation.get("escalated"):
        return {step.model: whole, ROLE_PREFIX + step.role: role}
    shares = {
        escalation["cloud_model"]: {
            "prompt_tokens": cloud.get("prompt_tokens", 0),
            "completion_tokens": cloud.get("completion_tokens", 0),
            "seconds": cloud.get("seconds", 0.0),
            "calls": 1,
            "cost_usd": float(cloud.get("cost_usd", 0.0)),
        },
        step.model: {
            "prompt_tokens": whole["prompt_tokens"] - cloud.get("prompt_tokens", 0),
            "completion_tokens": whole["completion_tokens"] - cloud.get("completion_tokens", 0),
            "seconds": max(0.0, whole["seconds"] - cloud.get("seconds", 0.0)),
            "calls": 1,
        },
    }
    if not escalation.get("local"):  # a run routed to the cloud: the local model was not asked
        del shares[step.model]
    return merge_usage(shares, {ROLE_PREFIX + step.role: role})


def step_record(
    run_id: str,
    index: int,
    step: RoleStep,
    parsed_call: dict[str, Any] | None = None,
    checked: Checked | None = None,
) -> dict[str, Any]:
    """The trajectory row of one role step, as plain JSON (it may wait in the state for its observation);
    `checked` adds what the call policies changed: every rewrite, and the model's own first call."""
    confidence = {}
    if step.result.mean_logprob is not None:
        confidence["mean_logprob"] = step.result.mean_logprob
    escalation = step.result.escalation
    switching: dict[str, Any] = {}
    if escalation is not None:  # a cloud model is configured: what the escalation policy decided
        confidence |= escalation.get("signals") or {}
        escalated = bool(escalation.get("escalated"))
        reasons = "; ".join(escalation.get("reasons") or [])
        if reasons and not escalated:
            reasons = f"stayed local ({escalation.get('stayed_local')}): {reasons}"
        switching = {
            "escalated": escalated,
            "escalation_reason": reasons or None,
            "escalation": escalation,
            "cost_usd": float((escalation.get("cloud") or {}).get("cost_usd", 0.0)),
        }
    return StepRecord(
        run_id=run_id,
        index=index,
        role=step.role,
        model=escalation["cloud_model"] if escalation and escalation.get("escalated") else step.model,
        messages=step.messages,
        tools=step.tools,
        raw_output=step.result.content,
        parsed_call=parsed_call,
        error=step.error,
        prompt_tokens=step.result.usage.prompt_tokens,
        completion_tokens=step.result.usage.completion_tokens,
        latency_s=step.result.timings.total_s,
        confidence=confidence,
        **switching,
        **policy_fields(checked),
    ).model_dump(mode="json")


def policy_fields(checked: Checked | None) -> dict[str, Any]:
    """The step-row fields of a policy check: `rewrites` (each with its call id) and `model_call`, the
    model's own version of the step's first call when a policy changed it."""
    if checked is None:
        return {}
    planned = sorted([*checked.run, *checked.refused], key=lambda call: call.id)
    rewrites = [
        {"call_id": call.id, "name": call.name, **rewrite.model_dump(mode="json")}
        for call in planned
        for rewrite in call.rewrites
    ]
    first = planned[0] if planned else None
    model_call = None
    if first is not None and first.model_arguments is not None:
        model_call = {"name": first.name, "arguments": first.model_arguments}
    return {"rewrites": rewrites, "model_call": model_call}


def open_record(
    context: GraphContext,
    run_id: str | None,
    index: int,
    step: RoleStep,
    parsed_call: dict[str, Any] | None = None,
    checked: Checked | None = None,
) -> dict[str, Any] | None:
    """The row of a step that waits in the state for its observation, or None when nothing records.

    Built only for a recorder and a recorded run (`run_id` None: the graph runs outside an Agent, as a
    subgraph, and records nothing): the row (prompt, tool schemas) would otherwise be dumped to JSON and
    then checkpointed with the state for nothing.
    """
    if context.recorder is None or run_id is None:
        return None
    return step_record(run_id, index, step, parsed_call, checked)


def commit_step(context: GraphContext, row: dict[str, Any] | None, calls: list[CallRecord] = ()) -> None:
    """Write a step row, with what its calls produced, to the trajectory store (when recording is on)."""
    if context.recorder is None or row is None:
        return
    if calls:
        failures = [c for c in calls if c.error_kind == "arguments"]
        errors = [c for c in calls if not c.ok and c.error_kind != "arguments"]
        row = row | {
            "observation": "\n".join(call.observation for call in calls),
            "validation_error": failures[0].observation if failures else None,
            "error": errors[0].observation if errors else row.get("error"),
        }
    context.recorder.record_step(StepRecord.model_validate(row))


def record(
    context: GraphContext,
    run_id: str | None,
    index: int,
    step: RoleStep,
    parsed_call: dict[str, Any] | None = None,
) -> None:
    """Record a step that has no tool observation to wait for (nothing when `run_id` is None)."""
    if context.recorder is not None and run_id is not None:
        commit_step(context, step_record(run_id, index, step, parsed_call))
