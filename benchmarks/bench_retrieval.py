"""Tool retrieval on BFCL: recall@1/3/5 per category and split, and query latency, for ~1000 tools.

Usage: python benchmarks/bench_retrieval.py [--bfcl ../shared/bfcl] [--json-out FILE] [--sweep]

Every distinct function (by name) of five BFCL files goes into one ToolRetriever; then each question
of the four categories with ground truth is a query, scored against the function names of its
ground-truth calls. Goals: overall recall@5 >= 0.95, p50 query latency <= 20 ms.

Recall is also given per split of `tinycrew.evals.bfcl_data.split_of`: the retriever's settings were
chosen on "train" only (`--sweep` reruns that choice and prints it), so "eval" is the fair figure.

The relevance floor (`tinycrew.graphs.state.MIN_TOOL_SIMILARITY`) is measured as agents use it, on
each question's own functions: per floor, the share of answerable questions that lose a ground-truth
function to it, and the share of irrelevance questions whose every function it withholds.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import tinycrew.retrieval.tools as tools_module  # noqa: E402
from tinycrew.evals.bfcl_data import split_of  # noqa: E402
from tinycrew.retrieval import (  # noqa: E402
    DEFAULT_LEXICAL_WEIGHT,
    PART_BASELINE_RANK,
    ToolRetriever,
    embed_queries,
    embedding_backend,
    split_request,
)

POOL_CATEGORIES = ["simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance"]
SCORED_CATEGORIES = ["simple_python", "multiple", "parallel", "parallel_multiple"]
KS = (1, 3, 5)
SWEEP_WEIGHTS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
SWEEP_RANKS = (5, 10, 20)
FLOORS = (0.1, 0.15, 0.2, 0.25, 0.3)

Question = tuple[str, str, list[str]]  # (id, user message, distinct ground-truth function names)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read a BFCL file: JSON Lines despite the .json extension."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def build_pool(bfcl: Path) -> list[dict[str, Any]]:
    """Every distinct function (first occurrence of each name) over the pool categories."""
    pool: dict[str, dict[str, Any]] = {}
    for category in POOL_CATEGORIES:
        for entry in read_jsonl(bfcl / f"BFCL_v4_{category}.json"):
            for function in entry["function"]:
                pool.setdefault(function["name"], function)
    return list(pool.values())


def question_text(entry: dict[str, Any]) -> str:
    """The user messages of a BFCL entry, joined."""
    return " ".join(m["content"] for m in entry["question"][0] if m["role"] == "user")


def load_questions(bfcl: Path, category: str) -> list[Question]:
    """(id, user message, distinct ground-truth function names) for each question of a category."""
    questions = read_jsonl(bfcl / f"BFCL_v4_{category}.json")
    answers = {a["id"]: a for a in read_jsonl(bfcl / "possible_answer" / f"BFCL_v4_{category}.json")}
    out = []
    for q in questions:
        text = question_text(q)
        names = list(dict.fromkeys(name for call in answers[q["id"]]["ground_truth"] for name in call))
        out.append((q["id"], text, names))
    return out


def floor_table(retriever: ToolRetriever, bfcl: Path, by_category: dict[str, list[Question]]) -> dict:
    """Per split and floor: share of answerable questions losing a needed function, and share of
    irrelevance questions left with no function."""
    needed = [
        (qid, min(retriever.similarities(text, truth)))
        for qs in by_category.values()
        for qid, text, truth in qs
    ]
    offered = [
        (q["id"], max(retriever.similarities(question_text(q), [f["name"] for f in q["function"]])))
        for q in read_jsonl(bfcl / "BFCL_v4_irrelevance.json")
    ]
    table: dict[str, dict[str, dict[str, float]]] = {}
    for split in ("train", "eval"):
        lowest = [value for qid, value in needed if split_of(qid) == split]
        best = [value for qid, value in offered if split_of(qid) == split]
        table[split] = {
            f"{floor:g}": {
                "answerable_losing_a_tool": round(sum(v < floor for v in lowest) / len(lowest), 4),
                "irrelevance_without_tools": round(sum(v < floor for v in best) / len(best), 4),
            }
            for floor in FLOORS
        }
    return table


def recalls(ranked: list[str], truth: list[str]) -> dict[int, float]:
    """Share of the ground-truth names among the first k retrieved, for each k of KS."""
    return {k: sum(name in ranked[:k] for name in truth) / len(truth) for k in KS}


@contextmanager
def memoized_query_embeddings() -> Iterator[None]:
    """Embed each distinct text once while sweeping settings: the settings do not change embeddings,
    and the sweep measures recall, not latency."""
    original = tools_module.embed_queries

    @functools.cache
    def cached(texts: tuple[str, ...]) -> Any:
        return original(list(texts))

    tools_module.embed_queries = lambda texts: cached(tuple(texts))  # type: ignore[assignment]
    try:
        yield
    finally:
        tools_module.embed_queries = original


def sweep(store: Path, questions: list[Question]) -> dict[str, Any]:
    """Train-split recall@5 for every (lexical_weight, part_baseline_rank) of the grid, and the best."""
    train = [q for q in questions if split_of(q[0]) == "train"]
    grid: dict[str, float] = {}
    with memoized_query_embeddings():
        for weight in SWEEP_WEIGHTS:
            for rank in (1, *SWEEP_RANKS):
                retriever = ToolRetriever(
                    store, collection="bfcl_tools", lexical_weight=weight, part_baseline_rank=rank
                )
                score = statistics.mean(recalls(retriever.retrieve(t, k=5), g)[5] for _, t, g in train)
                grid[f"w={weight} rank={rank}"] = round(score, 4)
    best = max(grid, key=lambda key: grid[key])  # first of equals, in grid order
    return {"train_questions": len(train), "train_recall@5": grid, "best": best}


def main() -> None:
    """Index the pool, run every query, print a table and a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bfcl", type=Path, default=REPO_ROOT.parent / "shared" / "bfcl")
    parser.add_argument("--json-out", type=Path, default=None, help="also write the JSON summary here")
    parser.add_argument("--sweep", action="store_true", help="also choose the settings on the train split")
    args = parser.parse_args()

    start = time.perf_counter()
    backend = embedding_backend()  # loads the model; on a fresh machine, exports it to ONNX first (once)
    backend_s = time.perf_counter() - start
    pool = build_pool(args.bfcl)
    by_category = {category: load_questions(args.bfcl, category) for category in SCORED_CATEGORIES}
    with tempfile.TemporaryDirectory(prefix="tinycrew-bench-") as tmp:
        store = Path(tmp) / "chroma"
        retriever = ToolRetriever(store, collection="bfcl_tools")
        start = time.perf_counter()
        result = retriever.index(pool)
        index_s = time.perf_counter() - start
        start = time.perf_counter()
        again = retriever.index(pool)
        reindex_s = time.perf_counter() - start
        retriever.retrieve("warm up. And then warm up again.", k=5)

        latencies_ms: list[float] = []
        embed_ms: list[float] = []
        groups: dict[str, list[dict[int, float]]] = {
            group: [] for group in (*SCORED_CATEGORIES, "overall", "split train", "split eval")
        }
        for category, questions in by_category.items():
            for qid, text, truth in questions:
                start = time.perf_counter()
                ranked = retriever.retrieve(text, k=max(KS))
                latencies_ms.append((time.perf_counter() - start) * 1000)
                parts = split_request(text)
                start = time.perf_counter()
                embed_queries([text, *parts] if len(parts) > 1 else [text])
                embed_ms.append((time.perf_counter() - start) * 1000)
                got = recalls(ranked, truth)
                for group in (category, "overall", f"split {split_of(qid)}"):
                    groups[group].append(got)
        load_after_queries = os.getloadavg()
        floors = floor_table(retriever, args.bfcl, by_category)
        chosen = sweep(store, [q for qs in by_category.values() for q in qs]) if args.sweep else None

    rows = {
        group: {"n": len(got), **{f"recall@{k}": statistics.mean(g[k] for g in got) for k in KS}}
        for group, got in groups.items()
    }
    latencies_ms.sort()
    embed_ms.sort()
    summary: dict[str, Any] = {
        "pool_size": len(pool),
        "embedding_backend": backend,
        "backend_ready_s": round(backend_s, 2),
        "lexical_weight": DEFAULT_LEXICAL_WEIGHT,
        "part_baseline_rank": PART_BASELINE_RANK,
        "index_s": round(index_s, 2),
        "upserted": len(result.upserted),
        "reindex_s": round(reindex_s, 2),
        "reindex_upserted": len(again.upserted),
        "latency_ms": {
            "p50": round(statistics.median(latencies_ms), 2),
            "p95": round(latencies_ms[int(0.95 * (len(latencies_ms) - 1))], 2),
        },
        "embed_query_ms": {
            "p50": round(statistics.median(embed_ms), 2),
            "p95": round(embed_ms[int(0.95 * (len(embed_ms) - 1))], 2),
        },
        "load_average_1m_5m": [round(x, 2) for x in load_after_queries[:2]],
        "cpus": os.cpu_count(),
        "recall": {c: {m: round(v, 4) for m, v in r.items()} for c, r in rows.items()},
        "relevance_floor": floors,
    }
    if chosen is not None:
        summary["sweep"] = chosen
    print(
        f"embedding backend: {backend}, ready in {backend_s:.1f} s; pool: {len(pool)} tools, indexed in"
        f" {index_s:.1f} s; re-index upserted {len(again.upserted)}"
    )
    print(f"{'group':<20}{'n':>6}{'R@1':>8}{'R@3':>8}{'R@5':>8}")
    for group, r in rows.items():
        print(f"{group:<20}{r['n']:>6}{r['recall@1']:>8.3f}{r['recall@3']:>8.3f}{r['recall@5']:>8.3f}")
    print(
        f"query latency: p50 {summary['latency_ms']['p50']} ms, p95 {summary['latency_ms']['p95']} ms"
        f" (of which embedding the request and its parts: p50 {summary['embed_query_ms']['p50']} ms,"
        f" p95 {summary['embed_query_ms']['p95']} ms; load average 1/5 min"
        f" {summary['load_average_1m_5m'][0]}/{summary['load_average_1m_5m'][1]} on {os.cpu_count()} CPUs)"
    )
    print("relevance floor: answerable questions losing a needed tool / irrelevance questions left with none")
    for split, rows_by_floor in floors.items():
        shown = ", ".join(
            f"{floor}: {r['answerable_losing_a_tool']:.3f}/{r['irrelevance_without_tools']:.3f}"
            for floor, r in rows_by_floor.items()
        )
        print(f"  {split:<6}{shown}")
    if chosen is not None:
        print(f"sweep on {chosen['train_questions']} train questions, recall@5:")
        for key, value in chosen["train_recall@5"].items():
            print(f"  {key:<20}{value:.4f}{'  <- best' if key == chosen['best'] else ''}")
    print(json.dumps(summary, indent=2))
    if args.json_out:
        args.json_out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
