"""The API the graphs call at every step: start a run, record each step, finish it, take feedback."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata as importlib_metadata
from typing import Any

from tinycrew.trajectories.records import Feedback, RunInfo, StepRecord
from tinycrew.trajectories.store import TrajectoryStore


def installed_version() -> str:
    """tinycrew's installed version, or "unknown" when run from a bare source tree."""
    try:
        return importlib_metadata.version("tinycrew")
    except importlib_metadata.PackageNotFoundError:
        return "unknown"


class Recorder:
    """Writes one run's trajectory as it happens; every call is committed before it returns.

    Thread-safe: graphs may record from tool threads. Errors (unknown run, duplicate step index) raise
    `TrajectoryError` rather than being swallowed, so a broken recording is noticed.
    """

    def __init__(self, store: TrajectoryStore) -> None:
        """Record into `store` (see `TrajectoryStore.open`)."""
        self.store = store

    def start_run(
        self,
        run_id: str,
        graph: str,
        task: str,
        retrieved_tools: Sequence[str] = (),
        models: dict[str, str] | None = None,
        tinycrew_version: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> RunInfo:
        """Open a run (one turn of a LangGraph thread; a run without a thread is its own thread, named by
        its run id) before its first step; returns what was stored."""
        info = RunInfo(
            run_id=run_id,
            graph=graph,
            task=task,
            retrieved_tools=list(retrieved_tools),
            models=dict(models or {}),
            tinycrew_version=tinycrew_version or installed_version(),
            metadata=dict(metadata or {}),
        )
        self.store.add_run(info)
        return info

    def record_step(self, step: StepRecord) -> None:
        """Store one role step of a started run (messages and tools deduplicated into blobs)."""
        self.store.add_step(step)

    def finish_run(
        self,
        run_id: str,
        answer: str | None,
        outcome: str,
        cost: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """Close a run with its answer and outcome ("success", "gave_up", "error", "step_limit", ...)."""
        self.store.finish_run(run_id, answer=answer, outcome=outcome, cost=cost, error=error)

    def record_feedback(
        self, run_id: str, score: float, comment: str | None = None, source: str = "user"
    ) -> Feedback:
        """Attach a score from a person ("user") or an evaluator ("evaluator", ...) to a run."""
        return self.store.add_feedback(run_id, score, comment=comment, source=source)
