"""ToolRetriever on real ChromaDB (in memory and on disk) with the real embedding model."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.retrieval.conftest import fn
from tinycrew.retrieval import IndexResult, ScoredTool, ToolRetriever, tool_schema_hash


class SchemaTool:
    """Duck-typed like tinycrew.tools.Tool."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema

    def openai_schema(self) -> dict[str, Any]:
        return {"type": "function", "function": self.schema}

    def schema_hash(self) -> str:
        return tool_schema_hash(self.schema)


@pytest.mark.parametrize("persistent", [False, True], ids=["memory", "disk"])
def test_finds_the_right_tool_among_distractors(
    tool_pool: list[dict[str, Any]], tool_requests: list[tuple[str, str]], tmp_path: Path, persistent: bool
) -> None:
    retriever = ToolRetriever(tmp_path / "chroma" if persistent else None)
    retriever.index(tool_pool)
    for request, expected in tool_requests:
        assert retriever.retrieve(request, k=1) == [expected], request
        assert expected in retriever.retrieve(request, k=3)


def test_embeddings_alone_also_find_it(
    tool_pool: list[dict[str, Any]], tool_requests: list[tuple[str, str]]
) -> None:
    retriever = ToolRetriever(None, lexical_weight=0.0)
    retriever.index(tool_pool)
    for request, expected in tool_requests:
        assert expected in retriever.retrieve(request, k=3), request


def test_scored_results_are_ranked_and_consistent(tool_pool: list[dict[str, Any]]) -> None:
    retriever = ToolRetriever(None)
    retriever.index(tool_pool)
    hits = retriever.retrieve_scored("Will it rain in Berlin tomorrow?", k=5)
    assert len(hits) == 5 and all(isinstance(h, ScoredTool) for h in hits)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= h.distance <= 2.0 for h in hits)
    assert hits[0].name == "weather.get_forecast"
    assert hits[0].distance < min(h.distance for h in hits[1:])
    assert [h.name for h in hits] == retriever.retrieve("Will it rain in Berlin tomorrow?", k=5)
    assert retriever.retrieve("anything", k=0) == []
    assert len(retriever.retrieve("anything", k=100)) == len(tool_pool)


def test_reindex_upserts_only_changed_tools(tool_pool: list[dict[str, Any]]) -> None:
    retriever = ToolRetriever(None)
    first = retriever.index(tool_pool)
    assert len(first.upserted) == len(tool_pool) and first.unchanged == []

    again = retriever.index(copy.deepcopy(tool_pool))
    assert again == IndexResult(upserted=[], unchanged=[t["name"] for t in tool_pool])

    changed = copy.deepcopy(tool_pool)
    changed[3]["description"] = "Exchange money: convert an amount from one currency into another."
    result = retriever.index(changed)
    assert result.upserted == ["convertCurrency"]
    assert len(result.unchanged) == len(tool_pool) - 1
    assert len(retriever) == len(tool_pool)


def test_new_description_is_what_gets_retrieved() -> None:
    retriever = ToolRetriever(None)
    tools = [
        {"name": "tool_a", "description": "Get the weather forecast for a city."},
        {"name": "tool_b", "description": "Send an email."},
    ]
    retriever.index(tools)
    assert retriever.retrieve("is it going to snow in Oslo", k=1) == ["tool_a"]
    tools[0] = {"name": "tool_a", "description": "Order a pizza for delivery."}
    tools[1] = {"name": "tool_b", "description": "Snow and rain forecast for any town."}
    assert len(retriever.index(tools).upserted) == 2
    assert retriever.retrieve("is it going to snow in Oslo", k=1) == ["tool_b"]


def test_index_persists_across_instances(tool_pool: list[dict[str, Any]], tmp_path: Path) -> None:
    store = tmp_path / "chroma"
    ToolRetriever(store, collection="mytools").index(tool_pool)

    reopened = ToolRetriever(store, collection="mytools")
    assert len(reopened) == len(tool_pool)
    assert sorted(reopened.names()) == sorted(t["name"] for t in tool_pool)
    assert reopened.retrieve("Will it rain in Berlin tomorrow?", k=1) == ["weather.get_forecast"]
    assert reopened.index(tool_pool).upserted == []
    assert len(ToolRetriever(store, collection="othertools")) == 0


