"""The crew graph (the default) on the packaged 0.5B: one request of each kind, with real tools."""

from __future__ import annotations

import threading
import time

import pytest

from tinycrew.graphs import Agent
from tinycrew.tools import ToolRegistry, tool
from tinycrew.tools.builtin import builtin_tools
from tinycrew.trajectories import TrajectoryStore

pytestmark = pytest.mark.slow

ADDRESSES = {"kofi": "kofi@example.com", "maria": "maria@example.com"}


@tool
def find_email(name: str) -> str:
    """Look up a contact's email address.

    Args:
        name: The contact's first name, e.g. "Maria".
    """
    return ADDRESSES[name.strip().split()[0].lower()]  # KeyError for an unknown contact


def crew(default_model, tools, **options) -> Agent:
    options = {"checkpointer": "memory", "record": False} | options
    return Agent(tools, graph="crew", models=default_model, **options)


def test_a_single_call_request(default_model) -> None:
    result = crew(default_model, builtin_tools()).run("What is 1234 times 5678?")
    assert result.graph == "crew" and result.outcome == "success"
    assert [(call.name, call.observation) for call in result.calls] == [("calculate", "7006652")]
    assert "7006652" in result.answer.replace(",", "")


def test_a_second_call_uses_the_first_ones_result_and_waits_for_approval(default_model, tmp_path) -> None:
    outbox = tmp_path / "outbox.txt"

    @tool(side_effect=True)
    def send_email(to: str, body: str) -> str:
        """Send an email.

        Args:
            to: The recipient's email address.
            body: The message.
        """
        outbox.write_text(f"{to}: {body}\n")
        return "sent"

    agent = crew(default_model, ToolRegistry([find_email, send_email]))
    paused = agent.run("Find Kofi's email address and send him the message 'I am running late'.")
    assert paused.status == "interrupted" and not outbox.exists()
    [pending] = paused.pending_approval
    assert pending["name"] == "send_email"
    assert pending["arguments"]["to"].lower() == "kofi@example.com", "the caller took it from call 1's result"
    assert [call.name for call in paused.calls] == ["find_email"]
    done = agent.resume(paused.run_id, "approve")
    assert done.status == "done" and "late" in outbox.read_text()
    assert done.calls[1].depends_on == [1]


def test_independent_calls_run_at_once(default_model) -> None:
    spans: dict[str, tuple[float, float]] = {}
    lock = threading.Lock()

    @tool
    def get_weather(city: str) -> str:
        """The current weather in a city.

        Args:
            city: The city's name, e.g. "Paris".
        """
        started = time.perf_counter()
        time.sleep(0.5)
        with lock:
            spans[city.split(",")[0].strip().lower()] = (started, time.perf_counter())
        return f"{city}: 12 C, light rain"

    result = crew(default_model, ToolRegistry([get_weather])).run("What's the weather in Oslo and in Lima?")
    assert set(spans) == {"oslo", "lima"}
    (start_a, end_a), (start_b, end_b) = spans.values()
    assert start_a < end_b and start_b < end_a, "the two calls overlapped in time"
    assert all(not call.depends_on for call in result.calls)
    assert "oslo" in result.answer.lower() and "lima" in result.answer.lower()


def test_a_request_no_tool_fits_gets_an_answer_and_no_call(default_model) -> None:
    result = crew(default_model, builtin_tools()).run("Who wrote the play Hamlet?")
    assert result.calls == [] and result.outcome == "gave_up"
    assert "shakespeare" in result.answer.lower()


def test_a_failed_call_goes_to_the_joiner_and_every_step_is_recorded(default_model, tmp_path) -> None:
    store = TrajectoryStore.open(tmp_path / "trajectories.sqlite")
    agent = crew(default_model, ToolRegistry([find_email]), store=store, record=True)
    result = agent.run("What is Zed's email address?")
    assert result.calls and not result.calls[0].ok and result.calls[0].error_kind == "exception"
    run = store.get_run(result.run_id)
    roles = [step.role for step in run.steps]
    assert roles[:2] == ["gate", "crew_planner"] and "joiner" in roles and roles[-1] == "summarizer"
    assert [step.index for step in run.steps] == list(range(len(run.steps)))
    planner = run.steps[1]  # the planner's draft ran as written: its step holds the call and its error
    assert planner.parsed_call["name"] == "find_email" and planner.error


def test_a_second_turn_uses_a_result_of_the_first(default_model) -> None:
    sent: list[str] = []

    @tool
    def send_email(to: str, body: str) -> str:
        """Send an email.

        Args:
            to: The recipient's email address.
            body: The message.
        """
        sent.append(to)
        return "sent"

    agent = crew(default_model, ToolRegistry([find_email, send_email]))
    first = agent.run("Find Kofi's email address.", thread="kofi")
    assert [call.name for call in first.calls] == ["find_email"]
    second = agent.run("Now send him the message 'hello'.", thread="kofi")
    assert second.thread == "kofi" and second.run_id != first.run_id
    assert "find_email" not in [call.name for call in second.calls], "the address came from turn 1"
    assert [to.lower() for to in sent] == ["kofi@example.com"]


def test_a_request_for_several_instances_makes_one_call_each_recorded_once(default_model, tmp_path) -> None:
    asked: list[str] = []

    @tool
    def get_weather(city: str) -> str:
        """The current weather in one city.

        Args:
            city: The city's name, e.g. "Paris".
        """
        asked.append(city.split(",")[0].strip().lower())
        return f"{city}: 20 C, sunny"

    store = TrajectoryStore.open(tmp_path / "trajectories.sqlite")
    agent = crew(default_model, ToolRegistry([get_weather]), store=store, record=True, answer=False)
    result = agent.run("What's the weather in Cairo, Tokyo and Quito?")
    assert sorted(asked) == ["cairo", "quito", "tokyo"]
    assert len({call.id for call in result.calls}) == len(result.calls)
    run = store.get_run(result.run_id)
    assert [step.index for step in run.steps] == list(range(len(run.steps)))
    writers = [step for step in run.steps if step.role in ("crew_planner", "caller")]
    observed = "\n".join(step.observation or "" for step in writers)
    assert all(city in observed for city in ("Cairo", "Tokyo", "Quito")), "each call's result is on its step"


def test_instances_planned_on_their_own_lines_each_get_their_own_values(default_model) -> None:
    heights: list[float] = []

    @tool
    def calculate_bmi(height: float, weight: float) -> str:
        """A person's body mass index.

        Args:
            height: Height in feet.
            weight: Weight in kilograms.
        """
        heights.append(height)
        return f"BMI {weight / (height * 0.3048) ** 2:.1f}"

    agent = crew(default_model, ToolRegistry([calculate_bmi]), answer=False)
    task = (
        "Calculate the BMI of a person who is 6 feet tall and weighs 80 kg, "
        "and of one who is 5.6 feet and weighs 60 kg."
    )
    agent.run(task)
    assert sorted(heights) == [5.6, 6.0]


def test_the_plan_extension_is_on_by_default_and_can_be_turned_off(default_model) -> None:
    from tinycrew.agents.crew_planner import EXTEND_BELOW

    assert crew(default_model, builtin_tools()).context.extend_below == EXTEND_BELOW
    assert crew(default_model, builtin_tools(), extend_below=None).context.extend_below is None
    result = crew(default_model, builtin_tools(), extend_below=None).run("What is 1234 times 5678?")
    assert [(call.name, call.observation) for call in result.calls] == [("calculate", "7006652")]
