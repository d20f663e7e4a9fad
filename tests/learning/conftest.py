"""Runs for the learning tests: real Agent runs of the packaged 0.5B (crew and umi graphs) recorded in a
real TrajectoryStore, plus runs recorded through the store API where a real run cannot be steered
(a call a policy changed; a model that writes `<tool_call>` tags; a repeated run)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tinycrew.trajectories import Recorder, RunRecord, StepRecord, TrajectoryStore

TASK = "What is the weather in Paris?"
MODEL_CALL = {"name": "get_weather", "arguments": {"city": "Paris", "unit": "fahrenheit"}}
RAN_CALL = {"name": "get_weather", "arguments": {"city": "Paris"}}
REWRITE = {
    "call_id": 1,
    "name": "get_weather",
    "policy": "drop_unfounded_options",
    "before": MODEL_CALL["arguments"],
    "after": RAN_CALL["arguments"],
    "reason": "the task never says unit='fahrenheit'",
}


def get_weather(city: str, unit: str = "celsius") -> str:
    """Current weather for a city.

    Args:
        city: the city's name, e.g. "Paris"
        unit: "celsius" or "fahrenheit"
    """
    return f"Sunny, 21 degrees {unit} in {city}"


def _copy_run(store: TrajectoryStore, run: RunRecord, run_id: str, steps: list[StepRecord]) -> RunRecord:
    """Record `steps` as a new run with `run`'s task, graph and models, through the store API."""
    recorder = Recorder(store)
    recorder.start_run(run_id, graph=run.graph, task=run.task, models=run.models)
    for index, step in enumerate(steps):
        recorder.record_step(step.model_copy(update={"run_id": run_id, "index": index}))
    recorder.finish_run(run_id, answer=run.answer, outcome="success")
    recorded = store.get_run(run_id)
    assert recorded is not None
    return recorded


def _rewritten(run: RunRecord, raw_output: str) -> list[StepRecord]:
    """`run`'s steps with the caller's call changed by a policy (the model wrote `raw_output`), after a
    first caller try that failed validation."""
    steps: list[StepRecord] = []
    for step in run.steps:
        if step.role == "caller":
            invalid = {"raw_output": '{"name": "get_weather", "arguments": {}}', "observation": None}
            steps.append(step.model_copy(update=invalid | {"validation_error": "city: field required"}))
            changed = {"raw_output": raw_output, "model_call": MODEL_CALL, "parsed_call": RAN_CALL}
            step = step.model_copy(update=changed | {"rewrites": [REWRITE]})
        steps.append(step)
    return steps


@pytest.fixture(scope="session")
def base_gguf() -> Path:
    """The packaged default 0.5B GGUF: the base that is served and trained."""
    from tinycrew.models import DEFAULT_MODEL, ensure_local

    return ensure_local(DEFAULT_MODEL)


@pytest.fixture(scope="session")
def recorded(default_model: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunRecord]]:
    """name -> run: `crew` and `umi` (real runs), `chat` (a real crew run whose gate answered without
    a tool: its peek, then the full reply), `rewritten` (the umi caller's call changed by a policy,
    bare JSON as under the grammar), `tagged` (the same written in `<tool_call>` tags) and `repeat`
    (the crew run's steps again under a new run id)."""
    from tinycrew.graphs import Agent

    path = tmp_path_factory.mktemp("learning") / "trajectories.sqlite"
    with TrajectoryStore.open(path) as store:
        runs = {}
        for graph in ("crew", "umi"):
            agent = Agent(
                [get_weather], graph=graph, models=default_model, checkpointer="memory", store=store
            )
            result = agent.run(TASK)
            assert result.outcome == "success", result
            run = store.get_run(result.run_id)
            assert run is not None
            runs[graph] = run
        chat = Agent(
            [get_weather], models=default_model, checkpointer="memory", store=store, min_similarity=None
        )
        chat_run = store.get_run(chat.run("Tell me a short joke.").run_id)
        assert chat_run is not None
        runs["chat"] = chat_run
        crew = runs["crew"]
        runs["repeat"] = _copy_run(store, crew, "repeat", crew.steps)
        bare = '{"name": "get_weather", "arguments": {"city": "Paris", "unit": "fahrenheit"}}'
        umi = runs["umi"]  # the crew's planner draft ran as written: umi's caller step is changed
        runs["rewritten"] = _copy_run(store, umi, "rewritten", _rewritten(umi, bare))
        runs["tagged"] = _copy_run(
            store, umi, "tagged", _rewritten(umi, f"<tool_call>\n{bare}\n</tool_call>")
        )
        yield runs


@pytest.fixture(scope="session")
def template(base_gguf: Path) -> Any:
    """The base GGUF's chat template: the one renderer."""
    from tinycrew.models.chat_template import ChatTemplate

    return ChatTemplate.from_gguf(base_gguf)


@pytest.fixture(scope="session")
def tokenizer(base_gguf: Path) -> Any:
    """The HF tokenizer read from the base GGUF."""
    from tinycrew.learning import load_tokenizer

    return load_tokenizer(base_gguf)
