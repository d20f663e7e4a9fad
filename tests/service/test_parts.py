"""The service's parts that need no model: keys, rate limit, queue, call openings, the call reader."""

from __future__ import annotations

import asyncio

import pytest

from tinycrew.service.auth import bearer_token, hash_key, key_matches, load_key_hashes, parse_keys
from tinycrew.service.callstream import CallReader
from tinycrew.service.completion import _repeats, check_tool_grammars
from tinycrew.service.config import InsecureBindError, ServiceConfig, is_loopback
from tinycrew.service.errors import ServiceError, param_path
from tinycrew.service.openings import Opening, classify_start, find_call
from tinycrew.service.queueing import ModelQueue, QueueFull
from tinycrew.service.ratelimit import RateLimiter, TokenBucket


def test_keys_are_kept_as_sha256_and_match_only_the_right_key(tmp_path) -> None:
    digests = parse_keys(f"sk-one\n# a comment\n\nsha256:{hash_key('sk-two')}\n")
    assert digests == {hash_key("sk-one"), hash_key("sk-two")}
    assert "sk-one" not in digests  # never the key itself
    assert key_matches("sk-one", digests) and key_matches("sk-two", digests)
    assert not key_matches("sk-three", digests) and not key_matches("", digests)
    key_file = tmp_path / "keys.txt"
    key_file.write_text("sk-file\n")
    loaded = load_key_hashes(key_file, environ={"TINYCREW_API_KEYS": "sk-env-a, sk-env-b"})
    assert loaded == {hash_key("sk-file"), hash_key("sk-env-a"), hash_key("sk-env-b")}
    key_file.write_text("# nothing but a comment\n")
    with pytest.raises(ValueError, match="holds no API key"):
        load_key_hashes(key_file, environ={})
    assert load_key_hashes(None, environ={}) == frozenset()


def test_bearer_token() -> None:
    assert bearer_token("Bearer sk-a") == "sk-a"
    assert bearer_token("bearer  sk-a ") == "sk-a"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer ") is None
    assert bearer_token(None) is None


def test_no_key_means_loopback_only() -> None:
    assert all(is_loopback(host) for host in ("127.0.0.1", "::1", "localhost", "127.8.0.1"))
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4") and not is_loopback("example.com")
    ServiceConfig().check_bind("127.0.0.1")
    with pytest.raises(InsecureBindError, match="0.0.0.0 without an API key"):
        ServiceConfig().check_bind("0.0.0.0")
    ServiceConfig(key_hashes=parse_keys("sk-a")).check_bind("0.0.0.0")


def test_token_bucket_bursts_then_waits_for_its_rate() -> None:
    now = [100.0]
    bucket = TokenBucket(rate=0.5, burst=2, clock=lambda: now[0])
    assert bucket.take() == 0.0 and bucket.take() == 0.0
    assert bucket.take() == pytest.approx(2.0)  # one token every 2 s
    now[0] += 2.0
    assert bucket.take() == 0.0
    limiter = RateLimiter(per_minute=60, burst=1)
    assert limiter.check("a") == 0.0 and limiter.check("a") > 0 and limiter.check("b") == 0.0
    assert RateLimiter(per_minute=0, burst=1).check("a") == 0.0


async def test_queue_admits_its_size_and_frees_a_place_however_a_turn_ends() -> None:
    queue = ModelQueue(size=2)
    first, second = queue.admit(), queue.admit()
    with pytest.raises(QueueFull) as full:
        queue.admit()
    assert full.value.retry_after >= 1
    async with queue.turn(first):
        assert (queue.generating, queue.waiting) == (1, 1)
        waiter = asyncio.create_task(_take_turn(queue, second))
        await asyncio.sleep(0.01)
        waiter.cancel()  # a client that leaves while waiting gives its place back
        with pytest.raises(asyncio.CancelledError):
            await waiter
    assert (queue.generating, queue.waiting) == (0, 0)
    third = queue.admit()
    third.release()
    third.release()  # twice is harmless
    assert queue.waiting == 0


async def _take_turn(queue: ModelQueue, ticket) -> None:
    async with queue.turn(ticket):
        await asyncio.sleep(10)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Opening.UNDECIDED),
        ("```", Opening.UNDECIDED),
        ('```json\n{\n  "name":', Opening.CALL),
        ('{"name": "get_weather"', Opening.CALL),
        ('[{"name":', Opening.CALL),
        ("<tool_call>", Opening.CALL),
        ("<tool_c", Opening.UNDECIDED),
        ("Hello", Opening.TEXT),
        ("```python\nprint(1)", Opening.TEXT),
        ('{"city": "Paris"}', Opening.TEXT),
    ],
)
def test_classify_start(text: str, expected: Opening) -> None:
    assert classify_start(text) is expected


def test_find_call_in_the_middle_of_text() -> None:
    assert find_call('Sure. <tool_call>\n{"name": "f"}') == (6, True)
    assert find_call('Here:\n```json\n{"name": "f"') == (6, True)
    assert find_call("Use a list [1, 2] and a {dict}") is None
    assert find_call("almost <tool") == (7, False)
    assert find_call('text {"name": 1}', start=6) is None


def test_call_reader_hands_out_each_call_when_it_closes() -> None:
    reader = CallReader()
    assert reader.feed('{"name": "f", "arguments": {"s": "a } \\" ]", "n": {"x": 1') == []
    assert reader.feed("}}}") == [{"name": "f", "arguments": {"s": 'a } " ]', "n": {"x": 1}}}]
    many = CallReader()
    text = '[{"name": "f", "arguments": {}}, {"name": "g", "arguments": {"a": [1, 2]}}]'
    calls = [call for char in text for call in many.feed(char)]
    assert calls == [{"name": "f", "arguments": {}}, {"name": "g", "arguments": {"a": [1, 2]}}]


def test_a_call_repeats_an_answered_one_when_it_only_adds_or_drops_arguments() -> None:
    earlier = [("get_weather", {"city": "Paris"})]
    assert _repeats("get_weather", {"city": "Paris", "unit": "celsius"}, earlier)
    assert _repeats("get_weather", {"city": "Paris"}, [("get_weather", {"city": "Paris", "unit": "c"})])
    assert not _repeats("get_weather", {"city": "Rome"}, earlier)
    assert not _repeats("add", {"city": "Paris"}, earlier)


def test_a_schema_that_makes_no_grammar_is_a_400() -> None:
    good = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}
    check_tool_grammars([good])
    nowhere = {"type": "object", "$ref": "#/nowhere"}
    bad = {"type": "function", "function": {"name": "g", "parameters": nowhere}}
    with pytest.raises(ServiceError) as refused:
        check_tool_grammars([good, bad])
    assert refused.value.status == 400 and refused.value.param == "tools[1].function.parameters"


def test_param_path() -> None:
    assert param_path(("body", "messages", 0, "role")) == "messages[0].role"
    assert param_path(("body",)) is None
