"""Naming the values of a call that neither the task nor earlier results back."""

from __future__ import annotations

from tests.policies.repairing import repaired
from tinycrew.agents import CallRecord, PlannedCall
from tinycrew.policies.grounding import (
    ADVICE,
    documented_choices,
    mentions,
    names_flag,
    overused_numbers,
    plain_text,
    said_text,
    stated_options,
    unfounded_options,
    with_stated_values,
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


@tool
def solve_quadratic(a: int, b: int, c: int, root_type: str = "real") -> str:
    """Roots of a*x^2 + b*x + c.

    Args:
        a: Coefficient of the squared term.
        b: Coefficient of the linear term.
        c: Constant term.
        root_type: 'real' for real roots, 'all' for real and complex ones. Default value is 'real'.
    """
    return "roots"


@tool
def forest_growth(location: str, years: int, include_human_impact: bool = False) -> str:
    """Forecast of forest growth.

    Args:
        location: Where.
        years: How many years ahead.
        include_human_impact: Whether to include the impact of human activities. Defaults to false.
    """
    return "growth"


REGISTRY = ToolRegistry([circumference, final_speed, solve_quadratic, forest_growth])


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


def test_a_one_word_value_asked_for_in_another_form_is_founded() -> None:
    detailed = call("solve_quadratic", a=1, b=2, c=3, root_type="detailed")
    assert unfounded_options(REGISTRY, said_text("Solve x^2+2x+3 in detail.", []), detailed) == []
    assert unfounded_options(REGISTRY, said_text("Solve x^2+2x+3, no detail.", []), detailed) == ["root_type"]
    assert unfounded_options(REGISTRY, said_text("Solve x^2+2x+3.", []), detailed) == ["root_type"]
    short = call("circumference", radius=4, unit="m")  # too short to read as a word stem: 'm' is not 'metre'
    assert unfounded_options(REGISTRY, said_text("Circle of radius 4, measured", []), short) == ["unit"]


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
    assert mentions("1.257", "permeability=1.257e-06") == 0  # a mantissa is not the number


def test_the_choices_a_parameter_documents_come_from_its_enum_quotes_and_default() -> None:
    schema = {"type": "string", "description": "'real' or 'all'. Default value is 'real'."}
    assert documented_choices(schema) == (["real", "all"], "real")
    enum = {"type": "string", "enum": ["Rock", "Jazz"], "description": "Genre. Defaults to 'Jazz'."}
    assert documented_choices(enum) == (["Rock", "Jazz"], "Jazz")
    prose = {"type": "string", "description": "The user's name, as in 'a sentence of many more words'."}
    assert documented_choices(prose) == ([], None)


def test_an_option_the_task_names_is_filled_in_unless_the_call_or_the_default_has_it() -> None:
    bare = call("solve_quadratic", a=3, b=-11, c=-4)
    task = "Find all the roots of a quadratic equation given coefficients a = 3, b = -11, and c = -4."
    assert stated_options(REGISTRY, task, bare) == {"root_type": "all"}
    assert with_stated_values(REGISTRY, task, bare, []).arguments["root_type"] == "all"
    given = call("solve_quadratic", a=3, b=-11, c=-4, root_type="real")
    assert with_stated_values(REGISTRY, task, given, []) is given
    both = "Find all roots of 3x^2-11x-4, then only the real roots of x^2+1."
    assert stated_options(REGISTRY, both, bare) == {}  # the default is named too: no one choice
    assert stated_options(REGISTRY, "Solve 3x^2 - 11x - 4 = 0, overall.", bare) == {}  # whole words only


def test_a_flag_the_task_asks_for_is_turned_on_unless_it_is_negated() -> None:
    task = "Predict the growth of forest in Yellowstone for the next 5 years including human impact."
    for flag in ({}, {"include_human_impact": False}):
        bare = call("forest_growth", location="Yellowstone", years=5, **flag)
        assert stated_options(REGISTRY, task, bare) == {"include_human_impact": True}
    on = call("forest_growth", location="Yellowstone", years=5, include_human_impact=True)
    assert with_stated_values(REGISTRY, task, on, []) is on
    bare = call("forest_growth", location="Yellowstone", years=5)
    assert stated_options(REGISTRY, "Predict the growth of forest in Yellowstone for 5 years.", bare) == {}
    assert names_flag(plain_text("Get the last game of Liverpool, include its statistics"), "include_stats")
    assert names_flag(plain_text("the species of turtles"), "species")
    assert not names_flag(plain_text("details of case 123456, don't return full text"), "full_text")
    assert not names_flag(plain_text("the growth, not including human impact"), "include_human_impact")
    assert not names_flag(plain_text("the turtles, without species"), "species")
    assert not names_flag(plain_text("the human growth"), "include_human_impact")  # every word is needed


def test_no_option_is_filled_in_when_another_call_of_the_tool_may_own_it() -> None:
    task = "Find all the roots of 3x^2 - 11x - 4 and of x^2 - 1."
    first, second = call("solve_quadratic", a=3, b=-11, c=-4), call("solve_quadratic", a=1, b=0, c=-1)
    second = second.model_copy(update={"id": 2})
    assert repaired(REGISTRY, task, first, [], [first, second]) is first
    earlier = CallRecord(id=1, name="solve_quadratic", arguments={"a": 1, "b": 0, "c": -1})
    assert repaired(REGISTRY, task, first, [earlier]) is first
    assert repaired(REGISTRY, task, first, [], [first]).arguments["root_type"] == "all"


def test_no_option_is_filled_in_for_an_unknown_tool_or_invalid_arguments() -> None:
    task = "Find all the roots of 3x^2 - 11x - 4."
    assert stated_options(REGISTRY, task, call("solve_quadratic", a="three", b=-11, c=-4)) == {}
    unknown = call("roots", a=3)
    assert stated_options(REGISTRY, task, unknown) == {}
    assert repaired(REGISTRY, task, unknown, []) is unknown
