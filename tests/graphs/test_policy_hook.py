"""Graph wiring of call policies: one hook per graph, no rewrite rule called directly, and `$N`
substituted only where a whole value is a reference."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from tinycrew.agents import CallRecord, PlannedCall
from tinycrew.graphs import Agent, compiler, react, umi
from tinycrew.graphs.execution import execute_plan
from tinycrew.policies import DropUnfoundedOptions, default_policies
from tinycrew.tools import ToolRegistry, tool


@pytest.mark.parametrize("module", [umi, compiler, react])
def test_each_graph_has_one_policy_hook_and_calls_no_rule(module) -> None:
    source = inspect.getsource(module)
    assert source.count("check_calls(") == 1
    for rule in ("grounding", "units", "places", "repeats", "without_repeats", "grounded_call"):
        assert rule not in source, rule


@tool
def find_email(name: str) -> str:
    """An email address.

    Args:
        name: Whose.
    """
    return f"{name.lower()}@x.com"


@tool
def send_note(to: str, text: str, cc: list[str] | None = None) -> str:
    """Send a note.

    Args:
        to: The address.
        text: The note.
        cc: Other addresses.
    """
    return f"to {to} (cc {cc}): {text}"


def test_a_reference_inside_text_stays_as_written() -> None:
    registry = ToolRegistry([find_email, send_note])
    done = [CallRecord(id=1, name="find_email", arguments={"name": "Bob"}, observation="bob@x.com")]
    note = PlannedCall(
        id=2,
        name="send_note",
        arguments={"to": "$1", "text": "The fee is $1 per page", "cc": ["$1", "ann@x.com"]},
        depends_on=[1],
    )
    [record] = asyncio.run(execute_plan(registry, [note], done, set()))
    assert record.ok and record.arguments == {
        "to": "bob@x.com",
        "text": "The fee is $1 per page",
        "cc": ["bob@x.com", "ann@x.com"],
    }


def test_an_agent_runs_the_lossless_defaults_unless_given_policies() -> None:
    registry = ToolRegistry([find_email])
    plain = Agent(registry, models={}, checkpointer="memory", record=False, min_similarity=None)
    assert plain.context.policies.names == [policy.name for policy in default_policies()]
    chosen = Agent(
        registry, models={}, checkpointer="memory", record=False, min_similarity=None,
        policies=[DropUnfoundedOptions()],
    )  # fmt: skip
    assert chosen.context.policies.names == ["drop_unfounded_options"]
