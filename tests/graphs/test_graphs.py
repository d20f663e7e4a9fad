"""Every graph on the packaged 0.5B model with real tools."""

from __future__ import annotations

import asyncio
import json
import math
import time

import pytest

from tinycrew.evals.bfcl_data import NameMap, load_category, to_openai_tools
from tinycrew.evals.bfcl_scorer import score_entry
from tinycrew.evals.runner import task_text
from tinycrew.graphs import Agent
from tinycrew.graphs.umi import OVERRULED
from tinycrew.policies import repair_policies
from tinycrew.tools import ToolRegistry, tool, tool_from_schema
from tinycrew.tools.builtin import builtin_tools, day_of_week
from tinycrew.trajectories import TrajectoryStore

pytestmark = pytest.mark.slow


@tool
def birthday(person: str) -> str:
    """The birth date (YYYY-MM-DD) of a person in the team.

    Args:
        person: First name, e.g. "Alice".
    """
    return {"alice": "1990-06-15", "bob": "1985-01-01"}[person.strip().lower()]


@tool
def calculate_lcm(num1: int, num2: int) -> int:
    """Calculate the least common multiple (lcm) between two integers.

    Args:
        num1: First number to calculate lcm for.
        num2: Second number to calculate lcm for.
    """
    return math.lcm(num1, num2)


@tool
def calculate_gcd(num1: int, num2: int) -> int:
    """Calculate the greatest common divisor (gcd) between two integers.

    Args:
        num1: First number to calculate gcd for.
        num2: Second number to calculate gcd for.
    """
    return math.gcd(num1, num2)


def agent(default_model, graph: str, tools=None, **options) -> Agent:
    registry = tools or builtin_tools()
    return Agent(registry, graph=graph, models=default_model, checkpointer="memory", record=False, **options)


@pytest.mark.parametrize("graph", ["umi", "compiler", "react"])
def test_single_tool_task(default_model, graph: str) -> None:
    result = agent(default_model, graph).run("What is 1234 times 5678?")
    assert result.status == "done" and result.outcome == "success"
    assert any(call.name == "calculate" and call.observation == "7006652" for call in result.calls)
    assert result.answer
    assert result.usage[default_model.name]["completion_tokens"] > 0


def test_compiler_runs_independent_calls_in_one_plan(default_model) -> None:
    result = agent(default_model, "compiler").run("Compute 128 * 4 and also 1000 - 1.")
    observations = {call.observation for call in result.calls if call.name == "calculate"}
    assert {"512", "999"} <= observations
    first_plan = [call for call in result.calls if call.id <= 2]
    assert all(not call.depends_on for call in first_plan), "independent calls carry no dependency"


def test_compiler_feeds_a_result_into_a_dependent_call(default_model) -> None:
    registry = ToolRegistry([birthday, day_of_week])
    result = agent(default_model, "compiler", registry).run(
        "Find Alice's birthday, then tell me which day of the week that date was."
    )
    weekday = [call for call in result.calls if call.name == "day_of_week"]
    assert weekday and weekday[0].depends_on, f"expected a $N dependency, got {result.calls}"
    assert weekday[0].arguments["day"] == "1990-06-15" and weekday[0].observation == "Friday"


def test_react_uses_native_tool_calls(default_model) -> None:
    result = agent(default_model, "react").run("What weekday was 2024-03-05?")
    assert [call.name for call in result.calls][:1] == ["day_of_week"]
    assert "tuesday" in (result.answer or "").lower()


def test_stream_yields_node_updates_tokens_and_the_result(default_model) -> None:
    events = list(agent(default_model, "umi").stream("What is 3 + 4?"))
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "result" and "token" in kinds
    nodes = {node for kind, value in events if kind == "update" for node in value}
    assert {"retrieve", "planner", "caller", "executor", "summarizer"} <= nodes
    roles = {value["role"] for kind, value in events if kind == "token"}
    assert {"planner", "caller", "summarizer"} <= roles


def test_step_limit_bounds_a_run(default_model) -> None:
    from tinycrew.graphs import Limits

    result = agent(default_model, "umi", limits=Limits(max_steps=2)).run("What is 2 + 2 and then 3 + 3?")
    assert result.status == "done" and len(result.calls) <= 1


