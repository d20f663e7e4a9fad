"""The cascade (RouteLLM's other mode): run a request locally, and when the result fails a check, run
the whole request again on the cloud model.

A check is any callable `check(result) -> str | None` over the local `RunResult`: the reason it failed,
or None. `failed_check` is the default; a user's own (a verifier prompt, a test of the answer, a
schema) replaces it with `Agent(..., cascade=my_check)`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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


def as_check(cascade: bool | Check | None) -> Check | None:
    """The check an `Agent(cascade=...)` option means: True is `failed_check`, a callable is itself."""
    if cascade is None or cascade is False:
        return None
    if cascade is True:
        return failed_check
    if callable(cascade):
        return cascade
    raise TypeError(f"cascade= takes True or a check callable (result -> reason | None), not {cascade!r}")
