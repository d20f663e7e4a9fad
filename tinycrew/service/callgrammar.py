"""The grammar a reply's tool calls are decoded under: each call is `{"name": ..., "arguments": ...}`
valid for one of the allowed tools (`tinycrew.models.grammar.tool_call_schema`), written in the
model's own call format where its chat template has one, so that it can add a second call as it
was trained to.

Qwen's (and Hermes') templates wrap each call in `<tool_call>...</tool_call>` and put one after the
other: decoded that way the packaged 0.5B writes a call per city for "the weather in Paris and in
Rome", while under a JSON list it stops after the first. Other templates get a JSON list.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tinycrew.models.grammar import gbnf_error, tool_call_schema

TAG_OPEN, TAG_CLOSE = "<tool_call>\n", "\n</tool_call>"


def uses_call_tags(model: Any) -> bool:
    """Whether the model's chat template writes calls inside `<tool_call>` tags."""
    llama = getattr(model, "llama", None)
    template = (getattr(llama, "metadata", None) or {}).get("tokenizer.chat_template", "")
    return "<tool_call>" in template


def _gbnf(schema: dict[str, Any], root: str) -> str:
    """GBNF for `schema` (llama.cpp's converter) with its root rule renamed to `root`."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    return re.sub(r"^root ::=", f"{root} ::=", json_schema_to_gbnf(json.dumps(schema)), flags=re.MULTILINE)


def schema_gbnf_error(schema: dict[str, Any]) -> str | None:
    """`gbnf_error` of the grammar llama.cpp's converter makes from a JSON schema."""
    return gbnf_error(_gbnf(schema, "root"))


def _gbnf_literal(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a GBNF literal (\n, \" escapes)


def calls_grammar(tools: list[dict[str, Any]], max_calls: int, tags: bool) -> str:
    """GBNF for 1 to `max_calls` calls to `tools`: tagged calls one after another, or a JSON list (a lone
    JSON object when `max_calls` is 1).

    Example: `calls_grammar([weather_tool], 4, tags=True)` accepts two `<tool_call>` blocks.
    """
    schema = tool_call_schema(tools)
    if not tags:
        if max_calls > 1:
            schema = {"type": "array", "items": schema, "minItems": 1, "maxItems": max_calls}
        return _gbnf(schema, "root")
    one = f"{_gbnf_literal(TAG_OPEN)} tool-call-json {_gbnf_literal(TAG_CLOSE)}"
    more = ""
    for _ in range(max_calls - 1):  # nested optionals: "{0,n}" is not in every llama.cpp's GBNF
        more = f'( "\\n" {one} {more} )?'
    return f"root ::= {one} {more}\n{_gbnf(schema, 'tool-call-json')}"
