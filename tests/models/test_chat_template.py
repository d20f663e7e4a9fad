"""The GGUF chat template, read without loading weights, renders exactly what llama.cpp is served."""

from __future__ import annotations

import pytest

from tinycrew.models import ensure_local
from tinycrew.models.chat_template import ChatTemplate

FUNCTION = {"name": "f", "description": "d", "parameters": {"type": "object"}}
TOOLS = [{"type": "function", "function": FUNCTION}]
CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]


def test_the_template_read_from_the_file_is_the_one_the_loaded_model_serves() -> None:
    from tinycrew.models.llama_backend import LlamaCppModel

    template = ChatTemplate.from_gguf(ensure_local())
    model = LlamaCppModel()
    assert template == model._loaded.template
    served = model.llama.detokenize(model.render(CHAT, TOOLS), special=True).decode()
    assert served == template.render(CHAT, TOOLS)


def test_split_gives_the_served_prompt_and_the_completion_up_to_the_end_token() -> None:
    template = ChatTemplate.from_gguf(ensure_local())
    prompt, completion = template.split([*CHAT, {"role": "assistant", "content": "hello"}], TOOLS)
    assert prompt == template.render(CHAT, TOOLS) and prompt.endswith("assistant\n")
    assert completion == "hello" + template.eos_token
    call = {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": {"x": 1}}}]}
    _, completion = template.split([*CHAT, call], TOOLS)
    assert '{"name": "f", "arguments": {"x": 1}}' in completion and completion.endswith(template.eos_token)
    with pytest.raises(ValueError, match="ends with an assistant turn"):
        template.split(CHAT)
