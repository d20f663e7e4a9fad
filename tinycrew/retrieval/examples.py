"""Solved examples for in-context learning (TinyAgent style).

A planner prompt works better with a few solved tasks like the current one; an example is only
useful if every tool it used is available now, so retrieval filters on the allowed tool set.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tinycrew.retrieval.embedding import embed_query, embed_texts
from tinycrew.retrieval.store import open_collection

_MIN_CANDIDATES = 20


@dataclass(frozen=True)
class Example:
    """A stored solved example and its cosine distance to the query it was retrieved for."""

    id: str
    query: str
    plan: str
    tools: tuple[str, ...]
    distance: float = 0.0


class ExampleRetriever:
    """Solved examples on ChromaDB, matched by the similarity of their queries."""

    def __init__(self, store_path: str | Path | None = None, collection: str = "examples") -> None:
        """Open (or create) the collection `collection` in the store at `store_path` (None: memory)."""
        self._collection = open_collection(store_path, collection)

    def __len__(self) -> int:
        """Number of stored examples."""
        return self._collection.count()

    def add(self, query: str, plan: str, tools: Iterable[str]) -> str:
        """Store an example and return its id; adding the very same example again is a no-op."""
        tool_list = sorted(set(tools))
        key = json.dumps([query, plan, tool_list], ensure_ascii=False)
        example_id = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
        self._collection.upsert(
            ids=[example_id],
            documents=[query],
            embeddings=embed_texts([query]),
            metadatas=[{"plan": plan, "tools": json.dumps(tool_list)}],
        )
        return example_id

    def remove(self, example_ids: Iterable[str]) -> None:
        """Delete examples by id; unknown ids are ignored."""
        ids = list(dict.fromkeys(example_ids))
        if ids:
            self._collection.delete(ids=ids)

    def retrieve(self, query: str, k: int = 3, allowed_tools: set[str] | None = None) -> list[Example]:
        """The k examples most similar to `query` whose tools all lie within `allowed_tools`.

        `allowed_tools=None` allows every example. Candidates are fetched in growing batches until k
        examples pass the filter or the collection is exhausted.
        """
        total = self._collection.count()
        if k <= 0 or total == 0:
            return []
        vector = embed_query(query)
        n = min(total, max(4 * k, _MIN_CANDIDATES))
        while True:
            result = self._collection.query(
                query_embeddings=[vector], n_results=n, include=["documents", "metadatas", "distances"]
            )
            examples = []
            for example_id, document, metadata, distance in zip(
                result["ids"][0],
                (result["documents"] or [[]])[0],
                (result["metadatas"] or [[]])[0],
                (result["distances"] or [[]])[0],
                strict=True,
            ):
                tools = tuple(json.loads(str(metadata["tools"])))
                if allowed_tools is None or set(tools) <= allowed_tools:
                    examples.append(
                        Example(example_id, document or "", str(metadata["plan"]), tools, float(distance))
                    )
                    if len(examples) == k:
                        return examples
            if n >= total:
                return examples
            n = min(total, n * 4)
