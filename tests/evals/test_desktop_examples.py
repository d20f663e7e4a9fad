"""The desktop agent's solved examples: the train split only, in the crew planner's line format."""

from __future__ import annotations

from tinycrew.agents.crew_planner import parse_crew_plan
from tinycrew.evals.desktop import load_tasks
from tinycrew.evals.desktop_examples import desktop_examples, plan_lines


def test_only_train_tasks_that_call_a_tool_become_examples() -> None:
    retriever, ids = desktop_examples()
    tasks = {task.id: task for task in load_tasks()}
    assert ids and len(retriever) == len(ids)
    assert all(tasks[task_id].split == "train" and tasks[task_id].plan for task_id in ids)
    eval_requests = {task.request for task in tasks.values() if task.split == "eval"}
    for task in tasks.values():
        if task.split == "eval":
            assert all(hit.query not in eval_requests for hit in retriever.retrieve(task.request, 3))


def test_every_example_plan_parses_as_the_planner_would_write_it() -> None:
    for task in load_tasks(split="train"):
        if not task.plan:
            continue
        plan = parse_crew_plan(plan_lines(task.plan))
        assert [node.tool for node in plan.nodes] == [call.name for call in task.plan]
        assert [set(node.depends_on) for node in plan.nodes] == [set(call.deps) for call in task.plan]
