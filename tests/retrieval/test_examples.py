"""ExampleRetriever: similar solved examples, filtered by the tools available now."""

from __future__ import annotations

from pathlib import Path

from tinycrew.retrieval import Example, ExampleRetriever


def fill(retriever: ExampleRetriever) -> None:
    retriever.add("What's the weather in Rome?", "1. weather(city='Rome')", ["weather"])
    retriever.add(
        "Weather in Oslo, emailed to Ann",
        "1. weather(city='Oslo')\n2. send_email(to='Ann')",
        ["weather", "send_email"],
    )
    retriever.add("Forecast for Lisbon this weekend", "1. weather_pro(city='Lisbon')", ["weather_pro"])
    retriever.add("Play some jazz", "1. play_music(genre='jazz')", ["play_music"])


def test_retrieves_most_similar_first() -> None:
    retriever = ExampleRetriever(None)
    fill(retriever)
    hits = retriever.retrieve("what's the weather like in Paris", k=2)
    assert len(hits) == 2
    assert hits[0].query == "What's the weather in Rome?"
    assert hits[1].query in {"Weather in Oslo, emailed to Ann", "Forecast for Lisbon this weekend"}
    assert all(isinstance(h, Example) for h in hits)
    assert hits[0].distance <= hits[1].distance
    assert hits[0].plan == "1. weather(city='Rome')" and hits[0].tools == ("weather",)


def test_only_examples_whose_tools_are_all_allowed() -> None:
    retriever = ExampleRetriever(None)
    fill(retriever)
    hits = retriever.retrieve(
        "what's the weather like in Paris", k=4, allowed_tools={"weather", "play_music"}
    )
    assert {h.query for h in hits} == {"What's the weather in Rome?", "Play some jazz"}
    assert hits[0].query == "What's the weather in Rome?"
    assert retriever.retrieve("weather", k=3, allowed_tools=set()) == []
    assert len(retriever.retrieve("weather", k=3, allowed_tools=None)) == 3


def test_filter_reaches_past_the_first_candidates() -> None:
    retriever = ExampleRetriever(None)
    for i in range(40):
        retriever.add(f"Weather report number {i} for the city", f"weather #{i}", ["weather"])
    retriever.add("Play a song", "play_music()", ["play_music"])
    hits = retriever.retrieve("weather report for the city", k=1, allowed_tools={"play_music"})
    assert [h.query for h in hits] == ["Play a song"]


def test_same_example_twice_is_stored_once_and_persists(tmp_path: Path) -> None:
    retriever = ExampleRetriever(tmp_path / "chroma")
    first = retriever.add("Play some jazz", "play_music(genre='jazz')", ["play_music"])
    second = retriever.add("Play some jazz", "play_music(genre='jazz')", ["play_music"])
    assert first == second and len(retriever) == 1
    reopened = ExampleRetriever(tmp_path / "chroma")
    assert [h.id for h in reopened.retrieve("jazz please", k=5)] == [first]
    reopened.remove([first])
    assert len(reopened) == 0 and reopened.retrieve("jazz", k=2) == []