def test_accepts_tool_objects_and_openai_dicts(tool_pool: list[dict[str, Any]]) -> None:
    retriever = ToolRetriever(None)
    mixed = [SchemaTool(t) if i % 2 else {"type": "function", "function": t} for i, t in enumerate(tool_pool)]
    assert len(retriever.index(mixed).upserted) == len(tool_pool)
    # the same schemas as plain inner dicts hash the same: nothing to do
    assert retriever.index(tool_pool).upserted == []
    assert retriever.retrieve("What is 10 factorial?", k=1) == ["math.factorial"]


def test_remove(tool_pool: list[dict[str, Any]]) -> None:
    retriever = ToolRetriever(None)
    retriever.index(tool_pool)
    retriever.remove(["weather.get_forecast", "no_such_tool"])
    assert len(retriever) == len(tool_pool) - 1
    assert "weather.get_forecast" not in retriever.retrieve("Will it rain in Berlin tomorrow?", k=5)
    assert retriever.index(tool_pool).upserted == ["weather.get_forecast"]


def test_conflicting_duplicate_names_are_refused(tool_pool: list[dict[str, Any]]) -> None:
    retriever = ToolRetriever(None)
    clash = {**tool_pool[0], "description": "something else"}
    with pytest.raises(ValueError, match="weather.get_forecast"):
        retriever.index([tool_pool[0], clash])
    assert retriever.index([tool_pool[0], copy.deepcopy(tool_pool[0])]).upserted == ["weather.get_forecast"]


def test_empty_index_and_bad_weight() -> None:
    retriever = ToolRetriever(None)
    assert retriever.retrieve("anything") == []
    assert retriever.index([]) == IndexResult()
    with pytest.raises(ValueError):
        ToolRetriever(None, lexical_weight=1.5)


def test_sees_tools_added_by_another_instance(tool_pool: list[dict[str, Any]], tmp_path: Path) -> None:
    first = ToolRetriever(tmp_path / "chroma")
    first.index(tool_pool)
    assert first.retrieve("Read the news headlines", k=1) != ["news.headlines"]
    second = ToolRetriever(tmp_path / "chroma")
    second.index([{"name": "news.headlines", "description": "Read today's top news headlines."}])
    assert first.retrieve("Read the news headlines", k=1) == ["news.headlines"]


def test_each_part_of_a_request_gets_its_tool(tool_pool: list[dict[str, Any]]) -> None:
    retriever = ToolRetriever(None)
    retriever.index(tool_pool)
    request = (
        "I am planning a trip. Book me a flight ticket from Paris to Rome, then send an email to Bob"
        " with the itinerary, and also start a countdown timer of 10 minutes."
    )
    hits = retriever.retrieve_scored(request, k=3)
    assert {h.name for h in hits} == {"flights.book", "send_email", "set_timer"}
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert len(retriever.retrieve(request, k=100)) == len(tool_pool)
    # parts switched off: a plain sort by the fused similarity to the whole request
    whole = ToolRetriever(None, part_baseline_rank=1)
    whole.index(tool_pool)
    plain = whole.retrieve_scored(request, k=len(tool_pool))
    assert [h.score for h in plain] == sorted((h.score for h in plain), reverse=True)
    assert plain[0].score <= hits[0].score  # a pick's score adds what it covers to that similarity


