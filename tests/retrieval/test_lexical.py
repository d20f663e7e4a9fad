"""TF-IDF scores of stored texts."""

from __future__ import annotations

import numpy as np

from tinycrew.retrieval import LexicalIndex
from tinycrew.retrieval.lexical import words


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
    only_stop_words = LexicalIndex(["x"], ["the and of - a ? 1"])
    assert only_stop_words.scores("the").tolist() == [0.0]


def test_words_split_identifiers_and_keep_verbs() -> None:
    assert words("recipeName, recipe_name and recipe.name") == ["recipe", "name"] * 3
    assert words("get_HTTPResponse x 42") == ["get", "http", "response", "42"]
    assert words("Find the interest of the bill") == ["find", "interest", "bill"]  # words tools do
    assert words("Café-Straße") == ["café", "straße"]
    index = LexicalIndex(["a", "b"], ["calculate_interest (calculate interest)", "weather forecast"])
    assert int(np.argmax(index.scores("What interest will I earn?"))) == index.position("a")
    assert int(np.argmax(index.scores("run calculateInterest"))) == index.position("a")


def test_mentioned_finds_code_like_names_only() -> None:
    index = LexicalIndex(
        ["derivative", "get_time", "math.hypot", "fetchData", "get-weather"],
        ["x y", "x y", "x y", "x y", "z"],
    )
    text = "Use 'math.hypot', then get_time, fetchData and get-weather; take the derivative. get_time again."
    assert index.mentioned(text) == [2, 1, 3, 4]
    assert index.mentioned("get_times and mymath.hypot and get_time_zone") == []
    assert LexicalIndex(["plain"], ["x y"]).mentioned("plain") == []


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
