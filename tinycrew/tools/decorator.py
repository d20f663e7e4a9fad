"""``@tool``: a typed Python function and its docstring become a Tool.

The signature gives the types (checked with safe coercions), the docstring gives the descriptions a
small model needs to pick the tool and fill its arguments.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable
from typing import Any, overload

import docstring_parser
from pydantic import Field, create_model

from tinycrew.tools.coercion import relax
from tinycrew.tools.core import DEFAULT_MAX_CHARS, DEFAULT_TIMEOUT_S, Tool
from tinycrew.tools.schema import SchemaObject, field_key, schema_from_model


def _describe(doc: docstring_parser.Docstring) -> str:
    parts = [doc.short_description or "", doc.long_description or ""]
    return "\n\n".join(part.strip() for part in parts if part and part.strip())


def function_to_tool(
    fn: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
    side_effect: bool = False,
    timeout: float | None = DEFAULT_TIMEOUT_S,
    max_chars: int | None = DEFAULT_MAX_CHARS,
    idempotent: bool = True,
    local_only: bool = False,
) -> Tool:
    """Build a Tool from a typed function (sync or async); what ``@tool`` does."""
    if not callable(fn):
        raise TypeError(f"@tool needs a function, got {fn!r}")
    tool_name = name or getattr(fn, "__name__", None)
    if not tool_name or tool_name == "<lambda>":
        raise ValueError(
            "a tool needs a name: pass @tool(name=...) for lambdas and callables without __name__"
        )
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:
        raise TypeError(f"cannot resolve the type hints of {tool_name}: {exc}") from exc
    doc = docstring_parser.parse(inspect.getdoc(fn) or "")
    param_docs = {param.arg_name: (param.description or "").strip() for param in doc.params}
    signature = inspect.signature(fn)
    unknown = sorted(set(param_docs) - set(signature.parameters))
    if unknown:
        raise ValueError(
            f"docstring of {tool_name} documents parameters it does not have: {', '.join(unknown)}"
        )
    fields: dict[str, Any] = {}
    for index, param in enumerate(signature.parameters.values()):
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise TypeError(f"{tool_name}: parameter {param.name!r} must be a plain or keyword parameter")
        extra = {"description": param_docs[param.name]} if param_docs.get(param.name) else {}
        default = ... if param.default is param.empty else param.default
        annotation = relax(hints.get(param.name, Any))
        fields[field_key(index, param.name)] = (annotation, Field(default, alias=param.name, **extra))
    model_name = re.sub(r"\W", "_", tool_name) + "_args"
    args_model = create_model(model_name, __base__=SchemaObject, **fields)
    return Tool(
        name=tool_name,
        description=description if description is not None else _describe(doc),
        args_model=args_model,
        parameters=schema_from_model(args_model),
        fn=fn,
        side_effect=side_effect,
        timeout=timeout,
        max_chars=max_chars,
        idempotent=idempotent,
        local_only=local_only,
    )


@overload
def tool(fn: Callable[..., Any], /) -> Tool: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    side_effect: bool = False,
    timeout: float | None = DEFAULT_TIMEOUT_S,
    max_chars: int | None = DEFAULT_MAX_CHARS,
    idempotent: bool = True,
    local_only: bool = False,
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    side_effect: bool = False,
    timeout: float | None = DEFAULT_TIMEOUT_S,
    max_chars: int | None = DEFAULT_MAX_CHARS,
    idempotent: bool = True,
    local_only: bool = False,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Turn a typed function into a Tool; use bare (``@tool``) or with options (``@tool(timeout=5)``).

    ``side_effect=True`` marks tools that change the world: the graphs ask for approval before running them.
    ``idempotent=False`` marks tools whose result may change between calls with the same arguments (a coin
    flip): loop protection lets the agent call them again ("flip a coin three times" runs three times).
    ``local_only=True`` keeps the tool's results on this machine: they never reach a cloud model.
    """
    options = dict(
        name=name,
        description=description,
        side_effect=side_effect,
        timeout=timeout,
        idempotent=idempotent,
        local_only=local_only,
    )
    if fn is not None:
        return function_to_tool(fn, max_chars=max_chars, **options)

    def decorate(func: Callable[..., Any]) -> Tool:
        return function_to_tool(func, max_chars=max_chars, **options)

    return decorate
