"""Trace the crew graph on BFCL train entries: the plan, each caller step's output and the calls made.

Usage: python benchmarks/crew_traces.py CATEGORY START STOP  (indices into the category's train split)
Prints, per entry, whether it scores, the planner's plan lines, each caller output with the message a
policy sent back, and the calls that ran; then the total. For looking at why a kind of request fails
before changing a role (train split only: the eval split is never looked at this way).
"""

from __future__ import annotations

import sys
import tempfile

from tinycrew.evals.bfcl_data import NameMap, load_category, to_openai_tools
from tinycrew.evals.runner import MIN_TOP_K, score_graph_calls, task_text
from tinycrew.graphs import Agent
from tinycrew.models import DEFAULT_MODEL, load_model
from tinycrew.policies import policy_set
from tinycrew.tools import ToolRegistry, tool_from_schema
from tinycrew.trajectories import TrajectoryStore


def main(category: str, start: int, stop: int) -> None:
    """Run and print the traces of train entries `start` to `stop` of `category`."""
    model = load_model(DEFAULT_MODEL, state_cache_bytes=0)  # as `tinycrew eval bfcl` runs it
    store = TrajectoryStore.open(tempfile.mktemp(suffix=".sqlite"))
    entries = load_category(category, None, None, "train")[start:stop]
    passed = 0
    for entry in entries:
        names = NameMap()
        registry = ToolRegistry(tool_from_schema(s) for s in to_openai_tools(entry.functions, names))
        agent = Agent(
            registry,
            graph="crew",
            models=model,
            checkpointer="memory",
            record=True,
            store=store,
            top_k=max(MIN_TOP_K, len(registry)),
            answer=False,
            policies=policy_set("default", "crew"),
        )
        result = agent.run(task_text(entry))
        scored, _, _ = score_graph_calls(entry, result.calls, names)
        passed += scored.ok
        print(f"=== {entry.id} ok={scored.ok} {scored.reason}\nTASK: {task_text(entry)[:300]}")
        run = store.get_run(result.run_id)
        for step in run.steps if run else []:
            if step.role == "crew_planner":
                print("PLAN:", step.raw_output.strip())
            elif step.role == "caller":
                print("CALL:", step.raw_output[:300], "|", (step.validation_error or step.error or "")[:150])
        print("CALLS:", [(c.name, c.arguments, c.ok, c.error_kind) for c in result.calls], flush=True)
    print(f"TOTAL {passed}/{len(entries)}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
