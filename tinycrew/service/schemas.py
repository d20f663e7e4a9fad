"""The `POST /v1/chat/completions` request as OpenAI defines it, and its checks.

Pydantic checks the shape (a failure is a 400 naming the parameter); `to_plan` checks what the shape
cannot say (a tool message answers an earlier call, a named tool is offered, arguments are JSON) and
turns the request into the messages and options a backend takes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tinycrew.service.errors import bad_request

_TEXT_PARTS: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["type", "text"],
        "properties": {"type": {"const": "text"}, "text": {"type": "string"}},
    },
}
_CONTENT: dict[str, Any] = {"anyOf": [{"type": "string"}, _TEXT_PARTS]}
_CALL: dict[str, Any] = {
    "type": "object",
    "required": ["id", "function"],
    "properties": {
        "id": {"type": "string"},
        "type": {"const": "function"},
        "function": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string"},
                "arguments": {"anyOf": [{"type": "string"}, {"type": "object"}]},
            },
        },
    },
}
MESSAGE_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {
            "title": "SystemMessage",
            "type": "object",
            "required": ["role", "content"],
            "properties": {
                "role": {"enum": ["system", "developer"]},
                "content": _CONTENT,
                "name": {"type": "string"},
            },
        },
        {
            "title": "UserMessage",
            "type": "object",
            "required": ["role", "content"],
            "properties": {"role": {"const": "user"}, "content": _CONTENT, "name": {"type": "string"}},
        },
        {
            "title": "AssistantMessage",
            "type": "object",
            "required": ["role"],
            "properties": {
                "role": {"const": "assistant"},
                "content": {"anyOf": [{"type": "string"}, _TEXT_PARTS, {"type": "null"}]},
                "tool_calls": {"type": "array", "items": _CALL},
                "name": {"type": "string"},
            },
            "anyOf": [
                {"required": ["content"], "properties": {"content": {"type": ["string", "array"]}}},
                {"required": ["tool_calls"], "properties": {"tool_calls": {"minItems": 1}}},
            ],
        },
        {
            "title": "ToolMessage",
            "type": "object",
            "required": ["role", "content", "tool_call_id"],
            "properties": {
                "role": {"const": "tool"},
                "content": _CONTENT,
                "tool_call_id": {"type": "string"},
            },
        },
    ]
}
"""`messages[i]` in the OpenAPI document: one shape per role, as OpenAI's own document has it
(`MessageIn` takes the union of them; `to_plan` checks the rest and answers 400)."""
PARAMETERS_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {
            "type": "object",
            "description": "A JSON schema of type object; each property's schema must make a grammar.",
            "properties": {
                "type": {"const": "object"},
                "properties": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "properties": {
                            "type": {
                                "enum": ["string", "number", "integer", "boolean", "array", "object", "null"]
                            },
                            "description": {"type": "string"},
                            "enum": {"type": "array", "minItems": 1},
                        },
                    },
                },
                "required": {"type": "array", "items": {"type": "string"}},
            },
        },
        {"type": "null"},
    ]
}
"""`tools[i].function.parameters` in the OpenAPI document."""


class FunctionCallIn(BaseModel):
    """An earlier call's function: OpenAI sends `arguments` as a JSON string (a dict is taken too)."""

    model_config = ConfigDict(extra="ignore")
    name: str
    arguments: str | dict[str, Any] = "{}"


class ToolCallIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    type: Literal["function"] = "function"
    function: FunctionCallIn


class MessageIn(BaseModel):
    """One conversation message; fields clients echo back from our replies (refusal, ...) are ignored."""

    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = None


class FunctionDef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] | None = Field(default=None, json_schema_extra=PARAMETERS_SCHEMA)
    strict: bool | None = None


class ToolDef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["function"]
    function: FunctionDef


class NamedFunction(BaseModel):
    name: str


class NamedToolChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["function"]
    function: NamedFunction


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """The request body. Accepted and ignored (the backend samples with the model's own settings):
    `top_p`, `seed`, `user`, `presence_penalty`, `frequency_penalty`, `metadata`, `store`, and `logprobs`
    when false. Anything else is refused, so a client learns that an option has no effect."""

    model_config = ConfigDict(extra="forbid")
    model: str
    messages: list[MessageIn] = Field(min_length=1, json_schema_extra={"items": MESSAGE_SCHEMA})
    tools: list[ToolDef] | None = None
    tool_choice: Literal["auto", "none", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int | None = Field(default=None, ge=1)
    logprobs: bool | None = None
    top_p: float | None = Field(default=None, ge=0.0, le=1.0)
    seed: int | None = None
    user: str | None = None
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    metadata: dict[str, str] | None = None
    store: bool | None = None


@dataclass
class Plan:
    """A checked request in the form the backends take."""

    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None
    choice: str  # "auto" | "none" | "required" | a tool name
    parallel: bool
    max_tokens: int | None
    temperature: float | None
    stop: list[str] | None
    request_text: str | None
    """The latest user message: what the relevance check compares the tools with."""
    turn_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """Calls made (and answered) since the latest user message, as (name, arguments)."""
    history_has_calls: bool = False


def _text(content: str | list[dict[str, Any]] | None, where: str) -> str | None:
    """Message content as text: a string, or the text parts of a list joined by newlines."""
    if content is None or isinstance(content, str):
        return content
    texts = []
    for i, part in enumerate(content):
        if part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise bad_request("only text content parts are supported", param=f"{where}.content[{i}]")
        texts.append(part["text"])
    return "\n".join(texts)


def _arguments(raw: str | dict[str, Any], where: str) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw) if raw.strip() else {}
    except (ValueError, RecursionError):  # not JSON, too deep, or an integer of over 4300 digits
        raise bad_request("arguments must be a JSON object", param=where) from None
    if not isinstance(value, dict):
        raise bad_request("arguments must be a JSON object", param=where)
    return value


def _messages(
    request: ChatCompletionRequest,
) -> tuple[list[dict[str, Any]], list[tuple[str, dict[str, Any]]]]:
    """Backend messages (arguments as dicts, as chat templates expect), and the calls of the last turn."""
    out: list[dict[str, Any]] = []
    pending: set[str] = set()  # call ids not answered yet
    turn_calls: list[tuple[str, dict[str, Any]]] = []
    for i, message in enumerate(request.messages):
        where = f"messages[{i}]"
        text = _text(message.content, where)
        role = "system" if message.role == "developer" else message.role
        if role == "assistant":
            calls = []
            for j, call in enumerate(message.tool_calls or []):
                arguments = _arguments(call.function.arguments, f"{where}.tool_calls[{j}].function.arguments")
                calls.append(
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.function.name, "arguments": arguments},
                    }
                )
                pending.add(call.id)
                turn_calls.append((call.function.name, arguments))
            if not calls and text is None:
                raise bad_request(
                    "an assistant message needs content or tool_calls", param=f"{where}.content"
                )
            entry: dict[str, Any] = {"role": "assistant", "content": text or ""}
            if calls:
                entry["tool_calls"] = calls
            out.append(entry)
        elif role == "tool":
            if not message.tool_call_id:
                raise bad_request("a tool message needs tool_call_id", param=f"{where}.tool_call_id")
            if message.tool_call_id not in pending:
                raise bad_request(
                    "a tool message must answer a tool call of an earlier assistant message",
                    param=f"{where}.tool_call_id",
                )
            pending.discard(message.tool_call_id)
            out.append({"role": "tool", "tool_call_id": message.tool_call_id, "content": text or ""})
        else:
            if text is None:
                raise bad_request(f"a {message.role} message needs content", param=f"{where}.content")
            if role == "user":
                turn_calls = []
            out.append({"role": role, "content": text})
    return out, turn_calls


