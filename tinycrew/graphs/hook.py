"""The one policy hook of every graph: the calls a model planned go through the agent's call policies
here, once, before anything runs (see `tinycrew.policies`)."""

from __future__ import annotations

from tinycrew.agents import PlannedCall
from tinycrew.graphs.common import request_text
from tinycrew.graphs.state import GraphContext, RunState
from tinycrew.policies import Checked
from tinycrew.switching.ledger import observe_calls


def check_calls(context: GraphContext, state: RunState, planned: list[PlannedCall]) -> Checked:
    """The step's planned calls through `context.policies`, with the task as the roles see it (earlier
    turns of the thread included, so a value found before counts as said), the turn's calls so far,
    offered tools and the policies that sent this step's previous attempt back."""
    checked = context.policies.check(
        planned,
        context.registry,
        request_text(state),
        state.get("calls", []),
        tools=state.get("tools", []),
        told=tuple(state.get("told") or ()),
    )
    if context.escalation is not None:  # a refused call is a signal for local/cloud switching
        observe_calls(checked.refused, context.registry)
    return checked
