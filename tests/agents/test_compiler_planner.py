"""The compiler planner's plan grammar and plan parsing (no model needed)."""

from __future__ import annotations

import json
import re

from tinycrew.agents.compiler_planner import parse_plan, plan_grammar, plan_schema, signature_catalog
from tinycrew.models.grammar import grammar_from_gbnf

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "area",
            "description": "Area of a rectangle.",
            "parameters": {
                "type": "object",
                "properties": {"width": {"type": "number"}, "label": {"type": "string"}},
                "required": ["width"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "double",
            "description": "Twice a number.",
            "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]},
        },
    },
]


def _rule(grammar: str, name: str) -> str:
    """The text of every rule whose name starts with `name`, joined."""
    return "\n".join(line for line in grammar.splitlines() if re.match(rf"{name}[-:\s]", line))


def test_first_call_may_reference_nothing_and_later_calls_only_earlier_ones() -> None:
    grammar = plan_grammar(TOOLS)
    assert "$" not in _rule(grammar, "call1")
    assert "$1" in _rule(grammar, "call2") and "$2" not in _rule(grammar, "call2")
    assert "$3" in _rule(grammar, "call4") and "$4" not in _rule(grammar, "call4")
    grammar_from_gbnf(grammar)  # llama.cpp accepts it


def test_a_replan_may_reference_the_calls_already_made() -> None:
    grammar = plan_grammar(TOOLS, first_id=3)
    assert "$2" in _rule(grammar, "call1") and "$3" not in _rule(grammar, "call1")


def test_the_schema_fallback_offers_references_to_any_call() -> None:
    schema = json.dumps(plan_schema(TOOLS))
    assert '"$1"' in schema and '"$8"' in schema


def test_parse_plan_numbers_calls_and_reads_dependencies() -> None:
    calls = [{"name": "double", "arguments": {"x": 2}}, {"name": "area", "arguments": {"width": "$1"}}]
    text = json.dumps({"calls": calls})
    plan = parse_plan(text, first_id=1)
    assert [(call.id, call.name, call.depends_on) for call in plan] == [(1, "double", []), (2, "area", [1])]


def test_parse_plan_drops_a_repeated_call_unless_it_is_referenced() -> None:
    same = {"name": "double", "arguments": {"x": 2}}
    stutter = json.dumps({"calls": [same, same, same]})
    assert [call.id for call in parse_plan(stutter)] == [1]
    referenced = json.dumps({"calls": [same, same, {"name": "area", "arguments": {"width": "$2"}}]})
    assert [call.id for call in parse_plan(referenced)] == [1, 2, 3]


def test_parse_plan_accepts_a_raw_newline_inside_a_string() -> None:
    text = '{"calls": [{"name": "area", "arguments": {"width": 2, "label": "two\nlines"}}]}'
    assert parse_plan(text)[0].arguments["label"] == "two\nlines"


def test_parse_plan_keeps_the_whole_calls_of_a_plan_cut_off_by_the_token_budget() -> None:
    whole = json.dumps(
        {"calls": [{"name": "double", "arguments": {"x": 2}}, {"name": "double", "arguments": {"x": 3}}]}
    )
    cut = whole[: whole.rindex("3")]  # inside the second call
    assert [(call.id, call.arguments) for call in parse_plan(cut)] == [(1, {"x": 2})]
    assert parse_plan('{"calls": [{"name": "dou') == []


def test_signature_catalog_marks_optional_arguments_and_says_what_they_default_to() -> None:
    unit = {"type": "string", "description": "Unit of the result.", "enum": ["cm", "in"], "default": "cm"}
    tools = [*TOOLS, {"name": "length", "parameters": {"properties": {"unit": unit}, "required": []}}]
    assert signature_catalog(tools).splitlines() == [
        "- area(width, [label]): Area of a rectangle.",
        "- double(x): Twice a number.",
        '- length([unit]): [unit]: Unit of the result. One of: "cm", "in". Default: "cm".',
    ]
    assert signature_catalog([]) == "(no tools)"
