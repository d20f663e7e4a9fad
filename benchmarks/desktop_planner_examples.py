"""Does the crew planner plan desktop requests better with retrieved solved examples? Planner only.

For desktop tasks of the TRAIN split (never the eval split), the crew planner plans each request twice
on the tools ToolRAG offers it (top 6, relevance floor as the agents use; `--all-tools`: all 16): with
its fixed worked examples only, and with the k train tasks most similar to the request
(ExampleRetriever, the task itself left out) shown first as solved plans in its own line format. A plan
counts when its tools and dependency DAG equal the expected plan's (arguments are the callers' job and
are not written here).

    TINYCREW_THREADS=1 .venv/bin/python benchmarks/desktop_planner_examples.py --limit 20 --k 3
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from tinycrew.agents.constrained import run_structured
from tinycrew.agents.crew_planner import MAX_NODES, crew_plan_grammar, crew_planner_messages, parse_crew_plan
from tinycrew.evals.desktop import Call, Task, load_tasks, match_plans
from tinycrew.evals.desktop_examples import plan_lines
from tinycrew.graphs.common import clock_text
from tinycrew.models import ChatModel, load_model
from tinycrew.retrieval import ToolRetriever
from tinycrew.retrieval.examples import ExampleRetriever
from tinycrew.tools import ToolRegistry
from tinycrew.tools.desktop import desktop_tools, seed_sandbox


async def plan(
    model: ChatModel, task: Task, schemas: list[dict[str, Any]], shots: list[tuple[str, str]]
) -> list[Call]:
    """The planner's DAG for `task` (arguments empty), with `shots` as extra worked examples first."""
    names = [schema["function"]["name"] for schema in schemas]
    request = f"{task.request}\n\nCurrent date and time: {clock_text(task.now)}"
    messages = crew_planner_messages(request, schemas, [])
    extra = [
        m
        for query, lines in shots
        for m in ({"role": "user", "content": query}, {"role": "assistant", "content": lines})
    ]
    messages = [messages[0], *extra, *messages[1:]]
    _, parsed = await run_structured(
        "crew_planner", model, messages, lambda result: parse_crew_plan(result.content, names),
        expected="numbered plan lines", grammar=crew_plan_grammar(names), max_tokens=60 * MAX_NODES,
    )  # fmt: skip
    if parsed.decision != "calls":
        return []
    return [Call(node.id, node.tool, {}, frozenset(node.depends_on)) for node in parsed.nodes]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument(
        "--all-tools", action="store_true", help="offer all 16 tools instead of ToolRAG's top 6"
    )
    options = parser.parse_args()
    train = [task for task in load_tasks(split="train") if task.plan]  # train split only, never eval
    chosen = train[:: max(1, len(train) // options.limit)][: options.limit]
    root = seed_sandbox(Path(tempfile.mkdtemp()) / "sandbox")
    registry = ToolRegistry(desktop_tools(root, approval=False))
    tools = ToolRetriever(None)
    tools.index(list(registry))
    examples = ExampleRetriever(None)
    for task in train:  # requests no tool serves are the gate's job: no `none:` example for the planner
        examples.add(task.request, plan_lines(task.plan or []), [call.name for call in task.plan or []])
    model = load_model()
    counts = {"fixed examples": 0, f"+{options.k} retrieved": 0}
    started = time.perf_counter()
    for task in chosen:
        names = registry.names() if options.all_tools else tools.retrieve(task.request, 6, 0.2)
        schemas = registry.openai_schemas(names)
        hits = [
            hit
            for hit in examples.retrieve(task.request, options.k + 1, set(names))
            if hit.query != task.request
        ]
        shots = [(hit.query, hit.plan) for hit in hits[: options.k]]
        row = []
        for label, given in (("fixed examples", []), (f"+{options.k} retrieved", shots)):
            planned = asyncio.run(plan(model, task, schemas, given)) if schemas else []
            expected = [Call(c.id, c.name, {}, c.deps) for c in task.plan or []]
            ok = match_plans(planned, expected, task.now).ok
            counts[label] += ok
            row.append(f"{label}: {'ok' if ok else 'miss'} {[c.name for c in planned]}")
        print(task.id, " | ".join(row), flush=True)
    total = len(chosen)
    print(
        ", ".join(f"{label} {n}/{total}" for label, n in counts.items()),
        f"({time.perf_counter() - started:.0f} s)",
    )


if __name__ == "__main__":
    main()
