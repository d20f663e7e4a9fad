"""One model generation on its own thread, read chunk by chunk from the event loop, and stoppable.

`BlockingChatModel.astream` lets its worker run to the end when the reader leaves; a service must
stop instead (a client that went away, a reply whose opening showed it is a call), so the model is
free for the next request at once. Stopping is checked between tokens: llama.cpp computes no token
nobody reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from typing import Any

import anyio

from tinycrew.models import ChatModel, StreamChunk

_DONE = object()


class Generation:
    """`model.stream(messages, **options)` on a daemon thread.

    Example: `async with contextlib.aclosing(Generation(model, messages, max_tokens=8).chunks()) as
    chunks: async for chunk in chunks: ...`; leaving the block early stops the model at the next token.
    """

    def __init__(self, model: ChatModel, messages: list[dict[str, Any]], **options: Any) -> None:
        self.model, self.messages, self.options = model, messages, options
        self.tokens = 0
        """Chunks with text read so far (close to the tokens generated, also when stopped early)."""
        self._stop = threading.Event()

    async def chunks(self) -> AsyncIterator[StreamChunk]:
        """The model's chunks; the generation stops (and this waits until the thread let go of the
        model) when the reader stops early, is cancelled, or the model fails."""
        loop = asyncio.get_running_loop()
        items: asyncio.Queue[Any] = asyncio.Queue()
        finished: asyncio.Future[None] = loop.create_future()

        def hand_over(item: Any) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody reads any more
                loop.call_soon_threadsafe(items.put_nowait, item)

        def produce() -> None:
            stream = self.model.stream(self.messages, **self.options)
            try:
                for chunk in stream:
                    if self._stop.is_set():
                        break
                    hand_over(chunk)
            except BaseException as error:  # re-raised on the reading side
                hand_over(error)
            finally:
                close = getattr(stream, "close", None)
                if close is not None:
                    with contextlib.suppress(Exception):
                        close()  # a generator's `with lock` exits here: the model is free
                hand_over(_DONE)
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(lambda: finished.done() or finished.set_result(None))

        threading.Thread(target=produce, name="tinycrew-serve", daemon=True).start()
        try:
            while (item := await items.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                if item.delta:
                    self.tokens += 1
                yield item
        finally:
            self._stop.set()
            with anyio.CancelScope(shield=True):  # a cancelled reader still waits for the model to be free
                await finished