def test_a_tool_named_verbatim_comes_first(tool_pool: list[dict[str, Any]]) -> None:
    retriever = ToolRetriever(None)
    retriever.index([*tool_pool, fn("weather.now", "Current conditions.", place="Where")])
    assert retriever.retrieve("Will it rain in Berlin tomorrow?", k=1) == ["weather.get_forecast"]
    hits = retriever.retrieve_scored("Call weather.now: will it rain in Berlin tomorrow?", k=2)
    assert [h.name for h in hits] == ["weather.now", "weather.get_forecast"]
    assert hits[0].score >= 1.0 > hits[1].score
    parts = retriever.retrieve("Get Apple's share price. Then use set_timer for 5 minutes.", k=2)
    assert parts == ["set_timer", "get_stock_price"]


def test_changing_the_embedding_space_reembeds(
    tool_pool: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    retriever = ToolRetriever(None)
    monkeypatch.setenv("TINYCREW_EMBEDDING_BACKEND", "torch")
    assert len(retriever.index(tool_pool).upserted) == len(tool_pool)
    monkeypatch.setenv("TINYCREW_EMBEDDING_BACKEND", "onnx")  # same vectors as torch: nothing to do
    assert retriever.index(tool_pool).upserted == []
    monkeypatch.setenv("TINYCREW_EMBEDDING_BACKEND", "onnx-int8")
    assert len(retriever.index(tool_pool).upserted) == len(tool_pool)
    assert retriever.retrieve("What is 10 factorial?", k=1) == ["math.factorial"]


def test_bad_part_baseline_rank() -> None:
    with pytest.raises(ValueError, match="part_baseline_rank"):
        ToolRetriever(None, part_baseline_rank=0)


def test_a_similarity_floor_withholds_tools_from_a_request_about_none(
    tool_pool: list[dict[str, Any]],
) -> None:
    retriever = ToolRetriever(None)
    retriever.index(tool_pool)
    assert retriever.retrieve("Tell me a joke about penguins.", k=5, min_similarity=0.2) == []
    assert len(retriever.retrieve("Tell me a joke about penguins.", k=5)) == 5
    request = "Will it rain in Berlin tomorrow? Also email Bob that I am late."
    kept = retriever.retrieve(request, k=5, min_similarity=0.2)
    assert {"weather.get_forecast", "send_email"} <= set(kept)
    assert kept == retriever.retrieve(request, k=5)  # about some tool: the k best, whatever their own
    similarity = dict(zip(kept, retriever.similarities(request, kept), strict=True))
    assert min(similarity.values()) < 0.2 <= max(similarity.values())
    # a part counts: the email part alone is what send_email is about
    assert (
        similarity["send_email"]
        > retriever.similarities("Will it rain in Berlin tomorrow?", ["send_email"])[0]
    )
    with pytest.raises(ValueError, match="not indexed: 'nope'"):
        retriever.similarities(request, ["nope"])


def test_a_view_with_other_settings_shares_the_index(tool_pool: list[dict[str, Any]]) -> None:
    retriever = ToolRetriever(None)
    retriever.index(tool_pool)
    request = "Book me a flight ticket from Paris to Rome, then send an email to Bob with the itinerary."
    view = retriever.with_settings(lexical_weight=0.0, part_baseline_rank=1)
    reference = ToolRetriever(None, lexical_weight=0.0, part_baseline_rank=1)
    reference.index(tool_pool)
    got, expected = view.retrieve_scored(request, k=3), reference.retrieve_scored(request, k=3)
    assert [h.name for h in got] == [h.name for h in expected]
    assert [h.score for h in got] == pytest.approx([h.score for h in expected])
    assert [h.score for h in retriever.retrieve_scored(request, k=3)] != pytest.approx(
        [h.score for h in view.retrieve_scored(request, k=3)]
    )
    # a change made through the view is seen by the retriever it came from, though the size is the same
    view.index([{**tool_pool[0], "description": "Order a pizza for delivery."}])
    assert retriever.retrieve("Order a pizza for delivery tonight", k=1) == [tool_pool[0]["name"]]
    with pytest.raises(ValueError, match="lexical_weight"):
        retriever.with_settings(lexical_weight=2.0)
    with pytest.raises(ValueError, match="part_baseline_rank"):
        retriever.with_settings(part_baseline_rank=0)
