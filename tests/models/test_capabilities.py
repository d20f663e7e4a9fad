"""Backends declare what they can do; roles pick the strongest constraint; `Agent(constrained=True)`
refuses, at build time, a role whose model cannot constrain its output."""

from __future__ import annotations

import pytest

from tinycrew.agents.constrained import constraint_for
from tinycrew.agents.joiner import parse_join
from tinycrew.agents.planner import parse_decision, planner_grammar, planner_schema
from tinycrew.graphs import Agent
from tinycrew.models import OpenAIChatModel
from tinycrew.models.capabilities import NONE, Capabilities, MissingCapabilityError, capabilities_of
from tinycrew.models.llama_backend import LlamaCppModel
from tinycrew.models.transformers_backend import TransformersChatModel
from tinycrew.tools.builtin import builtin_tools

DEAD_URL = "http://127.0.0.1:9/v1"  # nothing is sent: these tests only build clients and agents


def test_each_backend_declares_its_capabilities() -> None:
    assert LlamaCppModel.capabilities.names() == [
        "grammar", "json_schema", "tools", "constrained_tools", "logprobs", "adapters", "streaming",
    ]  # fmt: skip
    assert not TransformersChatModel.capabilities.grammar and TransformersChatModel.capabilities.logprobs
    plain = OpenAIChatModel("m", base_url=DEAD_URL)
    server = OpenAIChatModel("m", base_url=DEAD_URL, dialect="llama.cpp")
    assert plain.capabilities.json_schema and not plain.capabilities.grammar
    assert server.capabilities.grammar and server.capabilities.constrained_tools
    custom = Capabilities(tools=True)
    assert OpenAIChatModel("m", base_url=DEAD_URL, capabilities=custom).capabilities is custom
    assert capabilities_of(object()) is NONE


def test_an_unknown_dialect_and_a_grammar_the_endpoint_cannot_take_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown dialect"):
        OpenAIChatModel("m", base_url=DEAD_URL, dialect="vllm")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match='dialect="llama.cpp"'):
        OpenAIChatModel("m", base_url=DEAD_URL).chat(
            [{"role": "user", "content": "hi"}], grammar='root ::= "a"'
        )


def test_roles_take_the_strongest_constraint_in_the_defined_order() -> None:
    grammar, schema = planner_grammar(["add"], True), planner_schema(["add"], True)
    server = OpenAIChatModel("m", base_url=DEAD_URL, dialect="llama.cpp")
    plain = OpenAIChatModel("m", base_url=DEAD_URL)
    bare = OpenAIChatModel("m", base_url=DEAD_URL, capabilities=Capabilities(tools=True))
    assert constraint_for(server, grammar, schema) == {"grammar": grammar}
    assert constraint_for(plain, grammar, schema) == {"json_schema": schema}
    assert constraint_for(bare, grammar, schema) == {}


def test_the_readers_take_grammar_schema_and_free_text_forms() -> None:
    names = ["calculate"]
    assert parse_decision("Next: call calculate\nReason: math", names).tool == "calculate"
    assert parse_decision('{"next": "call calculate", "reason": "math"}', names).next == "caller"
    assert parse_decision("**Next:** answer\n\nReason: done", names).rationale == "done"
    assert parse_decision("next: Call calculate(expression='1+1')", names).tool == "calculate"
    for unreadable in ("I would call calculate", "Next: call divide\nReason: x", "{not json"):
        with pytest.raises(ValueError):
            parse_decision(unreadable, names)
    # no tool offered: the grammar's placeholder tool "none" reads as a call, which umi turns into give_up
    assert parse_decision("Next: call none\nReason: nothing fits", None).tool == "none"
    assert parse_join('Sure: {"thought": "done", "action": "finish"} ok').action == "finish"
    with pytest.raises(ValueError):
        parse_join('{"thought": "x", "action": "stop"}')


def test_constrained_agents_refuse_a_model_that_cannot_constrain_a_role() -> None:
    plain = OpenAIChatModel("gpt-like", base_url=DEAD_URL)
    with pytest.raises(
        MissingCapabilityError, match="caller role's model 'gpt-like' cannot do constrained_tools"
    ):
        Agent(
            builtin_tools(), graph="umi", models=plain, constrained=True, checkpointer="memory", record=False
        )
    with pytest.raises(MissingCapabilityError, match="planner role's model 'gpt-like' cannot do grammar"):
        Agent(
            builtin_tools(),
            graph="compiler",
            models=plain,
            constrained=True,
            checkpointer="memory",
            record=False,
        )
    with pytest.raises(ValueError, match="not available for the react graph"):
        Agent(
            builtin_tools(),
            graph="react",
            models=plain,
            constrained=True,
            checkpointer="memory",
            record=False,
        )
    server = OpenAIChatModel("llama-server", base_url=DEAD_URL, dialect="llama.cpp")
    for graph in ("umi", "compiler"):
        Agent(
            builtin_tools(), graph=graph, models=server, constrained=True, checkpointer="memory", record=False
        )
    mixed = {"default": server, "caller": plain}
    with pytest.raises(MissingCapabilityError, match="caller role"):
        Agent(
            builtin_tools(), graph="umi", models=mixed, constrained=True, checkpointer="memory", record=False
        )
