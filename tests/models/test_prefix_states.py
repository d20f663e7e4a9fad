"""Saved prompt states on the packaged 0.5B: a role's next prompt skips the prefix it shares with its
last one, even after another role's prompt took the context, and answers exactly as without them."""

from __future__ import annotations

import pytest

from tinycrew.models import DEFAULT_MODEL
from tinycrew.models.llama_backend import LlamaCppModel
from tinycrew.models.prefix_states import PrefixStates, shared_prefix

pytestmark = pytest.mark.slow

N_CTX = 1024
GATE = "You decide whether a request needs a tool. The tools: get_weather, calculate, send_email. " * 4
PLANNER = "You plan the tool calls that do a user's request, one numbered call per line. " * 4


def ask(system: str, request: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": system}, {"role": "user", "content": request}]


def test_shared_prefix_counts_leading_tokens() -> None:
    assert shared_prefix([1, 2, 3, 4], (1, 2, 9)) == 2
    assert shared_prefix([], [1]) == 0
    assert shared_prefix([5, 6], [5, 6, 7]) == 2


def test_a_role_prompt_reuses_its_prefix_after_another_role_and_reads_it_alike() -> None:
    """Restored KV equals the KV computed before up to rounding: the prefix was evaluated in another
    batch than a whole prompt's, so a near tie between two words may fall either way (as with any
    prompt cache), but the reply starts with the same tokens at nearly the same probabilities."""
    model = LlamaCppModel(DEFAULT_MODEL, n_ctx=N_CTX, state_cache_bytes=64 << 20)
    model.reset_cache()
    model.chat(ask(GATE, "Is it raining in Oslo?"), max_tokens=4)
    model.chat(ask(PLANNER, "Is it raining in Oslo?"), max_tokens=4)
    later = model.chat(ask(GATE, "What is 17 times 23?"), max_tokens=6, logprobs=True)
    prefix = len(model.render([{"role": "system", "content": GATE}]))
    assert later.usage.cached_prompt_tokens >= prefix - 2  # the chat template may end a turn differently

    model.reset_cache()
    whole = model.chat(ask(GATE, "What is 17 times 23?"), max_tokens=6, logprobs=True)
    assert whole.usage.cached_prompt_tokens < prefix / 2
    assert later.logprobs and whole.logprobs
    for restored, evaluated in list(zip(later.logprobs, whole.logprobs, strict=False))[:3]:
        assert restored.token == evaluated.token
        assert abs(restored.logprob - evaluated.logprob) < 0.25


def test_states_stay_within_their_capacity_and_a_longer_state_replaces_its_prefix() -> None:
    model = LlamaCppModel(DEFAULT_MODEL, n_ctx=N_CTX, state_cache_bytes=0)
    states = PrefixStates(capacity_bytes=64 << 20)
    for request in ("one", "two", "three", "four", "five", "six"):
        tokens = model.render(ask(GATE, request))
        states.restore(model.llama, tokens)
        model.llama.n_tokens = shared_prefix(model.llama.input_ids[: model.llama.n_tokens], tokens)
        model.llama.eval(tokens[model.llama.n_tokens :])  # as llama-cpp-python's generate does
        states.save(model.llama)
        states.capacity_bytes = min(states.capacity_bytes, int(states.size * 2.5))  # room for two
        assert states.size <= states.capacity_bytes
        assert states.size == sum(len(data) for data in states.states.values())
    assert len(states.states) == 2  # the oldest went
    kept = next(reversed(states.states))
    model.llama.eval(model.llama.tokenize(b" more", add_bos=False))
    states.save(model.llama)
    assert kept not in states.states and len(next(reversed(states.states))) > len(kept)
