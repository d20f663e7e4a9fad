"""transformers backend (optional `train` extra): HF checkpoints, and the very GGUF weights llama.cpp serves.

Training needs the weights in torch; `TransformersChatModel.from_gguf(spec)` loads a packaged GGUF
through transformers' `gguf_file=` (dequantized), so a fine-tune starts from what the agent runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from tinycrew.models.base import BlockingChatModel
from tinycrew.models.capabilities import Capabilities
from tinycrew.models.registry import ensure_local, get_spec
from tinycrew.models.spec import ModelSpec
from tinycrew.models.toolcall_parsing import parse_tool_calls
from tinycrew.models.types import ChatResult, Message, StreamChunk, Timings, TokenLogprob, ToolChoice, Usage


class TransformersChatModel(BlockingChatModel):
    """Chat through `transformers` generate with the tokenizer's chat template (tools included).

    Constrained decoding (grammars, JSON schemas) is a llama.cpp feature: asking for it here raises
    ValueError rather than silently returning unconstrained text; roles see that in `capabilities` and
    fall back to lenient parsing with a validation retry. `tool_choice="required"` (or a tool's name)
    offers only the chosen tools and reads the call from the text, without a guarantee that one parses.
    Example: `TransformersChatModel.from_gguf("qwen2.5-coder-0.5b-instruct-q4_k_m").chat(messages)`.
    """

    capabilities = Capabilities(tools=True, logprobs=True)

    def __init__(self, model: Any, tokenizer: Any, name: str) -> None:
        self.model, self.tokenizer, self.name = model, tokenizer, name
        self._lock = threading.Lock()

    @classmethod
    def from_pretrained(
        cls, repo_or_dir: str, gguf_file: str | None = None, **options: Any
    ) -> TransformersChatModel:
        """Load an HF checkpoint (or a GGUF file inside `repo_or_dir` when `gguf_file` is given)."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(repo_or_dir, gguf_file=gguf_file)
        model = AutoModelForCausalLM.from_pretrained(repo_or_dir, gguf_file=gguf_file, **options)
        return cls(model.eval(), tokenizer, gguf_file or repo_or_dir)

    @classmethod
    def from_gguf(cls, spec: ModelSpec | str | None = None, **options: Any) -> TransformersChatModel:
        """Load a packaged or local GGUF model's weights into torch (dequantized; converted once and
        cached, see `tinycrew.models.gguf_torch`)."""
        from tinycrew.models.gguf_torch import load_causal_lm, load_tokenizer

        resolved = get_spec(spec)
        path = ensure_local(resolved)
        loaded = cls(load_causal_lm(path, **options).eval(), load_tokenizer(path), path.name)
        loaded.name = f"{resolved.name} (transformers)"
        return loaded

    def _prompt(self, messages: list[Message], tools: list[dict[str, Any]] | None) -> Any:
        return self.tokenizer.apply_chat_template(
            messages, tools=tools or None, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )

    def chat(
        self, messages: list[Message], tools: list[dict[str, Any]] | None = None, **options: Any
    ) -> ChatResult:
        """One completion (greedy unless a temperature > 0 is given); options as for `stream`."""
        result = list(self.stream(messages, tools, **options))[-1].result
        assert result is not None
        return result

    def stream(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        *,
        tool_choice: ToolChoice = "auto",
        json_schema: dict[str, Any] | None = None,
        grammar: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: list[str] | None = None,
        logprobs: bool = False,
    ) -> Iterator[StreamChunk]:
        """Text deltas from a TextIteratorStreamer; the last chunk carries the result."""
        if json_schema is not None or grammar is not None:
            raise ValueError("constrained decoding needs the llama.cpp backend (LlamaCppModel)")
        from transformers import TextIteratorStreamer

        if tools and tool_choice not in ("auto", "none", "required"):
            tools = [t for t in tools if (t.get("function") or t)["name"] == tool_choice] or tools
        inputs = self._prompt(messages, tools if tool_choice != "none" else None)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        sampling = {"do_sample": True, "temperature": temperature} if temperature else {"do_sample": False}
        options = dict(inputs, streamer=streamer, max_new_tokens=max_tokens or 512, **sampling)
        if logprobs:
            options |= {"output_scores": True, "return_dict_in_generate": True}
        generated: list[Any] = []
        with self._lock:
            started, first, pieces = time.perf_counter(), None, []
            worker = threading.Thread(
                target=lambda: generated.append(self.model.generate(**options)), daemon=True
            )
            worker.start()
            for piece in streamer:
                if piece:
                    first = first or time.perf_counter()
                    pieces.append(piece)
                    yield StreamChunk(delta=piece)
            worker.join()
        text = "".join(pieces)
        for marker in stop or []:
            text = text.split(marker, 1)[0]  # the streamed deltas may run past a stop string
        now = time.perf_counter()
        prompt_tokens = int(inputs["input_ids"].shape[-1])
        completion_tokens = len(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        calls = parse_tool_calls(text, {(t.get("function") or t)["name"] for t in tools}) if tools else []
        yield StreamChunk(
            result=ChatResult(
                model=self.name,
                content=text,
                tool_calls=calls,
                finish_reason="tool_calls" if calls else "stop",
                usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens),
                timings=Timings(ttft_s=(first or now) - started, total_s=now - started),
                logprobs=self._logprobs(generated[0], prompt_tokens) if logprobs and generated else None,
            )
        )

    def _logprobs(self, output: Any, prompt_tokens: int) -> list[TokenLogprob]:
        """The log-probability of each generated token, from the scores `generate` returned."""
        import torch

        tokens = output.sequences[0, prompt_tokens:]
        picked = []
        for token, scores in zip(tokens.tolist(), output.scores, strict=False):
            logprob = torch.log_softmax(scores[0].float(), dim=-1)[token].item()
            picked.append(TokenLogprob(token=self.tokenizer.decode([token]), logprob=logprob))
        return picked
