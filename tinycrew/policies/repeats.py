"""Telling a caller that loops from one that moves on to the next part of its task.

A small caller asked for one more call often copies the last one, or changes it only by values the
task never gives (`permeability=1.257e-06`, then `permeability=1.257`). That means one of two things: the
task is done (the planner asked for one call too many), or the task asks for the same thing for
several values ("the BMI of Ann, 1.6 m and 60 kg, and of Bob, 1.8 m and 80 kg") and the caller lost
its place. The opt-in `RepeatedCallCheck` (`tinycrew.policies.repairs`) tells the caller once that the
call was already made; a second attempt
counts as the next part only when a required argument of it holds a value from the task that no
earlier call used ("book a flight to Boston, then a hotel there for 4 nights" moves on to the hotel).
Anything else (on BFCL's multiple: a look-alike tool with the same values, or a new value only in an
optional argument such as `rounding=2`) means there is no next part, and the run answers.
"""

from __future__ import annotations

from tinycrew.agents import CallRecord, PlannedCall
from tinycrew.policies.grounding import (
    mentions,
    plain_text,
    required_parameters,
    said_text,
    scalar_values,
    validated_arguments,
)
from tinycrew.tools import ToolRegistry


def earlier_run(
    registry: ToolRegistry, task: str, call: PlannedCall, calls: list[CallRecord]
) -> CallRecord | None:
    """The successful earlier call of the same tool that `call` adds nothing to: once validated, each
    argument on which they differ is left out of `call` or holds a value that neither the task nor an
    earlier call says (`permeability=1.257` after `permeability=1.257e-06`, for a task that gives
    neither). An exact repeat is the plainest case."""
    arguments = validated_arguments(registry, call)
    if arguments is None:
        return None
    text = said_text(task, calls)

    def adds_nothing(done: CallRecord) -> bool:
        changed = [value for name, value in arguments.items() if (name, value) not in done.arguments.items()]
        return not any(mentions(said, text) for value in changed for said in scalar_values(value))

    same = (done for done in calls if done.ok and done.name == call.name and adds_nothing(done))
    return next(same, None)


def moves_on(registry: ToolRegistry, task: str, call: PlannedCall, calls: list[CallRecord]) -> bool:
    """Whether `call`, written after the caller was told it repeated a call, does a new part of
    `task`: a required argument (any argument, for a tool with none required) holds a value from the
    task that no earlier call used."""
    arguments = validated_arguments(registry, call)
    if arguments is None:
        return False
    required = required_parameters(registry, call.name)
    if required:
        arguments = {name: value for name, value in arguments.items() if name in required}
    text = plain_text(task)
    used = {value for done in calls for value in scalar_values(done.arguments)}
    return any(value not in used and mentions(value, text) for value in scalar_values(arguments))
