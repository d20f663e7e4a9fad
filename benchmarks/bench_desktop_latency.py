"""Desktop requests with and without saved prompt states: median seconds per request, same plans?

Usage: python benchmarks/bench_desktop_latency.py [--split eval] [--limit 16]

The default desktop agent (crew, default call policies, no answer step, as `tinycrew desktop eval`
runs it) on the first `--limit` tasks of the split, each in a fresh seeded sandbox, on the packaged
0.5B: one pass with a model that saves no prompt states (`state_cache_bytes=0`: every role evaluates
its whole prompt, as before `tinycrew.models.prefix_states`), then one pass with the default model,
whose roles restore the prefix they share with their earlier prompts. Both passes run in one process,
one after the other, on the same loaded weights. Prints each run, then the medians, their ratio, how
many plans are the same in both passes and the exact matches of each; the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics

from tinycrew.evals.desktop import load_tasks
from tinycrew.evals.desktop_runner import run_task
from tinycrew.models import DEFAULT_MODEL
from tinycrew.models.llama_backend import LlamaCppModel
from tinycrew.policies import policy_set


def main() -> dict[str, object]:
    """Run both passes and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="eval")
    parser.add_argument("--limit", type=int, default=16)
    args = parser.parse_args()
    tasks = load_tasks(split=args.split, limit=args.limit)
    options = {"policies": policy_set("default", "crew")}
    passes = {
        "cold": LlamaCppModel(DEFAULT_MODEL, state_cache_bytes=0),
        "warm": LlamaCppModel(DEFAULT_MODEL),
    }
    seconds: dict[str, list[float]] = {name: [] for name in passes}
    plans: dict[str, list[object]] = {name: [] for name in passes}
    exact = dict.fromkeys(passes, 0)
    for name, model in passes.items():
        for task in tasks:
            run = run_task(task, model, agent_options=options)
            seconds[name].append(run.seconds)
            plans[name].append(run.plan)
            exact[name] += bool(run.ok)
            print(f"{name} {task.id}: {run.seconds:.2f} s, {run.prompt_tokens} prompt tokens", flush=True)
    cold, warm = (statistics.median(seconds[name]) for name in passes)
    same = sum(a == b for a, b in zip(plans["cold"], plans["warm"], strict=True))
    figures = {
        "tasks": len(tasks),
        "cold_median_s": round(cold, 2),
        "warm_median_s": round(warm, 2),
        "cold_over_warm": round(cold / warm, 2),
        "same_plans": same,
        "exact": exact,
    }
    print(
        f"{len(tasks)} {args.split} tasks: median {cold:.2f} s without saved states, {warm:.2f} s with "
        f"them ({cold / warm:.2f}x); same plan {same}/{len(tasks)}; exact {exact['cold']} and {exact['warm']}"
    )
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
