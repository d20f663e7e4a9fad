"""Naming the values of a call that neither the task nor earlier results back."""

from __future__ import annotations

from tinycrew.agents import CallRecord, PlannedCall
from tinycrew.graphs.grounding import (
    ADVICE,
    left_out_numbers,
    mentions,
    overused_numbers,
    plain_text,
    said_text,
    unfounded_options,
    unused_numbers,
    without_unfounded_options,
)
from tinycrew.tools import ToolRegistry, tool


@tool
def circumference(radius: float, unit: str = "cm") -> float:
    """Circumference of a circle.

    Args:
        radius: The radius.
        unit: Unit of the radius. Default is 'cm'.
    """
    return 2 * 3.14159 * radius


@tool
def final_speed(initial_velocity: float, height: float, gravity: float = 9.8) -> float:
    """Speed of an object dropped from a height.

    Args:
        initial_velocity: Speed at the start.
        height: Height it falls from.
        gravity: Gravitational acceleration.
    """
    return (initial_velocity**2 + 2 * gravity * height) ** 0.5


REGISTRY = ToolRegistry([circumference, final_speed])


def call(name: str, **arguments: object) -> PlannedCall:
    return PlannedCall(id=1, name=name, arguments=arguments)


def test_an_optional_text_value_the_task_never_says_is_dropped() -> None:
    task = "What is the circumference of a circle with a radius of 4 inches?"
    assert without_unfounded_options(REGISTRY, task, call("circumference", radius=4, unit="cm"), []) == call(
        "circumference", radius=4
    )
    kept = call("circumference", radius="4", unit="Inches")
    assert without_unfounded_options(REGISTRY, task, kept, []) is kept


def test_a_value_from_an_earlier_result_or_a_reference_to_one_is_founded() -> None:
    earlier = CallRecord(id=1, name="lookup", arguments={"q": "ring"}, observation="the unit is mm")
    task = "Circumference of the ring, radius 4?"
    in_mm = call("circumference", radius=4, unit="mm")
    assert unfounded_options(REGISTRY, said_text(task, [earlier]), in_mm) == []
    assert unfounded_options(REGISTRY, said_text(task, []), in_mm) == ["unit"]
    assert unfounded_options(REGISTRY, said_text(task, []), call("circumference", radius=4, unit="$1")) == []


def test_a_number_given_to_more_arguments_than_the_task_says_it_is_named() -> None:
    task = "Final speed of an object dropped from 100 m without air resistance."
    doubled = call("final_speed", initial_velocity=100, height=100.0, gravity=9.8)
    assert overused_numbers(REGISTRY, task, doubled, []) == (
        f"the task gives 100 once, but the call uses it for initial_velocity and height. {ADVICE}"
    )
    assert overused_numbers(REGISTRY, task, call("final_speed", initial_velocity=0, height=100), []) is None
    thrown = call("final_speed", initial_velocity=100, height=100)
    assert overused_numbers(REGISTRY, "Thrown at 100 m/s from 100 m.", thrown, []) is None


def test_invalid_arguments_and_unknown_tools_are_left_to_validation() -> None:
    for invalid in (call("final_speed", initial_velocity=4, height="four"), call("area", a=4, b=4)):
        assert overused_numbers(REGISTRY, "speed from 4 m", invalid, []) is None
        assert without_unfounded_options(REGISTRY, "4", invalid, []) is invalid


def test_numbers_count_as_whole_numbers_and_text_as_substrings() -> None:
    text = plain_text("Pay 1,500  USD on 15 May, then 5.5 more")
    assert text == "pay 1500 usd on 15 may, then 5.5 more"
    assert [mentions(value, text) for value in ("1500", "5", "15", "5.5", "usd", "u")] == [1, 0, 1, 1, 1, 0]


def test_numbers_of_the_task_no_call_holds_are_listed_once() -> None:
    task = "Euro to Dollar on January 1, 2022, for $1.2M and 3 thousand more at 10 m/s^2, then 3 again"
    held = call("rate", day="2022-01-01", amount=1200000, extra=3000.0)
    assert unused_numbers(task, [held]) == ["10", "3"]
    assert unused_numbers(task, [held, call("more", speed=10, count="3")]) == []
    assert unused_numbers("b = -11 and c = 4", [call("solve", b=-11, c=4)]) == []
    assert left_out_numbers(task, held) == (
        "The call leaves out 10, 3 of the task. If another tool takes these values, "
        "call that tool; otherwise write the same call again."
    )
    assert left_out_numbers("b = -11", call("solve", b=-11)) is None
