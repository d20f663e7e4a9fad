"""The compiler planner (LLMCompiler): a whole plan of calls with `$N` dependencies, under a grammar.

The plan is JSON, `{"calls": [{"name": ..., "arguments": {...}}, ...]}`; call N (from 1) can use the
result of an earlier call by giving `"$N"` as an argument value. Calls with no reference between
them run in parallel.
"""

from __future__ import annotations

import copy
import json
import re
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, Field

from tinycrew.agents.common import CallRecord, RoleStep, TokenSink, history_text, run_model
from tinycrew.models import ChatModel
from tinycrew.models.grammar import strict_schema, tool_call_schema

REFERENCE = re.compile(r"\$(\d+)")
MAX_CALLS = 8

SYSTEM = """You plan tool calls for a task. Reply with JSON {"calls": [...]}, each call {"name", "arguments"}.
Calls are numbered from 1. To use the result of call N as an argument, write "$N" as its value.
Calls that do not use each other's results run at the same time. Use as few calls as the task needs;
reply {"calls": []} when no tool fits the task.
Arguments in [brackets] are optional: leave them out unless the task gives their value."""


class PlannedCall(BaseModel):
    """One node of the plan DAG."""

    id: int
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    depends_on: list[int] = Field(default_factory=list)


def _allow_references(parameters: dict[str, Any], earlier: range) -> dict[str, Any]:
    """Each top-level non-string argument may also be `"$N"` for a call made before this one."""
    parameters = strict_schema(parameters or {"type": "object", "properties": {}})
    if not earlier:
        return parameters
    reference = {"enum": [f"${n}" for n in earlier]}
    properties = parameters.get("properties", {})
    for name, schema in properties.items():
        if schema.get("type") != "string":
            properties[name] = {"anyOf": [copy.deepcopy(schema), reference]}
    return parameters


def call_schema(tools: list[dict[str, Any]], earlier: range = range(0)) -> dict[str, Any]:
    """JSON schema of one planned call to any offered tool; `earlier` are the ids it may reference."""
    with_references = []
    for tool in tools:
        function = tool.get("function", tool)
        parameters = _allow_references(function.get("parameters", {}), earlier)
        with_references.append({**function, "parameters": parameters})
    return tool_call_schema(with_references)


def plan_grammar(tools: list[dict[str, Any]], first_id: int = 1, max_calls: int = MAX_CALLS) -> str:
    """GBNF of a plan `{"calls": [...]}` in which call k may only reference calls before k.

    A plain JSON schema cannot say "position k allows `$1`..`$k-1`", and small models fill arguments
    they are unsure of with any reference on offer, so each position gets its own rule, nested as
    `[c1 ("," c2 ("," c3 ...)?)?]` so that decoding never tracks several alternatives at once.
    """
    return _plan_grammar(json.dumps(tools), first_id, max_calls)


@lru_cache(maxsize=64)
def _plan_grammar(tools_json: str, first_id: int, max_calls: int) -> str:
    from llama_cpp.llama_grammar import SchemaConverter

    tools = json.loads(tools_json)
    converter = SchemaConverter(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)
    rules = []
    for position in range(max_calls):
        schema = converter.resolve_refs(call_schema(tools, range(1, first_id + position)), "plan")
        rules.append(converter.visit(schema, f"call{position + 1}"))
    nested = ""
    for rule in reversed(rules[1:]):
        nested = f'("," space {rule} {nested})?'
    calls = f'"[" space ({rules[0]} {nested})? "]" space'
    root = f'"{{" space "\\"calls\\"" space ":" space {calls} "}}" space'
    converter._add_rule("root", root)  # noqa: SLF001 - no public way to add a root rule
    return converter.format_grammar()


def plan_schema(tools: list[dict[str, Any]]) -> dict[str, Any]:
    """JSON schema of a plan, for backends without GBNF: any call may reference any of `$1`..`$8`."""
    item = call_schema(tools, range(1, MAX_CALLS + 1))
    return {
        "type": "object",
        "properties": {"calls": {"type": "array", "items": item, "maxItems": MAX_CALLS}},
        "required": ["calls"],
        "additionalProperties": False,
    }


