"""The caller (α-UMi): exactly one tool call, decoded under a grammar built from the tools' schemas."""

from __future__ import annotations

from typing import Any

from tinycrew.agents.common import CallRecord, RoleStep, TokenSink, history_text
from tinycrew.agents.constrained import run_structured
from tinycrew.models import ChatModel, ChatResult, ToolCall
from tinycrew.models.capabilities import capabilities_of
from tinycrew.models.grammar import tool_call_schema
from tinycrew.models.toolcall_parsing import parse_python_calls, parse_tool_calls

SYSTEM = """You are the caller. Write exactly one tool call that does the next step the planner chose.
Take argument values from the task and from earlier results; do not invent values."""

SEVERAL_SYSTEM = """You are the caller. Write the tool calls (a JSON list) that do the next step the \
planner chose.
Take argument values from the task and from earlier results; do not invent values."""
SEVERAL_EXAMPLES = [
    (
        "Task: Is it raining in Oslo or in Lima? Then email Kofi.\n\nThese calls do only this part of the "
        "task: the weather in Oslo and in Lima",
        '[{"name": "get_weather", "arguments": {"city": "Oslo"}}, '
        '{"name": "get_weather", "arguments": {"city": "Lima"}}]',
    ),
]
"""A worked turn before the request: one call per item the part names. Its tool is not offered; the
grammar keeps the calls to the offered tool. With more worked turns (a list one call takes whole, a part
that is one item of several) the 0.5B copied values from the start of the task into a part about a
later item; with none it closed the list after one call (docs/crew.md)."""
MAX_CALLS_PER_PART = 6
"""At most this many calls for one plan node (a part of the request)."""


def caller_messages(
    task: str,
    calls: list[CallRecord],
    rationale: str,
    error: str | None = None,
    part: str | None = None,
    several: bool = False,
) -> list[dict[str, Any]]:
    """The caller's prompt; a validation error from the previous attempt is shown so it can fix it.
    With `part` (a plan node's purpose) the call does only that part of the task, with those results;
    `several` asks for the list of calls that part needs (`call_tools`)."""
    if part is None:
        user = f"Task: {task}\n\nResults so far:\n{history_text(calls)}\n\nPlanner: {rationale}"
    else:
        results = f"\n\nResults this call can use:\n{history_text(calls)}" if calls else ""
        scope = "These calls do" if several else "This call does"
        user = f"Task: {task}{results}\n\n{scope} only this part of the task: {part}"
    if error:
        user += f"\n\nYour previous call was invalid: {error}\nWrite a corrected call."
    if not several:
        return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
    shots = [
        message
        for question, calls_written in SEVERAL_EXAMPLES
        for message in (
            {"role": "user", "content": question},
            {"role": "assistant", "content": calls_written},
        )
    ]
    return [{"role": "system", "content": SEVERAL_SYSTEM}, *shots, {"role": "user", "content": user}]


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


async def call_tools(
    model: ChatModel,
    task: str,
    tools: list[dict[str, Any]],
    calls: list[CallRecord],
    part: str,
    error: str | None = None,
    on_token: TokenSink | None = None,
    most: int = MAX_CALLS_PER_PART,
) -> RoleStep:
    """The calls one or more parts of the task need, written in one list: a call per part (`part` may be
    a JSON list of parts, as the crew graph passes a tool's sibling plan nodes), and one per item when a
    part asks the same thing for several items ("the weather in Oslo and Lima" is two calls). Decoded as
    a JSON list of calls under the tools' schemas; `parsed` is the list of `ToolCall`s (1 to `most`)."""
    messages = caller_messages(task, calls, "", error, part, several=True)
    names = {tool.get("function", tool)["name"] for tool in tools}
    capabilities = capabilities_of(model)
    constrained = capabilities.grammar or capabilities.json_schema
    result, written = await run_structured(
        "caller",
        model,
        messages,
        lambda result: _calls(result, names, most),
        expected='Write the calls as a JSON list: [{"name": "<tool>", "arguments": {...}}, ...]; tools: '
        + _signatures(tools),
        json_schema=tool_calls_schema(tools, most),
        on_token=on_token,
        tools=tools,
        tool_choice="auto" if constrained else "required",
        logprobs=True,
    )
    return RoleStep(
        role="caller", model=model.name, messages=messages, tools=tools, result=result, parsed=written
    )


def tool_calls_schema(tools: list[dict[str, Any]], most: int) -> dict[str, Any]:
    """JSON schema of a list of 1 to `most` calls to the tools (`tool_call_schema` for each item)."""
    return {"type": "array", "items": tool_call_schema(tools), "minItems": 1, "maxItems": most}


def _calls(result: ChatResult, names: set[str], most: int) -> list[ToolCall]:
    """The calls written: native tool calls, else the JSON list (or one call) in the text, else calls in
    Python syntax; at most `most`."""
    text = result.content
    written = result.tool_calls or parse_tool_calls(text, names) or parse_python_calls(text, names)
    written = [call for call in written if call.name in names][:most]
    if not written:
        raise ValueError("no call to the offered tool in the reply")
    return written


def _signatures(tools: list[dict[str, Any]]) -> str:
    return ", ".join(
        f"{function['name']}({', '.join((function.get('parameters') or {}).get('properties') or {})})"
        for function in (tool.get("function", tool) for tool in tools)
    )


def _expected_call(tools: list[dict[str, Any]]) -> str:
    """The retry's reminder of the format and of the tools' names and parameters."""
    form = 'Write exactly one tool call as JSON: {"name": "<tool>", "arguments": {...}}'
    return f"{form}; tools: {_signatures(tools)}"


def _first_call(result: ChatResult, names: set[str]) -> ToolCall:
    """The call the caller wrote: a grammar guarantees one; from free text, a JSON call or else one
    written in Python syntax (`calculate(expression="17 * 23")`)."""
    if result.tool_calls:
        return result.tool_calls[0]
    if calls := parse_python_calls(result.content, names):
        return calls[0]
    raise ValueError("no tool call in the reply")
