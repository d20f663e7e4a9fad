"""The converted torch checkpoint is the GGUF read directly, only faster to load the next time."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from tinycrew.models import DEFAULT_MODEL, ensure_local, gguf_torch
from tinycrew.models.gguf_torch import COMPLETE, checkpoint_dir, converted, load_causal_lm, load_tokenizer

pytestmark = pytest.mark.slow
MESSAGES = [{"role": "user", "content": "What is the weather in Zürich? Use the tool."}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


def logits(model, tokenizer) -> tuple[list[int], torch.Tensor]:
    ids = tokenizer.apply_chat_template(
        MESSAGES, tools=TOOLS, add_generation_prompt=True, return_tensors="pt"
    )
    ids = ids["input_ids"] if not isinstance(ids, torch.Tensor) else ids
    with torch.no_grad():
        return ids[0].tolist(), model(ids).logits[0, -1]


def test_the_cached_checkpoint_gives_the_same_tokens_and_logits_as_the_gguf() -> None:
    """The converted weights are the dequantized values exactly, and the tokenizer keeps the template."""
    gguf = ensure_local(DEFAULT_MODEL)
    cached_model, cached_tokenizer = load_causal_lm(gguf).eval(), load_tokenizer(gguf)
    assert (checkpoint_dir(gguf) / COMPLETE).exists()
    direct_tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    direct_model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name).eval()

    cached_ids, cached_logits = logits(cached_model, cached_tokenizer)
    direct_ids, direct_logits = logits(direct_model, direct_tokenizer)
    assert cached_ids == direct_ids
    assert torch.equal(cached_logits, direct_logits)


def test_a_converted_file_is_not_converted_again(monkeypatch: pytest.MonkeyPatch) -> None:
    gguf = ensure_local(DEFAULT_MODEL)
    converted(gguf)

    def convert_again(*_: object) -> None:
        raise AssertionError("the GGUF was converted a second time")

    monkeypatch.setattr(gguf_torch, "_convert", convert_again)
    assert load_tokenizer(gguf).eos_token


def test_the_cache_can_be_turned_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    gguf = ensure_local(DEFAULT_MODEL)
    monkeypatch.setenv("TINYCREW_TORCH_CACHE", "off")
    assert converted(gguf) == (str(gguf.parent), {"gguf_file": gguf.name})


def test_a_replaced_file_gets_a_new_checkpoint(tmp_path: Path) -> None:
    file = tmp_path / "model.gguf"
    file.write_bytes(b"one")
    first = checkpoint_dir(file)
    file.write_bytes(b"other")
    assert checkpoint_dir(file) != first


def test_a_file_that_cannot_be_converted_is_read_directly_and_not_tried_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TINYCREW_HOME", str(tmp_path / "home"))
    file = tmp_path / "packed.gguf"
    file.write_bytes(b"gguf")
    tries: list[Path] = []

    def packed_weights(gguf: Path, folder: Path) -> bool:
        tries.append(gguf)
        return False  # what _convert says when transformers kept GGUF blocks

    monkeypatch.setattr(gguf_torch, "_convert", packed_weights)
    assert converted(file) == converted(file) == (str(tmp_path), {"gguf_file": "packed.gguf"})
    assert tries == [file]
