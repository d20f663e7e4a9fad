"""What every role shares: the record of an executed call and of one model step."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from tinycrew.models import ChatModel, ChatResult
from tinycrew.models.capabilities import capabilities_of

TokenSink = Callable[[str], None]
EARLIER_TURNS = "Earlier in this conversation:"
"""How a later turn's request text opens (`tinycrew.graphs.common.request_text`), so a role can tell."""


class Rewrite(BaseModel):
    """One change a call policy made to a planned call (see `tinycrew.policies`): kept on the call so
    that what ran is never silently different from what the model wrote."""

    policy: str
    before: dict[str, Any]
    after: dict[str, Any]
    reason: str


class CallRecord(BaseModel):
    """A tool call the agent made and what came back."""

    id: int
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    ok: bool = True
    observation: str = ""
    error_kind: str | None = None
    """None when ok; else "arguments", "exception", "timeout", "rejected", "unknown_tool", "repeated",
    "duplicate" (a copy of another call of the same step), "unfounded" or "refused" (a call policy sent
    the call back to the model, see tinycrew.policies)."""
    depends_on: list[int] = Field(default_factory=list)
    rewrites: list[Rewrite] = Field(default_factory=list)
    """What call policies changed before the call ran, in order (empty: it ran as the model wrote it)."""
    model_arguments: dict[str, Any] | None = None
    """The arguments the model wrote, when a policy rewrote them; `arguments` are those that ran."""

    def call_text(self) -> str:
        """The call as a prompt shows it: `f(a=1)`."""
        arguments = ", ".join(f"{key}={json.dumps(value)}" for key, value in self.arguments.items())
        return f"{self.name}({arguments})"

    def line(self) -> str:
        """One line for a prompt: `3. f(a=1) -> observation`."""
        return f"{self.id}. {self.call_text()} -> {self.observation}"


class RoleStep(BaseModel):
    """One model call by one role: the exact prompt, the raw output and the parsed meaning."""

    role: str
    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] = Field(default_factory=list)
    result: ChatResult
    parsed: Any = None
    error: str | None = None


def history_text(calls: list[CallRecord]) -> str:
    """The calls so far, one per line, or a note that there are none."""
    return "\n".join(call.line() for call in calls) if calls else "(no tool calls yet)"


def tool_catalog(tools: list[dict[str, Any]]) -> str:
    """A compact list of tools for prompts of roles that do not call them (planner, joiner)."""
    lines = []
    for tool in tools:
        function = tool.get("function", tool)
        params = ", ".join(function.get("parameters", {}).get("properties", {}))
        lines.append(f"- {function['name']}({params}): {function.get('description', '').strip()}")
    return "\n".join(lines) if lines else "(no tools)"


async def run_model(
    model: ChatModel, messages: list[dict[str, Any]], on_token: TokenSink | None = None, **options: Any
) -> ChatResult:
    """Call a model, streaming its tokens to `on_token` when given; `logprobs` is asked for only where
    the backend declares it (see `tinycrew.models.capabilities`)."""
    if options.get("logprobs") and not capabilities_of(model).logprobs:
        options = {**options, "logprobs": False}
    if on_token is None:
        return await model.achat(messages, **options)
    result: ChatResult | None = None
    async for chunk in model.astream(messages, **options):
        if chunk.delta:
            on_token(chunk.delta)
        result = chunk.result or result
    assert result is not None
    return result
