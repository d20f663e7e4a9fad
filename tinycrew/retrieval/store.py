"""Where retrieval data lives: a persistent ChromaDB directory, or an isolated in-memory store."""

from __future__ import annotations

import uuid
from pathlib import Path

import chromadb
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings

from tinycrew.paths import tinycrew_home
from tinycrew.retrieval.embedding import MiniLMEmbeddingFunction

# One Settings object for every client: ChromaDB refuses a second client on the same path (or a second
# in-memory client) with different settings, and telemetry must stay off on an offline machine.
_SETTINGS = Settings(anonymized_telemetry=False)


def default_store_path() -> Path:
    """Default persistent store: `$TINYCREW_HOME/chroma`, else `<user cache dir>/tinycrew/chroma`."""
    return tinycrew_home() / "chroma"


def open_collection(store_path: str | Path | None, name: str) -> Collection:
    """Open (or create) a cosine-space collection that embeds with all-MiniLM-L6-v2.

    `store_path=None` gives an in-memory collection. In-memory ChromaDB clients share one database per
    process, so the collection gets a unique suffix: two in-memory retrievers never see each other.
    """
    if store_path is None:
        client = chromadb.EphemeralClient(settings=_SETTINGS)
        name = f"{name}-{uuid.uuid4().hex[:12]}"
    else:
        path = Path(store_path).expanduser()
        path.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(path), settings=_SETTINGS)
    return client.get_or_create_collection(
        name=name,
        embedding_function=MiniLMEmbeddingFunction(),
        configuration={"hnsw": {"space": "cosine"}},
    )
