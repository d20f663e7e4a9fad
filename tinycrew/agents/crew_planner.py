"""The crew planner: the DAG of intended calls, each a draft call with its arguments and `$N` for the
result of an earlier call, or an explicit decision that no tool applies or that the user must supply
a value.

A plan is LLMCompiler's format, one numbered Python call per line, decoded under a grammar typed by
each tool's schema::

    1. find_email(name="Maria")
    2. send_email(to=$1, body="See you at 5")
    3. get_weather(city="Oslo")

Calls with no `$N` between them run at once. A draft that uses no result runs as written; the caller
writes the arguments of a call that uses results (it takes the value it needs out of them) and of a
call sent back, under that tool's schema (see `tinycrew.graphs.crew`). Instead of a plan the planner
may write `none: <why>` (no offered tool does any part of the request) or `ask: <question>` (a value a
call needs is neither in the request nor obtainable by another call).

Why drafts rather than a line naming the tool and the part of the request: typed arguments make the
0.5B write one call per instance ("the area of circles of radius 3, 5 and 7" is three calls, since a
radius is one number); with parts it wrote one line for all instances and the caller one call
(docs/crew.md has the counts).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Literal

from pydantic import BaseModel, Field

from tinycrew.agents.common import EARLIER_TURNS, CallRecord, RoleStep, TokenSink, history_text, run_model
from tinycrew.agents.compiler_planner import MAX_CALLS, compiler_messages, parse_plan, plan_grammar, reference
from tinycrew.agents.constrained import both_attempts, constraint_for, run_structured
from tinycrew.models import ChatModel, ChatResult

MAX_NODES = MAX_CALLS
EXTEND_BELOW = 0.995
"""A plan the model ended with less than this probability is asked for one more call (`extend_plan`)."""

SYSTEM = """You plan the tool calls that do a user's request. Write one numbered line per call, a call \
with keyword arguments and Python literals:
N. tool_name(param=value, ...)
Take the values from the request. A call that needs the result of an earlier call N gives $N as the value.
Plan one call for each thing the request asks for, and no other call.
A value found earlier in the conversation needs no new call: write the value itself.
If no tool can do any part of the request, write only: none: <why>
If a call needs a value that is neither in the request nor obtainable with a tool, write only: \
ask: <the question to the user>

The tools, one JSON object per line:
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
        '1. find_email(name="Maria")\n2. send_email(to=$1, body="See you at 5")',
    ),
    ("Is it raining in Oslo or in Lima?", '1. get_weather(city="Oslo")\n2. get_weather(city="Lima")'),
    ("What is 15% of 80?", '1. calculate(expression="0.15 * 80")'),
]
LATER_TURN_EXAMPLE = (
    "Earlier in this conversation:\nUser: What does AAPL cost?\nCall: get_price(symbol='AAPL') -> 187.2\n"
    "Answer: AAPL costs 187.2.\n\nCurrent request: Buy 3 of them at that price.",
    '1. buy_stock(symbol="AAPL", quantity=3, price=187.2)',
)
"""Shown only on a later turn of a thread: a value found in an earlier turn is written into the call,
not looked up again (without it the 0.5B re-ran the earlier turn's lookup)."""


def _examples(later_turn: bool) -> list[dict[str, str]]:
    shown = [*EXAMPLES, LATER_TURN_EXAMPLE] if later_turn else EXAMPLES
    return [
        message
        for question, plan in shown
        for message in ({"role": "user", "content": question}, {"role": "assistant", "content": plan})
    ]


_DECISION = re.compile(r"^\s*(?P<kind>none|ask)\s*:\s*(?P<text>.*\S)", re.I | re.S)


class PlanNode(BaseModel):
    """One intended call: the tool, the draft the planner wrote, the calls whose results it needs."""

    id: int
    tool: str
    purpose: str
    """The part of the request the call does: the planner's draft call, as the caller is shown it."""
    arguments: dict[str, Any] | None = None
    """The planner's draft arguments (`$N` for a result); None where the planner wrote none."""
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


