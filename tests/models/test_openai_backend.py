"""The OpenAI-compatible backend against a real llama.cpp server on 127.0.0.1 (the packaged 1.5B)."""

from __future__ import annotations

import asyncio
import gc
import time

import pytest

from tests.conftest import free_port, start_llama_server
from tinycrew.models import (
    TEACHER_MODEL,
    ModelRequestError,
    ModelUnavailableError,
    OpenAIChatModel,
    ensure_local,
)

pytestmark = pytest.mark.slow

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@pytest.fixture()
def cloud(teacher_server) -> OpenAIChatModel:
    return OpenAIChatModel(teacher_server.model, base_url=teacher_server.base_url, timeout=120)


def test_chat_returns_text_and_usage(cloud) -> None:
    result = cloud.chat(
        [{"role": "user", "content": "What is the capital of France? One word."}], max_tokens=10
    )
    assert "paris" in result.content.lower()
    assert result.usage.prompt_tokens > 0 and result.usage.completion_tokens > 0


def test_tools_give_a_parsed_call(cloud) -> None:
    result = cloud.chat(
        [{"role": "user", "content": "What's the weather in Oslo?"}], [WEATHER], max_tokens=80
    )
    assert [call.name for call in result.tool_calls] == ["get_weather"]
    assert result.tool_calls[0].arguments["city"].lower() == "oslo"


def test_stream_and_async(cloud) -> None:
    messages = [{"role": "user", "content": "Count from 1 to 5 separated by spaces."}]
    chunks = list(cloud.stream(messages, max_tokens=20))
    streamed = "".join(chunk.delta for chunk in chunks)
    assert "1" in streamed and chunks[-1].result is not None and chunks[-1].result.content == streamed

    async def run() -> str:
        parts = [chunk.delta async for chunk in cloud.astream(messages, max_tokens=20)]
        result = await cloud.achat(messages, max_tokens=20)
        return "".join(parts) + result.content

    assert "5" in asyncio.run(run())


def test_one_model_serves_one_event_loop_after_another(cloud, caplog) -> None:
    """Each blocking `Agent.run` runs on a fresh loop; pooled connections of the last one must not be
    reused (that failed with "Event loop is closed"), nor closed on a later loop when collected (that
    logged "Task exception was never retrieved ... Event loop is closed" once per run)."""
    messages = [{"role": "user", "content": "What is the capital of France? One word."}]
    for _ in range(2):
        assert "paris" in asyncio.run(cloud.achat(messages, max_tokens=10)).content.lower()
        streamed = asyncio.run(_streamed(cloud, messages))
        assert "paris" in streamed.lower()
    assert len(cloud._aclients) == 1, "the clients of closed loops are let go"
    used = [OpenAIChatModel(cloud.name, base_url=cloud.base_url, timeout=120)]  # one model per agent
    assert "paris" in asyncio.run(used[0].achat(messages, max_tokens=10)).content.lower()
    asyncio.run(_dropped_on_a_running_loop(used))
    assert not [record for record in caplog.records if record.name == "asyncio"]


async def _dropped_on_a_running_loop(models: list[OpenAIChatModel]) -> None:
    models.clear()
    gc.collect()
    for _ in range(3):
        await asyncio.sleep(0)  # let whatever the collection scheduled run (and fail, if it does)


async def _streamed(model: OpenAIChatModel, messages: list[dict[str, str]]) -> str:
    return "".join([chunk.delta async for chunk in model.astream(messages, max_tokens=10)])


def test_client_errors_are_not_retried(teacher_server) -> None:
    wrong_path = OpenAIChatModel(teacher_server.model, base_url=f"{teacher_server.base_url}/missing")
    started = time.perf_counter()
    with pytest.raises(ModelRequestError, match="rejected the request: NotFoundError"):
        wrong_path.chat([{"role": "user", "content": "hi"}])
    assert time.perf_counter() - started < 5, "a 404 is not retried"


def test_server_stopped_mid_test_retries_then_fails_clearly() -> None:
    server = start_llama_server(ensure_local(TEACHER_MODEL), alias=TEACHER_MODEL)
    try:
        model = OpenAIChatModel(
            TEACHER_MODEL, base_url=server.base_url, timeout=30, max_attempts=3, backoff_initial=0.3
        )
        assert model.chat([{"role": "user", "content": "Say hi."}], max_tokens=5).content
    finally:
        server.stop()
    started = time.perf_counter()
    with pytest.raises(ModelUnavailableError) as failure:
        model.chat([{"role": "user", "content": "Say hi."}], max_tokens=5)
    elapsed = time.perf_counter() - started
    assert "failed after 3 attempts" in str(failure.value) and "APIConnectionError" in str(failure.value)
    assert elapsed >= 0.3 + 0.6 * 0.5, "it backed off between attempts"


def test_nothing_listening_fails_fast_with_the_address() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    model = OpenAIChatModel("m", base_url=url, max_attempts=2, backoff_initial=0.05)
    with pytest.raises(ModelUnavailableError, match=url.replace(".", r"\.")):
        model.chat([{"role": "user", "content": "hi"}])
