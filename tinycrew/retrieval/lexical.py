"""Lexical (TF-IDF) scoring of stored documents, to fuse with the embedding similarity.

A small embedding model blurs near-synonymous tools; exact words shared by the request and a tool
("density", "sentiment", a parameter name) separate them. On BFCL's pool of 982 tools, adding this
signal raised recall@5 from 0.88 to 0.93 (benchmarks/bench_retrieval.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer


class LexicalIndex:
    """TF-IDF vectors (sublinear tf, English stop words removed) of a fixed set of texts, in memory."""

    def __init__(self, ids: Sequence[str], texts: Sequence[str]) -> None:
        """Fit the vocabulary on `texts`; `ids[i]` names `texts[i]`."""
        self.ids = list(ids)
        self._position = {name: i for i, name in enumerate(self.ids)}
        self._vectorizer: TfidfVectorizer | None = TfidfVectorizer(sublinear_tf=True, stop_words="english")
        try:
            self._matrix = self._vectorizer.fit_transform(texts)
        except ValueError:  # no texts, or nothing but stop words: no lexical signal at all
            self._vectorizer = None

    def __len__(self) -> int:
        """Number of indexed texts."""
        return len(self.ids)

    def __contains__(self, name: object) -> bool:
        """Whether `name` is one of the ids."""
        return name in self._position

    def position(self, name: str) -> int:
        """Index of `name` in `ids` (and in the array that `scores` returns)."""
        return self._position[name]

    def scores(self, query: str) -> np.ndarray:
        """Cosine similarity in [0, 1] between `query` and every text, in `ids` order."""
        if self._vectorizer is None:
            return np.zeros(len(self.ids), dtype=np.float64)
        query_vector = self._vectorizer.transform([query])
        return (self._matrix @ query_vector.T).toarray().ravel()
