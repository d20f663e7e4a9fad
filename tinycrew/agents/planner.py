"""The planner (α-UMi): chooses the next role, decoded under a grammar so the choice always parses.

Small untuned models decide far better when the decision names the tool ("Next: call calculate")
than when they choose between abstract role names, so the grammar offers `call <tool>`, `answer`
(the summarizer) and `give_up`, followed by one short line of rationale.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel

from tinycrew.agents.common import CallRecord, RoleStep, TokenSink, history_text, tool_catalog
from tinycrew.agents.constrained import run_structured
from tinycrew.models import ChatModel

NextRole = Literal["caller", "summarizer", "give_up"]

SYSTEM = """You decide the next step of an assistant that has tools. Reply in two lines:
Next: call <tool>   when a part of the task still needs a tool result
Next: answer        when the results so far answer the whole task
Next: give_up       when no tool can help with the task
Reason: <one short sentence>
Never call a tool again with the same values: its result is already listed."""

_PARSE = re.compile(r"Next: (?:call (?P<tool>\S+)|(?P<other>answer|give_up))\nReason: (?P<reason>.*)", re.S)
_LENIENT = re.compile(
    r"next\s*:\s*\**\s*(?:call\s+`?(?P<tool>[\w.\-]+)|(?P<other>answer|give_up))[^\w\n]*(?:\n.*?reason\s*:\s*(?P<reason>.*))?",
    re.S | re.I,
)


EXPECTED = (
    "Reply in two lines: 'Next: call <tool>' (or 'Next: answer' / 'Next: give_up'), then 'Reason: ...'."
)


class PlannerDecision(BaseModel):
    next: NextRole
    tool: str | None = None
    rationale: str


def planner_grammar(tool_names: list[str], first_step: bool) -> str:
    """GBNF for the decision; before any tool has run there is nothing to answer from."""
    tools = " | ".join(json.dumps(name) for name in tool_names) or '"none"'
    choices = ['"call " tool', '"give_up"'] if first_step else ['"call " tool', '"answer"', '"give_up"']
    return "\n".join(
        [
            'root ::= "Next: " choice "\\nReason: " line',
            f"choice ::= {' | '.join(choices)}",
            f"tool ::= {tools}",
            "line ::= [^\\n]{1,160}",
        ]
    )


def planner_messages(task: str, tools: list[dict[str, Any]], calls: list[CallRecord]) -> list[dict[str, Any]]:
    """The planner's prompt for this point of the run."""
    user = f"Tools:\n{tool_catalog(tools)}\n\nTask: {task}\n\nResults so far:\n{history_text(calls)}"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def planner_schema(tool_names: list[str], first_step: bool) -> dict[str, Any]:
    """The decision as a JSON-schema constraint, for backends that take no grammar."""
    choices = [f"call {name}" for name in tool_names] + (["give_up"] if first_step else ["answer", "give_up"])
    return {
        "type": "object",
        "properties": {"next": {"enum": choices}, "reason": {"type": "string", "maxLength": 160}},
        "required": ["next", "reason"],
        "additionalProperties": False,
    }


def parse_decision(text: str, tool_names: list[str] | None = None) -> PlannerDecision:
    """Read the decision: the two lines the grammar guarantees, the JSON object the schema does, or the
    same two lines in free text (case and spacing aside). With `tool_names`, a call must name one."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            value = json.loads(stripped, strict=False)
        except json.JSONDecodeError as error:
            raise ValueError(f"not valid JSON: {error}") from None
        stripped = f"Next: {value.get('next', '')}\nReason: {value.get('reason', '')}"
    match = _PARSE.search(stripped) or _LENIENT.search(stripped)
    if match is None:
        raise ValueError("no 'Next: call <tool> | answer | give_up' line")
    reason = (match["reason"] or "").strip()
    if match["tool"]:
        tool = match["tool"].rstrip(".")
        if tool_names is not None and tool not in tool_names:
            raise ValueError(f"{tool!r} is not one of the tools ({', '.join(tool_names)})")
        return PlannerDecision(next="caller", tool=tool, rationale=reason)
    role = "summarizer" if match["other"].lower() == "answer" else "give_up"
    return PlannerDecision(next=role, rationale=reason)


async def plan_next(
    model: ChatModel,
    task: str,
    tools: list[dict[str, Any]],
    calls: list[CallRecord],
    on_token: TokenSink | None = None,
) -> RoleStep:
    """Ask the planner what to do next; `parsed` is a `PlannerDecision`."""
    messages = planner_messages(task, tools, calls)
    names = [tool.get("function", tool)["name"] for tool in tools]
    result, decision = await run_structured(
        "planner",
        model,
        messages,
        # with no tool offered the grammar's only tool is "none", which the graph reads as give_up
        lambda result: parse_decision(result.content, names or None),
        expected=EXPECTED,
        on_token=on_token,
        grammar=planner_grammar(names, first_step=not calls),
        json_schema=planner_schema(names, first_step=not calls),
        max_tokens=80,
        logprobs=True,
    )
    return RoleStep(role="planner", model=model.name, messages=messages, result=result, parsed=decision)
