"""The transformers backend loads the very GGUF weights llama.cpp serves (dequantized)."""

from __future__ import annotations

import pytest

from tinycrew.models import DEFAULT_MODEL
from tinycrew.models.transformers_backend import TransformersChatModel

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hf_model() -> TransformersChatModel:
    return TransformersChatModel.from_gguf(DEFAULT_MODEL)


def test_packaged_gguf_loads_into_torch_and_answers(hf_model) -> None:
    result = hf_model.chat(
        [{"role": "user", "content": "What is the capital of France? One word."}], max_tokens=8
    )
    assert "paris" in result.content.lower()
    assert result.usage.prompt_tokens > 0 and result.usage.completion_tokens > 0


def test_tools_go_through_the_chat_template_and_calls_are_parsed(hf_model) -> None:
    tools = [
        {
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
    ]
    result = hf_model.chat(
        [{"role": "user", "content": "What's the weather in Paris?"}], tools, max_tokens=60
    )
    assert [call.name for call in result.tool_calls] == ["get_weather"]


def test_constrained_decoding_is_refused_clearly(hf_model) -> None:
    with pytest.raises(ValueError, match="llama.cpp backend"):
        hf_model.chat([{"role": "user", "content": "hi"}], json_schema={"type": "object"})


def test_logprobs_and_a_required_tool_call(hf_model) -> None:
    """Every role asks for logprobs; the caller asks for a required call (read from the text here)."""
    tools = [
        {
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
    ]
    messages = [{"role": "user", "content": "What's the weather in Paris?"}]
    result = hf_model.chat(messages, tools, tool_choice="required", max_tokens=60, logprobs=True)
    assert [call.name for call in result.tool_calls] == ["get_weather"]
    # one logprob per generated token: the text's tokens, and the end-of-turn token after them
    assert result.logprobs and len(result.logprobs) - result.usage.completion_tokens in (0, 1)
    assert all(item.logprob <= 0.0 for item in result.logprobs) and result.mean_logprob is not None
