from __future__ import annotations

import json

import jsonschema
import pytest

from tinycrew.models.grammar import grammar_for_schema, strict_schema, tool_call_schema

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer", "title": "Days"}},
            "required": ["city"],
        },
    },
}
ADD = {"name": "add", "parameters": {"type": "object", "properties": {"a": {"type": "number"}}}}


def test_tool_call_schema_accepts_only_offered_tools_and_their_arguments() -> None:
    schema = tool_call_schema([WEATHER, ADD])
    jsonschema.validate({"name": "get_weather", "arguments": {"city": "Oslo", "days": 2}}, schema)
    jsonschema.validate({"name": "add", "arguments": {"a": 1.5}}, schema)
    for bad in (
        {"name": "delete_everything", "arguments": {}},
        {"name": "get_weather", "arguments": {"days": 2}},
        {"name": "get_weather", "arguments": {"city": "Oslo", "extra": 1}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_strict_schema_drops_noise_and_keeps_the_original() -> None:
    original = json.loads(json.dumps(WEATHER["function"]["parameters"]))
    strict = strict_schema(original)
    assert "title" not in strict["properties"]["days"]
    assert strict["additionalProperties"] is False
    assert original == WEATHER["function"]["parameters"]


def test_grammar_compiles_and_is_cached() -> None:
    schema = tool_call_schema([WEATHER])
    assert grammar_for_schema(schema) is grammar_for_schema(json.loads(json.dumps(schema)))


@pytest.mark.parametrize("schema", [{"enum": []}, {"anyOf": []}])
def test_a_schema_llama_cpp_cannot_parse_is_a_clear_error_not_a_crash(schema) -> None:
    from tinycrew.models.grammar import GrammarError, grammar_from_gbnf

    tool_schema = {"type": "object", "properties": {"unit": schema}, "required": ["unit"]}
    with pytest.raises(GrammarError, match="cannot parse"):
        grammar_for_schema(tool_schema)
    with pytest.raises(ValueError, match="cannot parse"):
        grammar_from_gbnf("root ::= missing-rule")
