"""Executing planned calls: what a call record keeps."""

from __future__ import annotations

from tinycrew.agents.compiler_planner import PlannedCall
from tinycrew.graphs.execution import run_call
from tinycrew.tools import ToolRegistry, tool_from_schema

AREA = {
    "name": "area_under_curve",
    "description": "Area under a function over an interval.",
    "parameters": {
        "type": "object",
        "properties": {
            "function": {"type": "string"},
            "interval": {"type": "array", "items": {"type": "number"}},
        },
        "required": ["function", "interval"],
    },
}


async def test_a_record_keeps_the_validated_arguments_the_tool_ran_with() -> None:
    registry = ToolRegistry([tool_from_schema(AREA)])
    call = PlannedCall(id=1, name="area_under_curve")
    record = await run_call(registry, call, {"function": "x**2", "interval": [1, "3"]})
    assert record.ok
    assert record.arguments == {"function": "x**2", "interval": [1.0, 3.0]}
    assert all(type(bound) is float for bound in record.arguments["interval"])


async def test_a_refused_call_keeps_what_the_model_wrote() -> None:
    registry = ToolRegistry([tool_from_schema(AREA)])
    record = await run_call(registry, PlannedCall(id=1, name="area_under_curve"), {"interval": "1 to 3"})
    assert not record.ok and record.error_kind == "arguments"
    assert record.arguments == {"interval": "1 to 3"}
