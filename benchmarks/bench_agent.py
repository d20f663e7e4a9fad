"""The default agent (crew) end to end on the packaged 0.5B: parallel calls against ReAct, and where the
time of a desktop-like request goes.

1. Four independent calls: "What's the weather in Oslo, Lima, Tokyo and Cairo?" with a weather tool that
   takes 0.5 s per call; crew and react run interleaved, wall time median of `--reps`, ratio react / crew
   (LLMCompiler reports up to 3.7x over ReAct). Each run's number of weather calls is printed too: a
   fast run that skipped calls would not be a fair win, so the ratio of seconds per call made is
   printed beside it (the 0.5B's ReAct loop often answers after its first call).
2. Latency breakdown of a single-call and a 3-call request: per role, the model calls, prompt tokens,
   prompt tokens whose KV prefix was reused, generated tokens and seconds (measured by a recording
   wrapper around the one real model), plus what is left for tools and orchestration. Each request is
   measured cold (no prompt state saved: the first request of a session) and warm (after one other
   request of its kind, as in a desktop session: each role restores its saved prompt prefix,
   `tinycrew.models.prefix_states`).

Usage: python benchmarks/bench_agent.py [--reps 3]; the last line is JSON for benchmarks/run_all.py.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from typing import Any

from tinycrew.graphs import Agent
from tinycrew.models import ChatResult, load_model
from tinycrew.tools import ToolRegistry, tool
from tinycrew.tools.builtin import builtin_tools

SLEEP_S = 0.5
PARALLEL_TASK = "What's the weather in Oslo, Lima, Tokyo and Cairo?"
SINGLE_TASK = "What is 1234 times 5678?"
THREE_TASK = "What's the weather in Oslo and in Lima, and what is 17 times 23?"
WARM_UPS = {
    SINGLE_TASK: "What is 4321 times 8765?",
    THREE_TASK: "What's the weather in Paris and in Rome, and what is 12 times 13?",
}


@tool
def get_weather(city: str) -> str:
    """The current weather in a city (a slow service: about half a second).

    Args:
        city: The city's name, e.g. "Paris".
    """
    time.sleep(SLEEP_S)
    return f"{city}: 14 C, cloudy"


class RoleMeter:
    """The real model under a role's name, noting each call's tokens, reused prefix and time."""

    def __init__(self, model: Any, role: str, log: list[dict[str, Any]]) -> None:
        self._model, self.role, self._log = model, role, log
        self.name, self.capabilities = model.name, model.capabilities

    def _note(self, result: ChatResult) -> ChatResult:
        usage = result.usage
        self._log.append(
            {
                "role": self.role,
                "prompt": usage.prompt_tokens,
                "cached": usage.cached_prompt_tokens,
                "generated": usage.completion_tokens,
                "seconds": result.timings.total_s,
            }
        )
        return result

    def chat(self, messages: list[dict[str, Any]], tools: Any = None, **options: Any) -> ChatResult:
        return self._note(self._model.chat(messages, tools, **options))

    async def achat(self, messages: list[dict[str, Any]], **options: Any) -> ChatResult:
        return self._note(await self._model.achat(messages, **options))

    async def astream(self, messages: list[dict[str, Any]], **options: Any):  # noqa: ANN201
        async for chunk in self._model.astream(messages, **options):
            if chunk.result is not None:
                self._note(chunk.result)
            yield chunk

    def stream(self, messages: list[dict[str, Any]], **options: Any):  # noqa: ANN201
        for chunk in self._model.stream(messages, **options):
            if chunk.result is not None:
                self._note(chunk.result)
            yield chunk


ROLES = ("gate", "planner", "caller", "joiner", "summarizer", "react")


def metered_agent(model: Any, tools: ToolRegistry, graph: str, log: list[dict[str, Any]]) -> Agent:
    models = {role: RoleMeter(model, role, log) for role in ROLES} | {
        "default": RoleMeter(model, "other", log)
    }
    return Agent(tools, graph=graph, models=models, checkpointer="memory", record=False)  # type: ignore[arg-type]


def parallel(model: Any, reps: int) -> dict[str, Any]:
    registry = ToolRegistry([get_weather])
    agents = {
        graph: Agent(registry, graph=graph, models=model, checkpointer="memory", record=False)
        for graph in ("crew", "react")
    }
    walls: dict[str, list[float]] = defaultdict(list)
    calls: dict[str, list[int]] = defaultdict(list)
    for _ in range(reps):
        for graph, agent in agents.items():  # interleaved, so both see the same machine load
            started = time.perf_counter()
            result = agent.run(PARALLEL_TASK)
            walls[graph].append(time.perf_counter() - started)
            calls[graph].append(sum(call.name == "get_weather" and call.ok for call in result.calls))
    crew, react = statistics.median(walls["crew"]), statistics.median(walls["react"])
    per_call = {  # the 0.5B's ReAct loop often answers after its first call: seconds per call made
        graph: statistics.median(
            wall / max(made, 1) for wall, made in zip(walls[graph], calls[graph], strict=True)
        )
        for graph in agents
    }
    return {
        "crew_s": round(crew, 2),
        "react_s": round(react, 2),
        "react_over_crew": round(react / crew, 2),
        "per_call_react_over_crew": round(per_call["react"] / per_call["crew"], 2),
        "crew_calls": calls["crew"],
        "react_calls": calls["react"],
    }


def breakdown(model: Any, task: str, tools: ToolRegistry, warm: bool) -> dict[str, Any]:
    """One request's time per role; `warm`: after `WARM_UPS[task]`, else with no saved prompt state."""
    log: list[dict[str, Any]] = []
    agent = metered_agent(model, tools, "crew", log)
    model.reset_cache()
    if warm:
        agent.run(WARM_UPS[task])
        log.clear()
    started = time.perf_counter()
    result = agent.run(task)
    wall = time.perf_counter() - started
    roles: dict[str, dict[str, float]] = {}
    for entry in log:
        row = roles.setdefault(
            entry["role"], {"calls": 0, "prompt": 0, "cached": 0, "generated": 0, "seconds": 0.0}
        )
        row["calls"] += 1
        for key in ("prompt", "cached", "generated", "seconds"):
            row[key] += entry[key]
    model_s = sum(entry["seconds"] for entry in log)
    return {
        "task": task,
        "warm": warm,
        "wall_s": round(wall, 2),
        "model_s": round(model_s, 2),
        "tools_and_orchestration_s": round(wall - model_s, 2),
        "calls": [call.line()[:80] for call in result.calls],
        "roles": {role: {k: round(v, 2) for k, v in row.items()} for role, row in roles.items()},
    }


