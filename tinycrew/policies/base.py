"""The call-policy protocol: what may check or change a planned call between the model and the tool.

A graph hands every call its model planned to one `PolicyPipeline`, once, before anything runs. Each
policy answers with a decision: accept the call, rewrite it (a new call and a one-line reason, recorded
on the call), or send it back to the model with a message (the call does not run). Rules live here, not
in the graphs, so that what changed a user's call is named, switchable and visible in the trajectory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from tinycrew.agents import CallRecord, PlannedCall, Rewrite
from tinycrew.tools import ToolRegistry


@dataclass(frozen=True)
class Accept:
    """Run the call as it is."""


@dataclass(frozen=True)
class Replace:
    """Run `call` instead; `reason` is one line that says why (kept with the arguments before and after)."""

    call: PlannedCall
    reason: str


@dataclass(frozen=True)
class SendBack:
    """Do not run the call; tell the model `message`. `kind` becomes the refused call's `error_kind`;
    `stop` says the model is looping and the graph should answer from the results it has."""

    message: str
    kind: str = "refused"
    stop: bool = False


Decision = Accept | Replace | SendBack
ACCEPT = Accept()


@dataclass(frozen=True)
class CallContext:
    """What a policy may look at besides the call: the tools, the task, the run's earlier calls, the other
    calls planned beside this one (a compiler plan, a react turn), the tools offered this run, and the
    policies that sent this step's previous attempt back (so a complaint is made once)."""

    registry: ToolRegistry
    task: str
    calls: list[CallRecord] = field(default_factory=list)
    siblings: list[PlannedCall] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    told: tuple[str, ...] = ()

    def others(self, call: PlannedCall) -> list[PlannedCall | CallRecord]:
        """The run's earlier calls and the siblings of `call` (itself left out)."""
        return [*self.calls, *(sibling for sibling in self.siblings if sibling.id != call.id)]


@runtime_checkable
class CallPolicy(Protocol):
    """A named rule over one planned call; `lossless` marks the rules safe to run by default."""

    name: str
    lossless: bool

    def check(self, call: PlannedCall, context: CallContext) -> Decision:
        """Accept, replace or send back `call`."""
        ...


@dataclass
class Checked:
    """What the pipeline made of a step's calls: those to run (with their rewrites recorded on them), those
    sent back (as failed records carrying the message), and the names of the policies that sent back."""

    run: list[PlannedCall] = field(default_factory=list)
    refused: list[CallRecord] = field(default_factory=list)
    told: tuple[str, ...] = ()
    stop: bool = False

    @property
    def message(self) -> str | None:
        """The messages of the refused calls, one per line, for a model that writes one call; else None."""
        return "\n".join(record.observation for record in self.refused) or None


def refusal(call: PlannedCall, message: str, kind: str = "refused") -> CallRecord:
    """The record of a call that was not run (a policy sent it back): a failed call, never a training
    sample, with what the model wrote and any rewrites made before it was sent back."""
    return CallRecord(
        id=call.id,
        name=call.name,
        arguments=call.arguments,
        ok=False,
        error_kind=kind,
        observation=message,
        depends_on=call.depends_on,
        rewrites=call.rewrites,
        model_arguments=call.model_arguments,
    )


def _arguments_text(arguments: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in arguments.items())


class PolicyPipeline:
    """Policies run in order on each call: a rewrite feeds the next policy, a send-back ends the call's
    turn. `check` is the one hook every graph calls."""

    def __init__(self, policies: list[CallPolicy] | tuple[CallPolicy, ...] = ()) -> None:
        names = [policy.name for policy in policies]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"policies named twice: {', '.join(duplicates)}")
        self.policies = list(policies)

    def __repr__(self) -> str:
        return f"PolicyPipeline([{', '.join(policy.name for policy in self.policies)}])"

    @property
    def names(self) -> list[str]:
        """The policies' names, in the order they run."""
        return [policy.name for policy in self.policies]

    def check_call(self, call: PlannedCall, context: CallContext) -> tuple[PlannedCall, SendBack | None, str]:
        """One call through every policy: the call as it stands, the send-back if one came, and its
        policy's name ('' when none)."""
        for policy in self.policies:
            decision = policy.check(call, context)
            if isinstance(decision, Replace):
                call = _rewritten(call, decision, policy.name)
            elif isinstance(decision, SendBack):
                return call, decision, policy.name
        return call, None, ""

    def check(
        self,
        planned: list[PlannedCall],
        registry: ToolRegistry,
        task: str,
        calls: list[CallRecord] | None = None,
        *,
        tools: list[str] | None = None,
        told: tuple[str, ...] | list[str] = (),
    ) -> Checked:
        """Every call of a step through the policies; each sees the step's other calls as siblings (those
        before it as they will run, those after it as the model planned them) and the run's `calls`."""
        context = CallContext(
            registry=registry,
            task=task,
            calls=list(calls or []),
            siblings=list(planned),
            tools=list(tools or []),
            told=tuple(told),
        )
        checked = Checked()
        senders: list[str] = []
        for index, call in enumerate(planned):
            result, sent, name = self.check_call(call, context)
            context.siblings[index] = result  # later calls see this one as it will run
            if sent is None:
                checked.run.append(result)
                continue
            checked.refused.append(refusal(result, sent.message, sent.kind))
            senders.append(name)
            checked.stop = checked.stop or sent.stop
        checked.told = tuple(dict.fromkeys(senders))
        return checked


def _rewritten(call: PlannedCall, decision: Replace, policy: str) -> PlannedCall:
    """`decision.call` carrying the record of what `policy` changed, and the model's own arguments."""
    new = decision.call
    if new.name == call.name and new.arguments == call.arguments:
        return call
    rewrite = Rewrite(
        policy=policy,
        before=call.arguments,
        after=new.arguments,
        reason=decision.reason,
    )
    original = call.model_arguments if call.model_arguments is not None else call.arguments
    return new.model_copy(update={"rewrites": [*call.rewrites, rewrite], "model_arguments": original})


def describe(rewrite: Rewrite) -> str:
    """One line for a person: `policy: a=1 -> a=2 (reason)`."""
    before, after = _arguments_text(rewrite.before), _arguments_text(rewrite.after)
    return f"{rewrite.policy}: {before} -> {after} ({rewrite.reason})"
