"""ToolRAG: pick the few tools relevant to a request out of a large pool (TinyAgent's tool retrieval).

A small model's prompt cannot hold hundreds of tool schemas, so the agent shows it only the top-k
tools whose indexed text is closest to the request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from tinycrew.retrieval.embedding import embed_query, embed_texts
from tinycrew.retrieval.lexical import LexicalIndex
from tinycrew.retrieval.store import open_collection
from tinycrew.retrieval.tool_text import (
    DOC_VERSION,
    ToolLike,
    function_schema,
    tool_document,
    tool_schema_hash,
)

logger = logging.getLogger(__name__)

_BATCH = 512
_MIN_CANDIDATES = 50
DEFAULT_LEXICAL_WEIGHT = 0.4
"""Share of TF-IDF similarity in the ranking. Picked by a sweep on BFCL (0.2 to 0.7 all gave overall
recall@5 between 0.91 and 0.93, against 0.88 for embeddings alone); see docs/retrieval.md."""


@dataclass(frozen=True)
class IndexResult:
    """What `ToolRetriever.index` did: tools (re-)embedded and tools left as they were."""

    upserted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


class ScoredTool(NamedTuple):
    """A retrieved tool: its cosine distance to the query (0 = same direction) and its fused score.

    Tools are ranked by `score` = (1 - w) * (1 - distance) + w * lexical similarity, w the retriever's
    `lexical_weight`.
    """

    name: str
    distance: float
    score: float


class ToolRetriever:
    """Tool index on ChromaDB: persistent under `store_path`, or in memory when it is None.

    Each tool is stored under its name with its schema hash, so re-indexing the same pool re-embeds
    only the tools whose schema changed.
    """

    def __init__(
        self,
        store_path: str | Path | None = None,
        collection: str = "tools",
        lexical_weight: float = DEFAULT_LEXICAL_WEIGHT,
    ) -> None:
        """Open (or create) the collection `collection` in the store at `store_path`.

        `lexical_weight` in [0, 1] mixes TF-IDF word overlap into the ranking (0: embeddings only).
        """
        if not 0.0 <= lexical_weight <= 1.0:
            raise ValueError(f"lexical_weight must be within [0, 1], got {lexical_weight}")
        self._collection = open_collection(store_path, collection)
        self._lexical_weight = lexical_weight
        self._lexical: LexicalIndex | None = None
        self._embeddings = np.zeros((0, 0), dtype=np.float32)

    def __len__(self) -> int:
        """Number of indexed tools."""
        return self._collection.count()

    def names(self) -> list[str]:
        """Names of all indexed tools (in no particular order)."""
        return list(self._collection.get(include=[])["ids"])

    def index(self, tools: Iterable[ToolLike | Mapping[str, Any]]) -> IndexResult:
        """Add or update tools; only those that are new or whose schema hash changed are embedded.

        Raises ValueError when two different schemas share one name.
        """
        pending: dict[str, tuple[dict[str, Any], str]] = {}
        for tool in tools:
            schema = function_schema(tool)
            digest = tool_schema_hash(tool)
            name = schema["name"]
            if name in pending and pending[name][1] != digest:
                raise ValueError(f"two different tools are named {name!r}")
            pending[name] = (schema, digest)
        if not pending:
            return IndexResult()

        stored: dict[str, Mapping[str, Any]] = {}
        names = list(pending)
        for start in range(0, len(names), _BATCH):
            got = self._collection.get(ids=names[start : start + _BATCH], include=["metadatas"])
            stored.update(zip(got["ids"], got["metadatas"] or [], strict=True))

        changed = [
            name
            for name, (_, digest) in pending.items()
            if name not in stored
            or stored[name].get("schema_hash") != digest
            or stored[name].get("doc_version") != DOC_VERSION
        ]
        changed_set = set(changed)
        unchanged = [name for name in names if name not in changed_set]
        for start in range(0, len(changed), _BATCH):
            batch = changed[start : start + _BATCH]
            documents = [tool_document(pending[name][0]) for name in batch]
            self._collection.upsert(
                ids=batch,
                documents=documents,
                embeddings=embed_texts(documents),
                metadatas=[{"schema_hash": pending[n][1], "doc_version": DOC_VERSION} for n in batch],
            )
        if changed:
            self._lexical = None
        logger.info("tool index: %d upserted, %d unchanged", len(changed), len(unchanged))
        return IndexResult(upserted=changed, unchanged=unchanged)

    def remove(self, names: Iterable[str]) -> None:
        """Remove tools by name; unknown names are ignored."""
        ids = list(dict.fromkeys(names))
        if ids:
            self._collection.delete(ids=ids)
            self._lexical = None

    def _lexical_index(self) -> LexicalIndex:
        """TF-IDF index (and embedding matrix) of the stored tools, rebuilt after changes.

        Rebuilt after this instance changed the collection, or when its size changed under it.
        """
        if self._lexical is None or len(self._lexical) != self._collection.count():
            got = self._collection.get(include=["documents", "embeddings"])
            self._lexical = LexicalIndex(got["ids"], [doc or "" for doc in got["documents"] or []])
            embeddings = got["embeddings"]
            self._embeddings = (
                np.asarray(embeddings, dtype=np.float32)
                if embeddings is not None and len(embeddings)
                else np.zeros((0, 0), dtype=np.float32)
            )
        return self._lexical

    def retrieve_scored(self, query: str, k: int = 5) -> list[ScoredTool]:
        """The k tools that best match `query`, best first, with distances and fused scores.

        ChromaDB supplies the nearest candidates by embedding, TF-IDF the best by words; the union is
        ranked by the fused score.
        """
        if k <= 0:
            return []
        vector = embed_query(query)
        n_candidates = max(k, _MIN_CANDIDATES)
        result = self._collection.query(
            query_embeddings=[vector], n_results=n_candidates, include=["distances"]
        )
        distances = result["distances"][0] if result["distances"] else []
        similarity = {name: 1.0 - float(d) for name, d in zip(result["ids"][0], distances, strict=True)}
        weight = self._lexical_weight
        if weight == 0.0 or not similarity:
            lexical_of: dict[str, float] = {}
        else:
            lexical = self._lexical_index()
            scores = lexical.scores(query)
            best = np.argsort(-scores)[:n_candidates]
            lexical_of = {lexical.ids[i]: float(scores[i]) for i in best if scores[i] > 0}
            for name in [n for n in lexical_of if n not in similarity]:  # found by words only
                similarity[name] = float(self._embeddings[lexical.position(name)] @ vector)
            for name in similarity.keys() - lexical_of.keys():
                lexical_of[name] = float(scores[lexical.position(name)]) if name in lexical else 0.0
        ranked = sorted(
            (
                ScoredTool(name, 1.0 - sim, (1.0 - weight) * sim + weight * lexical_of.get(name, 0.0))
                for name, sim in similarity.items()
            ),
            key=lambda hit: hit.score,
            reverse=True,
        )
        return ranked[:k]

    def retrieve(self, query: str, k: int = 5) -> list[str]:
        """Names of the k tools that best match `query`, best first (see `retrieve_scored`)."""
        return [hit.name for hit in self.retrieve_scored(query, k)]
