"""Async methods for backends whose native calls are blocking (llama.cpp, transformers)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

from tinycrew.models.types import ChatResult, Message, StreamChunk

_DONE = object()
T = TypeVar("T")


class _Workers:
    """Daemon threads kept for blocking model calls, shared by every event loop of the process.

    `asyncio.to_thread` would use the running loop's executor, and every `Agent.run`/`stream` runs on
    a fresh loop: each run would start (and wait for) a new thread, which costs milliseconds on a
    busy machine. Threads here are started only when every one is busy, then stay; they are daemons,
    so an interrupted generation never holds up the interpreter's exit.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._idle = 0

    def submit(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        """Run `fn` on a worker thread (in a copy of the caller's context, like `asyncio.to_thread`)."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._lock:
            if self._idle:
                self._idle -= 1
            else:
                threading.Thread(target=self._work, name="tinycrew-model", daemon=True).start()
        self._jobs.put((functools.partial(contextvars.copy_context().run, fn), future))
        return future

    def _work(self) -> None:
        while True:
            fn, future = self._jobs.get()
            ok, outcome = False, None
            if future.set_running_or_notify_cancel():
                try:
                    ok, outcome = True, fn()
                except BaseException as error:  # handed to the awaiting side
                    outcome = error
            with self._lock:  # idle before the caller hears back, so its next call reuses this thread
                self._idle += 1
            if ok:
                future.set_result(outcome)
            elif outcome is not None:
                future.set_exception(outcome)


_WORKERS = _Workers()


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
        return await asyncio.wrap_future(_WORKERS.submit(functools.partial(self.chat, messages, **kwargs)))

    async def astream(self, messages: list[Message], **kwargs: Any) -> AsyncIterator[StreamChunk]:
        """`stream` produced in a worker thread and handed over chunk by chunk."""
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[Any] = asyncio.Queue()

        def hand_over(item: Any) -> None:
            with contextlib.suppress(RuntimeError):  # a closed loop: the consumer has gone
                loop.call_soon_threadsafe(chunks.put_nowait, item)

        def produce() -> None:
            try:
                for chunk in self.stream(messages, **kwargs):
                    hand_over(chunk)
            except BaseException as error:  # handed to the consumer, re-raised there
                hand_over(error)
            hand_over(_DONE)

        _WORKERS.submit(produce)
        while (item := await chunks.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
