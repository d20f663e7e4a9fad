"""Tools from JSON schemas: for functions known only by their schema (BFCL, MCP, LangChain).

Without an implementation the tool is a dry run: it validates exactly as a real one would and answers
with a neutral observation, which is what an evaluator or a planner rehearsal needs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tinycrew.tools.core import DEFAULT_MAX_CHARS, DEFAULT_TIMEOUT_S, Tool
from tinycrew.tools.schema import model_from_schema, normalize_schema


def _function_part(schema: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(schema, dict):
        raise ValueError(f"a tool schema must be a JSON object, got {type(schema).__name__}")
    if schema.get("type") == "function" and isinstance(schema.get("function"), dict):
        return schema["function"]
    if "name" in schema:
        return schema
    raise ValueError(
        "a tool schema needs a 'name' (or the OpenAI form {'type': 'function', 'function': {...}})"
    )


def tool_from_schema(
    schema: dict[str, Any],
    fn: Callable[..., Any] | None = None,
    *,
    side_effect: bool = False,
    timeout: float | None = DEFAULT_TIMEOUT_S,
    max_chars: int | None = DEFAULT_MAX_CHARS,
    idempotent: bool = True,
) -> Tool:
    """Build a Tool from an OpenAI function schema, or its inner ``{"name", "description", "parameters"}``.

    BFCL's dialect is accepted (``dict``, ``float``, ``tuple``, ``any``). ``fn`` is called with the validated
    arguments as keyword arguments (property names that are not identifiers too); ``fn=None`` gives a
    dry-run tool.
    """
    function = _function_part(schema)
    name = function["name"]
    parameters = normalize_schema(function.get("parameters") or {"type": "object", "properties": {}})
    if "properties" in parameters and "type" not in parameters:
        parameters = {"type": "object", **parameters}
    if parameters.get("type") != "object":
        raise ValueError(
            f"parameters of {name!r} must be an object schema, got type {parameters.get('type')!r}"
        )
    parameters.setdefault("properties", {})
    extra = parameters.get("additionalProperties")
    args_model = model_from_schema(
        parameters, f"{name}_args", allow_extra=extra is True or isinstance(extra, dict)
    )
    return Tool(
        name=name,
        description=str(function.get("description") or ""),
        args_model=args_model,
        parameters=parameters,
        fn=fn,
        side_effect=side_effect,
        timeout=timeout,
        max_chars=max_chars,
        prune_nulls=True,
        idempotent=idempotent,
    )
