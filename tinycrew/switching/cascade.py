"""The cascade (RouteLLM's other mode): run a request locally, and when the result fails a check, run
the whole request again on the cloud model.

A check is any callable `check(result) -> str | None` over the local `RunResult`: the reason it failed,
or None. `failed_check` is the default; a user's own (a verifier prompt, a test of the answer, a
schema) replaces it with `Agent(..., cascade=my_check)`. `Agent(..., cascade=EscalationPolicy(...))`
is escalation for the whole run: `UnsureCheck` sends the run to the cloud when one of its local steps
was unsure (the policy's signals fired), instead of having the cloud redo that step alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from tinycrew.switching.ledger import call_key
from tinycrew.switching.policy import EscalationDecision, EscalationPolicy, Signals
from tinycrew.switching.router import threshold_for_share

Check = Callable[[Any], "str | None"]

FAILED_OUTCOMES = {"step_limit", "error"}
CALL_FAILURES = {"arguments", "exception", "timeout", "unknown_tool", "unfounded", "refused"}
"""Call errors that mean the run did not do what it meant to (a user's rejection is not one)."""


def failed_check(result: Any) -> str | None:
    """Why a finished local run looks failed, or None: it hit its step limit or an error, or a call
    failed (invalid arguments, an unknown tool, an exception, a timeout, a policy's refusal) and no
    later call of the same tool succeeded. A run that decided no tool applies, or asked the user for a
    missing value, passes: the cloud would have to decide the same. A run waiting for approval is not
    judged."""
    if getattr(result, "status", "done") != "done":
        return None
    if result.outcome in FAILED_OUTCOMES:
        return f"the run ended with outcome {result.outcome!r}"
    for index, call in enumerate(result.calls):
        if call.ok or call.error_kind not in CALL_FAILURES:
            continue
        later = result.calls[index + 1 :]
        if not any(other.ok and other.name == call.name for other in later):
            return f"call {call.name} failed ({call.error_kind}): {call.observation[:160]}"
    return None


class UnsureCheck:
    """Run-level escalation: a local run fails when `failed_check` fails it, or when the signals of one
    of its local steps fire under `policy` (a token logprob at or under its threshold, a constraint,
    validation or tool failure, a repeat). Why a whole run: a step the small model was unsure of often
    follows a wrong but confident earlier step (the gate, the plan), which a redo of that step alone
    cannot mend. The agent asks its local models for logprobs when this is its check."""

    needs_logprobs = True

    def __init__(self, policy: EscalationPolicy) -> None:
        self.policy = policy

    def __call__(self, result: Any) -> str | None:
        return failed_check(result) or unsure_step(getattr(result, "escalations", []), self.policy)


class AgreementCheck:
    """Self-consistency cascade (after the mixture-of-thoughts cascade of Yue et al., 2023: when the
    weak model's two ways of answering agree it is usually right): a second local agent, another
    graph on the same small model say, runs the request too, and a run whose calls differ from the
    second agent's goes to the cloud. No cloud token is spent on deciding, only local time; the
    second agent sees the request alone, not a conversation's earlier turns. `failed_check` applies
    first.

    Example: `Agent(tools, cloud=cloud, cascade=AgreementCheck(second))` with
    `second = Agent(tools, graph="compiler", checkpointer="memory", record=False, answer=False)`.
    """

    def __init__(self, second: Any) -> None:
        self.second = second

    async def __call__(self, result: Any) -> str | None:
        why = failed_check(result)
        if why is not None or result.task is None:
            return why
        other = await self.second.arun(result.task)
        mine, theirs = call_set(result.calls), call_set(other.calls)
        if mine == theirs:
            return None
        shown = ", ".join(call.call_text() for call in other.calls if call.ok) or "no call"
        return f"the {other.graph} graph made other calls: {shown}"[:300]


def call_set(calls: Iterable[Any]) -> list[str]:
    """The calls that ran, each as its `call_key`, sorted: two runs agree when these are equal (order
    and call ids aside)."""
    return sorted(call_key(call.name, call.arguments) for call in calls if call.ok)


def unsure_step(decisions: Iterable[EscalationDecision], policy: EscalationPolicy) -> str | None:
    """The first local step of a run whose signals fire under `policy`, as a reason; None if none."""
    for decision in _judged(decisions, policy):
        fired = policy.reasons(Signals(**decision.signals))
        if fired:
            return f"step {decision.step} ({decision.role}) was unsure: {'; '.join(fired)}"[:300]
    return None


def _judged(decisions: Iterable[EscalationDecision], policy: EscalationPolicy) -> list[EscalationDecision]:
    """The local steps whose signals count: not replaced by the cloud's output, of the policy's roles."""
    return [
        decision
        for decision in decisions
        if not decision.escalated
        and decision.reasons != ["routed"]
        and (policy.roles is None or decision.role in policy.roles)
    ]


def calibrate_cascade(
    policy: EscalationPolicy, runs: Sequence[Sequence[EscalationDecision]], cloud_share: float
) -> EscalationPolicy:
    """`policy` with the `min_logprob` at which `cloud_share` (0..1) of `runs` would fail its
    `UnsureCheck`, RouteLLM's calibration for the run-level cascade. Each run is the decisions of its
    local steps (`RunResult.escalations` of runs made with logprobs asked, say with
    `cascade=policy`); a run another of the policy's signals fails (a constraint, validation or tool
    failure, a repeat) counts as sent at any threshold, one with no logprobs as never sent for one."""
    if not 0.0 <= cloud_share <= 1.0:
        raise ValueError(f"cloud_share must be between 0 and 1, not {cloud_share}")
    if not runs:
        raise ValueError("calibrating needs at least one local run")
    other = policy.model_copy(update={"min_logprob": None})
    scores = []
    for decisions in runs:
        steps = [Signals(**decision.signals) for decision in _judged(decisions, policy)]
        values = [step.min_logprob for step in steps if step.min_logprob is not None]
        if any(other.reasons(step) for step in steps):
            scores.append(float("inf"))
        else:
            scores.append(-min(values) if values else -1.0)  # doubt: higher is less sure
    threshold = threshold_for_share(np.array(scores), cloud_share)
    if threshold == float("inf"):
        return policy.model_copy(update={"min_logprob": None})
    # sent when doubt > threshold, that is min_logprob < -threshold: the policy fires at <= its value
    return policy.model_copy(update={"min_logprob": float(np.nextafter(-threshold, -np.inf))})


def as_check(cascade: bool | Check | EscalationPolicy | None) -> Check | None:
    """The check an `Agent(cascade=...)` option means: True is `failed_check`, a policy is
    `UnsureCheck(policy)`, a callable is itself."""
    if cascade is None or cascade is False:
        return None
    if cascade is True:
        return failed_check
    if isinstance(cascade, EscalationPolicy):
        return UnsureCheck(cascade)
    if callable(cascade):
        return cascade
    raise TypeError(
        "cascade= takes True, an EscalationPolicy or a check callable (result -> reason | None), "
        f"not {cascade!r}"
    )
