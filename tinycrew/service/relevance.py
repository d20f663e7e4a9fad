"""Is any offered tool about the user's request? The packaged 0.5B model opens a call for nearly every
request once tools are in its prompt ("Say hello" with a weather tool gets `get_weather`), so, as the
agents do, a request whose embedding is far from every tool's is answered in text.

Embeddings are the retrieval package's (all-MiniLM-L6-v2, ONNX); a tool's text is embedded once and
kept. A request that names a tool verbatim always finds it relevant.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np

_CACHE_SIZE = 4096


class Relevance:
    """Cosine similarity between a request (and each of its parts) and the offered tools.

    Example: `Relevance(0.2).any_relevant("Say hello", [weather_tool])` is False.
    """

    def __init__(self, floor: float) -> None:
        self.floor = floor
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the embedding model now, not during the first request."""
        from tinycrew.retrieval.embedding import embed_queries

        embed_queries(["warm up"])

    def _tool_vectors(self, tools: list[dict[str, Any]]) -> np.ndarray:
        from tinycrew.retrieval.embedding import embed_texts
        from tinycrew.retrieval.tool_text import tool_document

        documents = [tool_document(tool.get("function", tool)) for tool in tools]
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for doc in documents:
                if doc in self._vectors:
                    found[doc] = self._vectors[doc]
                    self._vectors.move_to_end(doc)
        missing = [doc for doc in dict.fromkeys(documents) if doc not in found]
        if missing:
            found.update(zip(missing, embed_texts(missing), strict=True))
            with self._lock:
                for doc in missing:
                    self._vectors[doc] = found[doc]
                while len(self._vectors) > _CACHE_SIZE:
                    self._vectors.popitem(last=False)
        return np.stack([found[doc] for doc in documents])

    def similarities(self, request: str, tools: list[dict[str, Any]]) -> list[float]:
        """Each tool's best similarity to the request or one of its parts, in the tools' order."""
        from tinycrew.retrieval.embedding import embed_queries
        from tinycrew.retrieval.intents import split_request

        parts = split_request(request)
        texts = [request, *parts] if len(parts) > 1 else [request]
        scores = embed_queries(texts) @ self._tool_vectors(tools).T
        return [float(value) for value in scores.max(axis=0)]

    def any_relevant(self, request: str, tools: list[dict[str, Any]]) -> bool:
        """Whether some tool is named in the request or is at least `floor` similar to it."""
        names = [(tool.get("function") or tool)["name"] for tool in tools]
        if any(name in request for name in names):
            return True
        return max(self.similarities(request, tools), default=0.0) >= self.floor