def print_breakdown(figures: dict[str, Any]) -> None:
    print(
        f"\n{figures['task']!r} ({'warm' if figures['warm'] else 'cold'}): wall {figures['wall_s']} s, "
        f"model {figures['model_s']} s, "
        f"tools + orchestration {figures['tools_and_orchestration_s']} s"
    )
    print(f"  calls: {figures['calls']}")
    print(f"  {'role':<11}{'calls':>6}{'prompt':>8}{'reused':>8}{'gen':>6}{'s':>7}")
    for role, row in figures["roles"].items():
        counts = f"{row['calls']:>6.0f}{row['prompt']:>8.0f}{row['cached']:>8.0f}{row['generated']:>6.0f}"
        print(f"  {role:<11}{counts}{row['seconds']:>7.2f}")


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    model = load_model(None)
    model.chat([{"role": "user", "content": "hi"}], max_tokens=1)  # load and warm once
    figures = {"parallel": parallel(model, args.reps)}
    p = figures["parallel"]
    print(
        f"4 independent 0.5 s calls: crew {p['crew_s']} s, react {p['react_s']} s, "
        f"react/crew {p['react_over_crew']}x (calls made: crew {p['crew_calls']}, react {p['react_calls']}); "
        f"seconds per call made, react/crew {p['per_call_react_over_crew']}x"
    )
    tools = ToolRegistry([*builtin_tools(), get_weather])
    for name, task in (("single", SINGLE_TASK), ("three", THREE_TASK)):
        for warm in (False, True):
            key = f"{name}_{'warm' if warm else 'cold'}"
            figures[key] = breakdown(model, task, tools, warm)
            print_breakdown(figures[key])
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
