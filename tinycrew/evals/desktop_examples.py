"""Solved desktop requests for the crew planner: the train split of the desktop task set, each plan
written in the planner's own line format, in an in-memory `ExampleRetriever`.

The desktop agent shows the planner the few solved requests most like the new one (and offers their
tools, so the lookups a request needs are offered even when they are not similar to it). Only the
train split is used: the eval split stays unseen (`split_of`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tinycrew.agents.crew_planner import draft_text
from tinycrew.evals.desktop import Call, Task, load_tasks
from tinycrew.retrieval.examples import ExampleRetriever


def _value(value: Any) -> Any:
    if isinstance(value, dict) and "$one_of" in value:
        return value["$one_of"][0]
    return value


def plan_lines(plan: list[Call]) -> str:
    """A plan in the crew planner's format, one numbered call per line with `$K` for call K's result.

    >>> plan_lines([Call(1, "get_email_address", {"name": "Odile"}),
    ...             Call(2, "compose_new_email", {"recipients": ["$1"]}, frozenset({1}))])
    '1. get_email_address(name="Odile")\\n2. compose_new_email(recipients=[$1])'
    """
    return "\n".join(
        f"{number}. {draft_text(call.name, {key: _value(value) for key, value in call.args.items()})}"
        for number, call in enumerate(plan, start=1)
    )


def desktop_examples(tasks: Iterable[Task] | None = None) -> tuple[ExampleRetriever, dict[str, str]]:
    """An in-memory retriever of the solved `tasks` (default: the packaged train split) that call at
    least one tool (a request no tool serves is the gate's to refuse), and each task id's example id,
    so an evaluation can leave a task's own example out while it runs that task.

    Example: `examples, ids = desktop_examples(); Agent(tools, examples=examples)`.
    """
    chosen = load_tasks(split="train") if tasks is None else list(tasks)
    retriever = ExampleRetriever(None)
    ids = {}
    for task in chosen:
        if task.split != "train" or not task.plan:
            continue
        ids[task.id] = retriever.add(task.request, plan_lines(task.plan), [call.name for call in task.plan])
    return retriever, ids
