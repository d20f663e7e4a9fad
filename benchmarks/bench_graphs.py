"""Graph orchestration overhead per step (model time excluded) and compiler-graph parallel speedup.

Overhead: each graph runs a real task on the packaged 0.5B model with an instant tool; per run,
(wall time - time inside the model) / number of graph steps (node executions).
Parallel speedup: four independent calls to a tool that sleeps 0.5 s, run by the compiler graph's
task-fetching unit vs one after another, and the executor step of a whole compiler-graph run.
Usage: python benchmarks/bench_graphs.py [--reps 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

from tinycrew.agents import PlannedCall
from tinycrew.graphs import Agent
from tinycrew.graphs.execution import execute_plan, run_call
from tinycrew.models.llama_backend import LlamaCppModel
from tinycrew.tools import ToolRegistry, tool
from tinycrew.tools.builtin import builtin_tools

SLEEP_S = 0.5


@tool
def fetch_report(city: str) -> str:
    """Fetch the daily report of a city office (slow: about half a second).

    Args:
        city: The city name.
    """
    time.sleep(SLEEP_S)
    return f"report for {city}: all fine"


def overhead_ms(model: LlamaCppModel, graph: str, reps: int) -> tuple[float, int]:
    """Median per-step orchestration time in ms, and the number of steps of the last run."""
    agent = Agent(builtin_tools(), graph=graph, models=model, checkpointer="memory", record=False)
    per_step, steps = [], 0
    for _ in range(reps):
        started = time.perf_counter()
        events = list(agent.stream("What is 1234 times 5678?", tokens=False))
        wall = time.perf_counter() - started
        result = events[-1][1]
        steps = sum(1 for kind, _ in events if kind == "update")
        model_s = sum(usage["seconds"] for usage in result.usage.values())
        tool_s = 0.0  # calculate is instant; its time is part of the overhead, an upper bound
        per_step.append(1000 * (wall - model_s - tool_s) / steps)
    return statistics.median(per_step), steps


async def plan_times(registry: ToolRegistry) -> tuple[float, float]:
    plan = [PlannedCall(id=i, name="fetch_report", arguments={"city": c}) for i, c in enumerate("ABCD", 1)]
    started = time.perf_counter()
    await execute_plan(registry, plan, [], set())
    parallel = time.perf_counter() - started
    started = time.perf_counter()
    for call in plan:
        await run_call(registry, call, call.arguments)
    return parallel, time.perf_counter() - started


def compiler_executor_s(model: LlamaCppModel) -> tuple[float, int]:
    """Seconds between the planner's and the executor's updates in a real compiler run."""
    agent = Agent(
        ToolRegistry([fetch_report]), graph="compiler", models=model, checkpointer="memory", record=False
    )
    marks: dict[str, float] = {}
    calls = 0
    for kind, value in agent.stream("Fetch the reports of Paris, London, Rome and Oslo.", tokens=False):
        if kind == "update":
            for node in value:
                marks.setdefault(node, time.perf_counter())
        elif kind == "result":
            calls = len(value.calls)
    return marks["executor"] - marks["planner"], calls


def main() -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    model = LlamaCppModel(n_ctx=4096)
    figures: dict[str, float] = {}
    print("orchestration overhead per graph step, model time excluded (goal <= 5 ms median):")
    for graph in ("umi", "compiler", "react"):
        value, steps = overhead_ms(model, graph, args.reps)
        figures[f"overhead_ms_{graph}"] = value
        print(f"  {graph:9s} {value:6.2f} ms/step  ({steps} steps per run, median of {args.reps})")
    registry = ToolRegistry([fetch_report])
    parallel, sequential = [], []
    for _ in range(args.reps):
        p, s = asyncio.run(plan_times(registry))
        parallel.append(p)
        sequential.append(s)
    figures["plan_parallel_s"] = statistics.median(parallel)
    figures["plan_sequential_s"] = statistics.median(sequential)
    figures["plan_speedup"] = figures["plan_sequential_s"] / figures["plan_parallel_s"]
    print(
        f"4 independent {SLEEP_S}s calls: task-fetching unit {figures['plan_parallel_s']:.3f} s, "
        f"sequential {figures['plan_sequential_s']:.3f} s, speedup {figures['plan_speedup']:.2f}x"
        " (goal >= 3.2x)"
    )
    executor_s, calls = compiler_executor_s(model)
    figures["compiler_executor_s"] = executor_s
    figures["compiler_executor_calls"] = calls
    figures["compiler_executor_speedup"] = calls * SLEEP_S / executor_s if calls else 0.0
    print(
        f"whole compiler run: {calls} planned calls executed in {executor_s:.3f} s "
        f"(sequential would take >= {calls * SLEEP_S:.1f} s): {figures['compiler_executor_speedup']:.2f}x"
    )
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
