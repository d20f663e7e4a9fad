"""Helpers shared by the policy tests."""

from __future__ import annotations

from tinycrew.agents import CallRecord, PlannedCall
from tinycrew.policies import PolicyPipeline
from tinycrew.policies.repairs import REWRITES
from tinycrew.tools import ToolRegistry


def repaired(
    registry: ToolRegistry,
    task: str,
    call: PlannedCall,
    calls: list[CallRecord] | None = None,
    siblings: list[PlannedCall] | None = None,
) -> PlannedCall:
    """`call` as the opt-in rewriting policies leave it (what `grounded_call` did before policies)."""
    pipeline = PolicyPipeline([rule() for rule in REWRITES])
    checked = pipeline.check(siblings or [call], registry, task, calls or [])
    return next(done for done in checked.run if done.id == call.id)
