"""The crew planner's plan format: draft calls, parsed leniently and renumbered, its grammar, and
the further call it writes where it ended a plan unsure."""

from __future__ import annotations

import asyncio

import pytest

from tinycrew.agents import CallRecord
from tinycrew.agents.compiler_planner import plan_grammar
from tinycrew.agents.crew_planner import (
    MAX_NODES,
    CrewPlan,
    PlanNode,
    _invents_instances,
    ask_second_opinion,
    crew_planner_messages,
    draft_text,
    extend_plan,
    grounded,
    invented_values,
    parse_crew_plan,
)
from tinycrew.models import ChatResult, Usage

NAMES = ["find_email", "send_email", "get_weather"]
PARAMETERS = {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}}


def test_a_plan_with_a_dependency_and_a_parallel_call() -> None:
    plan = parse_crew_plan(
        '1. find_email(name="Kofi")\n2. send_email(to=$1, body="I\'m late")\n3. get_weather(city="Oslo")',
        NAMES,
    )
    assert plan.decision == "calls"
    assert [(n.id, n.tool, n.depends_on) for n in plan.nodes] == [
        (1, "find_email", []),
        (2, "send_email", [1]),
        (3, "get_weather", []),
    ]
    assert plan.nodes[1].arguments == {"to": "$1", "body": "I'm late"}
    assert plan.nodes[1].purpose == 'send_email(to=$1, body="I\'m late")'


def test_lines_are_renumbered_by_position_and_their_references_follow() -> None:
    plan = parse_crew_plan('12. find_email(name="a")\n13. send_email(to=$4)', NAMES, first_id=4)
    assert [(n.id, n.depends_on) for n in plan.nodes] == [(4, []), (5, [4])]


def test_a_reference_to_the_line_itself_or_a_later_one_is_not_a_dependency() -> None:
    plan = parse_crew_plan("1. find_email(name=$1)\n2. send_email(to=$3)", NAMES)
    assert [n.depends_on for n in plan.nodes] == [[], []]


def test_a_replan_may_use_the_results_of_calls_already_made() -> None:
    plan = parse_crew_plan("3. send_email(to=$1)", NAMES, first_id=3)
    assert [(n.id, n.depends_on) for n in plan.nodes] == [(3, [1])]


def test_lenient_reading_of_free_text_skips_prose_and_unknown_tools() -> None:
    text = 'Plan:\n1) find_email(name="Maria")\n2. delete_everything()\n3. get_weather(city="Lima")'
    plan = parse_crew_plan(text, NAMES)
    assert [(n.id, n.tool) for n in plan.nodes] == [(1, "find_email"), (2, "get_weather")]


@pytest.mark.parametrize(
    ("text", "decision", "said"),
    [
        ("none: no tool tells jokes", "none", "no tool tells jokes"),
        ("ask: What should the email say?", "ask", "What should the email say?"),
        ("None: nothing fits\nmore text", "none", "nothing fits"),
    ],
)
def test_no_tool_and_ask_decisions(text: str, decision: str, said: str) -> None:
    plan = parse_crew_plan(text, NAMES)
    assert (plan.decision, plan.text, plan.nodes) == (decision, said, [])


def test_text_with_neither_a_plan_nor_a_decision_is_an_error() -> None:
    with pytest.raises(ValueError, match="no plan line"):
        parse_crew_plan("I would send an email.", NAMES)


def test_at_most_max_nodes_are_kept() -> None:
    text = "\n".join(f'{i}. get_weather(city="city {i}")' for i in range(1, MAX_NODES + 4))
    assert len(parse_crew_plan(text, NAMES).nodes) == MAX_NODES


def test_the_grammar_compiles_in_llama_cpp_types_the_values_and_offers_the_decisions() -> None:
    from llama_cpp import LlamaGrammar

    tools = [
        {"type": "function", "function": {"name": "get_weather", "parameters": PARAMETERS}},
    ]
    grammar = plan_grammar(tools, decisions=True)
    LlamaGrammar.from_string(grammar, verbose=False)  # raises on a malformed grammar
    assert '"get_weather("' in grammar and '("none" | "ask") ": "' in grammar
    replan = plan_grammar(tools, first_id=3, decisions=True)
    LlamaGrammar.from_string(replan, verbose=False)
    assert replan.startswith('root ::= "3. "')


