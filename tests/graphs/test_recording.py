"""Every graph run is recorded step by step without user code (issue: trajectory collection)."""

from __future__ import annotations

import pytest

from tinycrew.graphs import Agent
from tinycrew.tools.builtin import builtin_tools
from tinycrew.trajectories import TrajectoryStore

pytestmark = pytest.mark.slow


def test_umi_run_on_the_real_model_produces_the_expected_step_rows(default_model, tmp_path) -> None:
    store = TrajectoryStore.open(tmp_path / "trajectories.sqlite")
    agent = Agent(builtin_tools(), graph="umi", models=default_model, checkpointer="memory", store=store)
    result = agent.run("What is 1234 times 5678?")

    run = store.get_run(result.run_id)
    assert run is not None and run.graph == "umi" and run.outcome == result.outcome
    assert run.answer == result.answer and run.task == "What is 1234 times 5678?"
    roles = [step.role for step in run.steps]
    assert roles[0] == "planner" and roles[-1] == "summarizer" and "caller" in roles
    assert [step.index for step in run.steps] == list(range(len(run.steps)))
    caller = next(step for step in run.steps if step.role == "caller")
    assert caller.parsed_call is not None and caller.parsed_call["name"] == "calculate"
    assert caller.observation == "7006652"
    assert caller.tools and caller.messages[0]["role"] == "system"
    assert all(step.model == default_model.name and step.completion_tokens > 0 for step in run.steps)
    assert all("mean_logprob" in step.confidence for step in run.steps)


def test_recording_can_be_turned_off(default_model, tmp_path) -> None:
    agent = Agent(builtin_tools(), graph="react", models=default_model, checkpointer="memory", record=False)
    assert agent.recorder is None
    assert agent.run("What is 2 + 2?").status == "done"
