"""Quantities a task states, in the unit a parameter documents.

A small caller copies a quantity's number and drops its unit: "inductance of 50mH" becomes
`inductance=50` for a parameter documented "in henries (H)", "5ft 10in" becomes `height=5` for one "in
inches", "8.5 million square kilometers" `land_area=850000000`, and it "converts" "a 1kg ice block" to
`mass=1000` for one "in kg". pint (a units library) does the arithmetic the model cannot: when the task
states exactly one quantity of a parameter's dimension and the call holds another number there,
`converted_arguments` gives that quantity in the parameter's unit. A tool that takes the unit as an
argument (`radius`, `unit`) converts for itself; there the caller tends to leave the unit out, and the
unit the task writes ("a radius of 4 inches", "the speed in km/h") fills it. A percentage copied as a
whole number ("a discount rate of 10%" as `discount_rate=10`) becomes the fraction (`percent_fractions`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import pint

_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_WORD = r"(?:°|[^\W\d_])[\w°^/]*"
_QUANTITY = re.compile(
    rf"(?<![\w.])(-?\d+(?:\.\d+)?)(?:\s*(thousand|million|billion|trillion)\b)?(\s*)({_WORD}(?:\s+{_WORD}){{0,2}})"
)
# bare numbers that share the unit of the quantity after them: "15, 20 and 30 years", "10-20 km"
_LISTED = re.compile(r"((?:(?<![\w.])-?\d+(?:\.\d+)?\s*(?:,\s*(?:and|or)?|and|or|to|-|–)\s*)+)$")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3})")
_PERCENT = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(?:%|percent\b|per cent\b)", re.IGNORECASE)
_SAYS_PERCENT = re.compile(r"\bper ?cent(?:age)?s?\b|\bpct\b", re.IGNORECASE)
_DEFAULT_UNIT = re.compile(
    rf"\bdefaults?(?: value)?(?: is| to)?:?\s*['\"]?({_WORD}(?:\s+{_WORD}){{0,2}})", re.IGNORECASE
)
# "... in km/h", the unit of the answer; a lookahead, so "in miles or in km" gives both
_ASKED_IN = re.compile(rf"\bin\s+(?=({_WORD}(?:\s+{_WORD}){{0,2}}))")
_DOCUMENTED = re.compile(
    rf"\b(?:in|measured in|in units of)\s+(?:the\s+)?({_WORD}(?:\s+\(?{_WORD}\)?){{0,3}})"
)
# English words that pint reads as units ("5th" as thou, "at" as an atmosphere, "pm" as picometer)
_NOT_UNITS = {
    "a", "an", "are", "as", "at", "bag", "bags", "c", "d", "e", "elm", "has", "in", "nd", "point",
    "points", "pixel", "pixels", "rd", "shot", "shots", "st", "th", "unit", "units", "am", "pm",
}  # fmt: skip
_ATTACHED_ONLY = {"in"}  # "10in" is inches, "10 in the box" is not
_ALIASES = {
    "henries": "henry",
    "amps": "ampere",
    "amp": "ampere",
    "celsius": "degC",
    "fahrenheit": "degF",
    "degree celsius": "degC",
    "degrees celsius": "degC",
    "degree fahrenheit": "degF",
    "degrees fahrenheit": "degF",
    "light years": "light_year",
    "light year": "light_year",
}


@cache
def unit_registry() -> pint.UnitRegistry:
    """pint's unit registry, built once per process (about a second) on first use."""
    import pint

    return pint.UnitRegistry()


def _phrases(words: list[str]) -> list[tuple[str, int]]:
    """The unit phrases `words` may start with, longest first, each with its word count: "meters per
    second", "square kilometers", "degrees Celsius", else the first word."""
    lower = [word.lower() for word in words]
    phrases = []
    if len(words) >= 3 and lower[1] == "per":
        phrases.append((f"{words[0]} / {words[2]}", 3))
    if len(words) >= 2 and (lower[0] in ("square", "cubic") or f"{lower[0]} {lower[1]}" in _ALIASES):
        phrases.append((" ".join(words[:2]), 2))
    return [*phrases, (words[0], 1)]


def parse_unit(words: list[str], attached: bool = False) -> tuple[pint.Unit, int] | None:
    """The physical unit `words` start with and how many words it takes, or None ("50mH", "square
    kilometers"; not "units", "5th" or "at"). `attached`: the words follow a number with no space."""
    if not words:
        return None
    for phrase, count in _phrases(words):
        lower = phrase.lower()
        if count == 1 and lower in _NOT_UNITS and not (attached and lower in _ATTACHED_ONLY):
            continue
        spelled = _ALIASES.get(lower, phrase).replace("°C", "degC").replace("°F", "degF")
        try:
            unit = unit_registry().parse_units(spelled)
        except Exception:  # pint raises several kinds for words that are no unit
            continue
        if not unit.dimensionless:
            return unit, count
    return None


