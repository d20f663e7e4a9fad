"""The summarizer (α-UMi): the final answer, written from the trajectory."""

from __future__ import annotations

import json
from typing import Any

from tinycrew.agents.common import CallRecord, RoleStep, TokenSink, run_model
from tinycrew.models import ChatModel

SYSTEM = """You are a personal assistant. The actions below already ran for the user's request. \
Answer the user in one to three short sentences. Quote the results: give every number, address, path \
or date that came back exactly as written. Mention a failure only if the list has one."""


def action_line(call: CallRecord) -> str:
    """A call as the summarizer reads it: `- get_phone_number (name "Odile"): +33 6 12 34 56 78`.

    Not `f(name="Odile")`: shown calls in code form, the 0.5B coder model answered with code (a
    `create_calendar_event(...)` snippet in a bash block instead of "the event is in your calendar").
    """
    arguments = ", ".join(
        f"{name} {json.dumps(value, ensure_ascii=False)}" for name, value in call.arguments.items()
    )
    return f"- {call.name} ({arguments}): {call.observation}"


def summarizer_messages(task: str, calls: list[CallRecord], note: str = "") -> list[dict[str, Any]]:
    """The summarizer's prompt: the request, the calls that ran and those that failed, apart, so the model
    reports a failure only where there is one."""
    parts = [f"Request: {task}"]
    done = [action_line(call) for call in calls if call.ok]
    failed = [action_line(call) for call in calls if not call.ok]
    if done:
        parts.append("Done:\n" + "\n".join(done))
    if failed:
        parts.append("Failed:\n" + "\n".join(failed))
    if not calls:
        parts.append("No action was run.")
    if note:
        parts.append(f"Note: {note}")
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


async def summarize(
    model: ChatModel, task: str, calls: list[CallRecord], note: str = "", on_token: TokenSink | None = None
) -> RoleStep:
    """Write the answer; `parsed` is the answer text."""
    messages = summarizer_messages(task, calls, note)
    result = await run_model(model, messages, on_token, max_tokens=160, logprobs=True)
    return RoleStep(
        role="summarizer", model=model.name, messages=messages, result=result, parsed=result.content.strip()
    )
