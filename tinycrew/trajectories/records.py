"""Pydantic records: what the recorder writes and what the store's queries return.

The graphs build a `StepRecord` per role step; everything else is produced by the store.
Times are timezone-aware UTC datetimes (the store keeps integer microseconds since the epoch).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator


def utc_now() -> datetime:
    """The current time as an aware UTC datetime (the default for every timestamp)."""
    return datetime.now(UTC)


class StepRecord(BaseModel):
    """One model call made by one role in one run: the exact prompt, the output and what came of it."""

    run_id: str
    index: int = Field(ge=0, description="position of the step in its run, unique per run")
    role: str = Field(description="planner, caller, summarizer, joiner, compiler_planner, react, ...")
    model: str
    adapter: str | None = None
    messages: list[dict[str, Any]] = Field(description="the exact chat messages sent to the model")
    tools: list[dict[str, Any]] = Field(default_factory=list, description="OpenAI tool schemas offered")
    raw_output: str = ""
    parsed_call: dict[str, Any] | None = Field(
        default=None, description='the call the output parsed to: {"name": ..., "arguments": {...}}'
    )
    model_call: dict[str, Any] | None = Field(
        default=None,
        description="the model's own first call when a call policy changed it; parsed_call is what ran",
    )
    rewrites: list[dict[str, Any]] = Field(
        default_factory=list,
        description="what call policies changed: {call_id, name, policy, before, after, reason} each",
    )
    validation_error: str | None = None
    error: str | None = Field(default=None, description="tool execution or model failure in this step")
    observation: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    confidence: dict[str, Any] = Field(default_factory=dict, description="signals, e.g. mean_logprob")
    escalated: bool = False
    escalation_reason: str | None = None
    escalation: dict[str, Any] | None = Field(
        default=None,
        description="the escalation decision (tinycrew.switching): signals, reasons, local and cloud shares",
    )
    cost_usd: float = Field(default=0.0, description="what the step's cloud call cost")
    created_at: datetime = Field(default_factory=utc_now)


class RunInfo(BaseModel):
    """What is known about a run when it starts."""

    run_id: str
    graph: str
    task: str
    retrieved_tools: list[str] = Field(default_factory=list)
    models: dict[str, str] = Field(default_factory=dict, description="role -> model name")
    tinycrew_version: str = "unknown"
    metadata: dict[str, Any] = Field(default_factory=dict)
    started_at: datetime = Field(default_factory=utc_now)


class Feedback(BaseModel):
    """A score given to a whole run by a person or an evaluator."""

    id: str
    run_id: str
    score: float
    comment: str | None = None
    source: str = "user"
    created_at: datetime = Field(default_factory=utc_now)


class RunSummary(RunInfo):
    """A run as listed: its start, its end and the outcome signals derived from its steps."""

    finished_at: datetime | None = None
    answer: str | None = None
    outcome: str | None = Field(default=None, description="success, gave_up, error, step_limit, ...")
    cost: dict[str, Any] | None = None
    error: str | None = None
    n_steps: int = 0
    n_validation_errors: int = 0
    n_step_errors: int = 0
    n_escalations: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    n_feedback: int = 0
    mean_score: float | None = None

    @property
    def n_errors(self) -> int:
        """Step errors plus one if the run itself ended in an error."""
        return self.n_step_errors + (1 if self.error else 0)


class RunRecord(RunSummary):
    """A run with its steps (messages and tools resolved from the blob table) and its feedback."""

    steps: list[StepRecord] = Field(default_factory=list)
    feedback: list[Feedback] = Field(default_factory=list)


class RunFilter(BaseModel):
    """Which runs a query or an export takes; every field left at None matches everything."""

    outcome: list[str] | None = Field(default=None, description="any of these outcomes; a str is one")
    graph: str | None = None
    model: str | None = Field(default=None, description="runs with at least one step by this model")
    since: datetime | None = None
    until: datetime | None = None
    min_score: float | None = Field(default=None, description="mean feedback score at least this")
    limit: int | None = None

    @field_validator("outcome", mode="before")
    @classmethod
    def _one_outcome(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class StoreStats(BaseModel):
    """Totals over the whole store, for `tinycrew traj stats` and for dashboards."""

    runs: int = 0
    steps: int = 0
    feedback: int = 0
    runs_by_outcome: dict[str, int] = Field(default_factory=dict)
    steps_by_role: dict[str, int] = Field(default_factory=dict)
    steps_by_model: dict[str, int] = Field(default_factory=dict)
    validation_errors: int = 0
    step_errors: int = 0
    escalations: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    usage_by_model: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="per model: steps, prompt_tokens, completion_tokens, seconds, cost_usd (an escalated "
        "step's local attempt counts for the local model)",
    )
    usage_by_role: dict[str, dict[str, float]] = Field(default_factory=dict, description="the same per role")
    blobs: int = 0
    blob_bytes: int = 0
    payload_bytes: int = Field(default=0, description="bytes of messages + tools before deduplication")
    schema_version: int = 0

    @property
    def dedup_ratio(self) -> float:
        """How many times smaller the blob table is than the payloads it stands for."""
        return self.payload_bytes / self.blob_bytes if self.blob_bytes else 1.0
