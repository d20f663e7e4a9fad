"""The crew planner: the DAG of intended calls (which tool, for which part of the request, after which
calls), or an explicit decision that no tool applies or that the user must supply a value.

It writes no arguments: each node's arguments are written afterwards by the caller, which sees that
tool's whole schema (see `tinycrew.graphs.crew`). A plan is one numbered line per call::

    1. find_email: Maria's email address
    2. send_email after $1: send Maria 'See you at 5'
    3. get_weather: the weather in Oslo

Calls with no `after` between them run at once. Instead of a plan the planner may write
`none: <why>` (no offered tool does any part of the request) or `ask: <question>` (a value a call needs
is neither in the request nor obtainable by another call).
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, Field

from tinycrew.agents.common import EARLIER_TURNS, CallRecord, RoleStep, TokenSink, history_text, tool_catalog
from tinycrew.agents.constrained import run_structured
from tinycrew.models import ChatModel

MAX_NODES = 8

SYSTEM = """You plan the tool calls that do a user's request. Write one line per call, numbered:
N. tool_name: the part of the request this call does, with the values it needs
A call that needs the result of an earlier call N says so: "tool_name after $N: ...".
Plan one call for each thing the request asks for, and no other call.
A value found earlier in the conversation needs no new call: write the value itself into the part.
If no tool can do any part of the request, write only: none: <why>
If a call needs a value that is neither in the request nor obtainable with a tool, write only: \
ask: <the question to the user>

