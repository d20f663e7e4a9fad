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

from tinycrew.agents.common import CallRecord, RoleStep, TokenSink, history_text, run_model, tool_catalog
from tinycrew.models import ChatModel

NextRole = Literal["caller", "summarizer", "give_up"]

SYSTEM = """You decide the next step of an assistant that has tools. Reply in two lines:
Next: call <tool>   when a part of the task still needs a tool result
Next: answer        when the results so far answer the whole task
Next: give_up       when no tool can help with the task
Reason: <one short sentence>
Never call a tool again with the same values: its result is already listed."""

_PARSE = re.compile(r"Next: (?:call (?P<tool>\S+)|(?P<other>answer|give_up))\nReason: (?P<reason>.*)", re.S)


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


def parse_decision(text: str) -> PlannerDecision:
    """Read the two lines; the grammar guarantees their shape."""
    match = _PARSE.search(text)
    if match is None:
        raise ValueError(f"planner output has no decision: {text!r}")
    if match["tool"]:
        return PlannerDecision(next="caller", tool=match["tool"], rationale=match["reason"].strip())
    role = "summarizer" if match["other"] == "answer" else "give_up"
    return PlannerDecision(next=role, rationale=match["reason"].strip())


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
    grammar = planner_grammar(names, first_step=not calls)
    result = await run_model(model, messages, on_token, grammar=grammar, max_tokens=80, logprobs=True)
    return RoleStep(
        role="planner",
        model=model.name,
        messages=messages,
        result=result,
        parsed=parse_decision(result.content),
    )