class _Written(NamedTuple):
    """A number of the text and the unit after it, as written ("10in": 10, "in", inch)."""

    value: float
    words: str
    unit: pint.Unit
    start: int
    end: int


def _written_quantities(text: str) -> Iterator[_Written]:
    """Each number of `text` (thousands separators taken out) that a unit follows."""
    for match in _QUANTITY.finditer(text):
        number, scale, space, words = match.groups()
        parsed = parse_unit(words.split(), attached=not scale and not space)
        if parsed is not None:
            written = " ".join(words.split()[: parsed[1]])
            value = float(number) * _SCALES.get(scale or "", 1)
            yield _Written(value, written, parsed[0], match.start(), match.start(4) + len(written))


def task_quantities(text: str) -> list[pint.Quantity]:
    """The quantities `text` states, in its own units: "5ft 10in" is one quantity, "15, 20 and 30
    years" three, "8.5 million square kilometers" 8500000 km²."""
    text = _THOUSANDS.sub("", text)
    found: list[tuple[pint.Quantity, int]] = []  # each with where it ends in the text
    for written in _written_quantities(text):
        quantity = unit_registry().Quantity(written.value, written.unit)
        if found and _continues(found[-1][0], quantity, text[found[-1][1] : written.start]):
            found[-1] = (found[-1][0] + quantity, written.end)
            continue
        listed = _LISTED.search(text[: written.start])
        for value in _NUMBER.findall(listed.group(1)) if listed else []:
            found.append((unit_registry().Quantity(float(value), written.unit), written.end))
        found.append((quantity, written.end))
    return [quantity for quantity, _ in found]


def _continues(previous: pint.Quantity, quantity: pint.Quantity, gap: str) -> bool:
    """Whether `quantity` adds to the `previous` one, as "10in" does in "5ft 10in"."""
    return (
        gap.strip(" ,") in ("", "and")
        and previous.dimensionality == quantity.dimensionality
        and previous.units != quantity.units
        and "[temperature]" not in quantity.dimensionality  # 0°C and 100°C never add up
        and (1 * previous.units).to(quantity.units).magnitude > 1
    )


def documented_unit(description: str) -> pint.Unit | None:
    """The unit a parameter's description gives its value in ("The inductance (L) in henries (H)."),
    or None: none, or two of one dimension ("in km or miles"), where the tool takes the unit itself."""
    units = []
    for match in _DOCUMENTED.finditer(description):
        words = [word.strip("()") for word in match.group(1).split()]
        while parsed := parse_unit(words):
            units.append(parsed[0])
            words = words[parsed[1] :]
            if words[:1] not in (["or"], ["and"]) or len(words) < 2:
                break
            words = words[1:]
    return units[0] if len(set(units)) == 1 else None


def name_words(name: str) -> list[str]:
    """The lower-case words of an identifier: `temp_unit` and `tempUnit` give ['temp', 'unit']."""
    return [word.lower() for word in re.split(r"[_\W]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", name)) if word]


def converted_arguments(
    parameters: dict[str, Any], arguments: dict[str, Any], task: str
) -> dict[str, float | int | str]:
    """The numeric `arguments` (validated, under the tool's `parameters` JSON schema) that differ from
    the task's one quantity of their parameter's documented dimension, as that quantity in the documented
    unit: {"inductance": 0.05} for "inductance of 50mH" and `inductance=50` documented "in henries (H)".
    Not for a parameter whose dimension another shares. A tool that takes a unit as an argument converts
    for itself: there, the unit the task writes fills that argument if the call leaves it out ({"unit":
    "inches"} for "a radius of 4 inches", see `_stated_units`)."""
    properties: dict[str, Any] = parameters.get("properties") or {}
    if any(_names_unit(name) for name in properties):
        return _stated_units(properties, set(parameters.get("required", [])), arguments, task)
    units = {
        name: unit
        for name, schema in properties.items()
        if schema.get("type") in ("number", "integer")
        and (unit := documented_unit(str(schema.get("description") or ""))) is not None
    }
    if not units:
        return {}
    quantities = task_quantities(task)
    stated: dict[str, float | int | str] = {}
    for name, unit in units.items():
        value = arguments.get(name)
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        same_dimension = [q for q in quantities if q.dimensionality == unit.dimensionality]
        shared = sum(other.dimensionality == unit.dimensionality for other in units.values())
        if len(same_dimension) != 1 or shared > 1:
            continue
        converted = float(f"{same_dimension[0].to(unit).magnitude:.10g}")
        if properties[name].get("type") == "integer":
            if not converted.is_integer():
                continue
            converted = int(converted)
        if not math.isclose(value, converted, rel_tol=1e-9, abs_tol=0.0):
            stated[name] = converted
    return stated


