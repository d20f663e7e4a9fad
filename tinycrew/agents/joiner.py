"""The joiner (LLMCompiler): after a plan ran, decide finish or replan (the summarizer writes the answer)."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel

from tinycrew.agents.common import CallRecord, RoleStep, TokenSink, history_text, run_model
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


def joiner_messages(task: str, calls: list[CallRecord]) -> list[dict[str, Any]]:
    """The joiner's prompt."""
    user = f"Task: {task}\n\nTool results:\n{history_text(calls)}"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


async def join(
    model: ChatModel, task: str, calls: list[CallRecord], on_token: TokenSink | None = None
) -> RoleStep:
    """Decide finish or replan; `parsed` is a `JoinDecision`."""
    messages = joiner_messages(task, calls)
    result = await run_model(model, messages, on_token, json_schema=SCHEMA, max_tokens=120, logprobs=True)
    decision = JoinDecision.model_validate(json.loads(result.content, strict=False))
    return RoleStep(role="joiner", model=model.name, messages=messages, result=result, parsed=decision)