def test_umi_caller_that_repeats_a_call_is_sent_back_for_the_next_part(default_model, tmp_path) -> None:
    # The planner asks for another call after Alice; the 0.5B caller first copies Alice's call, is
    # told it is a repeat, and then looks up Bob (without the retry it answered with an invented date).
    store = TrajectoryStore.open(tmp_path / "trajectories.sqlite")
    result = Agent(
        ToolRegistry([birthday]), graph="umi", models=default_model, checkpointer="memory", store=store
    ).run("Look up the birth dates of two people: Alice and Bob.")
    assert [(call.name, call.arguments["person"]) for call in result.calls] == [
        ("birthday", "Alice"),
        ("birthday", "Bob"),
    ]
    assert "1985" in result.answer
    callers = [step for step in store.get_run(result.run_id).steps if step.role == "caller"]
    refused = [step.error for step in callers if step.error is not None]
    assert [step.parsed_call["arguments"]["person"] for step in callers if step.error is None] == [
        "Alice",
        "Bob",
    ]
    assert refused and "already called" in refused[0]


def test_umi_give_up_stands_only_when_it_holds_with_the_tools_reversed(default_model, tmp_path) -> None:
    # Shown lcm before gcd (BFCL's multiple_35), the 0.5B planner gives up on a gcd question; shown
    # gcd first, it calls gcd. The overruled give_up is kept in the trajectory as an error step.
    store = TrajectoryStore.open(tmp_path / "trajectories.sqlite")
    result = Agent(
        ToolRegistry([calculate_lcm, calculate_gcd]), graph="umi", models=default_model, store=store
    ).run("Calculate the greatest common divisor between 128 and 256.")
    assert [(call.name, call.arguments) for call in result.calls] == [
        ("calculate_gcd", {"num1": 128, "num2": 256})
    ]
    planners = [step for step in store.get_run(result.run_id).steps if step.role == "planner"]
    assert planners[0].raw_output.startswith("Next: give_up") and planners[0].error == OVERRULED
    assert planners[1].raw_output.startswith("Next: call calculate_gcd") and planners[1].error is None


def bfcl_umi_run(default_model, entry_id: str, tmp_path, graph: str = "umi") -> tuple[list, list]:
    """Run a graph (umi unless told) with the opt-in repairs (`repair_policies`) on one BFCL question
    (from ../shared/bfcl) with BFCL's own schemas; check the calls score ok and return them, in BFCL names,
    with the recorded steps of the role that writes calls (caller, or react)."""
    entry = next(e for e in load_category(entry_id.rsplit("_", 1)[0]) if e.id == entry_id)
    names = NameMap()
    tools = ToolRegistry(tool_from_schema(schema) for schema in to_openai_tools(entry.functions, names))
    store = TrajectoryStore.open(tmp_path / "trajectories.sqlite")
    agent = Agent(
        tools, graph=graph, models=default_model, store=store, answer=False, policies=repair_policies(graph)
    )
    result = agent.run(task_text(entry))
    calls = [{names.from_api(call.name): call.arguments} for call in result.calls]
    assert score_entry(entry, calls).ok, calls
    role = "caller" if graph == "umi" else graph
    return calls, [step for step in store.get_run(result.run_id).steps if step.role == role]


def test_umi_drops_optional_text_arguments_the_task_never_says(default_model, tmp_path) -> None:
    # BFCL's multiple_26: the 0.5B caller invents mission='Mission 1' and trophy='Trophy 1'.
    calls, callers = bfcl_umi_run(default_model, "multiple_26", tmp_path)
    assert calls == [{"game_rewards.get": {"game": "Fortnite", "platform": "PlayStation"}}]
    assert '"mission"' in callers[0].raw_output  # what the model wrote; the record holds what ran
    assert callers[0].parsed_call["arguments"] == calls[0]["game_rewards.get"]
    # the rewrite is recorded: the policy, the model's own call beside the one that ran
    assert "mission" in callers[0].model_call["arguments"]
    dropped = [r for r in callers[0].rewrites if r["policy"] == "drop_unfounded_options"]
    assert dropped and "mission" in dropped[0]["before"] and "mission" not in dropped[0]["after"]


def test_umi_fills_in_an_option_the_task_names(default_model, tmp_path) -> None:
    # BFCL's simple_python_5: "Find all the roots"; the 0.5B caller leaves root_type ('real', the
    # default, or 'all') out.
    calls, callers = bfcl_umi_run(default_model, "simple_python_5", tmp_path)
    assert calls == [{"solve_quadratic": {"a": 3, "b": -11, "c": -4, "root_type": "all"}}]
    assert '"root_type"' not in callers[0].raw_output
    assert callers[0].parsed_call["arguments"]["root_type"] == "all"
    assert [r["policy"] for r in callers[0].rewrites if "root_type" in r["after"]][0] == "fill_stated_options"


