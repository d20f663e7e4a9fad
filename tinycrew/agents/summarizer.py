"""The summarizer (α-UMi): the final answer, written from the trajectory."""

from __future__ import annotations

from typing import Any

from tinycrew.agents.common import CallRecord, RoleStep, TokenSink, history_text, run_model
from tinycrew.models import ChatModel

SYSTEM = """You write the final answer to the user's task using the tool results below.
Be brief and factual. If the results do not answer the task, say so plainly."""


def summarizer_messages(task: str, calls: list[CallRecord], note: str = "") -> list[dict[str, Any]]:
    """The summarizer's prompt."""
    user = f"Task: {task}\n\nTool results:\n{history_text(calls)}"
    if note:
        user += f"\n\nNote: {note}"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


async def summarize(
    model: ChatModel, task: str, calls: list[CallRecord], note: str = "", on_token: TokenSink | None = None
) -> RoleStep:
    """Write the answer; `parsed` is the answer text."""
    messages = summarizer_messages(task, calls, note)
    result = await run_model(model, messages, on_token, max_tokens=160, logprobs=True)
    return RoleStep(
        role="summarizer", model=model.name, messages=messages, result=result, parsed=result.content.strip()
    )
