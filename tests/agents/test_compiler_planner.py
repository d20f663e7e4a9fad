"""The compiler planner's plan grammar and plan parsing (no model needed)."""

from __future__ import annotations

import json

from tinycrew.agents import CallRecord
from tinycrew.agents.compiler_planner import (
    compiler_messages,
    parse_plan,
    plan_grammar,
    references,
)
from tinycrew.models.grammar import grammar_from_gbnf

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "area",
            "description": "Area of a rectangle.",
            "parameters": {
                "type": "object",
                "properties": {
                    "width": {"type": "number"},
                    "label": {"type": "string"},
                    "unit": {"type": "string", "enum": ["m", "ft"]},
                },
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


def _rules(grammar: str) -> dict[str, str]:
    """Each rule's body, by name."""
    return dict(line.split(" ::= ", 1) for line in grammar.splitlines() if " ::= " in line)


def test_llama_cpp_accepts_the_plan_grammar_of_a_first_plan_and_of_a_replan() -> None:
    grammar_from_gbnf(plan_grammar(TOOLS))
    grammar_from_gbnf(plan_grammar(TOOLS, first_id=3))


def _allows_reference(grammar: str, name: str, seen: set[str] | None = None) -> bool:
    """Whether the rule `name` of `grammar`, or a rule it uses, lets a value be a `$N` reference."""
    rules = _rules(grammar)
    seen = seen if seen is not None else set()
    if name in seen or name not in rules:
        return False
    seen.add(name)
    used = [word.strip("()?*") for word in rules[name].split()]
    return "ref" in used or any(_allows_reference(grammar, word, seen) for word in used if word in rules)


def test_only_a_replan_may_reference_results_in_its_first_call() -> None:
    first_plan, replan = plan_grammar(TOOLS), plan_grammar(TOOLS, first_id=3)
    assert not _allows_reference(first_plan, "first")
    assert _allows_reference(first_plan, "later")
    assert _allows_reference(replan, "first")


def test_arguments_follow_schema_order_with_typed_values() -> None:
    grammar = plan_grammar(TOOLS)
    assert '"width=" (number)' in grammar and '"x=" (integer)' in grammar
    assert """"unit=" ("'m'" | "'ft'")""" in grammar  # an enum offers exactly its values
    assert _rules(grammar)["first"].startswith('"area(" r')


def test_required_arguments_cannot_be_left_out() -> None:
    optional_only = {"name": "now", "parameters": {"properties": {"tz": {"type": "string"}}}}
    rules = _rules(plan_grammar([*TOOLS, optional_only]))
    area, double, now = rules["first"].split(" | ")
    assert not area.endswith('? ")"') and not double.endswith('? ")"') and now.endswith('? ")"')
    opening = rules[area.split()[1]]  # what may open area's arguments: only width, which is required
    assert " | " not in opening and rules[opening.split()[0]].startswith('"width="')


def test_parse_plan_numbers_calls_and_reads_dependencies() -> None:
    plan = parse_plan("1. double(x=2)\n2. area(width=$1, label='cost $5')", first_id=1)
    assert [(call.id, call.name, call.depends_on) for call in plan] == [(1, "double", []), (2, "area", [1])]
    assert plan[1].arguments == {"width": "$1", "label": "cost $5"}


def test_parse_plan_reads_argument_names_python_cannot_take() -> None:
    plan = parse_plan("1. flight(from='Oslo', to=\"a, class=b\", zip-code=$1, ok=[1, 2])", first_id=2)
    assert plan[0].arguments == {"from": "Oslo", "to": "a, class=b", "zip-code": "$1", "ok": [1, 2]}


def test_parse_plan_numbers_a_replan_after_the_calls_made() -> None:
    plan = parse_plan("1. area(width=$2)", first_id=3)
    assert [(call.id, call.depends_on) for call in plan] == [(3, [2])]


def test_parse_plan_keeps_every_call_the_model_wrote_repeats_included() -> None:
    # whether a repeat runs is loop protection's call (tests/policies/test_defaults.py), not the parser's
    assert [call.id for call in parse_plan("1. double(x=2)\n2. double(x=2)\n3. double(x=2)")] == [1, 2, 3]


def test_a_dollar_inside_text_is_no_reference() -> None:
    text = "1. find_email(name='Bob')\n2. note(text='The fee is $1 per page', to=$1, cc=['a', $1])"
    plan = parse_plan(text)
    assert plan[1].arguments == {"text": "The fee is $1 per page", "to": "$1", "cc": ["a", "$1"]}
    assert plan[1].depends_on == [1]
    alone = parse_plan("1. find_email(name='Bob')\n2. note(text='The fee is $1 per page')")
    assert alone[1].depends_on == []
    assert references({"a": "$2", "b": ["$3", "x $4"], "c": {"d": "$5"}, "e": "$6 off"}) == {2, 3, 5}


def test_parse_plan_keeps_the_whole_calls_of_a_plan_cut_off_by_the_token_budget() -> None:
    assert [(call.id, call.arguments) for call in parse_plan("1. double(x=2)\n2. double(x=")] == [
        (1, {"x": 2})
    ]
    assert parse_plan("1. dou") == []


def test_a_sentence_instead_of_calls_is_an_empty_plan() -> None:
    assert parse_plan("None of the functions can tell a joke.") == []


def test_the_planner_sees_every_function_schema_and_on_a_replan_the_calls_made() -> None:
    system, *_, user = compiler_messages("Double 2.", TOOLS, [])
    assert json.dumps(TOOLS[1]["function"]) in system["content"] and user["content"] == "Double 2."
    made = [CallRecord(id=1, name="double", arguments={"x": 2}, observation="4")]
    replan = compiler_messages("Double 2, then area of that.", TOOLS, made, "area is missing")[-1]["content"]
    assert "1. double(x=2) -> 4" in replan and "area is missing" in replan and "from 2" in replan
