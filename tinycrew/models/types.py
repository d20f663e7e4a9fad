"""The data every chat backend returns, independent of where the model runs."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Message = dict[str, Any]
ToolChoice = Literal["auto", "required", "none"] | str


class ToolCall(BaseModel):
    """One parsed tool call; `arguments` is a dict even when the model wrote a JSON string."""

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)

    def openai_dict(self) -> dict[str, Any]:
        """The call in OpenAI's assistant-message `tool_calls` format."""
        import json

        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": json.dumps(self.arguments)},
        }


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0  # prompt tokens whose KV state was reused, not recomputed

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Timings(BaseModel):
    ttft_s: float = 0.0  # time to first token (prompt processing included)
    total_s: float = 0.0

    def decode_tokens_per_s(self, completion_tokens: int) -> float:
        """Decode speed after the first token."""
        decode_time = self.total_s - self.ttft_s
        return (completion_tokens - 1) / decode_time if completion_tokens > 1 and decode_time > 0 else 0.0


class TokenLogprob(BaseModel):
    token: str
    logprob: float


class ChatResult(BaseModel):
    """A finished chat completion: text, parsed tool calls, usage, timings, optional logprobs."""

    model: str
    content: str
    tool_calls: list[ToolCall] = Field(default_factory=list)
    finish_reason: str = "stop"
    usage: Usage = Field(default_factory=Usage)
    timings: Timings = Field(default_factory=Timings)
    logprobs: list[TokenLogprob] | None = None
    stop_logprob: float | None = None
    """With `logprobs`, the log-probability the model gave to ending its reply where it did (its
    end-of-turn token); None where the reply was cut (`stop`, `max_tokens`) or the backend cannot tell.
    Near 0 the model was sure it was done; the crew planner asks for one more call when it was not."""
    escalation: dict[str, Any] | None = None
    """Set by `tinycrew.switching.EscalatingModel`: the escalation decision of this step (signals, whether
    the cloud redid it, what that cost). `usage`/`timings` then hold every attempt of the step; the
    decision's `cloud` entry names the cloud model's share."""

    @property
    def min_logprob(self) -> float | None:
        """Lowest token log-probability: the least sure token of the output."""
        if not self.logprobs:
            return None
        return min(item.logprob for item in self.logprobs)

    @property
    def message(self) -> Message:
        """The assistant message in OpenAI format, ready to append to a conversation."""
        message: Message = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = [call.openai_dict() for call in self.tool_calls]
        return message

    @property
    def mean_logprob(self) -> float | None:
        """Mean token log-probability: a cheap confidence signal for escalation."""
        if not self.logprobs:
            return None
        return sum(item.logprob for item in self.logprobs) / len(self.logprobs)


class StreamChunk(BaseModel):
    """A piece of streamed text; the last chunk carries the finished result."""

    delta: str = ""
    result: ChatResult | None = None
