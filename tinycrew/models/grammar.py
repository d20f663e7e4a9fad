"""JSON-schema constrained decoding: schemas become llama.cpp GBNF grammars.

A tool call decoded under `tool_call_schema(...)` is valid JSON whose `name` is one of the offered
tools and whose `arguments` match that tool's parameter schema, by construction.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from typing import Any

_UNSUPPORTED_KEYS = ("title", "examples", "format", "$schema")


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy in which objects forbid extra keys and keywords the grammar converter chokes on are gone."""
    schema = copy.deepcopy(schema)

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            for key in _UNSUPPORTED_KEYS:
                if key in node and not isinstance(node[key], dict):
                    node.pop(key)
            if node.get("type") == "object" and "properties" in node:
                node.setdefault("additionalProperties", False)
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for item in node:
                visit(item)

    visit(schema)
    return schema


def _function(tool: dict[str, Any]) -> dict[str, Any]:
    return tool.get("function", tool)


def tool_call_schema(tools: list[dict[str, Any]]) -> dict[str, Any]:
    """JSON schema of one call `{"name": ..., "arguments": {...}}` to any of the OpenAI-format tools."""
    variants = []
    for tool in tools:
        function = _function(tool)
        parameters = function.get("parameters") or {"type": "object", "properties": {}}
        variants.append(
            {
                "type": "object",
                "properties": {"name": {"const": function["name"]}, "arguments": strict_schema(parameters)},
                "required": ["name", "arguments"],
                "additionalProperties": False,
            }
        )
    return variants[0] if len(variants) == 1 else {"oneOf": variants}


class GrammarError(ValueError):
    """llama.cpp cannot parse a grammar (say one made from a tool schema with an empty enum)."""


def gbnf_error(gbnf: str, root: str = "root") -> str | None:
    """Why llama.cpp's parser refuses `gbnf`, or None when it parses. `LlamaGrammar` keeps the text
    unparsed; llama.cpp parses it only when a generation's sampler is built, and a grammar it refuses
    there (an empty rule: `{"enum": []}` converts to `a ::= `; left recursion) gives a null sampler that
    crashes the process. So every grammar is parsed here first, with no vocabulary (as llama.cpp's own
    grammar tests do).

    >>> gbnf_error('root ::= "a"') is None, gbnf_error("root ::= x") is None
    (True, False)
    """
    import llama_cpp

    sampler = llama_cpp.llama_sampler_init_grammar(None, gbnf.encode("utf-8"), root.encode("utf-8"))
    if not sampler:
        return "llama.cpp cannot parse the grammar made from it (an empty enum or anyOf, for instance)"
    llama_cpp.llama_sampler_free(sampler)
    return None


def _checked(gbnf: str, what: str) -> Any:
    from llama_cpp import LlamaGrammar

    if (error := gbnf_error(gbnf)) is not None:
        raise GrammarError(f"{what}: {error}")
    return LlamaGrammar.from_string(gbnf, verbose=False)


@lru_cache(maxsize=256)
def _grammar_from_text(schema_text: str) -> Any:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    return _checked(json_schema_to_gbnf(schema_text), f"JSON schema {schema_text[:200]}")


def grammar_for_schema(schema: dict[str, Any]) -> Any:
    """A (cached) `LlamaGrammar` accepting exactly the JSON documents valid under `schema`;
    `GrammarError` (a ValueError) when llama.cpp cannot parse the grammar the schema converts to."""
    return _grammar_from_text(json.dumps(schema))  # key order matters: it is the decoding order


@lru_cache(maxsize=256)
def grammar_from_gbnf(gbnf: str) -> Any:
    """A (cached) `LlamaGrammar` from GBNF text, e.g. `root ::= "yes" | "no"`; `GrammarError` when
    llama.cpp cannot parse it."""
    return _checked(gbnf, "GBNF grammar")
