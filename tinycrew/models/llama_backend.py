"""In-process llama.cpp backend (llama-cpp-python).

One loaded `Llama` per GGUF file and settings per process, guarded by a lock because llama.cpp
contexts are not thread-safe. Prompts are rendered with the GGUF's own chat template and tokenized
here, so consecutive calls that share a prefix (system prompt + tool schemas) reuse its KV cache; an
optional RAM state cache keeps prefixes of other roles warm too.

LoRA adapters (`tinycrew.models.adapters`) share the loaded base: each adapter file is loaded once
beside it, and each completion first makes its own adapter (or none) the context's active one. A
switch forgets the reused KV prefix, since keys and values computed under one adapter are wrong under
another, and swaps in that adapter's own RAM state cache.
"""

from __future__ import annotations

import ctypes
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinycrew.models.adapters import resolve_adapter, split_model_ref
from tinycrew.models.base import BlockingChatModel
from tinycrew.models.capabilities import Capabilities
from tinycrew.models.chat_template import ChatTemplate
from tinycrew.models.grammar import grammar_for_schema, grammar_from_gbnf, tool_call_schema
from tinycrew.models.hardware import extra_buffer_types, model_params_with_extra_bufts
from tinycrew.models.prefix_states import PrefixStates, shared_prefix
from tinycrew.models.registry import ensure_local, get_spec
from tinycrew.models.spec import ModelSpec
from tinycrew.models.toolcall_parsing import parse_tool_calls
from tinycrew.models.types import (
    ChatResult,
    Message,
    StreamChunk,
    Timings,
    TokenLogprob,
    ToolCall,
    ToolChoice,
    Usage,
)


@dataclass
class _Loaded:
    """A loaded model, its context lock, its chat template and the LoRA adapters loaded beside it."""

    llama: Any
    template: ChatTemplate
    lock: threading.Lock = field(default_factory=threading.Lock)
    pieces: dict[int, str] = field(default_factory=dict)  # token id -> its text, for logprobs
    adapters: dict[str, Any] = field(default_factory=dict)  # adapter file -> llama_adapter_lora pointer
    active: str | None = None  # the adapter file the context computes with now (None: the plain base)
    state_caches: dict[str | None, PrefixStates] = field(default_factory=dict)  # one per adapter

    def piece(self, token: int) -> str:
        """One token's text (a ctypes round trip the first time, a dict lookup after)."""
        text = self.pieces.get(token)
        if text is None:
            text = self.pieces[token] = self.llama.detokenize([token]).decode("utf-8", "replace")
        return text

    def load_adapter(self, path: str) -> None:
        """Load a LoRA adapter file onto the shared base once; freed before the context and model are."""
        import llama_cpp
        from llama_cpp._utils import suppress_stdout_stderr

        with self.lock:
            if path in self.adapters:
                return
            with suppress_stdout_stderr(disable=False):  # one "fallback to CPU" line per repacked tensor
                handle = llama_cpp.llama_adapter_lora_init(self.llama.model, path.encode("utf-8"))
            if not handle:
                raise ValueError(
                    f"llama.cpp could not load {path} as a LoRA adapter for this base model "
                    "(another architecture or tensor shapes? export it with export_gguf_lora for this base)"
                )
            if not self.adapters:
                self.llama._stack.callback(self._free_adapters, llama_cpp)
            self.adapters[path] = handle

    def _free_adapters(self, llama_cpp: Any) -> None:
        """Detach and free every adapter (the module is passed in: this may run at interpreter exit)."""
        context = self.llama._ctx
        if context is not None and context.ctx is not None:
            llama_cpp.llama_set_adapters_lora(context.ctx, None, 0, None)
        for handle in self.adapters.values():
            llama_cpp.llama_adapter_lora_free(handle)
        self.adapters.clear()
        self.active = None

    def activate(self, path: str | None) -> bool:
        """Make `path`'s adapter (None: none) the active one; on a change forget the KV prefix.

        Call under `lock`. Returns whether anything changed.
        """
        if path == self.active:
            return False
        import llama_cpp

        ctx = self.llama._ctx.ctx
        if path is None:
            status = llama_cpp.llama_set_adapters_lora(ctx, None, 0, None)
        else:
            handles = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(self.adapters[path])
            status = llama_cpp.llama_set_adapters_lora(ctx, handles, 1, (ctypes.c_float * 1)(1.0))
        if status != 0:
            raise RuntimeError(f"llama.cpp could not activate LoRA adapter {path} (status {status})")
        self.active = path
        self.llama.reset()  # the cached prompt's KV was computed under the previous adapter
        return True

    def prefix_states(self, capacity_bytes: int) -> PrefixStates | None:
        """The active adapter's saved prompt states, holding at least `capacity_bytes` (0: none, and
        None is returned, so a model that asked for none never restores another's). Call under `lock`."""
        if not capacity_bytes:
            return None
        states = self.state_caches.setdefault(self.active, PrefixStates(capacity_bytes))
        states.capacity_bytes = max(states.capacity_bytes, capacity_bytes)
        return states


