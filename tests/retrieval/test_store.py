"""Where collections live: default path, persistence, in-memory isolation."""

from __future__ import annotations

from pathlib import Path

import pytest
from platformdirs import user_cache_dir

from tinycrew.retrieval import MiniLMEmbeddingFunction, default_store_path, embed_texts, open_collection


def test_default_path_follows_tinycrew_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TINYCREW_HOME", str(tmp_path))
    assert default_store_path() == tmp_path / "chroma"
    monkeypatch.delenv("TINYCREW_HOME")
    assert default_store_path() == Path(user_cache_dir("tinycrew")) / "chroma"


def test_in_memory_collections_are_isolated() -> None:
    first = open_collection(None, "same")
    second = open_collection(None, "same")
    first.add(ids=["a"], documents=["alpha"], embeddings=embed_texts(["alpha"]))
    assert first.count() == 1
    assert second.count() == 0


def test_persistent_collection_uses_our_function_and_cosine(tmp_path: Path) -> None:
    collection = open_collection(tmp_path / "store", "things")
    collection.add(ids=["a"], documents=["alpha"], embeddings=embed_texts(["alpha"]))
    reopened = open_collection(tmp_path / "store", "things")
    assert reopened.count() == 1
    config = reopened.configuration_json
    assert config["hnsw"]["space"] == "cosine"
    assert config["embedding_function"]["name"] == MiniLMEmbeddingFunction.name()
    assert (tmp_path / "store" / "chroma.sqlite3").exists()
