"""The bounded queue in front of each model: a loaded model is not re-entrant, so requests take turns.

`admit` is called before the response starts, so a full queue is a real 429 with Retry-After (also for
streams); the turn itself is taken later, inside the handler or the stream.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from tinycrew.service.errors import ServiceError


class QueueFull(Exception):
    """Every place in the model's queue is taken; `retry_after` is an estimate in whole seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"queue full, retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass
class Ticket:
    """A place in a model's queue, held from admission until the turn ends or the request goes away.

    Releasing twice is harmless, so every exit path may release it.
    """

    queue: ModelQueue
    released: bool = False

    def release(self) -> None:
        """Give the place back (once)."""
        if not self.released:
            self.released = True
            self.queue._admitted -= 1


class ModelQueue:
    """At most `size` requests per model at once: one generating, the others waiting in order.

    Example: `ticket = queue.admit()` (raises QueueFull when full), then `async with queue.turn(ticket): ...`.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._admitted = 0
        self._generating = 0
        self._lock = asyncio.Lock()
        self._mean_turn_s = 2.0  # a first guess for Retry-After, then a moving average of real turns
        self.cancelled = 0
        """Turns that ended because their client went away (a count, for /readyz and tests)."""

    @property
    def generating(self) -> int:
        """Requests holding the model now (0 or 1)."""
        return self._generating

    @property
    def waiting(self) -> int:
        """Admitted requests not yet generating."""
        return self._admitted - self._generating

    def admit(self) -> Ticket:
        """A place in the queue, or QueueFull with a Retry-After estimate."""
        if self._admitted >= self.size:
            raise QueueFull(max(1, math.ceil(self._mean_turn_s * self._admitted)))
        self._admitted += 1
        return Ticket(self)

    @asynccontextmanager
    async def turn(self, ticket: Ticket) -> AsyncIterator[None]:
        """Wait for the model, hold it for the block, and always give the place back (also when the
        request is cancelled while waiting or generating)."""
        try:
            async with self._lock:
                self._generating += 1
                started = time.monotonic()
                try:
                    yield
                finally:
                    self._generating -= 1
                    self._mean_turn_s = 0.8 * self._mean_turn_s + 0.2 * (time.monotonic() - started)
        finally:
            ticket.release()


def admit_or_429(queue: ModelQueue) -> Ticket:
    """`queue.admit()`, with a full queue answered as OpenAI's 429 and its Retry-After estimate."""
    try:
        return queue.admit()
    except QueueFull as full:
        raise ServiceError(
            429,
            f"The server is busy: {queue.size} requests are already queued for this model. Retry later.",
            type_="requests",
            code="queue_full",
            headers={"Retry-After": str(full.retry_after)},
        ) from None
