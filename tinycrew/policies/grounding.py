"""Checking a call's values against what the task and earlier results say: the functions behind the
opt-in repair policies (`tinycrew.policies.repairs`), which no graph calls directly.

A small caller fills optional arguments it was not asked for: it copies the documented default
("Default is 'cm'" for a radius the task gives in inches), or invents one (`mission='Mission 1'`,
`algorithm='binary'`). It also reuses a number for two arguments ("dropped from 100 m" read as
`initial_velocity=100, height=100`). `without_unfounded_options` drops the first kind;
`overused_numbers` words a message for the other. The opposite slip, leaving out
an option the task names ("all the roots" for `root_type`, documented as 'real' or 'all') or a flag it
asks for ("including human impact" for `include_human_impact`), `stated_options` names; a quantity copied
without its unit ("50mH" as `inductance=50` for a parameter in henries) or a percentage as a whole number
("10%" as `discount_rate=10`) `stated_quantities` converts (`tinycrew.policies.units`). Each of these
guesses: it helps on BFCL and can harm an ordinary tool (docs/policies.md), so each is opt-in.
"""

from __future__ import annotations

import re
from typing import Any

from tinycrew.agents import CallRecord, PlannedCall
from tinycrew.agents.compiler_planner import reference
from tinycrew.policies.units import converted_arguments, name_words, percent_fractions
from tinycrew.tools import ToolArgumentError, ToolRegistry

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3})")
_SPACE = re.compile(r"\s+")
_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "k": 1e3, "m": 1e6, "bn": 1e9}
_TASK_NUMBER = re.compile(r"(?<![\w.^])(-?\d+(?:\.\d+)?)(?!\d)(?:\s*(thousand|million|billion)|(k|m|bn)\b)?")
_DEFAULT = re.compile(r"\bdefault(?:s)?(?: value)?(?: is| to)?:? ['\"]([^'\"]+)['\"]", re.IGNORECASE)
_QUOTED = re.compile(r"'([^']+)'|\"([^\"]+)\"")
_MAX_CHOICE_WORDS = 3
_NEGATION = re.compile(r"\b(?:no|not|never|without|except|exclud\w*|skip\w*|don't|doesn't|do not|does not)\b")
_NEGATION_WORDS = 3  # a negation this close before a flag's words turns it off ("don't return full text")
_FLAG_STEM = 4  # a flag's word matches a task word on this many first letters ("stats" ~ "statistics")
ADVICE = (
    "Write the call again with the values the task gives; leave out optional arguments it does not ask for."
)


def validated_arguments(registry: ToolRegistry, call: PlannedCall) -> dict[str, Any] | None:
    """The call's validated arguments as JSON values, or None for an unknown tool or invalid ones."""
    try:
        return registry.get(call.name).canonical_arguments(call.arguments)
    except (KeyError, ToolArgumentError):
        return None


def parameters_of(registry: ToolRegistry, name: str) -> dict[str, Any]:
    """The tool's parameters JSON schema (an object schema; empty for a tool without parameters)."""
    return registry.get(name).openai_schema()["function"].get("parameters") or {}


def required_parameters(registry: ToolRegistry, name: str) -> set[str]:
    """The names of the tool's required parameters, from its JSON schema."""
    return set(parameters_of(registry, name).get("required", []))


def plain_text(text: str) -> str:
    """Lower case, one space between words, no thousands separators: the form `mentions` reads."""
    return _SPACE.sub(" ", _THOUSANDS.sub("", text.lower())).strip()


def scalar_values(value: Any) -> list[str]:
    """The scalar values inside an argument value, as lower-case text (6.0 reads "6"); flags skipped."""
    if isinstance(value, dict):
        return [text for item in value.values() for text in scalar_values(item)]
    if isinstance(value, list):
        return [text for item in value for text in scalar_values(item)]
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return [plain_text(str(value))]


def mentions(value: str, text: str) -> int:
    """How often `text` (see `plain_text`) says `value`: a number as a whole number (5 is not in 15,
    5.6 or 5e-3), other text as a substring of at least two characters."""
    if _NUMBER.fullmatch(value):
        return len(re.findall(rf"(?<![\d.]){re.escape(value)}(?!\d|\.\d|e[-+]?\d)", text))
    return text.count(value) if len(value) > 1 else 0


def said_text(task: str, calls: list[CallRecord]) -> str:
    """Everything a call may take values from: the task, and the earlier calls' arguments and results."""
    return plain_text(" ".join([task, *(f"{done.arguments} {done.observation}" for done in calls)]))


def unfounded_options(registry: ToolRegistry, text: str, call: PlannedCall) -> list[str]:
    """The optional arguments of `call` whose text value `text` (see `said_text`) never says; a `$N`
    reference to an earlier result (the whole value) counts as said, and so does a one-word value the
    text asks for in another form of the word (see `names_flag`: 'detailed' for "in detail")."""
    arguments = validated_arguments(registry, call)
    if arguments is None:
        return []
    required = required_parameters(registry, call.name)
    return [
        name
        for name, value in arguments.items()
        if name not in required
        and isinstance(value, str)
        and reference(value) is None
        and not mentions(plain_text(value), text)
        and not (value.isalpha() and len(value) > _FLAG_STEM and names_flag(text, value))
    ]


def without_unfounded_options(
    registry: ToolRegistry, task: str, call: PlannedCall, calls: list[CallRecord]
) -> PlannedCall:
    """`call` less its unfounded optional text arguments, which then take the tool's default.

    A small caller fills options nobody asked for: it copies the documented default or invents one
    (`mission='Mission 1'`, `algorithm='binary'`). Telling it does not help (told, it wrote the same
    value again in all 14 of BFCL's first-40 questions where it happened), and leaving the option out
    is what the task asked for.
    """
    dropped = set(unfounded_options(registry, said_text(task, calls), call))
    if not dropped:
        return call
    kept = {name: value for name, value in call.arguments.items() if name not in dropped}
    return call.model_copy(update={"arguments": kept})


