"""Which model serves the gate after training: its own adapter only where it decides at least as well.

The gate's one decision (call a tool, or answer in text) is learned from the verified runs, and those
lean heavily one way: most train tasks need a call, and a request that needs none is verified only
when the teacher happened to decline. A gate adapter trained on them can learn to call everything
(docs/learning.md, run 1: irrelevance 27 -> 15 of 30). Every train task says which decision is
right (a BFCL irrelevance entry or a desktop task of kind "none" needs no call, every other one
does), so the candidates (the gate's adapter, the stage-1 adapter, the plain base) are each asked on
train tasks the teacher did not run, with the tools the default graph would offer them, and the one
with the best balanced accuracy (the mean of the two classes' hit rates, so the common class cannot
outvote the rare one) serves the gate. Ties go to the earlier candidate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tinycrew.evals.bfcl_data import BfclEntry, NameMap
from tinycrew.evals.desktop import Task as DesktopTask
from tinycrew.evals.runner import MIN_TOP_K, entry_registry, task_text
from tinycrew.models import ChatModel, load_model

NO_CALL_CATEGORY = "irrelevance"
"""The BFCL category whose entries need no call."""
NO_CALL_KIND = "none"
"""The desktop task kind whose expected plan has no call."""


@dataclass(frozen=True)
class GateCase:
    """A request, the tools the default graph offers it, and whether it needs a call."""

    id: str
    request: str
    tools: list[dict[str, Any]]
    needs_call: bool


@dataclass
class GateScore:
    """How often a model's gate decided right, per class."""

    model: str
    called: int = 0
    needed: int = 0
    declined: int = 0
    not_needed: int = 0

    @property
    def balanced_accuracy(self) -> float:
        """The mean hit rate over the classes present (0.0 with no case)."""
        rates = [hits / n for hits, n in ((self.called, self.needed), (self.declined, self.not_needed)) if n]
        return sum(rates) / len(rates) if rates else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The counts and the balanced accuracy, for a report."""
        return vars(self) | {"balanced_accuracy": self.balanced_accuracy}

    def text(self) -> str:
        """'calls 50/60, declines 9/12, balanced 79.2%'."""
        return (
            f"calls {self.called}/{self.needed}, declines {self.declined}/{self.not_needed}, "
            f"balanced {self.balanced_accuracy:.1%}"
        )


async def offered_tools(agent: Any, request: str) -> list[dict[str, Any]]:
    """The tool schemas `agent`'s graph offers `request` on a fresh thread (its retrieval node)."""
    from tinycrew.graphs.common import retrieve_node

    update = await retrieve_node(agent.context)({"task": request}, {})
    return agent.context.schemas(update["tools"])


def bfcl_gate_cases(entries: Iterable[BfclEntry], model: ChatModel) -> list[GateCase]:
    """One case per entry, its tools as the BFCL eval's graph runs offer them (`model` only completes
    the agent that retrieves them; it is not asked)."""
    from tinycrew.graphs import Agent

    cases = []
    for entry in entries:
        registry = entry_registry(entry, NameMap())
        top_k = max(MIN_TOP_K, len(registry))
        agent = Agent(registry, "crew", model, checkpointer="memory", record=False, top_k=top_k)
        request = task_text(entry)
        tools = asyncio.run(offered_tools(agent, request))
        cases.append(GateCase(entry.id, request, tools, entry.category != NO_CALL_CATEGORY))
    return cases


def desktop_gate_cases(tasks: Iterable[DesktopTask], model: ChatModel) -> list[GateCase]:
    """One case per scored task, its tools as the desktop eval's runs offer them (`model` as in
    `bfcl_gate_cases`)."""
    import tempfile
    from pathlib import Path

    from tinycrew.graphs import Agent
    from tinycrew.tools.desktop import AGENT_OPTIONS, desktop_tools, seed_sandbox

    cases = []
    with tempfile.TemporaryDirectory(prefix="tinycrew-gate-") as folder:
        root = seed_sandbox(Path(folder) / "sandbox")
        for task in tasks:
            if task.plan is None:
                continue
            tools = desktop_tools(root, now=task.now, approval=False)
            agent = Agent(tools, "crew", model, checkpointer="memory", record=False, **AGENT_OPTIONS)
            offered = asyncio.run(offered_tools(agent, task.request))
            cases.append(GateCase(task.id, task.request, offered, task.kind != NO_CALL_KIND))
    return cases


def score_gate(model: ChatModel, cases: Sequence[GateCase]) -> GateScore:
    """Ask `model`'s gate on every case that is offered a tool (the graph asks no gate otherwise)."""
    from tinycrew.agents.gate import needs_tools

    score = GateScore(model.name)
    for case in cases:
        if not case.tools:
            continue
        wants = asyncio.run(needs_tools(model, case.request, case.tools)).parsed
        if case.needs_call:
            score.needed += 1
            score.called += bool(wants)
        else:
            score.not_needed += 1
            score.declined += not wants
    return score


def choose_gate(candidates: dict[str, Any], cases: Sequence[GateCase]) -> tuple[str, dict[str, GateScore]]:
    """The label of the candidate (label -> model or model spec) with the best balanced accuracy on
    `cases`, ties to the earlier one, and every candidate's score."""
    if not candidates:
        raise ValueError("choose_gate needs at least one candidate")
    scores = {label: score_gate(load_model(model), cases) for label, model in candidates.items()}
    best = max(scores, key=lambda label: scores[label].balanced_accuracy)  # max keeps the first of a tie
    return best, scores