def test_a_replan_prompt_shows_the_calls_made_and_the_numbering_to_continue() -> None:
    tools = [{"type": "function", "function": {"name": "find_email", "description": "Find an address."}}]
    done = [CallRecord(id=1, name="find_email", arguments={"name": "Kofi"}, observation="unknown contact")]
    messages = crew_planner_messages("Email Kofi", tools, done, "the address was not found")
    assert "find_email" in messages[0]["content"]
    last = messages[-1]["content"]
    assert "unknown contact" in last and "the address was not found" in last and "from 2" in last


def test_a_later_turn_gets_the_worked_example_of_a_value_taken_from_an_earlier_turn() -> None:
    from tinycrew.graphs.common import request_text

    tools = [
        {"type": "function", "function": {"name": "send_email", "description": "Send.", "parameters": {}}}
    ]
    fresh = crew_planner_messages("Send Kofi 'hello'.", tools, [])
    call = CallRecord(id=1, name="find_email", arguments={"name": "Kofi"}, ok=True, observation="kofi@x.org")
    later_task = request_text(
        {"task": "Send him 'hello'.", "history": [{"task": "Kofi's email?", "calls": [call]}]}
    )
    later = crew_planner_messages(later_task, tools, [])
    assert len(later) == len(fresh) + 2
    assert "Current request" in later[-3]["content"] and "Current request" not in str(fresh)


def test_a_line_repeated_word_for_word_is_one_node_and_references_to_it_follow() -> None:
    text = (
        '1. get_weather(city="Oslo")\n2. get_weather(city="Oslo")\n'
        '3. send_email(to="Kofi", body=$2)\n4. get_weather(city="Lima")'
    )
    plan = parse_crew_plan(text, NAMES)
    assert [(n.id, n.tool, n.arguments, n.depends_on) for n in plan.nodes] == [
        (1, "get_weather", {"city": "Oslo"}, []),
        (2, "send_email", {"to": "Kofi", "body": "$1"}, [1]),
        (3, "get_weather", {"city": "Lima"}, []),
    ]


def _node(node_id: int, tool: str, **arguments: object) -> PlanNode:
    return PlanNode(id=node_id, tool=tool, purpose=draft_text(tool, arguments), arguments=arguments)


def test_a_further_call_is_grounded_when_its_new_values_are_written_in_the_request() -> None:
    request = "The resistance of a 5 m wire, 0.01 m2 across, of copper and of aluminum?"
    copper = _node(1, "resistance", length=5, area=0.01, metal="copper")
    assert grounded(_node(2, "resistance", length=5, area=0.01, metal="Aluminum"), [copper], request)
    assert not grounded(_node(2, "resistance", length=5, area=0.01, metal="silver"), [copper], request)
    assert not grounded(_node(2, "resistance", length=7, area=0.01, metal="copper"), [copper], request)
    assert not grounded(_node(2, "resistance", length=5, area=0.01, metal="copper"), [copper], request)
    assert not grounded(_node(2, "resistance", length=5, area=0.01, exact=True), [copper], request)
    assert not grounded(_node(2, "resistance", length=5, metal="$1"), [copper], request)
    assert not grounded(_node(2, "lookup"), [copper], request)


def test_numbers_are_read_as_whole_numbers_and_thousands_separators_are_ignored() -> None:
    request = "Split 1,500 between 3 people, then between 15 people."
    first = _node(1, "split", amount=1500, people=3)
    assert grounded(_node(2, "split", amount=1500.0, people=15), [first], request)
    assert not grounded(_node(2, "split", amount=1500, people=5), [first], request)
    assert not grounded(_node(2, "split", amount=1500, people=1.5), [first], request)


def test_a_grammar_with_min_calls_wants_that_many_lines_and_no_decision() -> None:
    from llama_cpp import LlamaGrammar

    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": PARAMETERS}}]
    grammar = plan_grammar(tools, decisions=True, min_calls=2)
    LlamaGrammar.from_string(grammar, verbose=False)
    assert '("\\n2. " later' in grammar and '"none"' not in grammar.splitlines()[0]
    assert not grammar.splitlines()[0].rstrip().endswith(")?")


