"""The lossless defaults: schema coercion and loop protection that respects a tool's idempotency."""

from __future__ import annotations

import random

from tinycrew.agents import CallRecord, PlannedCall
from tinycrew.agents.compiler_planner import parse_plan
from tinycrew.policies import LoopProtection, PolicyPipeline, SchemaCoercion, default_policies
from tinycrew.tools import ToolRegistry, tool


@tool(idempotent=False)
def flip_coin() -> str:
    """Flip a coin."""
    return random.choice(["heads", "tails"])


@tool
def double(x: int) -> int:
    """Double a number.

    Args:
        x: The number.
    """
    return 2 * x


@tool
def area(width: float, label: str = "") -> float:
    """Area of a square.

    Args:
        width: The side.
        label: A label.
    """
    return width * width


REGISTRY = ToolRegistry([flip_coin, double, area])
DEFAULTS = PolicyPipeline(default_policies())


def test_coercion_keeps_the_value_and_records_the_change() -> None:
    call = PlannedCall(id=1, name="double", arguments={"x": "5"})
    [ran] = DEFAULTS.check([call], REGISTRY, "Double 5").run
    assert ran.arguments == {"x": 5} and ran.model_arguments == {"x": "5"}
    [rewrite] = ran.rewrites
    assert rewrite.policy == "schema_coercion" and rewrite.before == {"x": "5"} and rewrite.after == {"x": 5}
    assert '"5" -> 5' in rewrite.reason


def test_coercion_leaves_a_valid_call_and_an_invalid_one_alone() -> None:
    valid = PlannedCall(id=1, name="double", arguments={"x": 5})
    invalid = PlannedCall(id=2, name="double", arguments={"x": "five"})
    unknown = PlannedCall(id=3, name="triple", arguments={"x": 5})
    checked = PolicyPipeline([SchemaCoercion()]).check([valid, invalid, unknown], REGISTRY, "")
    assert checked.run == [valid, invalid, unknown] and all(not call.rewrites for call in checked.run)


def test_a_coin_flipped_three_times_runs_three_times() -> None:
    flips = parse_plan("1. flip_coin()\n2. flip_coin()\n3. flip_coin()")
    checked = DEFAULTS.check(flips, REGISTRY, "Flip a coin three times")
    assert [call.id for call in checked.run] == [1, 2, 3] and not checked.refused
    done = [CallRecord(id=1, name="flip_coin", observation="heads")]
    again = PlannedCall(id=2, name="flip_coin")
    assert DEFAULTS.check([again], REGISTRY, "Flip a coin three times", done, told=("loop_protection",)).run


def test_an_idempotent_call_repeated_in_one_plan_runs_once_unless_referenced() -> None:
    plan = parse_plan("1. double(x=2)\n2. double(x=2)\n3. double(x=2)")
    checked = DEFAULTS.check(plan, REGISTRY, "Double 2")
    assert [call.id for call in checked.run] == [1]
    assert [(call.id, call.error_kind) for call in checked.refused] == [(2, "duplicate"), (3, "duplicate")]
    referenced = parse_plan("1. double(x=2)\n2. double(x=2)\n3. area(width=$2)")
    assert [call.id for call in DEFAULTS.check(referenced, REGISTRY, "").run] == [1, 2, 3]


def test_copies_of_an_invalid_call_in_one_step_run_once() -> None:
    """A stutter of a call whose arguments fail validation: every copy would fail the same way."""
    plan = [PlannedCall(id=i, name="double", arguments={"x": 2, "typo": 1}) for i in (1, 2, 3)]
    checked = DEFAULTS.check(plan, REGISTRY, "Double 2")
    assert [call.id for call in checked.run] == [1]
    assert [call.error_kind for call in checked.refused] == ["duplicate", "duplicate"]


def test_calls_equal_once_coerced_repeat_one_another() -> None:
    plan = [
        PlannedCall(id=1, name="double", arguments={"x": 2}),
        PlannedCall(id=2, name="double", arguments={"x": "2"}),
    ]
    assert [call.id for call in DEFAULTS.check(plan, REGISTRY, "").run] == [1]


def test_a_call_already_made_is_sent_back_then_stops_the_run() -> None:
    made = [CallRecord(id=1, name="double", arguments={"x": 2}, observation="4")]
    replan = parse_plan("2. double(x=2)\n3. double(x=5)", first_id=2)
    checked = DEFAULTS.check(replan, REGISTRY, "Double 2 and 5", made)
    assert [call.id for call in checked.run] == [3] and checked.told == ("loop_protection",)
    assert "double(x=2) was already called" in checked.refused[0].observation and not checked.stop
    again = DEFAULTS.check(replan[:1], REGISTRY, "Double 2 and 5", made, told=checked.told)
    assert again.stop and not again.run


def test_a_failed_call_may_be_tried_again() -> None:
    failed = [CallRecord(id=1, name="double", arguments={"x": 2}, ok=False, error_kind="timeout")]
    retry = PlannedCall(id=2, name="double", arguments={"x": 2})
    assert DEFAULTS.check([retry], REGISTRY, "", failed).run == [retry]


def test_loop_protection_alone_accepts_what_it_cannot_validate() -> None:
    call = PlannedCall(id=1, name="nope", arguments={})
    assert PolicyPipeline([LoopProtection()]).check([call, call], REGISTRY, "").run == [call, call]
