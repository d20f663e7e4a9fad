"""Lenient parsing of the tool-call formats small models actually emit.

Qwen's `<tool_call>{...}</tool_call>` tags, fenced ```json blocks (what the packaged Qwen2.5-Coder 0.5B
writes when it is given tools through its own chat template), and bare JSON objects or lists of
`{"name": ..., "arguments": ...}`.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from tinycrew.models.types import ToolCall

_TAG = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_FENCE = re.compile(r"```(?:json|tool_call|python)?\s*(.*?)```", re.DOTALL)


def _new_id() -> str:
    return f"call_{uuid.uuid4().hex[:12]}"


def _as_calls(value: Any) -> list[ToolCall]:
    """Turn decoded JSON into calls if it has the `{name, arguments}` shape, else []."""
    items = value if isinstance(value, list) else [value]
    calls = []
    for item in items:
        if not isinstance(item, dict):
            return []
        if isinstance(item.get("function"), dict):  # OpenAI-style {"type": "function", "function": {...}}
            item = item["function"]
        name = item.get("name")
        arguments = item.get("arguments", item.get("parameters", {}))
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except json.JSONDecodeError:
                return []
        if not isinstance(name, str) or not isinstance(arguments, dict):
            return []
        calls.append(ToolCall(id=_new_id(), name=name, arguments=arguments))
    return calls


def _decode_json_values(text: str) -> list[Any]:
    """Every top-level JSON object or array found in text, in order."""
    decoder = json.JSONDecoder()
    values, index = [], 0
    while index < len(text):
        start = min((pos for pos in (text.find("{", index), text.find("[", index)) if pos >= 0), default=-1)
        if start < 0:
            break
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            index = start + 1
            continue
        values.append(value)
        index = end
    return values


def parse_tool_calls(text: str, tool_names: set[str] | None = None) -> list[ToolCall]:
    """Extract tool calls from model text; returns [] when the text holds none.

    With `tool_names`, calls to unknown tools are kept (so the agent can tell the model) only if
    at least one name is known; plain JSON that happens to have a `name` key is otherwise ignored.

    >>> parse_tool_calls('```json\\n{"name": "add", "arguments": {"a": 1}}\\n```')[0].name
    'add'
    """
    segments = [match.group(1) for match in _TAG.finditer(text)]
    if not segments:
        segments = [match.group(1) for match in _FENCE.finditer(text)] or [text]
    calls: list[ToolCall] = []
    for segment in segments:
        for value in _decode_json_values(segment):
            calls.extend(_as_calls(value))
    if tool_names is not None and calls and not any(call.name in tool_names for call in calls):
        return []
    return calls


def parse_python_calls(text: str, tool_names: set[str]) -> list[ToolCall]:
    """Calls to known tools written in Python syntax, `get_weather(city="Paris")`, anywhere in `text`
    (also inside a JSON string, where the quotes arrive escaped): the form LLMCompiler plans use and
    small models often fall into when nothing constrains them. Keyword arguments with literal values
    only; anything else is not read as a call.

    >>> parse_python_calls('{"name": "add(a=1, b=2)"}', {"add"})[0].arguments
    {'a': 1, 'b': 2}
    """
    calls: list[ToolCall] = []
    for source in dict.fromkeys([text, text.replace('\\"', '"')]):
        for match in re.finditer(r"(?<![\w.])([A-Za-z_][\w.\-]*)\(", source):
            if match[1] not in tool_names:
                continue
            arguments = _python_arguments(source, match.end() - 1)
            if arguments is not None:
                calls.append(ToolCall(id=_new_id(), name=match[1], arguments=arguments))
        if calls:
            return calls
    return calls


def _python_arguments(source: str, open_paren: int) -> dict[str, Any] | None:
    """The keyword arguments of the call whose "(" is at `open_paren`, or None if none parses."""
    import ast

    close = open_paren
    while (close := source.find(")", close + 1)) >= 0:
        try:
            call = ast.parse(f"f{source[open_paren : close + 1]}", mode="eval").body
        except SyntaxError:
            continue
        if not isinstance(call, ast.Call) or call.args:
            return None
        try:
            return {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg is not None}
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return None
    return None
