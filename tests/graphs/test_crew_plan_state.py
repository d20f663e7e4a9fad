"""How the crew graph groups ready nodes into caller steps and changes the plan after a step wrote
more calls than nodes (no model needed)."""

from __future__ import annotations

from tinycrew.agents.crew_planner import PlanNode
from tinycrew.graphs.crew import _caller_groups, _with_extra_deps


def test_a_node_after_a_node_that_wrote_extra_calls_waits_for_them_too() -> None:
    plan = [
        PlanNode(id=1, tool="get_weather", purpose="Oslo and Lima"),
        PlanNode(id=2, tool="send_email", purpose="the forecast to Kofi", depends_on=[1]),
        PlanNode(id=3, tool="get_time", purpose="in Oslo"),
    ]
    changed = _with_extra_deps(plan, {1: [4], 3: []})
    assert [node.depends_on for node in changed] == [[], [1, 4], []]


def test_without_extra_calls_the_plan_is_the_same_object() -> None:
    plan = [PlanNode(id=1, tool="get_weather", purpose="Oslo")]
    assert _with_extra_deps(plan, {1: []}) is plan


def test_ready_nodes_of_one_tool_and_the_same_dependencies_are_one_caller_step() -> None:
    ready = [
        PlanNode(id=1, tool="get_weather", purpose="Oslo"),
        PlanNode(id=2, tool="get_time", purpose="Oslo"),
        PlanNode(id=3, tool="get_weather", purpose="Lima"),
        PlanNode(id=4, tool="get_weather", purpose="Kofi's city", depends_on=[9]),
        PlanNode(id=5, tool="get_weather", purpose="Quito", attempts=1, error="city: field required"),
    ]
    groups = _caller_groups(ready)
    assert [[node.id for node in group] for group in groups] == [[1, 3], [2], [4], [5]]