@pytest.mark.slow
def test_an_unsure_plan_end_gets_the_instance_it_left_out_and_no_invented_one(default_model) -> None:
    """The plan is given (the one the 0.5B might end unsure); the model writes the extension."""
    weather = {
        "type": "function",
        "function": {"name": "get_weather", "parameters": {**PARAMETERS, "required": ["city"]}},
    }
    names = ["get_weather"]
    task = "What is the weather in Oslo and in Lima?"
    messages = crew_planner_messages(task, [weather], [])
    first = parse_crew_plan('1. get_weather(city="Oslo")', names)
    result = ChatResult(model=default_model.name, content='1. get_weather(city="Oslo")')
    _, plan = asyncio.run(extend_plan(default_model, messages, [weather], task, result, first, 1))
    assert [node.arguments["city"] for node in plan.nodes] == ["Oslo", "Lima"]

    task = "What is the weather in Oslo?"
    messages = crew_planner_messages(task, [weather], [])
    _, plan = asyncio.run(extend_plan(default_model, messages, [weather], task, result, first, 1))
    assert [node.arguments for node in plan.nodes] == [{"city": "Oslo"}]


def test_invented_values_are_texts_and_whole_numbers_the_request_does_not_write() -> None:
    request = "Which events marked the presidencies of Abraham Lincoln and George Washington, at 5%?"
    lincoln = _node(1, "events", president="Abraham Lincoln", start_year=1861)
    washington = _node(2, "events", president="george washington", rate=0.05, detailed=True, since="$1")
    assert invented_values([lincoln, washington], request) == 1
    assert (
        invented_values([_node(1, "events", presidents=["Lincoln", "Grant"], end={"year": 1865})], request)
        == 2
    )
    assert invented_values([_node(1, "events", president="")], request) == 0


PAINT = {
    "type": "function",
    "function": {
        "name": "paint_mix",
        "description": "The primary colours to mix for a colour, for one kind of paint.",
        "parameters": {
            "type": "object",
            "properties": {"paint": {"type": "string"}, "color": {"type": "string"}},
            "required": ["paint", "color"],
        },
    },
}


@pytest.mark.slow
def test_a_second_opinion_replaces_a_plan_with_invented_instances(default_model) -> None:
    """The crew plan is given (a runaway the 0.5B writes at times); the compiler planner writes the other."""
    task = "How do I mix magenta with watercolor, and navy with acrylic paint?"
    runaway = parse_crew_plan(
        '1. paint_mix(paint="watercolor", color="magenta")\n2. paint_mix(paint="acrylic", color="navy")\n'
        '3. paint_mix(paint="acrylic", color="red")',
        ["paint_mix"],
    )
    result = ChatResult(model=default_model.name, content="...", usage=Usage(prompt_tokens=10))
    chosen, plan = asyncio.run(ask_second_opinion(default_model, task, [PAINT], [], None, result, runaway))
    assert invented_values(plan.nodes, task) == 0 and plan.nodes != runaway.nodes
    assert len(plan.nodes) == 2  # the two mixtures asked for, whatever their values
    assert chosen.usage.prompt_tokens > 10 + 100  # both plans are paid for


def test_only_a_plan_that_repeats_a_tool_and_invents_a_value_asks_for_a_second_opinion() -> None:
    task = "How do I mix magenta with watercolor, and navy with acrylic paint?"

    def plan(*lines: str) -> CrewPlan:
        return parse_crew_plan("\n".join(f"{n}. {line}" for n, line in enumerate(lines, 1)), ["paint_mix"])

    magenta, navy = (
        'paint_mix(paint="watercolor", color="magenta")',
        'paint_mix(paint="acrylic", color="navy")',
    )
    assert _invents_instances(plan(magenta, navy, 'paint_mix(paint="acrylic", color="red")'), task)
    assert not _invents_instances(plan(magenta, navy), task)
    assert not _invents_instances(plan('paint_mix(paint="oil", color="navy")'), task)
    assert not _invents_instances(CrewPlan(decision="none", text="no tool mixes paint"), task)
