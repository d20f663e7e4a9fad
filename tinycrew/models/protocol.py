"""The one chat-model protocol every backend implements."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol, runtime_checkable

from tinycrew.models.types import ChatResult, Message, StreamChunk, ToolChoice


@runtime_checkable
class ChatModel(Protocol):
    """Chat with tools, JSON-schema/grammar constraints and optional token logprobs, sync and async.

    `tool_choice="required"` asks for exactly one call, decoded under a grammar where the backend can.
    """

    name: str

    def chat(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        *,
        tool_choice: ToolChoice = "auto",
        json_schema: dict[str, Any] | None = None,
        grammar: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: list[str] | None = None,
        logprobs: bool = False,
    ) -> ChatResult: ...

    def stream(self, messages: list[Message], **kwargs: Any) -> Iterator[StreamChunk]: ...

    async def achat(self, messages: list[Message], **kwargs: Any) -> ChatResult: ...

    def astream(self, messages: list[Message], **kwargs: Any) -> AsyncIterator[StreamChunk]: ...
