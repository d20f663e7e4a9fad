"""A GGUF's own chat template: the one renderer of prompts for serving (llama.cpp) and for training.

`LlamaCppModel` renders every prompt through `ChatTemplate.render`; the learning loop cuts its training
samples with `ChatTemplate.split` on the same template, so what a role is trained on and what it is
served cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinycrew.models.types import Message


@dataclass(frozen=True)
class ChatTemplate:
    """A Jinja chat template with its end and begin tokens' text.

    Example: `ChatTemplate.from_gguf(ensure_local()).render([{"role": "user", "content": "hi"}])`.
    """

    template: str
    eos_token: str
    bos_token: str = ""
    _formatters: dict[bool, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_gguf(cls, path: str | Path) -> ChatTemplate:
        """Read the template and special tokens from a GGUF file's metadata (no weights are loaded)."""
        import gguf

        reader = gguf.GGUFReader(str(path))

        def value(key: str) -> Any:
            field_ = reader.fields.get(key)
            return field_.contents() if field_ is not None else None

        template = value("tokenizer.chat_template")
        if not template:
            raise ValueError(f"{Path(path).name} has no chat template; give ModelSpec.chat_format")
        tokens = value("tokenizer.ggml.tokens") or []
        eos, bos = value("tokenizer.ggml.eos_token_id"), value("tokenizer.ggml.bos_token_id")
        return cls(
            template=template,
            eos_token=tokens[eos] if eos is not None else "",
            bos_token=tokens[bos] if bos is not None and bos >= 0 else "",
        )

    def _formatter(self, add_generation_prompt: bool) -> Any:
        if add_generation_prompt not in self._formatters:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            self._formatters[add_generation_prompt] = Jinja2ChatFormatter(
                self.template, self.eos_token, self.bos_token, add_generation_prompt=add_generation_prompt
            )
        return self._formatters[add_generation_prompt]

    def render(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        *,
        add_generation_prompt: bool = True,
    ) -> str:
        """The prompt text of a conversation, ending with the assistant's header unless told not to."""
        return self._formatter(add_generation_prompt)(messages=messages, tools=tools or None).prompt

    def split(self, messages: list[Message], tools: list[dict[str, Any]] | None = None) -> tuple[str, str]:
        """A conversation ending with an assistant turn as (prompt, completion): the prompt exactly as
        served for that turn, the completion the text the model should generate, end token included."""
        if not messages or messages[-1].get("role") != "assistant":
            raise ValueError("split needs a conversation that ends with an assistant turn")
        prompt = self.render(messages[:-1], tools)
        full = self.render(messages, tools, add_generation_prompt=False)
        if not full.startswith(prompt):
            raise ValueError("the template renders the assistant turn differently from its generation prompt")
        completion = full[len(prompt) :]
        end = completion.rfind(self.eos_token) if self.eos_token else -1
        return prompt, completion[: end + len(self.eos_token)] if end >= 0 else completion
