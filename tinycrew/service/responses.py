"""Completion events in OpenAI's wire format: a `chat.completion` object, or `chat.completion.chunk`
objects for a stream (role first, then text or tool-call deltas, then the finish, then usage if asked)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from tinycrew.service.completion import CallDone, CallOut, Event, Finish, TextDelta


def completion_id() -> str:
    """An id in OpenAI's style, `chatcmpl-` and 24 hex digits."""
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def _usage(finish: Finish) -> dict[str, int]:
    return {
        "prompt_tokens": finish.prompt_tokens,
        "completion_tokens": finish.completion_tokens,
        "total_tokens": finish.prompt_tokens + finish.completion_tokens,
    }


def _call_dict(call: CallOut) -> dict[str, Any]:
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}


def completion_body(model: str, events: list[Event]) -> dict[str, Any]:
    """The whole reply: content (None when the reply is only calls), tool_calls, finish_reason, usage."""
    text = "".join(event.text for event in events if isinstance(event, TextDelta))
    calls = [event.call for event in events if isinstance(event, CallDone)]
    finish = next(event for event in events if isinstance(event, Finish))
    message: dict[str, Any] = {
        "role": "assistant",
        "content": text or (None if calls else ""),
        "refusal": None,
    }
    if calls:
        message["tool_calls"] = [_call_dict(call) for call in calls]
    return {
        "id": completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish.reason}],
        "usage": _usage(finish),
    }


class ChunkWriter:
    """Turns events into stream chunks that share one id and creation time.

    Example: `writer = ChunkWriter("m", include_usage=True)`; `writer.chunks(event)` for each event.
    """

    def __init__(self, model: str, include_usage: bool = False) -> None:
        self.id, self.created, self.model = completion_id(), int(time.time()), model
        self.include_usage = include_usage
        self._started = False

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if self.include_usage:
            chunk["usage"] = None
        return chunk

    def chunks(self, event: Event) -> list[dict[str, Any]]:
        """The chunks one event becomes (the first event also opens with the assistant role)."""
        out = []
        if not self._started:
            self._started = True
            opening = None if isinstance(event, CallDone) else ""
            out.append(self._chunk({"role": "assistant", "content": opening, "refusal": None}))
        if isinstance(event, TextDelta):
            out.append(self._chunk({"content": event.text}))
        elif isinstance(event, CallDone):
            call = event.call
            head = {"index": call.index, "id": call.id, "type": "function"}
            out.append(
                self._chunk({"tool_calls": [{**head, "function": {"name": call.name, "arguments": ""}}]})
            )
            out.append(
                self._chunk(
                    {"tool_calls": [{"index": call.index, "function": {"arguments": call.arguments}}]}
                )
            )
        else:
            out.append(self._chunk({}, finish=event.reason))
            if self.include_usage:
                out.append({**self._chunk({}), "choices": [], "usage": _usage(event)})
        return out