def draft_text(name: str, arguments: dict[str, Any]) -> str:
    """A call as a plan line writes it: `send_email(to=$1, body="See you at 5")`."""
    return f"{name}({', '.join(f'{key}={_python(value)}' for key, value in arguments.items())})"


def _python(value: Any) -> str:
    """`value` as a Python literal of the plan format; a whole `$N` stays a bare reference."""
    if isinstance(value, str):
        return value if re.fullmatch(r"\$\d+", value) else json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return f"[{', '.join(map(_python, value))}]"
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(f"{json.dumps(str(k), ensure_ascii=False)}: {_python(v)}" for k, v in value.items())
            + "}"
        )
    return repr(value)


def parse_crew_plan(text: str, tool_names: list[str] | None = None, first_id: int = 1) -> CrewPlan:
    """The plan in `text`; ValueError when it holds neither a call line nor a decision.

    Lines are read as the compiler planner's (`tinycrew.agents.compiler_planner.parse_plan`: numbered
    by position from `first_id`, `$N` of earlier calls are dependencies, lines that are not calls are
    skipped); with `tool_names` a call to another tool is skipped, and a line that repeats an earlier
    one (tool and arguments) is one node: a small planner runs away repeating a line, and each copy
    would run the same call again. At most `MAX_NODES` nodes are kept.
    """
    if decision := _DECISION.match(text.strip()):
        return CrewPlan(decision=decision["kind"].lower(), text=decision["text"].strip().splitlines()[0])
    nodes: list[PlanNode] = []
    renumber: dict[int, int] = {}
    seen: dict[str, int] = {}
    for call in parse_plan(text, first_id):
        if tool_names is not None and call.name not in tool_names:
            continue
        node_id = first_id + len(nodes)
        arguments = _renumbered(call.arguments, renumber)
        deps = sorted({renumber.get(dep, dep) for dep in call.depends_on} & set(range(first_id, node_id)))
        deps += [dep for dep in call.depends_on if dep < first_id]
        key = json.dumps([call.name, arguments], sort_keys=True, default=str)
        if key in seen:  # a line repeated word for word would run the same call again
            renumber[call.id] = seen[key]
            continue
        seen[key] = renumber[call.id] = node_id
        purpose = draft_text(call.name, arguments)
        nodes.append(
            PlanNode(
                id=node_id, tool=call.name, purpose=purpose, arguments=arguments, depends_on=sorted(deps)
            )
        )
        if len(nodes) == MAX_NODES:
            break
    if not nodes:
        raise ValueError("no plan line ('1. tool(param=value)') and no 'none:' or 'ask:' line")
    return CrewPlan(decision="calls", nodes=nodes)


def _renumbered(value: Any, renumber: dict[int, int]) -> Any:
    """`value` with each whole `$N` pointing at N's node once skipped or repeated lines are gone."""
    if (number := reference(value)) is not None:
        return f"${renumber.get(number, number)}"
    if isinstance(value, list):
        return [_renumbered(item, renumber) for item in value]
    if isinstance(value, dict):
        return {key: _renumbered(item, renumber) for key, item in value.items()}
    return value


