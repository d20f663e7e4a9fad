"""Splitting a request into its parts (sentences and request clauses)."""

from __future__ import annotations

import pytest

from tinycrew.retrieval import split_request
from tinycrew.retrieval.intents import MAX_PARTS


def test_one_part_comes_back_whole() -> None:
    assert split_request("  What is 10 factorial?  ") == ["What is 10 factorial?"]
    assert split_request("Find the area of a circle with radius 2.5 m.") == [
        "Find the area of a circle with radius 2.5 m."
    ]
    assert split_request("") == [""]


def test_sentences_and_request_clauses_become_parts() -> None:
    text = (
        "Find the sum of all multiples of 3 and 5 below 1000. Also find the product of the first five"
        " primes, then convert 5 km to miles and also tell me the time in Tokyo"
    )
    assert split_request(text) == [
        "Find the sum of all multiples of 3 and 5 below 1000.",
        "Also find the product of the first five primes",
        "convert 5 km to miles",
        "tell me the time in Tokyo",
    ]


def test_quotes_and_short_pieces_are_absorbed() -> None:
    text = '"Could you help? 1. What is the GCD of 96 and 128? 2. And the LCM of 15 and 25?"'
    # "Could you help?" (3 words) stays; "1." and "2." join their neighbours
    assert split_request(text) == [
        "Could you help? 1.",
        "What is the GCD of 96 and 128? 2.",
        "And the LCM of 15 and 25?",
    ]


def test_an_and_inside_one_request_does_not_split() -> None:
    text = "Get the temperature and humidity forecast for Boston and Rome for the next 10 days."
    assert split_request(text) == [text]


def test_parts_are_capped() -> None:
    text = " ".join(f"Sentence number {i} asks something." for i in range(12))
    parts = split_request(text)
    assert len(parts) == MAX_PARTS
    assert parts[-1].startswith("Sentence number 7") and parts[-1].endswith("number 11 asks something.")
    assert len(split_request(text, max_parts=2)) == 2
    assert split_request(text, max_parts=1) == [text]
    with pytest.raises(ValueError):
        split_request(text, max_parts=0)