def _names_unit(name: str) -> bool:
    """Whether a parameter's name says it is a unit: `unit`, `temp_unit`, `unitOfMeasure`; not `community`."""
    words = name_words(name)
    return "unit" in words or "units" in words


def _stated_units(
    properties: dict[str, Any], required: set[str], arguments: dict[str, Any], task: str
) -> dict[str, float | int | str]:
    """The left-out optional unit arguments (text, no enum), as the task writes the unit: when the
    description names an argument that holds a number the task writes with a unit ({"unit": "inches"}
    for "a radius of 4 inches", `radius=4` and `unit` documented as "The unit of measurement for the
    radius"), else when the task asks for its answer in one unit of the documented default's dimension,
    not the default itself ({"to_unit": "km/h"} for "the speed in km/h", `to_unit` documented "default
    is m/s")."""
    stated: dict[str, float | int | str] = {}
    for name, schema in properties.items():
        if name in required or name in arguments or not _names_unit(name):
            continue
        if schema.get("type") != "string" or schema.get("enum"):
            continue
        description = str(schema.get("description") or "").lower().replace("_", " ")
        held = {
            float(value)
            for other, value in arguments.items()
            if isinstance(value, int | float)
            and not isinstance(value, bool)
            and re.search(rf"\b{re.escape(other.lower().replace('_', ' '))}\b", description)
        }
        written = {
            quantity.words
            for quantity in _written_quantities(_THOUSANDS.sub("", task))
            if quantity.value in held
        }
        if not written and (asked := _asked_unit(task, schema)):
            written = {asked}
        if len(written) == 1:
            stated[name] = written.pop()
    return stated


def _asked_unit(task: str, schema: dict[str, Any]) -> str | None:
    """The one unit `task` asks its answer in (see `asked_units`) of the dimension of the parameter's
    default unit, as written; None for none or two, or for the default itself, which needs no filling."""
    default = _default_unit(schema)
    if default is None:
        return None
    asked = {
        unit: words for words, unit in asked_units(task) if unit.dimensionality == default.dimensionality
    }
    return next(iter(asked.values())) if len(asked) == 1 and default not in asked else None


def _default_unit(schema: dict[str, Any]) -> pint.Unit | None:
    """A text parameter's default unit: its schema's default, else the one its description gives ("The
    unit of the speed, default is m/s."); None for none."""
    default = schema.get("default")
    if not isinstance(default, str):
        documented = _DEFAULT_UNIT.search(str(schema.get("description") or ""))
        default = documented.group(1) if documented else ""
    parsed = parse_unit([word.strip("().'\"") for word in default.split()])
    return parsed[0] if parsed else None


def asked_units(task: str) -> list[tuple[str, pint.Unit]]:
    """The units `task` asks its answer in, as written and parsed: "in km/h" of "Calculate the speed in
    km/h of 450 meters in 20 seconds" (not "in 20 seconds", a quantity)."""
    asked = []
    for match in _ASKED_IN.finditer(task):
        words = match.group(1).split()
        if (parsed := parse_unit(words)) is not None:
            asked.append((" ".join(words[: parsed[1]]).rstrip(".?!,;:"), parsed[0]))
    return asked


def percent_fractions(parameters: dict[str, Any], arguments: dict[str, Any], task: str) -> dict[str, float]:
    """The numeric `arguments` that copy a percentage of the task as a whole number, as the fraction:
    {"discount_rate": 0.1} for "a discount rate of 10%" and `discount_rate=10`. Only for a `number`
    parameter whose name and description never say "percent" (one that does takes 10) and that
    documents no unit, and only when the task says that number as a percentage alone ("5% for 5
    years" leaves 5 alone): rates, returns, yields and probabilities are fractions unless documented
    otherwise."""
    text = _THOUSANDS.sub("", task)
    percents = {float(number) for number in _PERCENT.findall(text)}
    fractions = {}
    for name, schema in (parameters.get("properties") or {}).items():
        value = arguments.get(name)
        if schema.get("type") != "number" or not isinstance(value, int | float) or isinstance(value, bool):
            continue
        if value == 0 or float(value) not in percents:
            continue
        description = str(schema.get("description") or "")
        documented = f"{' '.join(name_words(name))} {description}"
        if _SAYS_PERCENT.search(documented) or documented_unit(description):
            continue
        said = re.findall(rf"(?<![\w.]){re.escape(_plain_number(value))}(?:\.0+)?(?!\d|\.\d)", text)
        as_percent = [number for number in _PERCENT.findall(text) if float(number) == float(value)]
        if len(said) == len(as_percent):
            fractions[name] = float(f"{value / 100:.10g}")
    return fractions


def _plain_number(value: float) -> str:
    """A number as a task writes it: 10.0 as "10", 2.5 as "2.5"."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))
