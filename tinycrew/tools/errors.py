"""Errors a small model can act on: short, specific, naming the argument, the expected type and the value.

A 0.5B model gets one or two retries; "argument 'count': expected integer, got 'five'" fixes the call,
pydantic's multi-line report does not.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError

MAX_ERRORS = 5
_SHOWN_CHARS = 40
_TYPE_ERRORS = {
    "int_type",
    "int_parsing",
    "int_from_float",
    "float_type",
    "float_parsing",
    "bool_type",
    "bool_parsing",
    "string_type",
    "list_type",
    "tuple_type",
    "set_type",
    "dict_type",
    "model_type",
    "model_attributes_type",
    "dataclass_type",
    "literal_error",
    "enum",
    "none_required",
    "is_instance_of",
    "union_tag_invalid",
}
_TYPE_NAMES = {
    "integer": "integer",
    "number": "number",
    "string": "string",
    "boolean": "boolean (true or false)",
    "array": "array",
    "object": "object",
    "null": "null",
}


class ToolArgumentError(ValueError):
    """Arguments that do not fit a tool's schema; ``message`` is short enough to show the model for a retry.

    >>> str(ToolArgumentError("missing required argument 'city'"))
    "missing required argument 'city'"
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ToolError(Exception):
    """Raise from a tool to show the model exactly this message (no exception type prefix)."""


def show_value(value: Any) -> str:
    """How a bad value is quoted back to the model: JSON-ish and short.

    >>> show_value("five"), show_value(True), show_value({"a": 1})
    ("'five'", 'true', 'an object')
    """
    if isinstance(value, str):
        text = value if len(value) <= _SHOWN_CHARS else value[: _SHOWN_CHARS - 3] + "..."
        return repr(text)
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "an array"
    return f"a {type(value).__name__}"


def _describe_schema(schema: dict[str, Any]) -> str:
    """A few words for what a schema accepts: "integer", "one of 'a', 'b'", "string or null".

    >>> _describe_schema({"type": "string", "enum": ["c", "f"]})
    "one of 'c', 'f'"
    """
    if "enum" in schema:
        shown = ", ".join(show_value(v) for v in schema["enum"][:8])
        return f"one of {shown}" + (", ..." if len(schema["enum"]) > 8 else "")
    if "const" in schema:
        return f"exactly {show_value(schema['const'])}"
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            words = dict.fromkeys(_describe_schema(sub) for sub in schema[key])
            return " or ".join(words)
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(_TYPE_NAMES.get(k, str(k)) for k in kind)
    if kind is None:
        return "object" if "properties" in schema else "any value"
    return _TYPE_NAMES.get(kind, str(kind))


def _locate(loc: tuple[Any, ...], schema: dict[str, Any]) -> tuple[str, dict[str, Any], list[Any]]:
    """Follow a pydantic error location through the schema: (display path, sub-schema, parts not followed).

    Parts not followed are union member tags or names the schema does not have.
    """
    path, node = "", schema
    for index, part in enumerate(loc):
        props = node.get("properties")
        if isinstance(part, str) and isinstance(props, dict) and part in props:
            path, node = (f"{path}.{part}" if path else part), props[part]
        elif isinstance(part, int) and isinstance(node.get("items"), dict):
            path, node = f"{path}[{part}]", node["items"]
        elif isinstance(part, str) and isinstance(node.get("additionalProperties"), dict):
            path, node = f"{path}[{part!r}]", node["additionalProperties"]
        else:
            return path, node, list(loc[index:])
    return path, node, []


def _join(path: str, name: Any) -> str:
    return f"{path}.{name}" if path else str(name)


def _one_message(error: dict[str, Any], schema: dict[str, Any]) -> str:
    path, node, rest = _locate(tuple(error["loc"]), schema)
    kind = error["type"]
    if kind == "missing":
        return f"missing required argument '{_join(path, rest[-1]) if rest else path}'"
    if kind == "extra_forbidden":
        allowed = ", ".join(node.get("properties") or ()) or "none"
        return f"unknown argument '{_join(path, rest[-1]) if rest else path}' (allowed: {allowed})"
    got = show_value(error.get("input"))
    where = f"argument '{path}'" if path else "arguments"
    if kind in _TYPE_ERRORS:
        expected = _describe_schema(node) if node else error["msg"].removeprefix("Input should be a valid ")
        return f"{where}: expected {expected}, got {got}"
    text = re.sub(r"^(?:\w+ )?should", "should", error["msg"].removeprefix("Value error, "))
    return f"{where}: {text}, got {got}"


def format_validation_error(exc: ValidationError, schema: dict[str, Any]) -> str:
    """Turn a pydantic ValidationError into one line of "; "-joined messages (the first few, no repeats).

    ``schema`` is the tool's JSON schema: it names the expected types and allowed arguments.
    """
    messages = dict.fromkeys(_one_message(err, schema) for err in exc.errors(include_url=False))
    shown = list(messages)[:MAX_ERRORS]
    more = len(messages) - len(shown)
    return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")
