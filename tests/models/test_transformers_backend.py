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