def crew_planner_messages(
    task: str,
    tools: list[dict[str, Any]],
    calls: list[CallRecord],
    feedback: str | None = None,
    examples: list[dict[str, str]] | None = None,
) -> list[dict[str, Any]]:
    """The planner's prompt: the tools' schemas, retrieved solved `examples` ({"query", "plan"}, most
    similar last) then the fixed worked examples, the request; on a replan also the calls made, their
    results and the joiner's note."""
    functions = "\n".join(json.dumps(tool.get("function", tool), ensure_ascii=False) for tool in tools)
    user = task
    if calls:
        user += f"\n\nCalls already made:\n{history_text(calls)}"
        user += f"\n\nNot done yet: {feedback or 'plan the remaining calls'}."
        user += f" Number new calls from {calls[-1].id + 1}."
    return [
        {"role": "system", "content": SYSTEM.format(tools=functions or "(none)")},
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
    extend_below: float | None = EXTEND_BELOW,
    second_opinion: bool = True,
) -> RoleStep:
    """Write the plan; `parsed` is a `CrewPlan` whose nodes are numbered after the calls already made.
    Backends that take a GBNF grammar decode under `plan_grammar`; others write freely, read leniently.
    A plan the model ended unsure (`extend_below`, None for never) goes through `extend_plan`; one that
    calls a tool more than once and invents a value, through `second_opinion` (unless turned off)."""
    names = [tool.get("function", tool)["name"] for tool in tools]
    first_id = calls[-1].id + 1 if calls else 1
    messages = crew_planner_messages(task, tools, calls, feedback, examples)
    result, plan = await run_structured(
        "crew_planner",
        model,
        messages,
        lambda result: parse_crew_plan(result.content, names, first_id),
        expected="Write numbered calls '1. tool(param=value, ...)' (tools: "
        f"{', '.join(names)}), or one line 'none: <why>' or 'ask: <question>'.",
        on_token=on_token,
        grammar=plan_grammar(tools, first_id, decisions=True),
        max_tokens=600,
        logprobs=True,
    )
    if extend_below is not None and _unsure_end(result, plan, extend_below):
        result, plan = await extend_plan(model, messages, tools, task, result, plan, first_id)
    if second_opinion and _invents_instances(plan, task):
        result, plan = await ask_second_opinion(model, task, tools, calls, feedback, result, plan)
    return RoleStep(
        role="crew_planner", model=model.name, messages=messages, tools=tools, result=result, parsed=plan
    )


def _unsure_end(result: ChatResult, plan: CrewPlan, extend_below: float) -> bool:
    """Whether the model ended a plan of calls with a probability under `extend_below`."""
    if plan.decision != "calls" or len(plan.nodes) >= MAX_NODES or result.stop_logprob is None:
        return False
    return math.exp(result.stop_logprob) < extend_below


async def extend_plan(
    model: ChatModel,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    task: str,
    result: ChatResult,
    plan: CrewPlan,
    first_id: int,
) -> tuple[ChatResult, CrewPlan]:
    """The plan with the calls the model writes when it may not end where it did, those grounded in
    the request only; else the plan as it was.

    A 0.5B planner that hesitated at its end (it gave ending under `EXTEND_BELOW`) had most often
    left out an instance ("resistivity of copper and aluminum": one call, for copper). Decoded again
    under a grammar that wants one line more, it writes the next call; that call is kept only where
    each value it does not share with an earlier call of its tool is written in the request
    (`grounded`), so an invented instance (the prime factors of 450 *and* of 15) is not. Greedy
    decoding writes the same first lines again from the cached prompt; a plan that differs there
    is not used.
    """
    written = len(parse_plan(result.content, first_id))
    options = constraint_for(model, plan_grammar(tools, first_id, min_calls=written + 1))
    if not options:
        return result, plan
    longer = await run_model(model, messages, None, max_tokens=600, **options)
    names = [tool.get("function", tool)["name"] for tool in tools]
    try:
        extended = parse_crew_plan(longer.content, names, first_id)
    except ValueError:
        return result, plan
    kept = len(plan.nodes)
    if [(n.tool, n.arguments) for n in extended.nodes[:kept]] != [(n.tool, n.arguments) for n in plan.nodes]:
        return result, plan
    while kept < len(extended.nodes) and grounded(extended.nodes[kept], extended.nodes[:kept], task):
        kept += 1
    if kept == len(plan.nodes):
        return result, plan
    nodes = extended.nodes[:kept]
    text = "\n".join(f"{node.id}. {node.purpose}" for node in nodes)
    longer = longer.model_copy(update={"content": text, "stop_logprob": None})
    return both_attempts(result, longer), CrewPlan(decision="calls", nodes=nodes)


