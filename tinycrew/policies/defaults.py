"""The lossless policies every agent runs unless told otherwise: schema coercion and loop protection.

Neither guesses. Coercion changes a value's type only where no information is lost ('5' -> 5 for an
integer parameter, see `tinycrew.tools.coercion`); loop protection holds back a call that exactly repeats
a successful one of a tool that answers the same arguments the same way (`Tool.idempotent`).
"""

from __future__ import annotations

import json
from typing import Any

from tinycrew.agents import CallRecord, PlannedCall
from tinycrew.policies.base import ACCEPT, CallContext, Decision, Replace, SendBack
from tinycrew.tools import ToolArgumentError


class SchemaCoercion:
    """Validate the call against its tool's schema and write the values as the tool will take them,
    when that loses nothing: `{"n": "5"}` becomes `{"n": 5}` for an integer `n`. An invalid call or an
    unknown tool is accepted as written: running it reports the error to the model, as before."""

    name = "schema_coercion"
    lossless = True

    def check(self, call: PlannedCall, context: CallContext) -> Decision:
        """Replace the arguments with their validated JSON form when it differs."""
        if call.name not in context.registry:
            return ACCEPT
        try:
            coerced = context.registry.get(call.name).canonical_arguments(call.arguments)
        except ToolArgumentError:
            return ACCEPT
        if coerced == call.arguments:
            return ACCEPT
        changed = [
            f"{key} {_show(call.arguments.get(key))} -> {_show(coerced.get(key))}"
            for key in sorted({*call.arguments, *coerced})
            if call.arguments.get(key) != coerced.get(key) or (key in call.arguments) != (key in coerced)
        ]
        reason = f"coerced to the tool's schema: {', '.join(changed)}"
        return Replace(call.model_copy(update={"arguments": coerced}), reason)


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=repr)


def _canonical(context: CallContext, call: PlannedCall | CallRecord) -> dict[str, Any] | None:
    """The call's validated arguments (None when invalid), so '5' and 5 compare equal."""
    try:
        return context.registry.get(call.name).canonical_arguments(call.arguments)
    except (KeyError, ToolArgumentError):
        return None


def idempotent(context: CallContext, name: str) -> bool:
    """Whether the tool answers the same arguments the same way (unknown tools count as idempotent)."""
    return name not in context.registry or getattr(context.registry.get(name), "idempotent", True)


def repeat_message(done: CallRecord) -> str:
    """What a caller is told when it repeats a call that has a result."""
    return (
        f"{done.call_text()} was already called and its result is listed. "
        "Call for a part of the task that has no result yet, with its own values."
    )


LOOPING = "This call does no new part of the task; the run answers from the results so far."


class LoopProtection:
    """Send back a call that exactly repeats (same tool, same validated arguments) a successful earlier
    call of the run, or a call planned before it in the same step that no later call references; on the
    second time in a step, stop the run (the model loops). A tool declared `idempotent=False` (a coin flip,
    a random draw) is never held back: "flip a coin three times" runs three times."""

    name = "loop_protection"
    lossless = True

    def check(self, call: PlannedCall, context: CallContext) -> Decision:
        """Send back an exact repeat of an idempotent tool's call."""
        if not idempotent(context, call.name):
            return ACCEPT
        arguments = _canonical(context, call)
        if arguments is not None:
            same = (
                done
                for done in context.calls
                if done.ok and done.name == call.name and done.arguments == arguments
            )
            earlier = next(same, None)
            if earlier is not None:
                stop = self.name in context.told
                return SendBack(LOOPING if stop else repeat_message(earlier), "repeated", stop=stop)
        referenced = {n for sibling in context.siblings for n in sibling.depends_on}
        if call.id in referenced:
            return ACCEPT
        for sibling in context.siblings:
            if sibling.id >= call.id:
                break
            # an invalid call's copies fail the same way: compared as written
            same_values = (_canonical(context, sibling) or sibling.arguments) == (arguments or call.arguments)
            if sibling.name == call.name and same_values:
                message = f"call {call.id} repeats call {sibling.id} of the same step, which runs once"
                return SendBack(message, "duplicate")
        return ACCEPT
