"""The α-UMi graph's repeat detection: which earlier call a new one repeats."""

from __future__ import annotations

from tinycrew.agents import CallRecord, PlannedCall
from tinycrew.graphs.umi import earlier_run
from tinycrew.tools import ToolRegistry, tool


@tool
def square(n: int) -> int:
    """The square of a whole number.

    Args:
        n: The number.
    """
    return n * n


REGISTRY = ToolRegistry([square])
DONE = [
    CallRecord(id=1, name="square", arguments={"n": 3}, observation="9"),
    CallRecord(id=2, name="square", arguments={"n": 5}, ok=False, error_kind="timeout"),
]


def test_a_call_with_the_same_validated_arguments_repeats_the_earlier_success() -> None:
    assert earlier_run(REGISTRY, PlannedCall(id=3, name="square", arguments={"n": "3"}), DONE) == DONE[0]


def test_new_values_a_failed_call_unknown_tools_and_invalid_arguments_repeat_nothing() -> None:
    for arguments in ({"n": 4}, {"n": 5}, {"n": "three"}):
        assert earlier_run(REGISTRY, PlannedCall(id=3, name="square", arguments=arguments), DONE) is None
    assert earlier_run(REGISTRY, PlannedCall(id=3, name="cube", arguments={"n": 3}), DONE) is None
