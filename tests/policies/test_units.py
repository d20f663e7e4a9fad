"""Quantities of the task converted to the unit a tool's parameter documents."""

from __future__ import annotations

from tests.policies.repairing import repaired
from tinycrew.agents import PlannedCall
from tinycrew.policies.grounding import stated_quantities, with_stated_values
from tinycrew.policies.units import (
    asked_units,
    documented_unit,
    name_words,
    parse_unit,
    percent_fractions,
    task_quantities,
    unit_registry,
)
from tinycrew.tools import ToolRegistry, tool


@tool
def resonant_frequency(inductance: float, capacitance: float, round_off: int = 2) -> float:
    """Resonant frequency of an LC circuit.

    Args:
        inductance: The inductance (L) in henries (H).
        capacitance: The capacitance (C) in farads (F).
        round_off: Decimal places of the result.
    """
    return 1.0


@tool
def diabetes_risk(weight: int, height: int) -> str:
    """Type 2 diabetes risk.

    Args:
        weight: Weight of the person in lbs.
        height: Height of the person in inches.
    """
    return "low"


@tool
def room_area(width: float, length: float) -> float:
    """Area of a room.

    Args:
        width: Width in meters.
        length: Length in meters.
    """
    return width * length


@tool
def travel_time(distance: float, unit: str = "km") -> float:
    """Travel time for a distance.

    Args:
        distance: The distance in km, or in the given unit.
        unit: Unit of the distance.
    """
    return distance


@tool
def park_area(community: str, area: float) -> str:
    """Register a park.

    Args:
        community: The community it serves.
        area: Its area in square kilometers.
    """
    return "ok"


REGISTRY = ToolRegistry([resonant_frequency, diabetes_risk, room_area, travel_time, park_area])
LC_TASK = "Resonant frequency of an LC circuit with capacitance of 100µF and inductance of 50mH."


def call(name: str, **arguments: object) -> PlannedCall:
    return PlannedCall(id=1, name=name, arguments=arguments)


def magnitudes(text: str) -> list[tuple[float, str]]:
    return [(round(quantity.magnitude, 4), str(quantity.units)) for quantity in task_quantities(text)]


def test_task_quantities_read_units_scales_compounds_and_lists() -> None:
    assert magnitudes(LC_TASK) == [(100.0, "microfarad"), (50.0, "millihenry")]
    assert magnitudes("weight 150lbs and height 5ft 10in") == [(150.0, "pound"), (5.8333, "foot")]
    assert magnitudes("land area is 8.5 million square kilometers") == [(8500000.0, "kilometer ** 2")]
    assert magnitudes("loan terms of 15, 20 and 30 years") == [(15.0, "year"), (20.0, "year"), (30.0, "year")]
    assert magnitudes("a 1,500 m race at 9.8 m/s^2") == [(1500.0, "meter"), (9.8, "meter / second ** 2")]
    celsius = [(0.0, "degree_Celsius"), (100.0, "degree_Celsius")]
    assert magnitudes("from 0°C to 100 degrees Celsius") == celsius
    # words pint would read as units are not: the 5th (thou), at 3 pm (picometer), 5 in 10 (inch)
    assert magnitudes("the 5th floor at 3 pm, a 5 in 10 chance, 20 units") == []


def test_documented_unit_is_one_unit_or_none() -> None:
    assert str(documented_unit("The inductance (L) in henries (H).")) == "henry"
    assert str(documented_unit("The land area of the country in square kilometers.")) == "kilometer ** 2"
    assert str(documented_unit("Speed in meters per second.")) == "meter / second"
    assert documented_unit("The radius of the circle in the unit given.") is None
    assert documented_unit("The city in which to search.") is None
    assert documented_unit("Distance in km or miles.") is None  # the tool takes either: no one unit
    assert parse_unit(["10in"[2:]], attached=True) is not None and parse_unit(["in"]) is None


def test_a_quantity_copied_without_its_unit_is_converted() -> None:
    wrong = call("resonant_frequency", inductance=50, capacitance=100)
    assert stated_quantities(REGISTRY, LC_TASK, wrong) == {"inductance": 0.05, "capacitance": 0.0001}
    right = call("resonant_frequency", inductance=0.05, capacitance=0.0001)
    assert stated_quantities(REGISTRY, LC_TASK, right) == {}
    task = "Will a person of 150lbs and 5ft 10in get type 2 diabetes?"
    assert stated_quantities(REGISTRY, task, call("diabetes_risk", weight=150, height=5)) == {"height": 70}
    # an integer parameter takes only a whole number: 5ft 10.5in is 70.5 inches
    assert (
        stated_quantities(REGISTRY, "150lbs, 5ft 10.5in", call("diabetes_risk", weight=150, height=5)) == {}
    )