def _tools(request: ChatCompletionRequest, max_tools: int) -> list[dict[str, Any]] | None:
    if not request.tools:
        return None
    if len(request.tools) > max_tools:
        raise bad_request(f"at most {max_tools} tools may be offered", param="tools")
    tools, names = [], set()
    for i, tool in enumerate(request.tools):
        function = tool.function
        if function.name in names:
            raise bad_request(
                f"tool name {function.name!r} is offered twice", param=f"tools[{i}].function.name"
            )
        names.add(function.name)
        parameters = function.parameters or {"type": "object", "properties": {}}
        if parameters.get("type", "object") != "object":
            raise bad_request(
                "parameters must be a JSON schema of type object", param=f"tools[{i}].function.parameters"
            )
        schema = {"name": function.name, "parameters": {"type": "object", **parameters}}
        if function.description is not None:
            schema["description"] = function.description
        tools.append({"type": "function", "function": schema})
    return tools


def lone_surrogate(value: Any, path: str = "") -> str | None:
    """Where a string in `value` holds a lone UTF-16 surrogate ("\\ud800" is valid JSON, but no UTF-8
    text: the tokenizer, the template and the stop strings would fail on it), as OpenAI names
    parameters (`messages[0].content`); None when there is none.

    Example: `lone_surrogate({"stop": ["ok", "\\ud800"]})` is "stop[1]".
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or None
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            found = lone_surrogate(key, where) or lone_surrogate(item, where)
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = lone_surrogate(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def check_unicode(request: BaseModel) -> None:
    """A 400 for a request holding a lone surrogate anywhere (see `lone_surrogate`)."""
    try:
        where = lone_surrogate(request.model_dump(exclude_none=True))
    except RecursionError:
        raise bad_request("the request is nested too deeply") from None
    if where is not None:
        raise bad_request("a string holds a lone UTF-16 surrogate, which is not valid Unicode text", where)


def to_plan(request: ChatCompletionRequest, max_messages: int, max_tools: int) -> Plan:
    """Check what pydantic cannot and build the plan; a mistake raises a 400 `ServiceError`.

    Example: `to_plan(ChatCompletionRequest(model="m", messages=[{"role": "user", "content": "hi"}]),
    256, 128).choice` is "none" (no tools offered).
    """
    if len(request.messages) > max_messages:
        raise bad_request(f"at most {max_messages} messages are accepted", param="messages")
    check_unicode(request)
    if request.n not in (None, 1):
        raise bad_request("only n=1 is supported", param="n")
    if request.logprobs:
        raise bad_request("logprobs are not supported", param="logprobs")
    tools = _tools(request, max_tools)
    choice = request.tool_choice
    name = choice.function.name if isinstance(choice, NamedToolChoice) else None
    if tools is None:
        if choice == "required" or name is not None:
            raise bad_request(
                "tool_choice asks for a tool call but no tools are offered", param="tool_choice"
            )
        resolved = "none"
    elif name is not None:
        if name not in {tool["function"]["name"] for tool in tools}:
            raise bad_request(
                f"tool_choice names {name!r}, which is not among the tools", param="tool_choice"
            )
        resolved = name
    else:
        resolved = choice if isinstance(choice, str) else "auto"
    stop = [request.stop] if isinstance(request.stop, str) else request.stop
    if stop is not None and (len(stop) > 4 or not all(stop)):
        raise bad_request("stop takes up to 4 non-empty strings", param="stop")
    messages, turn_calls = _messages(request)
    users = [m["content"] for m in messages if m["role"] == "user"]
    return Plan(
        messages=messages,
        tools=tools,
        choice=resolved,
        parallel=request.parallel_tool_calls is not False,  # OpenAI's default is true
        max_tokens=request.max_completion_tokens or request.max_tokens,
        temperature=request.temperature,
        stop=stop or None,
        request_text=users[-1] if users else None,
        turn_calls=turn_calls,
        history_has_calls=any("tool_calls" in m for m in messages),
    )
