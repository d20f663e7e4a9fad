"""Structured role outputs on any backend: the strongest constraint the model supports, then leniency.

Order (see `tinycrew.models.capabilities`): a GBNF grammar, then a JSON-schema constraint, then (for
tool calls) native tools with `tool_choice`, then free text read leniently. Whatever the constraint,
the output is parsed by the same reader, and an output it cannot read gets one retry in which the model
sees why, so a backend that accepts a constraint but ignores it (some OpenAI-compatible servers do)
still works. A second failure raises `RoleOutputError`, naming the role, the model and the output.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from tinycrew.agents.common import TokenSink, run_model
from tinycrew.models import ChatModel, ChatResult
from tinycrew.models.capabilities import capabilities_of

T = TypeVar("T")


class RoleOutputError(ValueError):
    """A role's model wrote output its reader cannot use, twice (once after being told why)."""

    def __init__(self, role: str, model: str, output: str, reason: str) -> None:
        super().__init__(
            f"the {role} role's model {model!r} wrote unreadable output ({reason}): {output[:200]!r}"
        )
        self.role, self.model, self.output = role, model, output


def constraint_for(
    model: ChatModel, grammar: str | None = None, json_schema: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The strongest constraint `model` can apply: `{"grammar": ...}`, `{"json_schema": ...}` or {}."""
    capabilities = capabilities_of(model)
    if grammar is not None and capabilities.grammar:
        return {"grammar": grammar}
    if json_schema is not None and capabilities.json_schema:
        return {"json_schema": json_schema}
    return {}


def both_attempts(first: ChatResult, second: ChatResult) -> ChatResult:
    """`second` carrying the tokens and time of both attempts, so the step's cost is whole."""
    usage = second.usage.model_copy(
        update={
            "prompt_tokens": first.usage.prompt_tokens + second.usage.prompt_tokens,
            "completion_tokens": first.usage.completion_tokens + second.usage.completion_tokens,
        }
    )
    timings = second.timings.model_copy(update={"total_s": first.timings.total_s + second.timings.total_s})
    return second.model_copy(update={"usage": usage, "timings": timings})


async def run_structured(
    role: str,
    model: ChatModel,
    messages: list[dict[str, Any]],
    read: Callable[[ChatResult], T],
    *,
    expected: str,
    on_token: TokenSink | None = None,
    grammar: str | None = None,
    json_schema: dict[str, Any] | None = None,
    **options: Any,
) -> tuple[ChatResult, T]:
    """Run `model` under the strongest constraint it supports and `read` its result; on a ValueError
    from `read`, ask once more with the reason and `expected` (a one-line description of the format)."""
    options |= constraint_for(model, grammar, json_schema)
    result = await run_model(model, messages, on_token, **options)
    try:
        return result, read(result)
    except ValueError as error:
        if report := getattr(model, "report_failure", None):  # local/cloud switching: a constraint signal
            report("constraint", f"the {role} output could not be read: {error}")
        retry = [
            *messages,
            {"role": "assistant", "content": result.content},
            {"role": "user", "content": f"That reply could not be read ({error}). {expected}"},
        ]
        second = both_attempts(result, await run_model(model, retry, on_token, **options))
        try:
            return second, read(second)
        except ValueError as again:
            raise RoleOutputError(role, model.name, second.content, str(again)) from again
