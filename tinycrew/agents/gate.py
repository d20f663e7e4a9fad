"""The gate: does this request need a tool at all? Asked of the model in its own tool-calling template.

A small model decides "no tool applies" far better in its native template with `tool_choice="auto"`
than as one option of a planner's format (on BFCL's irrelevance questions the ReAct baseline, which
decides exactly this way, kept 35 of 40 free of calls against the planners' 17 to 19; docs/bfcl). The
gate only reads how the reply starts: a tool call means the request goes on to the planner; text means
no tool is needed, and the text, written out in full, is the answer (or the question the user must
answer first: "What should the email say?").
"""

from __future__ import annotations

from typing import Any

from tinycrew.agents.common import RoleStep, TokenSink, run_model
from tinycrew.models import ChatModel, ChatResult

SYSTEM = "You are a helpful assistant. Use the tools when they help; answer briefly when you are done."

PEEK_TOKENS = 8
"""Enough of the reply to see whether it opens a tool call (`CALL_OPENINGS` are one to three tokens)."""
CALL_OPENINGS = (
    "<tool_call>",
    "<|python_tag|>",
    "[TOOL_CALLS]",
    "<function",
    '{"name"',
    '[{"name"',
    "```json",
)


def gate_messages(task: str) -> list[dict[str, Any]]:
    """The gate's prompt: the request as a user turn (the tools go in the model's own template)."""
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": task}]


def opens_a_call(result: ChatResult) -> bool:
    """Whether a (possibly cut-off) reply is a tool call rather than text."""
    return bool(result.tool_calls) or result.content.lstrip().startswith(CALL_OPENINGS)


async def needs_tools(
    model: ChatModel, task: str, tools: list[dict[str, Any]], on_token: TokenSink | None = None
) -> RoleStep:
    """Peek at the first tokens of the model's reply; `parsed` is True when they open a tool call."""
    messages = gate_messages(task)
    result = await run_model(
        model, messages, None, tools=tools, tool_choice="auto", max_tokens=PEEK_TOKENS, logprobs=True
    )
    wants = opens_a_call(result)
    return RoleStep(
        role="gate", model=model.name, messages=messages, tools=tools, result=result, parsed=wants
    )


async def answer_without_tools(
    model: ChatModel, task: str, tools: list[dict[str, Any]], on_token: TokenSink | None = None
) -> RoleStep:
    """The gate's whole text reply, once it chose not to call (the same prompt, so its KV prefix is
    reused); `parsed` is the answer."""
    messages = gate_messages(task)
    result = await run_model(model, messages, on_token, tools=tools, tool_choice="auto", max_tokens=256)
    return RoleStep(
        role="gate",
        model=model.name,
        messages=messages,
        tools=tools,
        result=result,
        parsed=result.content.strip(),
    )
