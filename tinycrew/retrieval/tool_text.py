"""Turn a tool's schema into the text that represents it in the tool index.

Tools arrive as `tinycrew.tools.Tool` objects (duck-typed: `openai_schema()` and `schema_hash()`, so
this package does not import `tinycrew.tools`) or as plain OpenAI / BFCL function schema dicts.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

DOC_VERSION = 1
"""Bumped whenever `tool_document` changes, so that stored tools are re-embedded."""

_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


@runtime_checkable
class ToolLike(Protocol):
    """What the index needs from a tool object (tinycrew.tools.Tool provides it)."""

    def openai_schema(self) -> dict[str, Any]:
        """The OpenAI tool schema, `{"type": "function", "function": {...}}` or the inner dict."""
        ...

    def schema_hash(self) -> str:
        """A hash that changes whenever the schema changes."""
        ...


def split_identifier(name: str) -> list[str]:
    """Split a snake_case, camelCase or dotted identifier into lower-case words.

    Embedding models read `EuclideanDistance.calculate` poorly; "euclidean distance calculate" well.
    """
    return [word.lower() for word in _WORD.findall(name)]


def function_schema(tool: ToolLike | Mapping[str, Any]) -> dict[str, Any]:
    """Return the inner function dict (`name`, `description`, `parameters`) of any accepted tool form."""
    if isinstance(tool, ToolLike):
        schema: Any = tool.openai_schema()
    elif isinstance(tool, Mapping):
        schema = tool
    else:
        raise TypeError(f"expected a tool object or a function schema dict, got {type(tool).__name__}")
    if schema.get("type") == "function" and isinstance(schema.get("function"), Mapping):
        schema = schema["function"]
    if not isinstance(schema.get("name"), str) or not schema["name"]:
        raise ValueError(f"function schema without a name: {schema!r}")
    return dict(schema)


def tool_schema_hash(tool: ToolLike | Mapping[str, Any]) -> str:
    """The tool's own `schema_hash()`, or the sha256 of a schema dict's canonical OpenAI-form JSON.

    The canonical form is the one `tinycrew.tools.Tool.schema_hash` hashes, so a tool and its
    `openai_schema()` dict hash alike.
    """
    if isinstance(tool, ToolLike):
        return str(tool.schema_hash())
    wrapped = {"type": "function", "function": function_schema(tool)}
    canonical = json.dumps(wrapped, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _parameter_lines(properties: Mapping[str, Any], prefix: str = "") -> list[str]:
    """One line per parameter (nested object properties included): name, its words, description."""
    lines: list[str] = []
    for pname, spec in properties.items():
        full = f"{prefix}{pname}"
        spec = spec if isinstance(spec, Mapping) else {}
        words = " ".join(split_identifier(pname))
        line = f"{full} ({words})" if words and words != pname.lower() else full
        description = str(spec.get("description") or "").strip()
        if description:
            line += f": {description}"
        enum = spec.get("enum")
        if isinstance(enum, list) and enum:
            line += " One of: " + ", ".join(str(v) for v in enum[:12]) + "."
        lines.append(line)
        nested = spec.get("properties")
        items = spec.get("items")
        if not isinstance(nested, Mapping) and isinstance(items, Mapping):
            nested = items.get("properties")
        if isinstance(nested, Mapping):
            lines.extend(_parameter_lines(nested, prefix=f"{full}."))
    return lines


def tool_document(schema: Mapping[str, Any]) -> str:
    """The text embedded for a tool: its name, the name split into words, description, parameters.

    Name and description come first: the embedding model reads only the first 256 word pieces.
    """
    name = str(schema["name"])
    parts = [f"{name} ({' '.join(split_identifier(name))})"]
    description = str(schema.get("description") or "").strip()
    if description:
        parts.append(description)
    parameters = schema.get("parameters")
    properties = parameters.get("properties") if isinstance(parameters, Mapping) else None
    if isinstance(properties, Mapping) and properties:
        parts.append("Parameters: " + "; ".join(_parameter_lines(properties)))
    return "\n".join(parts)
