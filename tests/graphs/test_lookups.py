"""Source lookups (`Agent(lookups=True)`): a value for a parameter whose description names its source
tool is passed through that tool as a recorded call of its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinycrew.agents import PlannedCall
from tinycrew.graphs import Agent
from tinycrew.graphs.lookups import look_up_sources, sourced_parameters
from tinycrew.tools import ToolRegistry
from tinycrew.tools.desktop import desktop_tools, seed_sandbox


def _registry(tmp_path: Path, approval: bool = False) -> ToolRegistry:
    return ToolRegistry(desktop_tools(seed_sandbox(tmp_path / "sandbox"), approval=approval))


def test_the_sourced_parameters_are_those_whose_description_names_a_lookup(tmp_path) -> None:
    registry = _registry(tmp_path)
    assert sourced_parameters(registry, "send_sms") == {"recipients": "get_phone_number"}
    assert sourced_parameters(registry, "compose_new_email") == {
        "recipients": "get_email_address",
        "attachments": "open_and_get_file_path",
    }
    assert sourced_parameters(registry, "create_note") == {}


def test_a_tool_that_needs_approval_is_never_run_as_a_lookup(tmp_path) -> None:
    registry = ToolRegistry(desktop_tools(seed_sandbox(tmp_path / "sandbox"), approval=True, open_files=True))
    assert "attachments" not in sourced_parameters(registry, "compose_new_email")


async def test_names_become_lookup_calls_the_call_depends_on_and_the_rewrite_is_recorded(tmp_path) -> None:
    registry = _registry(tmp_path)
    call = PlannedCall(
        id=1, name="compose_new_email", arguments={"recipients": ["Kofi", "Odile"], "subject": "Hi"}
    )
    rewritten, lookups = await look_up_sources(registry, call, [], next_id=5)
    assert [(done.id, done.name, done.arguments) for done in lookups] == [
        (5, "get_email_address", {"name": "Kofi"}),
        (6, "get_email_address", {"name": "Odile"}),
    ]
    assert all(done.ok for done in lookups)
    assert rewritten.arguments["recipients"] == [lookups[0].observation, lookups[1].observation]
    assert "@" in lookups[0].observation and rewritten.depends_on == [5, 6]
    assert rewritten.model_arguments == call.arguments
    assert rewritten.rewrites[0].policy == "lookups" and rewritten.rewrites[0].after == rewritten.arguments


async def test_an_address_a_reference_or_a_found_value_is_kept_and_a_lookup_is_reused(tmp_path) -> None:
    registry = _registry(tmp_path)
    first = PlannedCall(id=1, name="send_sms", arguments={"recipients": ["Bettina"], "message": "hi"})
    _, lookups = await look_up_sources(registry, first, [], next_id=3)
    number = lookups[0].observation
    again = PlannedCall(
        id=2, name="send_sms", arguments={"recipients": ["bettina", number, "$1"], "message": "x"}
    )
    rewritten, more = await look_up_sources(registry, again, lookups, next_id=4)
    assert more == [] and rewritten.arguments["recipients"] == [number, number, "$1"]
    assert rewritten.depends_on == [3]
    typed = PlannedCall(
        id=3, name="compose_new_email", arguments={"recipients": ["zed@example.org"], "subject": "s"}
    )
    unchanged, none = await look_up_sources(registry, typed, [], next_id=9)
    assert unchanged == typed and none == []
    forward = PlannedCall(id=4, name="forward_email", arguments={"recipients": ["Bettina"]})
    looked_up, _ = await look_up_sources(registry, forward, lookups, next_id=9)
    assert set(looked_up.arguments) == {"recipients"}  # a sourced parameter left out stays out


def test_lookups_are_a_crew_option(tmp_path) -> None:
    with pytest.raises(ValueError, match="lookups= is a crew graph option"):
        Agent(_registry(tmp_path), graph="umi", lookups=True, checkpointer="memory", record=False)


@pytest.mark.slow
def test_the_crew_graph_looks_up_the_name_the_caller_wrote(tmp_path, default_model) -> None:
    registry = _registry(tmp_path)
    agent = Agent(
        registry, models=default_model, lookups=True, checkpointer="memory", record=False, answer=False
    )
    result = agent.run("Forward this email to Ananya.")
    by_name = {call.name: call for call in result.calls}
    lookup, forward = by_name["get_email_address"], by_name["forward_email"]
    assert lookup.ok and lookup.arguments == {"name": "Ananya"}
    assert forward.ok and lookup.id in forward.depends_on
    assert forward.arguments["recipients"] == [lookup.observation]
    assert forward.model_arguments is not None and forward.rewrites[-1].policy == "lookups"
    outbox = list((tmp_path / "sandbox" / "Mail" / "Outbox").rglob("*"))
    assert any(lookup.observation in path.read_text(errors="ignore") for path in outbox if path.is_file())
