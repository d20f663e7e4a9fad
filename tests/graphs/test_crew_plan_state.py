"""How the crew graph's plan changes when a node became several calls (no model needed)."""

from __future__ import annotations

from tinycrew.agents.crew_planner import PlanNode
from tinycrew.graphs.crew import _with_fanned_deps


def test_a_node_after_a_fanned_out_node_waits_for_every_call_of_it() -> None:
    plan = [
        PlanNode(id=1, tool="get_weather", purpose="Oslo and Lima"),
        PlanNode(id=2, tool="send_email", purpose="the forecast to Kofi", depends_on=[1]),
        PlanNode(id=3, tool="get_time", purpose="in Oslo"),
    ]
    changed = _with_fanned_deps(plan, {1: [1, 4], 3: [3]})
    assert [node.depends_on for node in changed] == [[], [1, 4], []]


def test_without_a_fan_out_the_plan_is_the_same_object() -> None:
    plan = [PlanNode(id=1, tool="get_weather", purpose="Oslo")]
    assert _with_fanned_deps(plan, {1: [1]}) is plan