def test_no_conversion_where_the_quantity_or_unit_is_ambiguous() -> None:
    # two parameters of one dimension: which of them "4 m" is for is the model's call
    room = call("room_area", width=4, length=5)
    assert stated_quantities(REGISTRY, "A room 4 m wide and 500 cm long", room) == {}
    # two quantities of the parameter's dimension in the task
    two = "Frequency for 50mH or 60mH and 100µF"
    assert stated_quantities(REGISTRY, two, call("resonant_frequency", inductance=50, capacitance=100)) == {
        "capacitance": 0.0001
    }
    # a tool that takes the unit as an argument converts for itself
    assert stated_quantities(REGISTRY, "How long for 20 km?", call("travel_time", distance=12.4)) == {}
    assert stated_quantities(REGISTRY, LC_TASK, call("no_such_tool", inductance=50)) == {}
    invalid = call("resonant_frequency", inductance="fifty", capacitance=1)
    assert stated_quantities(REGISTRY, LC_TASK, invalid) == {}


def test_a_left_out_unit_argument_takes_the_unit_the_task_writes() -> None:
    bare = call("travel_time", distance=12)
    assert stated_quantities(REGISTRY, "How long for 12 miles?", bare) == {"unit": "miles"}
    assert (
        stated_quantities(REGISTRY, "How long for 12 km?", call("travel_time", distance=12, unit="km")) == {}
    )
    assert stated_quantities(REGISTRY, "How long for 12 miles, then 12 km?", bare) == {}  # which unit?
    assert stated_quantities(REGISTRY, "How long for 12?", bare) == {}
    # no number with a unit: the unit the task asks its answer in, of the default's dimension
    assert stated_quantities(REGISTRY, "How long for the trip to Oslo in miles?", bare) == {"unit": "miles"}
    assert stated_quantities(REGISTRY, "How long for the trip in km?", bare) == {}  # the default
    assert stated_quantities(REGISTRY, "How long in hours, in miles or in km?", bare) == {}  # which unit?
    assert stated_quantities(REGISTRY, "How long for the trip in Oslo?", bare) == {}
    assert asked_units("Speed in km/h of 450 meters in 20 seconds") == [
        ("km/h", unit_registry().Unit("km/h"))
    ]
    assert parse_unit([]) is None
    # `community` holds "unit" but names no unit: the tool takes none, and the area converts
    assert name_words("temp_unit") == name_words("tempUnit") == ["temp", "unit"]
    park = call("park_area", community="Elm Hill", area=2)
    assert stated_quantities(REGISTRY, "Register a 2 square miles park for Elm Hill", park) == {
        "area": 5.179976221
    }


@tool
def average_temperature(days: int, temp_unit: str = "Fahrenheit") -> float:
    """Average temperature over the coming days.

    Args:
        days: The number of days.
        temp_unit: The temperature unit ('Celsius' or 'Fahrenheit').
    """
    return 20.0


def test_a_unit_argument_is_filled_only_for_the_argument_it_describes() -> None:
    registry = ToolRegistry([average_temperature])
    assert (
        stated_quantities(
            registry, "Average temperature for the next 7 days", call("average_temperature", days=7)
        )
        == {}
    )


def test_every_graph_converts_in_every_call_of_the_tool() -> None:
    wrong = call("resonant_frequency", inductance=50, capacitance=100)
    grounded = repaired(REGISTRY, LC_TASK, wrong, [])
    assert grounded.arguments == {"inductance": 0.05, "capacitance": 0.0001}
    # a second call that copies the number again converts to the same call: a repeat, not a new part
    sibling = wrong.model_copy(update={"id": 2})
    assert with_stated_values(REGISTRY, LC_TASK, wrong, [sibling]).arguments == grounded.arguments


def test_a_percentage_copied_as_a_whole_number_becomes_a_fraction() -> None:
    parameters = {
        "properties": {
            "discount_rate": {"type": "number", "description": "The discount rate."},
            "years": {"type": "number", "description": "How many years."},
            "lightness": {"type": "number", "description": "Lightness level in percentage."},
            "growth_percent": {"type": "number", "description": "Growth."},
            "count": {"type": "integer", "description": "How many."},
        }
    }
    task = "NPV at a discount rate of 10% over 3 years, lightness 60%, growth 2.5%, count 7%"
    copied = {"discount_rate": 10, "years": 3, "lightness": 60, "growth_percent": 2.5, "count": 7}
    # the rate becomes 0.1; a parameter that says "percent" keeps 60 and 2.5; an integer cannot hold 0.07
    assert percent_fractions(parameters, copied, task) == {"discount_rate": 0.1}
    assert percent_fractions(parameters, {"discount_rate": 0.1}, task) == {}
    # 5 is also the years: which one the call copied is not known, so nothing changes
    assert percent_fractions(parameters, {"discount_rate": 5, "years": 5}, "5% for 5 years") == {}
    assert percent_fractions(parameters, {"discount_rate": 1.5}, "a rate of 1.5 percent") == {
        "discount_rate": 0.015
    }
    rate = call("resonant_frequency", inductance=50, capacitance=100)  # no rate: nothing to do
    assert stated_quantities(REGISTRY, "50mH at 10%", rate) == {"inductance": 0.05}