_LOADED: dict[tuple[Any, ...], _Loaded] = {}
_LOADED_LOCK = threading.Lock()


def _load(path: Path, n_ctx: int, n_gpu_layers: int, n_threads: int, extra_bufts: bool) -> _Loaded:
    """Load once per (file, settings) and keep it for the life of the process (adapters ride along)."""
    key = (str(path), n_ctx, n_gpu_layers, n_threads, extra_bufts)
    with _LOADED_LOCK:
        if key not in _LOADED:
            from llama_cpp import Llama

            with model_params_with_extra_bufts(extra_bufts):
                llama = _new_llama(Llama, path, n_ctx, n_gpu_layers, n_threads)
            template = llama.metadata.get("tokenizer.chat_template")

            if not template:
                raise ValueError(f"{path.name} has no chat template; give ModelSpec.chat_format")
            eos = llama._model.token_get_text(llama.token_eos())
            bos = llama._model.token_get_text(llama.token_bos()) if llama.token_bos() >= 0 else ""
            _LOADED[key] = _Loaded(llama=llama, template=ChatTemplate(template, eos, bos))
        return _LOADED[key]


def _new_llama(llama_class: Any, path: Path, n_ctx: int, n_gpu_layers: int, n_threads: int) -> Any:
    return llama_class(
        model_path=str(path),
        n_ctx=n_ctx,
        n_gpu_layers=n_gpu_layers,
        n_threads=n_threads,
        n_threads_batch=n_threads,  # llama-cpp-python's default is every core, whatever n_threads
        n_batch=512,
        verbose=False,
    )


class _LogprobRecorder:
    """A logits processor that records the log-probability of each token the sampler picked.

    llama-cpp-python only returns logprobs when every prompt token's logits are kept (`logits_all`),
    which costs n_ctx x vocab floats; this keeps one step of logits instead.
    """

    def __init__(self) -> None:
        self.previous: np.ndarray | None = None
        self.previous_lse = 0.0
        self.picked: list[tuple[int, float]] = []

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        if self.previous is not None and len(input_ids):
            token = int(input_ids[-1])
            self.picked.append((token, float(self.previous[token] - self.previous_lse)))
        self.previous = np.array(scores, copy=True)
        top = float(self.previous.max())
        self.previous_lse = top + float(np.log(np.exp(self.previous - top).sum()))
        return scores

    def end_logprob(self, end_tokens: set[int]) -> float | None:
        """The log-probability of ending (any of `end_tokens`) at the last step, which sampled the end."""
        if self.previous is None:
            return None
        ends = np.array(sorted(end_tokens))
        return float(np.log(np.exp(self.previous[ends] - self.previous_lse).sum()))


DEFAULT_STATE_CACHE_BYTES = 256 << 20
"""RAM for saved prompt states per loaded model and adapter (`tinycrew.models.prefix_states`)."""