def references(value: Any) -> set[int]:
    """Every `$N` mentioned anywhere in an argument value."""
    if isinstance(value, str):
        return {int(n) for n in REFERENCE.findall(value)}
    if isinstance(value, dict):
        return set().union(*(references(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(references(v) for v in value)) if value else set()
    return set()


def _planned_calls(text: str) -> list[dict[str, Any]]:
    """The `calls` list of a plan; of an unfinished plan, every call before the one left unfinished."""
    decoder = json.JSONDecoder(strict=False)  # the grammar lets raw newlines into strings
    try:
        return decoder.decode(text)["calls"]
    except json.JSONDecodeError:
        pass
    calls: list[dict[str, Any]] = []
    index = text.find("[") + 1
    while index > 0:
        while index < len(text) and text[index] in ", \t\n\r":
            index += 1
        try:
            call, index = decoder.raw_decode(text, index)
        except json.JSONDecodeError:
            break
        calls.append(call)
    return calls


def parse_plan(text: str, first_id: int = 1) -> list[PlannedCall]:
    """Plan JSON -> calls with ids and dependencies.

    References to later or unknown calls are not dependencies. A call that repeats an earlier call of the
    plan exactly (small models stutter) is dropped unless a later call references it. A plan cut off by
    the token budget keeps the calls written in full.
    """
    raw = _planned_calls(text)
    plan: list[PlannedCall] = []
    for offset, item in enumerate(raw):
        call_id = first_id + offset
        deps = sorted(n for n in references(item.get("arguments", {})) if n < call_id)
        plan.append(PlannedCall(id=call_id, name=item["name"], arguments=item["arguments"], depends_on=deps))
    referenced = {n for call in plan for n in call.depends_on}
    seen: list[tuple[str, Any]] = []
    kept = []
    for call in plan:
        key = (call.name, call.arguments)
        if key in seen and call.id not in referenced:
            continue
        seen.append(key)
        kept.append(call)
    return kept


def _parameter_note(schema: dict[str, Any]) -> str:
    """What a parameter line says beyond its name: description, allowed values, default."""
    note = str(schema.get("description", "")).strip()
    if "enum" in schema:
        note += f" One of: {', '.join(json.dumps(value) for value in schema['enum'])}."
    if "default" in schema:
        note += f" Default: {json.dumps(schema['default'])}."
    return note.strip()


def signature_catalog(tools: list[dict[str, Any]]) -> str:
    """Tools as `- name(required, [optional]): description [optional]: what it means, its default.`

    The planner writes every argument from this list alone, so it must see which ones it may leave out
    and what they default to; small models otherwise fill optional arguments with values the task never
    gave. Notes on required parameters are left out on purpose: with them the 0.5B stopped planning
    more than one call ("Square 2, 3 and 4" became one call), in every layout tried.
    """
    lines = []
    for tool in tools:
        function = tool.get("function", tool)
        parameters = function.get("parameters") or {}
        required = set(parameters.get("required", []))
        properties: dict[str, Any] = parameters.get("properties", {})
        shown = {name: name if name in required else f"[{name}]" for name in properties}
        words = [
            f"- {function['name']}({', '.join(shown.values())}):",
            function.get("description", "").strip(),
        ]
        for name, schema in properties.items():
            note = _parameter_note(schema) if name not in required and isinstance(schema, dict) else ""
            if note:
                words.append(f"{shown[name]}: {note}")
        lines.append(" ".join(word for word in words if word))
    return "\n".join(lines) if lines else "(no tools)"


# Worked examples with made-up tools: one plan with independent calls, two with `$N` references.
# (An example of the empty plan made the 0.5B pick a wrong tool for the second of two calls.)
# Small models copy the shape of a demonstrated plan far more reliably than they follow a rule.
FEW_SHOT = [
    (
        "- search_flights(origin, destination): Find flights.\n- get_weather(city): Weather in a city.",
        "Find flights from Rome to Oslo and the weather in Oslo.",
        [("search_flights", {"origin": "Rome", "destination": "Oslo"}), ("get_weather", {"city": "Oslo"})],
    ),
    (
        "- get_capital(country): The capital city of a country.\n- get_weather(city): Weather in a city.",
        "What is the weather in the capital of Peru?",
        [("get_capital", {"country": "Peru"}), ("get_weather", {"city": "$1"})],
    ),
    (
        "- find_email(name): Email address of a contact.\n- send_email(to, body): Send an email.",
        "Look up Maria's email address, then send her 'See you at 5'.",
        [("find_email", {"name": "Maria"}), ("send_email", {"to": "$1", "body": "See you at 5"})],
    ),
]
EXAMPLES: list[dict[str, Any]] = [
    message
    for catalog, task, plan in FEW_SHOT
    for message in (
        {"role": "user", "content": f"Tools:\n{catalog}\n\nTask: {task}"},
        {
            "role": "assistant",
            "content": json.dumps({"calls": [{"name": name, "arguments": args} for name, args in plan]}),
        },
    )
]


def compiler_messages(
    task: str, tools: list[dict[str, Any]], calls: list[CallRecord], feedback: str | None = None
) -> list[dict[str, Any]]:
    """The planner's prompt; on a replan it sees the previous calls, their results and the joiner's note."""
    user = f"Tools:\n{signature_catalog(tools)}\n\nTask: {task}"
    if calls:
        user += f"\n\nCalls already made (numbered; results can be referenced):\n{history_text(calls)}"
        user += f"\n\nThe task is not done yet: {feedback or 'plan the remaining calls'}."
        user += f" Number new calls from {calls[-1].id + 1}."
    return [{"role": "system", "content": SYSTEM}, *EXAMPLES, {"role": "user", "content": user}]


async def plan_calls(
    model: ChatModel,
    task: str,
    tools: list[dict[str, Any]],
    calls: list[CallRecord],
    feedback: str | None = None,
    on_token: TokenSink | None = None,
) -> RoleStep:
    """Write the plan; `parsed` is a list of `PlannedCall` numbered after the calls already made."""
    messages = compiler_messages(task, tools, calls, feedback)
    first_id = calls[-1].id + 1 if calls else 1
    if getattr(model, "supports_grammar", False):
        constraint: dict[str, Any] = {"grammar": plan_grammar(tools, first_id)}
    else:
        constraint = {"json_schema": plan_schema(tools)}
    result = await run_model(model, messages, on_token, max_tokens=600, logprobs=True, **constraint)
    plan = parse_plan(result.content, first_id)
    return RoleStep(
        role="compiler_planner", model=model.name, messages=messages, tools=tools, result=result, parsed=plan
    )
