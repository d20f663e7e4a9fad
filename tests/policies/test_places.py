"""US cities completed with the state a tool's "City, ST" parameter documents."""

from __future__ import annotations

from tests.policies.repairing import repaired
from tinycrew.agents import PlannedCall
from tinycrew.policies.places import completed_places, us_city_format, with_documented_places, with_state
from tinycrew.tools import ToolRegistry, tool


@tool
def find_restaurant(location: str, cuisine: str = "any", size: int = 2) -> str:
    """Restaurants near a place.

    Args:
        location: The city and state, e.g. Seattle, WA
        cuisine: The kind of food.
        size: Table size.
    """
    return "none"


REGISTRY = ToolRegistry([find_restaurant])


def test_a_city_gets_the_state_of_the_most_populous_city_of_its_name() -> None:
    assert with_state("Los Angeles") == "Los Angeles, CA"
    assert with_state(" San  Diego ") == "San Diego, CA"
    assert with_state("Portland") == "Portland, OR"  # not Portland, ME
    assert with_state("New York") == "New York, NY"  # a shorter name of New York City
    assert with_state("Paris") is None  # Paris, France outnumbers Paris, TX
    assert with_state("Vancouver") is None  # Vancouver, BC outnumbers Vancouver, WA
    assert with_state("Central Park") is None  # not a city
    assert with_state("Springfield Gardens Heights") is None
    # the state the task writes after the city wins, by name or code, even for a small town
    assert with_state("Portland", "Lunch in Portland, Maine?") == "Portland, ME"
    assert with_state("Portland", "Lunch in portland ME?") == "Portland, ME"
    assert with_state("New York", "Shows in New York in May") == "New York, NY"  # "in" is not Indiana
    assert with_state("Paris", "Paris, Texas") == "Paris, TX"
    assert with_state("Springfield Gardens Heights", "in Springfield Gardens Heights, Ohio") == (
        "Springfield Gardens Heights, OH"
    )
    assert with_state("Portland", "Portland, then Maine") == "Portland, OR"


def test_the_format_comes_from_the_description() -> None:
    assert us_city_format("The city and state, e.g. Los Angeles, CA")
    assert us_city_format("The city, for example, New York City, NY")
    assert us_city_format("The city and state to find concerts.")  # no example: the words say it
    assert not us_city_format("The city and state, e.g. London, UK")  # the example is not a US state
    assert not us_city_format("The city name.")


def test_only_a_bare_city_in_a_documented_parameter_is_completed() -> None:
    parameters = find_restaurant.openai_schema()["function"]["parameters"]
    both = {"location": "Boston", "cuisine": "Boston"}
    assert completed_places(parameters, both) == {"location": "Boston, MA"}
    assert completed_places(parameters, {"location": "Boston, Massachusetts"}) == {}
    assert completed_places(parameters, {"location": "London"}) == {}
    maine = completed_places(parameters, {"location": "Portland"}, "Sushi in Portland, Maine")
    assert maine == {"location": "Portland, ME"}
    assert completed_places({"properties": {"city": {"type": "string"}}}, {"city": "Boston"}) == {}


def test_every_graph_completes_the_place() -> None:
    task = "Find a restaurant that serves vegan food in Los Angeles."
    arguments = {"location": "Los Angeles", "cuisine": "vegan"}
    bare = PlannedCall(id=1, name="find_restaurant", arguments=arguments)
    completed = with_documented_places(REGISTRY, task, bare)
    assert completed.arguments == {**arguments, "location": "Los Angeles, CA"}
    assert repaired(REGISTRY, task, bare, []).arguments["location"] == "Los Angeles, CA"
    done = bare.model_copy(update={"arguments": {"location": "Los Angeles, CA", "cuisine": "vegan"}})
    assert with_documented_places(REGISTRY, task, done) is done
    invalid = PlannedCall(id=2, name="find_restaurant", arguments={"location": "Boston", "size": "many"})
    assert with_documented_places(REGISTRY, task, invalid) is invalid
