"""Roles: one small module per job (planner, caller, summarizer, compiler planner, joiner)."""

from tinycrew.agents.caller import call_tool, call_tools
from tinycrew.agents.common import CallRecord, Rewrite, RoleStep
from tinycrew.agents.compiler_planner import PlannedCall, plan_calls
from tinycrew.agents.joiner import JoinDecision, join
from tinycrew.agents.planner import PlannerDecision, plan_next
from tinycrew.agents.summarizer import summarize

__all__ = [
    "CallRecord",
    "JoinDecision",
    "PlannedCall",
    "PlannerDecision",
    "Rewrite",
    "RoleStep",
    "call_tool",
    "call_tools",
    "join",
    "plan_calls",
    "plan_next",
    "summarize",
]