def overused_numbers(
    registry: ToolRegistry, task: str, call: PlannedCall, calls: list[CallRecord]
) -> str | None:
    """A message for the caller when `call` gives a number to more arguments than the task and earlier
    calls say it ("dropped from 100 m" as `initial_velocity=100, height=100`), else None."""
    arguments = validated_arguments(registry, call)
    if arguments is None:
        return None
    text = said_text(task, calls)
    numbers: dict[str, list[str]] = {}
    for name, value in arguments.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            numbers.setdefault(scalar_values(value)[0], []).append(name)
    problems = [
        f"the task gives {number} {_times(times)}, but the call uses it for {' and '.join(names)}"
        for number, names in numbers.items()
        if 0 < (times := mentions(number, text)) < len(names)
    ]
    return f"{'; '.join(problems)}. {ADVICE}" if problems else None


def _times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


def documented_choices(schema: dict[str, Any]) -> tuple[list[str], str | None]:
    """The values a text parameter's schema names (its enum, short quoted values in its description and
    its default), and the default: "'real' for real roots, 'all' for both ... Default value is 'real'"
    gives (['real', 'all'], 'real')."""
    description = str(schema.get("description") or "")
    default = schema.get("default")
    if not isinstance(default, str) or not default:
        match = _DEFAULT.search(description)
        default = match.group(1) if match else None
    quoted = [single or double for single, double in _QUOTED.findall(description)]
    enum = [value for value in schema.get("enum") or [] if isinstance(value, str)]
    choices = [
        value
        for value in [*enum, *quoted, *([default] if default else [])]
        if value.strip() and len(value.split()) <= _MAX_CHOICE_WORDS
    ]
    return list(dict.fromkeys(choices)), default


def _says(text: str, phrase: str) -> bool:
    """Whether `text` (see `plain_text`) holds `phrase` as whole words, case aside."""
    return re.search(rf"(?<!\w){re.escape(plain_text(phrase))}(?!\w)", text) is not None


def names_flag(text: str, name: str) -> bool:
    """Whether `text` (see `plain_text`) asks for the flag `name`: each word of the name starts a word
    of the text on its first four letters ("include_stats" in "include its statistics"), and no negation
    comes in the three words before the first of them ("don't return full text" for `full_text`)."""
    words = name_words(name)
    starts = [re.search(rf"(?<!\w){re.escape(word[:_FLAG_STEM])}", text) for word in words]
    if not words or any(start is None for start in starts):
        return False
    first = min(start.start() for start in starts if start is not None)
    return _NEGATION.search(" ".join(text[:first].split()[-_NEGATION_WORDS:])) is None


def stated_options(registry: ToolRegistry, task: str, call: PlannedCall) -> dict[str, str | bool]:
    """The options of `call` the task states and the call does not hold:
    - a left-out optional text argument whose documented choices (see `documented_choices`) the task
      names exactly one of, that one not the default: {"root_type": "all"} for "Find all the roots" when
      `root_type` is documented as 'real' (the default) or 'all';
    - an optional flag the task asks for (see `names_flag`) that the call leaves out or turns off:
      {"include_human_impact": True} for "... for the next 5 years including human impact".
    Empty for an unknown tool or invalid arguments, which validation answers."""
    arguments = validated_arguments(registry, call)
    if arguments is None:
        return {}
    parameters = parameters_of(registry, call.name)
    required, text = set(parameters.get("required", [])), plain_text(task)
    stated: dict[str, str | bool] = {}
    for name, schema in (parameters.get("properties") or {}).items():
        if name in required:
            continue
        if schema.get("type") == "boolean":
            if arguments.get(name) is not True and names_flag(text, name):
                stated[name] = True
            continue
        if name in arguments or schema.get("type") != "string":
            continue
        choices, default = documented_choices(schema)
        named = [choice for choice in choices if _says(text, choice)]
        if len(named) == 1 and named[0] != default:
            stated[name] = named[0]
    return stated


def stated_quantities(registry: ToolRegistry, task: str, call: PlannedCall) -> dict[str, float | int | str]:
    """The quantities of `task` that `call` holds in the wrong unit, or leaves its unit argument out of,
    in the units the tool documents (see `tinycrew.policies.units.converted_arguments`): {"inductance":
    0.05} for "inductance of 50mH" and `inductance=50` documented "in henries (H)"; and percentages
    copied as whole numbers, as fractions (`tinycrew.policies.units.percent_fractions`). Empty for an
    unknown tool or invalid arguments, which validation answers."""
    arguments = validated_arguments(registry, call)
    if arguments is None:
        return {}
    parameters = parameters_of(registry, call.name)
    fractions = percent_fractions(parameters, arguments, task)
    return {**fractions, **converted_arguments(parameters, arguments, task)}


def with_stated_values(
    registry: ToolRegistry, task: str, call: PlannedCall, others: list[PlannedCall | CallRecord]
) -> PlannedCall:
    """`call` with the quantities the task states in the units the tool documents (see
    `stated_quantities`), and the options the task names filled in (see `stated_options`) unless
    another call of the same tool is in `others` (the run's other calls): the named choice may be that
    call's. A quantity needs no such care: it is converted only when the task states one of its kind."""
    stated = stated_quantities(registry, task, call)
    if not any(other.name == call.name for other in others):
        stated = {**stated_options(registry, task, call), **stated}
    if not stated:
        return call
    return call.model_copy(update={"arguments": {**call.arguments, **stated}})
