"""Telling a caller that loops from one that moves on to the next part of its task.

A small caller asked for one more call often copies the last one. That means one of two things: the
task is done (the planner asked for one call too many), or the task asks for the same thing for
several values ("the BMI of Ann, 1.6 m and 60 kg, and of Bob, 1.8 m and 80 kg") and the caller lost
its place. The umi graph tells the caller once that the call was already made; a second attempt
counts as the next part only when a required argument of it holds a value from the task that no
earlier call used ("book a flight to Boston, then a hotel there for 4 nights" moves on to the hotel).
Anything else (on BFCL's multiple: a look-alike tool with the same values, or a new value only in an
optional argument such as `rounding=2`) means there is no next part, and the run answers.
"""

from __future__ import annotations

import re
from typing import Any

from tinycrew.agents import CallRecord, PlannedCall
from tinycrew.tools import ToolArgumentError, ToolRegistry

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3})")


def _arguments(registry: ToolRegistry, call: PlannedCall) -> dict[str, Any] | None:
    """The call's validated arguments as JSON values, or None for an unknown tool or invalid ones."""
    try:
        return registry.get(call.name).canonical_arguments(call.arguments)
    except (KeyError, ToolArgumentError):
        return None


def earlier_run(registry: ToolRegistry, call: PlannedCall, calls: list[CallRecord]) -> CallRecord | None:
    """The successful earlier call that `call` repeats: same tool, same arguments once validated."""
    arguments = _arguments(registry, call)
    if arguments is None:
        return None
    same = (done for done in calls if done.ok and done.name == call.name and done.arguments == arguments)
    return next(same, None)


def _values(value: Any) -> list[str]:
    """The scalar values inside an argument value, as lower-case text (6.0 reads "6"); flags skipped."""
    if isinstance(value, dict):
        return [text for item in value.values() for text in _values(item)]
    if isinstance(value, list):
        return [text for item in value for text in _values(item)]
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return [str(value).strip().lower()]


def _in_text(value: str, text: str) -> bool:
    """Whether `text` (lower case, thousands separators removed) says `value`: a number as a whole
    number (5 is not in 15 or 5.6), other text as a substring of at least two characters."""
    if _NUMBER.fullmatch(value):
        return re.search(rf"(?<![\d.]){re.escape(value)}(?!\d|\.\d)", text) is not None
    return len(value) > 1 and value in text


def moves_on(registry: ToolRegistry, task: str, call: PlannedCall, calls: list[CallRecord]) -> bool:
    """Whether `call`, written after the caller was told it repeated a call, does a new part of
    `task`: a required argument (any argument, for a tool with none required) holds a value from the
    task that no earlier call used."""
    arguments = _arguments(registry, call)
    if arguments is None:
        return False
    required = _required(registry, call.name)
    if required:
        arguments = {name: value for name, value in arguments.items() if name in required}
    text = _THOUSANDS.sub("", task.lower())
    used = {value for done in calls for value in _values(done.arguments)}
    return any(value not in used and _in_text(value, text) for value in _values(arguments))


def _required(registry: ToolRegistry, name: str) -> set[str]:
    """The names of the tool's required parameters, from its JSON schema."""
    parameters = registry.get(name).openai_schema()["function"].get("parameters") or {}
    return set(parameters.get("required", []))


def refusal(call: PlannedCall, message: str) -> CallRecord:
    """The record of a call that was not run because it repeats one: a failed step, never a sample."""
    return CallRecord(
        id=call.id,
        name=call.name,
        arguments=call.arguments,
        ok=False,
        error_kind="repeated",
        observation=message,
    )
