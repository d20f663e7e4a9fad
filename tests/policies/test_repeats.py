"""Telling a caller that loops from one that moves on to the next part of its task."""

from __future__ import annotations

from tinycrew.agents import CallRecord, PlannedCall
from tinycrew.policies import refusal
from tinycrew.policies.repeats import earlier_run, moves_on
from tinycrew.tools import ToolRegistry, tool


@tool
def bmi(height_m: float, weight_kg: float, metric: bool = True, digits: int = 1) -> float:
    """Body mass index.

    Args:
        height_m: Height in metres.
        weight_kg: Weight in kilograms.
        metric: Whether the units are metric.
        digits: Digits after the point.
    """
    return round(weight_kg / height_m**2, digits)


@tool
def ideal_weight(height_m: float) -> float:
    """Ideal weight for a height.

    Args:
        height_m: Height in metres.
    """
    return 22 * height_m**2


REGISTRY = ToolRegistry([bmi, ideal_weight])
TASK = "BMI of Ann (1.6 m, 60 kg) and of Bob (1.8 m, 1,080 kg), to 2 digits? And Bob's ideal weight?"
ANN = CallRecord(id=1, name="bmi", arguments={"height_m": 1.6, "weight_kg": 60.0}, observation="23.4")
DONE = [ANN, CallRecord(id=2, name="bmi", arguments={"height_m": 2.0, "weight_kg": 5.0}, ok=False)]


def call(name: str, **arguments: object) -> PlannedCall:
    return PlannedCall(id=3, name=name, arguments=arguments)


def test_a_call_with_the_same_validated_arguments_repeats_the_earlier_success() -> None:
    assert earlier_run(REGISTRY, TASK, call("bmi", height_m="1.6", weight_kg=60), DONE) == ANN


def test_a_call_that_only_changes_values_the_task_never_gives_repeats_the_earlier_success() -> None:
    assert earlier_run(REGISTRY, TASK, call("bmi", height_m=1.6, weight_kg=61), DONE) == ANN
    assert earlier_run(REGISTRY, TASK, call("bmi", height_m=1.6, weight_kg=60, digits=7), DONE) == ANN
    assert earlier_run(REGISTRY, TASK, call("bmi", height_m=1.6), DONE) is None  # invalid: left to validation


def test_values_of_the_task_another_tool_and_invalid_arguments_repeat_nothing() -> None:
    for arguments in (
        {"height_m": 1.8, "weight_kg": 1080},
        {"height_m": 1.6, "weight_kg": 60, "digits": 2},  # "to 2 digits"
        {"height_m": "tall"},
    ):
        assert earlier_run(REGISTRY, TASK, call("bmi", **arguments), DONE) is None
    assert earlier_run(REGISTRY, TASK, call("ideal_weight", height_m=1.6), DONE) is None
    assert earlier_run(REGISTRY, TASK, call("cube", height_m=1.6), DONE) is None


def test_a_required_argument_with_a_value_of_the_task_no_call_used_moves_on() -> None:
    assert moves_on(REGISTRY, TASK, call("bmi", height_m=1.8, weight_kg=1080), DONE)
    assert moves_on(REGISTRY, TASK, call("bmi", height_m=1.6, weight_kg=1080.0), DONE)  # "1,080"
    assert moves_on(REGISTRY, TASK, call("ideal_weight", height_m=1.8), DONE)  # another tool, a new value


def test_old_values_invented_values_flags_or_new_optional_values_do_not_move_on() -> None:
    assert not moves_on(REGISTRY, TASK, call("ideal_weight", height_m=1.6), DONE)  # a look-alike, old value
    assert not moves_on(REGISTRY, TASK, call("bmi", height_m=1.6, weight_kg=60, metric=False), DONE)
    assert not moves_on(REGISTRY, TASK, call("bmi", height_m=1.6, weight_kg=60, digits=2), DONE)  # optional
    assert not moves_on(REGISTRY, TASK, call("bmi", height_m=1.7, weight_kg=6), DONE)  # 6 is not 60
    assert not moves_on(REGISTRY, TASK, call("bmi", height_m="tall"), DONE)  # invalid


def test_a_refused_repeat_is_a_failed_call_record() -> None:
    record = refusal(call("bmi", height_m=1.6), "already called", "repeated")
    assert not record.ok and record.error_kind == "repeated" and record.observation == "already called"