def grounded(node: PlanNode, earlier: list[PlanNode], request: str) -> bool:
    """Whether `node` is a call the request asks for beside `earlier`: it has a value no earlier call
    of its tool has, and every such value is written in the request (a number as digits, a text
    case-insensitively; a `$N`, a boolean or None is never written)."""
    shared = {
        (other.tool, key, json.dumps(value, sort_keys=True))
        for other in earlier
        for key, value in (other.arguments or {}).items()
    }
    text = _comparable(request)
    new = [
        value
        for key, value in (node.arguments or {}).items()
        if (node.tool, key, json.dumps(value, sort_keys=True)) not in shared
    ]
    return bool(new) and all(_written(value, text) for value in new)


def _comparable(request: str) -> str:
    """The request as `_written` reads it: lower-cased, without thousands separators ("1,500")."""
    return re.sub(r"(?<=\d),(?=\d{3})", "", request).lower()


def _written(value: Any, text: str) -> bool:
    """Whether `value` appears in the lower-cased `text`."""
    if isinstance(value, bool) or value is None or reference(value) is not None:
        return False
    if isinstance(value, str):
        return bool(value.strip()) and value.strip().lower() in text
    if isinstance(value, int | float):
        forms = {repr(value), str(int(value))} if float(value).is_integer() else {repr(value)}
        return any(re.search(rf"(?<![\d.]){re.escape(form)}(?![\d]|\.\d)", text) for form in forms)
    if isinstance(value, list):
        return bool(value) and all(_written(item, text) for item in value)
    if isinstance(value, dict):
        return bool(value) and all(_written(item, text) for item in value.values())
    return False


def _invents_instances(plan: CrewPlan, request: str) -> bool:
    """Whether the plan calls one tool more than once and has a value the request does not write."""
    tools = [node.tool for node in plan.nodes]
    repeated = any(tools.count(tool) > 1 for tool in tools)
    return plan.decision == "calls" and repeated and invented_values(plan.nodes, request) > 0


def invented_values(nodes: list[PlanNode], request: str) -> int:
    """How many texts and whole numbers of the calls' arguments the request does not write.

    These are what a small planner makes up (a colour nobody asked for, the years of a presidency);
    a fraction, a boolean, None or `$N` is not counted, since reading "5%" as 0.05, choosing a flag
    or passing a result is not inventing.
    """
    text = _comparable(request)
    return sum(_invented(value, text) for node in nodes for value in (node.arguments or {}).values())


def _invented(value: Any, text: str) -> int:
    if isinstance(value, bool) or value is None or reference(value) is not None:
        return 0
    if isinstance(value, str | int):
        return 0 if (isinstance(value, str) and not value.strip()) or _written(value, text) else 1
    if isinstance(value, list):
        return sum(_invented(item, text) for item in value)
    if isinstance(value, dict):
        return sum(_invented(item, text) for item in value.values())
    return 0


async def ask_second_opinion(
    model: ChatModel,
    task: str,
    tools: list[dict[str, Any]],
    calls: list[CallRecord],
    feedback: str | None,
    result: ChatResult,
    plan: CrewPlan,
) -> tuple[ChatResult, CrewPlan]:
    """The LLMCompiler planner's plan of the request where it invents fewer values; else `plan`.

    Asked where the crew plan calls one tool more than once and invents a value: there the 0.5B crew
    planner runs away with instances ("magenta in watercolor, navy in acrylic" planned as eight
    mixtures with colours of its own) or fills options with guesses (the years of a presidency),
    while the compiler planner, prompted in LLMCompiler's own words, more often writes just the
    instances asked for. The result carries the cost of both plans.
    """
    first_id = calls[-1].id + 1 if calls else 1
    names = [tool.get("function", tool)["name"] for tool in tools]
    options = constraint_for(model, plan_grammar(tools, first_id))
    other = await run_model(
        model, compiler_messages(task, tools, calls, feedback), None, max_tokens=600, logprobs=True, **options
    )
    try:
        alternative = parse_crew_plan(other.content, names, first_id)
    except ValueError:
        return both_attempts(other, result), plan
    fewer = invented_values(alternative.nodes, task) < invented_values(plan.nodes, task)
    if alternative.decision == "calls" and fewer:
        return both_attempts(result, other), alternative
    return both_attempts(other, result), plan
