"""Async wrappers of blocking backends: one set of worker threads for every event loop (no model)."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tinycrew.models.base import BlockingChatModel
from tinycrew.models.types import ChatResult, StreamChunk

REQUEST = contextvars.ContextVar("REQUEST", default="unset")


class Echo(BlockingChatModel):
    """Answers with the caller's context variable and the thread it ran on."""

    name = "echo"

    def chat(self, messages: list[dict[str, Any]], **kwargs: Any) -> ChatResult:
        if kwargs.get("fail"):
            raise ValueError("boom")
        return ChatResult(model=self.name, content=f"{REQUEST.get()}@{threading.get_ident()}")

    def stream(self, messages: list[dict[str, Any]], **kwargs: Any) -> Iterator[StreamChunk]:
        yield StreamChunk(delta="a")
        if kwargs.get("fail"):
            raise ValueError("stream boom")
        yield StreamChunk(delta="b")
        yield StreamChunk(result=self.chat(messages))


def test_achat_reuses_worker_threads_across_event_loops() -> None:
    model = Echo()

    async def one() -> str:
        REQUEST.set("run")
        return (await model.achat([])).content

    def workers() -> set[int]:
        return {t.ident for t in threading.enumerate() if t.name == "tinycrew-model" and t.ident}

    asyncio.run(one())  # at least one worker exists (earlier tests may have left more, all idle)
    before = workers()
    answers = [asyncio.run(one()) for _ in range(5)]
    assert all(answer.startswith("run@") for answer in answers), "the caller's context travels"
    assert workers() == before, "no loop started a thread of its own: idle workers serve every loop"
    assert {int(answer.split("@")[1]) for answer in answers} <= before


def test_concurrent_calls_get_threads_of_their_own_and_errors_come_back() -> None:
    model = Echo()
    release = threading.Barrier(3, timeout=10)

    class Waiting(Echo):
        def chat(self, messages: list[dict[str, Any]], **kwargs: Any) -> ChatResult:
            release.wait()  # all three must run at once, or this times out
            return super().chat(messages, **kwargs)

    async def run() -> list[ChatResult]:
        return await asyncio.gather(*(Waiting().achat([]) for _ in range(3)))

    assert len(asyncio.run(run())) == 3
    with pytest.raises(ValueError, match="boom"):
        asyncio.run(model.achat([], fail=True))


def test_astream_hands_over_chunks_and_errors() -> None:
    model = Echo()

    async def collect(**kwargs: Any) -> list[str]:
        return [chunk.delta or "result" async for chunk in model.astream([], **kwargs)]

    assert asyncio.run(collect()) == ["a", "b", "result"]
    with pytest.raises(ValueError, match="stream boom"):
        asyncio.run(collect(fail=True))
