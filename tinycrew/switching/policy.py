"""When a local role step is redone by the cloud model: the signals, the policy, the recorded decision."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

SIGNALS = ("constraint", "tool_error", "validation", "repeat", "min_logprob", "mean_logprob")
"""The signals a step is judged by, in the order its reasons are listed."""


class Signals(BaseModel):
    """What is known about one local step once it is done.

    `constraint`, `tool_error`, `validation` and `repeat` hold what happened (a message), or None;
    `min_logprob` and `mean_logprob` are the local model's confidence in its output's tokens (None
    when the backend gives no logprobs, or the output has no tokens).
    """

    constraint: str | None = None
    """The output broke its constraint: it does not parse, or the role could not read it."""
    tool_error: str | None = None
    """A tool call of the run's previous step failed while running (exception, timeout)."""
    validation: str | None = None
    """A call of the run's previous step had invalid arguments, named no tool, or a policy sent it back."""
    repeat: str | None = None
    """The step repeats a call that already ran (or loop protection refused one as a repeat)."""
    min_logprob: float | None = None
    mean_logprob: float | None = None

    def present(self) -> dict[str, Any]:
        """The signals that have a value."""
        return {name: value for name, value in self.model_dump().items() if value is not None}


class EscalationPolicy(BaseModel):
    """Which signals make the cloud redo a local step, and the per-run budgets that stop it.

    Example: `EscalationPolicy(min_logprob=-2.5, mean_logprob=-0.4, max_cloud_calls=5, max_cloud_usd=0.01)`
    escalates a step whose least sure token has logprob <= -2.5 or whose mean is <= -0.4, and any step
    after a failed or repeated call, at most 5 times and 1 cent per run. `min_logprob=0` escalates every
    step (every logprob is <= 0); `None` turns a confidence signal off.
    """

    min_logprob: float | None = None
    """Escalate when the lowest token logprob of the step is at or below this."""
    mean_logprob: float | None = None
    """Escalate when the mean token logprob of the step is at or below this."""
    on_constraint: bool = True
    on_tool_error: bool = True
    on_validation: bool = True
    on_repeat: bool = True
    roles: list[str] | None = None
    """Only these roles escalate (gate, planner, caller, summarizer, joiner, react); None: every role."""
    max_cloud_calls: int | None = Field(default=None, ge=0)
    """At most this many cloud calls per run (None: no limit)."""
    max_cloud_tokens: int | None = Field(default=None, ge=0)
    """No new cloud call once the run's cloud tokens (prompt + completion) reach this."""
    max_cloud_usd: float | None = Field(default=None, ge=0)
    """No new cloud call once the run's cloud cost reaches this many US dollars."""
    local_only: Literal["withhold", "stay_local"] = "withhold"
    """A step whose prompt holds results of `@tool(local_only=True)` tools: "withhold" sends it to the
    cloud with those results replaced by a marker, "stay_local" does not escalate it."""
    redact: bool = True
    """Mask e-mail addresses and phone numbers in everything sent to the cloud, as the trajectory export
    does (`tinycrew.trajectories.redact_pii`)."""
    cooldown_s: float = Field(default=30.0, ge=0)
    """After the cloud failed (down, too slow, 429/5xx after every retry), the run's steps stay local
    this long without trying it again."""

    def for_steps_of_a_cascade(self) -> EscalationPolicy:
        """This policy with every signal off and its budgets, privacy and fault settings kept: the step
        policy of `Agent(cascade=policy)` without `escalation=`, where the whole run, not a step, goes
        to the cloud."""
        thresholds = {"min_logprob": None, "mean_logprob": None}
        switches = dict.fromkeys(("on_constraint", "on_tool_error", "on_validation", "on_repeat"), False)
        return self.model_copy(update=thresholds | switches)

    def reasons(self, signals: Signals) -> list[str]:
        """The signals that fire under this policy, each as a short reason (empty: the step stays local)."""
        fired = []
        switches = {
            "constraint": self.on_constraint,
            "tool_error": self.on_tool_error,
            "validation": self.on_validation,
            "repeat": self.on_repeat,
        }
        for name, on in switches.items():
            value = getattr(signals, name)
            if on and value is not None:
                fired.append(f"{name}: {value}"[:200])
        for name in ("min_logprob", "mean_logprob"):
            threshold, value = getattr(self, name), getattr(signals, name)
            if threshold is not None and value is not None and value <= threshold:
                fired.append(f"{name} {value:.3f} <= {threshold:g}")
        return fired


class EscalationDecision(BaseModel):
    """What happened at one local step: its signals, whether the cloud redid it, and what each side cost."""

    step: int = Field(description="the run's model steps counted from 0, in the order they ran")
    role: str
    local_model: str
    cloud_model: str
    signals: dict[str, Any] = Field(default_factory=dict)
    reasons: list[str] = Field(default_factory=list, description="the signals that fired")
    escalated: bool = False
    """True: the cloud's output replaced the local one."""
    stayed_local: str | None = None
    """Why a step whose signals fired stayed local: a budget, the privacy guard, the role filter, a
    constraint the cloud cannot apply, or the cloud failing (down, slow, 429/5xx after every retry)."""
    withheld: int = 0
    """How many local-only tool results were cut out of the prompt the cloud saw."""
    local: dict[str, float] = Field(default_factory=dict)
    """prompt_tokens, completion_tokens, seconds of the local attempt."""
    cloud: dict[str, float] = Field(default_factory=dict)
    """prompt_tokens, completion_tokens, seconds, cost_usd of the cloud call (empty: none was made)."""

    @property
    def cost_usd(self) -> float:
        return float(self.cloud.get("cost_usd", 0.0))

    @property
    def reason(self) -> str | None:
        """One line for the trajectory store's `escalation_reason` (None: no signal fired)."""
        if not self.reasons:
            return None
        why = "; ".join(self.reasons)
        if self.escalated:
            return why
        return f"stayed local ({self.stayed_local}): {why}"
