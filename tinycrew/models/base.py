"""Async methods for backends whose native calls are blocking (llama.cpp, transformers)."""

from __future__ import annotations

import asyncio
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator
from typing import Any

from tinycrew.models.types import ChatResult, Message, StreamChunk

_DONE = object()


class BlockingChatModel(ABC):
    """Gives `achat`/`astream` to a backend that implements blocking `chat`/`stream`."""

    name: str

    @abstractmethod
    def chat(self, messages: list[Message], **kwargs: Any) -> ChatResult:
        """One completion."""

    @abstractmethod
    def stream(self, messages: list[Message], **kwargs: Any) -> Iterator[StreamChunk]:
        """Text deltas, then a final chunk carrying the result."""

    async def achat(self, messages: list[Message], **kwargs: Any) -> ChatResult:
        """`chat` in a worker thread so the event loop stays free."""
        return await asyncio.to_thread(self.chat, messages, **kwargs)

    async def astream(self, messages: list[Message], **kwargs: Any) -> AsyncIterator[StreamChunk]:
        """`stream` produced in a worker thread and handed over chunk by chunk."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()

        def produce() -> None:
            try:
                for chunk in self.stream(messages, **kwargs):
                    loop.call_soon_threadsafe(queue.put_nowait, chunk)
            except BaseException as error:  # handed to the consumer, re-raised there
                loop.call_soon_threadsafe(queue.put_nowait, error)
            loop.call_soon_threadsafe(queue.put_nowait, _DONE)

        threading.Thread(target=produce, daemon=True).start()
        while (item := await queue.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
