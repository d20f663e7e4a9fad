"""Models: specs, the packaged registry, and chat backends behind one protocol."""

from tinycrew.models.adapters import (
    AdapterExportError,
    AdapterInfo,
    export_gguf_lora,
    get_adapter,
    list_adapters,
    register_adapter,
    update_adapter_card,
)
from tinycrew.models.base import BlockingChatModel
from tinycrew.models.openai_backend import ModelRequestError, ModelUnavailableError, OpenAIChatModel
from tinycrew.models.packaged import DEFAULT_MODEL, GEMMA_MODEL, PACKAGED_MODELS, TEACHER_MODEL
from tinycrew.models.protocol import ChatModel
from tinycrew.models.registry import (
    ModelNotAvailableError,
    ModelState,
    ensure_local,
    get_spec,
    list_models,
    model_state,
)
from tinycrew.models.spec import GenerationSettings, HubSource, ModelSpec, PackagedSource, PathSource
from tinycrew.models.toolcall_parsing import parse_tool_calls
from tinycrew.models.transformers_backend import TransformersChatModel
from tinycrew.models.types import ChatResult, StreamChunk, TokenLogprob, ToolCall, Usage

__all__ = [
    "DEFAULT_MODEL",
    "GEMMA_MODEL",
    "PACKAGED_MODELS",
    "TEACHER_MODEL",
    "AdapterExportError",
    "AdapterInfo",
    "BlockingChatModel",
    "ChatModel",
    "ChatResult",
    "GenerationSettings",
    "HubSource",
    "ModelNotAvailableError",
    "ModelRequestError",
    "ModelSpec",
    "ModelState",
    "ModelUnavailableError",
    "OpenAIChatModel",
    "PackagedSource",
    "PathSource",
    "StreamChunk",
    "TokenLogprob",
    "ToolCall",
    "TransformersChatModel",
    "Usage",
    "ensure_local",
    "export_gguf_lora",
    "get_adapter",
    "get_spec",
    "list_adapters",
    "list_models",
    "load_model",
    "model_state",
    "parse_tool_calls",
    "register_adapter",
    "update_adapter_card",
]


def load_model(model: "str | ModelSpec | ChatModel | None" = None, **options: object) -> ChatModel:
    """A chat model from a packaged name, a .gguf path, a spec, or an existing model (returned as is).

    `"<base>+<adapter>"` loads the base with a LoRA adapter: a registered adapter's name
    (`tinycrew.models.register_adapter`) or a path to a GGUF LoRA file; every adapter on the same base
    shares one loaded base. Example: `load_model()` gives the default local model;
    `load_model("/models/x.gguf", n_gpu_layers=-1)`;
    `load_model("qwen2.5-coder-0.5b-instruct-q4_k_m+caller-v3")`.
    """
    if model is not None and not isinstance(model, str | ModelSpec):
        return model
    from tinycrew.models.llama_backend import LlamaCppModel

    return LlamaCppModel(model, **options)  # type: ignore[arg-type]