def test_react_shows_the_model_the_call_that_ran(default_model, tmp_path) -> None:
    # simple_python_5 again: react fills in root_type='all', and its conversation shows that call (and
    # any later one) as it ran, not as the model wrote it.
    calls, steps = bfcl_umi_run(default_model, "simple_python_5", tmp_path, graph="react")
    assert calls == [{"solve_quadratic": {"a": 3, "b": -11, "c": -4, "root_type": "all"}}]
    asked = [message for message in steps[-1].messages if message.get("tool_calls")]
    assert asked and all(
        json.loads(call["function"]["arguments"]).get("root_type") == "all"
        for message in asked
        for call in message["tool_calls"]
    )


def test_by_default_the_call_that_runs_is_the_models_own(default_model, tmp_path) -> None:
    # simple_python_5 without the opt-in repairs: root_type is not filled in, and nothing is recorded
    entry = next(e for e in load_category("simple_python") if e.id == "simple_python_5")
    names = NameMap()
    tools = ToolRegistry(tool_from_schema(schema) for schema in to_openai_tools(entry.functions, names))
    store = TrajectoryStore.open(tmp_path / "trajectories.sqlite")
    result = Agent(tools, graph="umi", models=default_model, store=store, answer=False).run(task_text(entry))
    call = result.calls[0]  # the planner may ask for more calls; the first is the model's own
    assert "root_type" not in call.arguments
    assert all(rewrite.policy == "schema_coercion" for rewrite in call.rewrites)
    callers = [step for step in store.get_run(result.run_id).steps if step.role == "caller"]
    assert all(rewrite["policy"] == "schema_coercion" for rewrite in callers[0].rewrites)


def test_invalid_arguments_go_back_to_the_caller(default_model) -> None:
    @tool
    def repeat_word(word: str, times: int) -> str:
        """Repeat a word.

        Args:
            word: The word.
            times: How often, between 1 and 5.
        """
        if not 1 <= times <= 5:
            raise ValueError("times must be between 1 and 5")
        return " ".join([word] * times)

    result = agent(default_model, "react", ToolRegistry([repeat_word])).run("Repeat the word 'hi' 3 times.")
    assert any(call.name == "repeat_word" for call in result.calls)


def test_arun_from_async_code(default_model) -> None:
    result = asyncio.run(agent(default_model, "react").arun("What is 6 * 7?"))
    assert any(call.observation == "42" for call in result.calls)


def test_sync_tools_of_one_plan_run_in_parallel(default_model) -> None:
    intervals: list[tuple[float, float]] = []

    @tool
    def slow_square(n: int) -> int:
        """Square a number slowly.

        Args:
            n: The number.
        """
        started = time.monotonic()
        time.sleep(1.0)
        intervals.append((started, time.monotonic()))
        return n * n

    result = agent(default_model, "compiler", ToolRegistry([slow_square])).run(
        "Square each of the numbers 2, 3 and 4."
    )
    squares = [call for call in result.calls if call.name == "slow_square" and call.ok]
    assert {call.observation for call in squares} >= {"4", "9", "16"}
    latest_start = max(start for start, _ in intervals[:3])
    earliest_end = min(end for _, end in intervals[:3])
    assert latest_start < earliest_end, "the three calls of the first plan overlapped in time"


@pytest.mark.parametrize("graph", ["umi", "compiler"])
def test_answer_false_ends_the_run_without_a_summarizer(default_model, graph: str) -> None:
    events = list(agent(default_model, graph, answer=False).stream("What is 1234 times 5678?", tokens=False))
    summarizer = [value["summarizer"] for kind, value in events if kind == "update" and "summarizer" in value]
    result = events[-1][1]
    assert "calculate" in [call.name for call in result.calls]
    assert result.answer == "" and len(summarizer) == 1
    assert "usage" not in summarizer[0]  # the node ran, but no model did


def test_umi_gives_up_when_no_tool_is_offered(default_model) -> None:
    # no tool is similar enough to the request: the planner's grammar offers only the placeholder
    # "none", which must read as give_up (a reader that refused it failed every such run)
    result = agent(default_model, "umi").run("Tell me a joke about cats.")
    assert result.tools == [] and result.calls == []
    assert result.status == "done" and result.outcome == "gave_up" and result.answer
