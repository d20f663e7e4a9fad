"""TF-IDF scores of stored texts."""

from __future__ import annotations

import numpy as np

from tinycrew.retrieval import LexicalIndex


def test_shared_rare_words_score_highest() -> None:
    index = LexicalIndex(
        ["a", "b", "c"], ["population density of a country", "the weather", "sentiment of text"]
    )
    scores = index.scores("compute the density")
    assert scores.shape == (3,)
    assert int(np.argmax(scores)) == index.position("a")
    assert scores[index.position("b")] == 0.0
    assert "c" in index and "z" not in index
    assert len(index) == 3


def test_no_vocabulary_means_no_signal() -> None:
    assert LexicalIndex([], []).scores("anything").shape == (0,)
    only_stop_words = LexicalIndex(["x"], ["the and of"])
    assert only_stop_words.scores("the").tolist() == [0.0]


def test_scores_many_equals_sklearn_transform() -> None:
    texts = ["population density of a country", "the weather forecast", "sentiment of a text", "density"]
    index = LexicalIndex(["a", "b", "c", "d"], texts)
    queries = ["compute the density density", "weather and sentiment", "nothing known here", ""]
    vectorizer = index._vectorizer
    assert vectorizer is not None
    expected = (vectorizer.transform(queries) @ vectorizer.transform(texts).T).toarray()
    got = index.scores_many(queries)
    assert got.shape == (4, 4)
    assert np.allclose(got, expected, atol=1e-12)
    assert got[2].tolist() == [0.0] * 4
    assert np.array_equal(index.scores(queries[0]), got[0])
    assert index.scores_many([]).shape == (0, 4)
