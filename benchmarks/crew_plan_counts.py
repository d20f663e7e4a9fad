"""How often the crew planner plans as many calls as BFCL's ground truth has (planner only, no callers).

Usage: .venv/bin/python benchmarks/crew_plan_counts.py [--split train|eval|all] [--bfcl DIR] [--stops]

The first 80 simple_python and the first 40 of multiple, parallel and parallel_multiple (the slices of
the published table), kept to one split (train by default: prompts are tuned there). Each question's
task goes to `plan_crew` with its functions offered, on the packaged 0.5B; a plan counts when it has
exactly as many nodes as the ground truth has calls. One planner call per question, so it compares
planner prompts in minutes where a full BFCL run of the crew graph takes hours; the counts say nothing
about the arguments, which the callers write.

With `--stops` the planner does not extend unsure plans (`extend_below=None`) and each question's line
is printed: its id, the calls planned and in the ground truth, and the probability the model gave to
ending its plan where it did (what `tinycrew.agents.crew_planner.EXTEND_BELOW` is compared with).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time

from tinycrew.agents.crew_planner import plan_crew
from tinycrew.evals import split_of
from tinycrew.evals.bfcl_data import NameMap, load_category, to_openai_tools
from tinycrew.evals.runner import task_text
from tinycrew.models import load_model

SLICES = {"simple_python": 80, "multiple": 40, "parallel": 40, "parallel_multiple": 40}


def main() -> None:
    """Print, per category, the plans with the ground truth's number of calls, then the total."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["train", "eval", "all"], default="train")
    parser.add_argument("--bfcl", default="../shared/bfcl")
    parser.add_argument("--stops", action="store_true", help="no extension; print each end probability")
    args = parser.parse_args()
    model = load_model(None, state_cache_bytes=0)  # as `tinycrew eval bfcl` runs it
    started, right_all, n_all = time.perf_counter(), 0, 0
    for category, limit in SLICES.items():
        right = n = 0
        for entry in load_category(category, args.bfcl)[:limit]:
            if args.split != "all" and split_of(entry.id) != args.split:
                continue
            tools = to_openai_tools(entry.functions, NameMap())
            extend = {"extend_below": None} if args.stops else {}
            try:
                step = asyncio.run(plan_crew(model, task_text(entry), tools, [], **extend))
                plan = step.parsed
                planned = len(plan.nodes) if plan.decision == "calls" else 0
            except ValueError:  # no plan could be read: counts as wrong
                planned, step = -1, None
            if args.stops:
                end = step and step.result.stop_logprob
                shown = "-" if end is None else f"{math.exp(end):.4f}"
                print(f"  {entry.id} planned {planned} of {len(entry.ground_truth)}, ended with p={shown}")
            n, right = n + 1, right + (planned == len(entry.ground_truth))
        right_all, n_all = right_all + right, n_all + n
        print(f"{category}: {right}/{n} plans with the ground truth's number of calls", flush=True)
    print(f"all: {right_all}/{n_all} ({args.split} split, {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