class LlamaCppModel(BlockingChatModel):
    """A GGUF model run in-process by llama.cpp, optionally with a LoRA adapter over the shared base.

    Example: `LlamaCppModel("qwen2.5-coder-0.5b-instruct-q4_k_m").chat([{"role": "user", "content": "hi"}])`.
    `n_gpu_layers=-1` offloads everything to CUDA/Metal when llama-cpp-python was built with it.
    `extra_bufts` turns llama.cpp's weight-repacking buffer types on or off; None decides by the CPU
    (off where it has AMX, see `tinycrew.models.hardware`).
    `adapter` is a registered adapter's name or a path to a GGUF LoRA file (`spec` may also say
    `"<base>+<adapter>"`): models with different adapters on the same base and settings share one
    loaded base, and each completion runs with its own adapter. `lora_path` is the older spelling.
    `state_cache_bytes` of RAM keeps the KV states of earlier prompts, so each role's next prompt skips
    the prefix it shares with its last one (`tinycrew.models.prefix_states`); with 0 this model neither
    saves nor restores states (replies then do not depend on which prompts came before, up to the KV
    prefix the context itself still holds).
    """

    capabilities = Capabilities(
        grammar=True, json_schema=True, tools=True, constrained_tools=True, logprobs=True, adapters=True
    )
    """Everything: GBNF and JSON-schema constrained decoding, tool calls under a grammar, logprobs, LoRA."""

    def __init__(
        self,
        spec: ModelSpec | str | None = None,
        *,
        adapter: str | Path | None = None,
        n_ctx: int | None = None,
        n_gpu_layers: int = 0,
        n_threads: int | None = None,
        lora_path: str | None = None,
        state_cache_bytes: int = DEFAULT_STATE_CACHE_BYTES,
        extra_bufts: bool | None = None,
    ) -> None:
        if isinstance(spec, str) and adapter is None:
            spec, adapter = split_model_ref(spec)
        if lora_path is not None:
            if adapter is not None:
                raise ValueError("give either adapter or lora_path, not both")
            adapter = lora_path
        self.spec = get_spec(spec)
        self.adapter_path: str | None = None
        self.name = self.spec.name
        if adapter is not None:
            path, adapter_name = resolve_adapter(adapter, self.spec.name)
            self.adapter_path, self.name = str(path), f"{self.spec.name}+{adapter_name}"
        self.path = ensure_local(self.spec)
        threads = n_threads or int(os.environ.get("TINYCREW_THREADS", "0")) or len(os.sched_getaffinity(0))
        if extra_bufts is None:
            extra_bufts, _ = extra_buffer_types()
        self.extra_bufts = extra_bufts
        context = n_ctx or self.spec.context_length
        self._loaded = _load(self.path, context, n_gpu_layers, threads, extra_bufts)
        if self.adapter_path is not None:
            self._loaded.load_adapter(self.adapter_path)
        self.state_cache_bytes = state_cache_bytes

    @property
    def llama(self) -> Any:
        """The underlying `llama_cpp.Llama` (shared by every LlamaCppModel on the same file)."""
        return self._loaded.llama

    def reset_cache(self) -> None:
        """Forget the KV cache and the saved prompt states, so the next call evaluates its whole prompt
        (for reproducible timings)."""
        with self._loaded.lock:
            self._loaded.activate(self.adapter_path)
            self.llama.reset()
            for states in self._loaded.state_caches.values():
                states.clear()

    def render(self, messages: list[Message], tools: list[dict[str, Any]] | None = None) -> list[int]:
        """The prompt tokens for a conversation, through the model's own chat template."""
        prompt = self._loaded.template.render(messages, tools)
        return self.llama.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)

    def _completion_args(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None,
        tool_choice: ToolChoice,
        json_schema: dict[str, Any] | None,
        grammar: str | None,
        max_tokens: int | None,
        temperature: float | None,
        stop: list[str] | None,
        logprobs: bool,
    ) -> tuple[list[int], dict[str, Any], _LogprobRecorder | None, bool]:
        constrained_call = bool(tools) and tool_choice != "auto" and tool_choice != "none"
        offered = tools if tool_choice != "none" else None
        if constrained_call:
            assert tools is not None
            chosen = [t for t in tools if (t.get("function") or t)["name"] == tool_choice] or tools
            json_schema = tool_call_schema(chosen)
        defaults = self.spec.defaults
        args: dict[str, Any] = {
            "max_tokens": max_tokens or defaults.max_tokens,
            "temperature": defaults.temperature if temperature is None else temperature,
            "top_p": defaults.top_p,
            "repeat_penalty": defaults.repeat_penalty,
            "stop": stop or None,
        }
        if grammar is not None:
            args["grammar"] = grammar_from_gbnf(grammar)
        elif json_schema is not None:
            args["grammar"] = grammar_for_schema(json_schema)
        recorder = _LogprobRecorder() if logprobs else None
        if recorder is not None:
            from llama_cpp import LogitsProcessorList

            args["logits_processor"] = LogitsProcessorList([recorder])
        return self.render(messages, offered), args, recorder, constrained_call

    def _cached_prefix(self, tokens: list[int]) -> int:
        """How many leading prompt tokens are already in the context's KV cache."""
        return shared_prefix(self.llama.input_ids[: self.llama.n_tokens], tokens)

    def _finish(
        self,
        text: str,
        finish_reason: str,
        prompt_tokens: int,
        completion_tokens: int,
        cached: int,
        started: float,
        first: float | None,
        tools: list[dict[str, Any]] | None,
        constrained_call: bool,
        recorder: _LogprobRecorder | None,
        ended: bool,
    ) -> ChatResult:
        now = time.perf_counter()
        calls: list[ToolCall] = []
        if constrained_call:
            call = json.loads(text, strict=False)  # the grammar lets raw newlines into strings
            calls = [ToolCall(id=f"call_{int(now * 1e6) % 10**12}", **call)]
        elif tools:
            names = {(tool.get("function") or tool)["name"] for tool in tools}
            calls = parse_tool_calls(text, names)
        token_logprobs = stop_logprob = None
        if recorder is not None:
            piece = self._loaded.piece
            token_logprobs = [TokenLogprob(token=piece(tok), logprob=value) for tok, value in recorder.picked]
            if ended:
                ends = {self.llama.token_eos(), self.llama._model.token_eot()} - {-1}
                stop_logprob = recorder.end_logprob(ends)
        return ChatResult(
            model=self.name,
            content=text,
            tool_calls=calls,
            finish_reason="tool_calls" if calls else finish_reason,
            usage=Usage(
                prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, cached_prompt_tokens=cached
            ),
            timings=Timings(ttft_s=(first or now) - started, total_s=now - started),
            logprobs=token_logprobs,
            stop_logprob=stop_logprob,
        )

    def chat(
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
    ) -> ChatResult:
        """One completion. `tool_choice="required"` (or a tool name) decodes one call under a grammar."""
        result: ChatResult | None = None
        for chunk in self.stream(
            messages,
            tools,
            tool_choice=tool_choice,
            json_schema=json_schema,
            grammar=grammar,
            max_tokens=max_tokens,
            temperature=temperature,
            stop=stop,
            logprobs=logprobs,
        ):
            result = chunk.result or result
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
        """Text deltas as llama.cpp produces them; the last chunk carries the full `ChatResult`."""
        started = time.perf_counter()  # rendering, tokenizing and grammar building are model time too
        tokens, args, recorder, constrained = self._completion_args(
            messages, tools, tool_choice, json_schema, grammar, max_tokens, temperature, stop, logprobs
        )
        with self._loaded.lock:
            self._loaded.activate(self.adapter_path)
            states = self._loaded.prefix_states(self.state_cache_bytes)
            if states is not None:
                states.restore(self.llama, tokens)
            cached = self._cached_prefix(tokens)
            first: float | None = None
            pieces: list[str] = []
            finish_reason = "stop"
            completion_tokens = 0
            for event in self.llama.create_completion(prompt=tokens, stream=True, **args):
                choice = event["choices"][0]
                completion_tokens += 1
                if choice["text"]:
                    first = first or time.perf_counter()
                    pieces.append(choice["text"])
                    yield StreamChunk(delta=choice["text"])
                finish_reason = choice.get("finish_reason") or finish_reason
            completion_tokens = max(0, self.llama.n_tokens - len(tokens)) or completion_tokens
            if states is not None:
                states.save(self.llama)
            result = self._finish(
                "".join(pieces),
                finish_reason,
                len(tokens),
                completion_tokens,
                cached,
                started,
                first,
                tools if tool_choice != "none" else None,
                constrained,
                recorder,
                ended=finish_reason == "stop" and not stop,
            )
        yield StreamChunk(result=result)
