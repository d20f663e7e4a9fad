"""KV states of earlier prompts kept in RAM, so a prompt that continues one of them skips its prefix.

One llama.cpp context holds one sequence of tokens: the gate, the planner and the summarizer each have
their own prompt, so each call evicts the previous role's prefix, and the next request evaluates every
role's whole prompt again (system text, tools, worked examples: about 600 tokens, 2-3 s on 2 cores for
the 0.5B). `PrefixStates` saves the sequence's KV state after each completion and, before the next
one, restores the saved state that shares the longest prefix with the new prompt when that is longer
than what the context holds. Only the sequence's KV cells are copied (`llama_state_seq_*`, about
12 KiB per token for the 0.5B), not llama-cpp-python's logits buffer, which its own `LlamaRAMCache`
copies whole with each state (hundreds of MB for a large vocabulary: seconds per request).
"""

from __future__ import annotations

import ctypes
from collections import OrderedDict
from typing import Any

MIN_GAIN = 16
"""A saved state is restored only when it reuses at least this many more tokens than the context."""


def shared_prefix(a: Any, b: Any) -> int:
    """How many leading tokens `a` and `b` have in common."""
    common = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        common += 1
    return common


class PrefixStates:
    """Saved KV states of sequence 0, keyed by their tokens, least recently used evicted first.

    Example: `states = PrefixStates(256 << 20)`; around each completion on `llama` (a `llama_cpp.Llama`):
    `states.restore(llama, prompt_tokens)`, generate, `states.save(llama)`.
    """

    def __init__(self, capacity_bytes: int) -> None:
        self.capacity_bytes = capacity_bytes
        self.states: OrderedDict[tuple[int, ...], bytes] = OrderedDict()
        self.size = 0

    def clear(self) -> None:
        """Forget every saved state."""
        self.states.clear()
        self.size = 0

    def save(self, llama: Any) -> None:
        """Keep the context's current state; states it continues are dropped (it holds them)."""
        import llama_cpp

        tokens = tuple(int(token) for token in llama.input_ids[: llama.n_tokens])
        if not tokens:
            return
        for key in [key for key in self.states if tokens[: len(key)] == key]:
            self.size -= len(self.states.pop(key))
        context = llama._ctx.ctx
        capacity = llama_cpp.llama_state_seq_get_size(context, 0)
        buffer = (ctypes.c_uint8 * capacity)()
        written = llama_cpp.llama_state_seq_get_data(context, buffer, capacity, 0)
        if not written or written > self.capacity_bytes:
            return
        self.states[tokens] = ctypes.string_at(buffer, written)
        self.size += written
        while self.size > self.capacity_bytes:
            self.size -= len(self.states.popitem(last=False)[1])

    def restore(self, llama: Any, prompt: list[int]) -> int:
        """Load the saved state that shares the most leading tokens with `prompt`, when that beats the
        context's own tokens by `MIN_GAIN`; returns how many prompt tokens the context then holds."""
        import llama_cpp

        held = shared_prefix(llama.input_ids[: llama.n_tokens], prompt)
        best, reused = None, held + MIN_GAIN - 1
        for key in self.states:
            if (common := shared_prefix(key, prompt)) > reused:
                best, reused = key, common
        if best is None:
            return held
        data = self.states[best]
        self.states.move_to_end(best)
        llama._ctx.kv_cache_seq_rm(-1, 0, -1)
        buffer = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
        if not llama_cpp.llama_state_seq_set_data(llama._ctx.ctx, buffer, len(data), 0):
            llama.reset()  # nothing usable is left in the context
            return 0
        llama.input_ids[: len(best)] = best
        llama.n_tokens = len(best)
        llama._requires_eval = True  # the logits are not restored: the suffix decode makes them
        return reused
