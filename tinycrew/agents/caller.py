"""The caller (α-UMi): exactly one tool call, decoded under a grammar built from the tools' schemas."""

from __future__ import annotations

from typing import Any

from tinycrew.agents.common import CallRecord, RoleStep, TokenSink, history_text
from tinycrew.agents.constrained import run_structured
from tinycrew.models import ChatModel, ChatResult, ToolCall
from tinycrew.models.toolcall_parsing import parse_python_calls

SYSTEM = """You are the caller. Write exactly one tool call that does the next step the planner chose.
Take argument values from the task and from earlier results; do not invent values."""


def caller_messages(
    task: str, calls: list[CallRecord], rationale: str, error: str | None = None, part: str | None = None
) -> list[dict[str, Any]]:
    """The caller's prompt; a validation error from the previous attempt is shown so it can fix it.
    With `part` (a plan node's purpose) the call does only that part of the task, with those results."""
    if part is None:
        user = f"Task: {task}\n\nResults so far:\n{history_text(calls)}\n\nPlanner: {rationale}"
    else:
        results = f"\n\nResults this call can use:\n{history_text(calls)}" if calls else ""
        user = f"Task: {task}{results}\n\nThis call does only this part of the task: {part}"
    if error:
        user += f"\n\nYour previous call was invalid: {error}\nWrite a corrected call."
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


async def call_tool(
    model: ChatModel,
    task: str,
    tools: list[dict[str, Any]],
    calls: list[CallRecord],
    rationale: str,
    error: str | None = None,
    on_token: TokenSink | None = None,
    part: str | None = None,
) -> RoleStep:
    """One call to one of `tools`, constrained to their schemas; `parsed` is the `ToolCall`. `part`
    narrows the call to one part of the task (a crew plan node, see `caller_messages`)."""
    messages = caller_messages(task, calls, rationale, error, part)
    result, call = await run_structured(
        "caller",
        model,
        messages,
        lambda result: _first_call(result, {tool.get("function", tool)["name"] for tool in tools}),
        expected=_expected_call(tools),
        on_token=on_token,
        tools=tools,
        tool_choice="required",
        logprobs=True,
    )
    return RoleStep(
        role="caller", model=model.name, messages=messages, tools=tools, result=result, parsed=call
    )


def _expected_call(tools: list[dict[str, Any]]) -> str:
    """The retry's reminder of the format and of the tools' names and parameters."""
    signatures = ", ".join(
        f"{function['name']}({', '.join((function.get('parameters') or {}).get('properties') or {})})"
        for function in (tool.get("function", tool) for tool in tools)
    )
    return 'Write exactly one tool call as JSON: {"name": "<tool>", "arguments": {...}}; tools: ' + signatures


def _first_call(result: ChatResult, names: set[str]) -> ToolCall:
    """The call the caller wrote: a grammar guarantees one; from free text, a JSON call or else one
    written in Python syntax (`calculate(expression="17 * 23")`)."""
    if result.tool_calls:
        return result.tool_calls[0]
    if calls := parse_python_calls(result.content, names):
        return calls[0]
    raise ValueError("no tool call in the reply")
