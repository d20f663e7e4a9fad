"""Tool schemas into index text, names and hashes."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from tinycrew.retrieval import ToolLike, function_schema, split_identifier, tool_document, tool_schema_hash

SCHEMA: dict[str, Any] = {
    "name": "EuclideanDistance.calculate",
    "description": "Distance between two points.",
    "parameters": {
        "type": "object",
        "properties": {
            "pointA": {"type": "array", "description": "First point."},
            "options": {
                "type": "dict",
                "description": "Extra options.",
                "properties": {"round_to": {"type": "integer", "description": "Decimal places."}},
            },
            "unit": {"type": "string", "enum": ["m", "km"]},
        },
    },
}


class FakeSchemaTool:
    """Shaped like tinycrew.tools.Tool: the two methods the index needs."""

    def openai_schema(self) -> dict[str, Any]:
        return {"type": "function", "function": SCHEMA}

    def schema_hash(self) -> str:
        return "hash-from-the-tool"


def test_split_identifier() -> None:
    assert split_identifier("EuclideanDistance.calculate") == ["euclidean", "distance", "calculate"]
    assert split_identifier("get_HTTPResponse_code2") == ["get", "http", "response", "code", "2"]
    assert split_identifier("spotify.play") == ["spotify", "play"]


def test_function_schema_accepts_all_forms() -> None:
    assert function_schema(SCHEMA)["name"] == "EuclideanDistance.calculate"
    assert function_schema({"type": "function", "function": SCHEMA}) == SCHEMA
    assert function_schema(FakeSchemaTool()) == SCHEMA
    assert isinstance(FakeSchemaTool(), ToolLike)
    with pytest.raises(ValueError):
        function_schema({"description": "no name"})
    with pytest.raises(TypeError):
        function_schema(42)  # type: ignore[arg-type]


def test_hash_is_canonical_and_tool_hash_wins() -> None:
    reordered = dict(reversed(list(SCHEMA.items())))
    assert tool_schema_hash(SCHEMA) == tool_schema_hash(reordered)
    assert tool_schema_hash(SCHEMA) == tool_schema_hash({"type": "function", "function": SCHEMA})
    assert tool_schema_hash({**SCHEMA, "description": "changed"}) != tool_schema_hash(SCHEMA)
    assert tool_schema_hash(FakeSchemaTool()) == "hash-from-the-tool"
    # the formula tinycrew.tools.Tool.schema_hash uses, so a Tool and its schema dict hash alike
    text = json.dumps({"type": "function", "function": SCHEMA}, sort_keys=True, separators=(",", ":"))
    assert tool_schema_hash(SCHEMA) == hashlib.sha256(text.encode()).hexdigest()


def test_document_has_name_words_description_and_parameters() -> None:
    doc = tool_document(SCHEMA)
    first_line = doc.splitlines()[0]
    assert first_line == "EuclideanDistance.calculate (euclidean distance calculate)"
    assert "Distance between two points." in doc
    assert "pointA (point a): First point." in doc
    assert "options.round_to (round to): Decimal places." in doc
    assert "One of: m, km." in doc
    assert tool_document({"name": "ping"}) == "ping (ping)"
