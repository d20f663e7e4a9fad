"""The joiner (LLMCompiler): after a plan ran, decide finish or replan (the summarizer writes the answer)."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from tinycrew.agents.common import CallRecord, RoleStep, TokenSink, history_text
from tinycrew.agents.constrained import run_structured
from tinycrew.models import ChatModel

SYSTEM = """You check whether tool results answer a task. Reply with JSON:
{"thought": "...", "action": "finish" or "replan"}.
Choose finish when the results answer every part of the task (or when no tool can help);
choose replan only when more tool calls are clearly needed."""

SCHEMA = {
    "type": "object",
    "properties": {
        "thought": {"type": "string", "maxLength": 200},
        "action": {"enum": ["finish", "replan"]},
    },
    "required": ["thought", "action"],
    "additionalProperties": False,
}


class JoinDecision(BaseModel):
    thought: str
    action: Literal["finish", "replan"]


def parse_join(text: str) -> JoinDecision:
    """The decision from the JSON the schema guarantees, from the first JSON object in free text, or
    from free text that names exactly one of the two actions ("finish")."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        named = {action for action in ("finish", "replan") if re.search(rf"\b{action}\b", text, re.I)}
        if len(named) == 1:
            return JoinDecision(thought=text.strip()[:200], action=named.pop())
        raise ValueError("no JSON object")
    try:
        return JoinDecision.model_validate(json.loads(text[start : end + 1], strict=False))
    except (json.JSONDecodeError, ValidationError) as error:
        raise ValueError(" ".join(str(error).split())[:200]) from None


def joiner_messages(task: str, calls: list[CallRecord]) -> list[dict[str, Any]]:
    """The joiner's prompt."""
    user = f"Task: {task}\n\nTool results:\n{history_text(calls)}"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


async def join(
    model: ChatModel, task: str, calls: list[CallRecord], on_token: TokenSink | None = None
) -> RoleStep:
    """Decide finish or replan; `parsed` is a `JoinDecision`."""
    messages = joiner_messages(task, calls)
    result, decision = await run_structured(
        "joiner",
        model,
        messages,
        lambda result: parse_join(result.content),
        expected='Reply with JSON only: {"thought": "...", "action": "finish" or "replan"}.',
        on_token=on_token,
        json_schema=SCHEMA,
        max_tokens=120,
        logprobs=True,
    )
    return RoleStep(role="joiner", model=model.name, messages=messages, result=result, parsed=decision)