Tools:
{tools}"""

# Worked plans as turns of their own (a small planner copies the shape of examples far better than it
# follows a description): a dependency, two calls at once, and one call last, since the 0.5B copies
# the shape of the last example most (docs/crew.md has the counts). The tools in them are not offered;
# the grammar keeps names to the offered ones. There is no example of `none:` or `ask:`: with one, the
# 0.5B wrote them for requests its tools plainly do ("Look up Zed's email address" with find_email);
# the gate decides whether any tool is needed before the planner runs.
EXAMPLES = [
    (
        "Find Maria's email address and send her 'See you at 5'.",
        "1. find_email: Maria's email address\n2. send_email after $1: send Maria 'See you at 5'",
    ),
    (
        "Is it raining in Oslo or in Lima?",
        "1. get_weather: the weather in Oslo\n2. get_weather: the weather in Lima",
    ),
    ("What is 15% of 80?", "1. calculate: 15% of 80"),
]
LATER_TURN_EXAMPLE = (
    "Earlier in this conversation:\nUser: What does AAPL cost?\nCall: get_price(symbol='AAPL') -> 187.2\n"
    "Answer: AAPL costs 187.2.\n\nCurrent request: Buy 3 of them at that price.",
    "1. buy_stock: buy 3 AAPL at 187.2",
)
"""Shown only on a later turn of a thread: a value found in an earlier turn is written into the part,
not looked up again (without it the 0.5B re-ran the earlier turn's lookup)."""


def _examples(later_turn: bool) -> list[dict[str, str]]:
    shown = [*EXAMPLES, LATER_TURN_EXAMPLE] if later_turn else EXAMPLES
    return [
        message
        for question, plan in shown
        for message in ({"role": "user", "content": question}, {"role": "assistant", "content": plan})
    ]


_NODE = re.compile(
    r"^\s*(?P<id>\d+)[.)]\s*`?(?P<tool>[\w.\-]+)`?"
    r"(?:\s*\(?\s*after\s+(?P<deps>\$?\d+(?:\s*(?:,|and)\s*\$?\d+)*)\s*\)?)?\s*:\s*(?P<purpose>.*\S)\s*$",
    re.I,
)
_DECISION = re.compile(r"^\s*(?P<kind>none|ask)\s*:\s*(?P<text>.*\S)", re.I | re.S)


class PlanNode(BaseModel):
    """One intended call: the tool, the part of the request it does, the calls whose results it needs."""

    id: int
    tool: str
    purpose: str
    depends_on: list[int] = Field(default_factory=list)
    error: str | None = None
    """Why the previous attempt at this call did not run (shown to the caller on its next attempt)."""
    attempts: int = 0


class CrewPlan(BaseModel):
    """The planner's decision: calls to make, no tool applies ("none"), or a question for the user."""

    decision: Literal["calls", "none", "ask"]
    nodes: list[PlanNode] = Field(default_factory=list)
    text: str = ""
    """For "none" the reason, for "ask" the question."""


def _literal(text: str) -> str:
    return json.dumps(text)


def crew_plan_grammar(tool_names: list[str], first_id: int = 1) -> str:
    """GBNF of a plan over `tool_names`: numbered lines from `first_id` (a later line may name earlier
    calls after "after"), or one `none:` / `ask:` line."""
    names = " | ".join(_literal(name) for name in tool_names)
    lines = ""
    for number in range(first_id + MAX_NODES - 1, first_id, -1):
        lines = f'("\\n{number}. " later{" " + lines if lines else ""})?'
    first = "tool" + (" deps?" if first_id > 1 else "") + ' ": " text'
    return "\n".join(
        [
            f'root ::= "{first_id}. " first {lines} | ("none" | "ask") ": " text',
            f"first ::= {first}",
            'later ::= tool deps? ": " text',
            f"tool ::= {names}",
            'deps ::= " after " ref (", " ref)*',
            'ref ::= "$" [1-9] [0-9]?',
            "text ::= [^\\n]+",
        ]
    )


def parse_crew_plan(text: str, tool_names: list[str] | None = None, first_id: int = 1) -> CrewPlan:
    """The plan in `text`; ValueError when it holds neither plan lines nor a decision.

    Lines are renumbered by position from `first_id` (a small model copies numbers from the request),
    `after` references to the line's own or later numbers are dropped, with `tool_names` a line
    naming another tool is skipped, and a line that repeats an earlier one (tool, part and
    dependencies) is one node: a small planner runs away repeating a line, and each copy's caller would
    write the same call again. At most `MAX_NODES` nodes are kept.
    """
    if decision := _DECISION.match(text.strip()):
        return CrewPlan(decision=decision["kind"].lower(), text=decision["text"].strip().splitlines()[0])
    nodes: list[PlanNode] = []
    renumber: dict[int, int] = {}
    seen: dict[tuple[str, str, tuple[int, ...]], int] = {}
    for line in text.splitlines():
        match = _NODE.match(line)
        if match is None or (tool_names is not None and match["tool"] not in tool_names):
            continue
        node_id = first_id + len(nodes)
        written = [int(ref) for ref in re.findall(r"\d+", match["deps"] or "")]
        deps = sorted({renumber.get(ref, ref) for ref in written if renumber.get(ref, ref) < node_id})
        line = (match["tool"], match["purpose"], tuple(deps))
        if line in seen:  # a line repeated word for word: its caller would write the same call again
            renumber[int(match["id"])] = seen[line]
            continue
        seen[line] = renumber[int(match["id"])] = node_id
        nodes.append(PlanNode(id=node_id, tool=match["tool"], purpose=match["purpose"], depends_on=deps))
        if len(nodes) == MAX_NODES:
            break
    if not nodes:
        raise ValueError("no plan line ('1. tool: part of the request') and no 'none:' or 'ask:' line")
    return CrewPlan(decision="calls", nodes=nodes)


def crew_planner_messages(
    task: str,
    tools: list[dict[str, Any]],
    calls: list[CallRecord],
    feedback: str | None = None,
    examples: list[dict[str, str]] | None = None,
) -> list[dict[str, Any]]:
    """The planner's prompt: the tools as a compact catalog (the caller sees full schemas), retrieved
    solved `examples` ({"query", "plan"}, most similar last) then the fixed worked examples, the
    request; on a replan also the calls made, their results and the joiner's note."""
    user = task
    if calls:
        user += f"\n\nCalls already made:\n{history_text(calls)}"
        user += f"\n\nNot done yet: {feedback or 'plan the remaining calls'}."
        user += f" Number new calls from {calls[-1].id + 1}."
    return [
        {"role": "system", "content": SYSTEM.format(tools=tool_catalog(tools))},
        *[
            message
            for example in reversed(examples or [])
            for message in (
                {"role": "user", "content": example["query"]},
                {"role": "assistant", "content": example["plan"]},
            )
        ],
        *_examples(task.startswith(EARLIER_TURNS)),
        {"role": "user", "content": user},
    ]


async def plan_crew(
    model: ChatModel,
    task: str,
    tools: list[dict[str, Any]],
    calls: list[CallRecord],
    feedback: str | None = None,
    on_token: TokenSink | None = None,
    examples: list[dict[str, str]] | None = None,
) -> RoleStep:
    """Write the plan; `parsed` is a `CrewPlan` whose nodes are numbered after the calls already made."""
    names = [tool.get("function", tool)["name"] for tool in tools]
    first_id = calls[-1].id + 1 if calls else 1
    messages = crew_planner_messages(task, tools, calls, feedback, examples)
    result, plan = await run_structured(
        "crew_planner",
        model,
        messages,
        lambda result: parse_crew_plan(result.content, names, first_id),
        expected=f"Write numbered lines 'N. tool: part of the request' (tools: {', '.join(names)}), "
        "or one line 'none: <why>' or 'ask: <question>'.",
        on_token=on_token,
        grammar=crew_plan_grammar(names, first_id),
        max_tokens=60 * MAX_NODES,
        logprobs=True,
    )
    return RoleStep(
        role="crew_planner", model=model.name, messages=messages, tools=tools, result=result, parsed=plan
    )
