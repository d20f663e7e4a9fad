"""The one policy hook of every graph: the calls a model planned go through the agent's call policies
here, once, before anything runs (see `tinycrew.policies`)."""

from __future__ import annotations

from tinycrew.agents import PlannedCall
from tinycrew.graphs.state import GraphContext, RunState
from tinycrew.policies import Checked


def check_calls(context: GraphContext, state: RunState, planned: list[PlannedCall]) -> Checked:
    """The step's planned calls through `context.policies`, with the run's task, calls so far, offered
    tools and the policies that sent this step's previous attempt back."""
    return context.policies.check(
        planned,
        context.registry,
        state["task"],
        state.get("calls", []),
        tools=state.get("tools", []),
        told=tuple(state.get("told") or ()),
    )
