"""Tool retrieval on BFCL: recall@1/3/5 per category and split, and query latency, for ~1000 tools.

Usage: python benchmarks/bench_retrieval.py [--bfcl ../shared/bfcl] [--json-out FILE] [--sweep]

Every distinct function name of five BFCL files (982) goes into one ToolRetriever; then each question
of the four categories with ground truth is a query, scored against the function names of its
ground-truth calls. Goals: overall recall@5 >= 0.95, p50 query latency <= 20 ms.

BFCL reuses names for different functions (six `calculate_distance`s: between GPS coordinates, between
celestial bodies, ...), and a retriever holds one schema per name. So each question is asked of the
pool as it would be for that question: one schema per name, the question's own functions in place of
their namesakes (`QuestionPools`); otherwise a question about population density is scored on finding
a `calculate_density` that computes mass over volume. Latency, and for comparison recall, are also
measured on the pool with each name's first schema, and embedding is timed on one ONNX thread and on
`onnx_threads()` side by side.

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
from typing import Any, NamedTuple

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
from tinycrew.retrieval.embedding import onnx_threads  # noqa: E402
from tinycrew.retrieval.onnx_backend import OnnxEncoder, onnx_model_path  # noqa: E402

POOL_CATEGORIES = ["simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance"]
SCORED_CATEGORIES = ["simple_python", "multiple", "parallel", "parallel_multiple"]
KS = (1, 3, 5)
SWEEP_WEIGHTS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
SWEEP_RANKS = (5, 10, 20)
FLOORS = (0.1, 0.15, 0.2, 0.25, 0.3)


class Question(NamedTuple):
    """A BFCL question: its id, user message, distinct ground-truth names and offered functions."""

    id: str
    text: str
    truth: list[str]
    functions: list[dict[str, Any]]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read a BFCL file: JSON Lines despite the .json extension."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def build_pool(bfcl: Path) -> list[dict[str, Any]]:
    """Every distinct function name over the pool categories, with its first schema."""
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
    """The questions of a category; ground truth from possible_answer (none for irrelevance)."""
    questions = read_jsonl(bfcl / f"BFCL_v4_{category}.json")
    answer_file = bfcl / "possible_answer" / f"BFCL_v4_{category}.json"
    answers = {a["id"]: a["ground_truth"] for a in read_jsonl(answer_file)} if answer_file.exists() else {}
    return [
        Question(
            q["id"],
            question_text(q),
            list(dict.fromkeys(name for call in answers.get(q["id"], []) for name in call)),
            q["function"],
        )
        for q in questions
    ]


class QuestionPools:
    """Shows the retriever's pool as one question sees it: each name once, with the question's own
    functions in place of the namesakes the pool holds. `show` re-indexes only what differs from the
    pool (or from the previous question's view), so most questions cost one metadata read."""

    def __init__(self, retriever: ToolRetriever, pool: list[dict[str, Any]]) -> None:
        """`pool` is what `retriever` holds now: one function per name."""
        self.retriever = retriever
        self._pool = {function["name"]: function for function in pool}
        self._shown: set[str] = set()

    def show(self, functions: list[dict[str, Any]]) -> None:
        """Put `functions` in place of their namesakes, and back what the last call replaced."""
        names = {function["name"] for function in functions}
        restored = [self._pool[name] for name in sorted(self._shown - names)]
        self.retriever.index([*restored, *functions])
        self._shown = names

    def differs(self, question: Question) -> bool:
        """Whether a function of `question` is not the pool's schema of its name."""
        return any(function != self._pool[function["name"]] for function in question.functions)


def floor_table(pools: QuestionPools, needed: list[tuple[str, float]], bfcl: Path) -> dict:
    """Per split and floor: share of answerable questions losing a needed function (`needed`: each
    question's lowest similarity to its ground-truth functions), and share of irrelevance questions
    left with no function, each asked of its own functions."""
    retriever = pools.retriever
    offered = []
    for q in load_questions(bfcl, "irrelevance"):
        pools.show(q.functions)
        offered.append((q.id, max(retriever.similarities(q.text, [f["name"] for f in q.functions]))))
    pools.show([])
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


def sweep(pools: QuestionPools, questions: list[Question]) -> dict[str, Any]:
    """Train-split recall@5 for every (lexical_weight, part_baseline_rank) of the grid, and the best.

    Every setting is a `with_settings` view of one retriever, so each question's pool is shown once.
    """
    train = [q for q in questions if split_of(q.id) == "train"]
    retriever = pools.retriever
    views = {
        f"w={weight} rank={rank}": retriever.with_settings(lexical_weight=weight, part_baseline_rank=rank)
        for weight in SWEEP_WEIGHTS
        for rank in (1, *SWEEP_RANKS)
    }
    got: dict[str, list[float]] = {key: [] for key in views}
    with memoized_query_embeddings():
        for q in train:
            pools.show(q.functions)
            for key, view in views.items():
                got[key].append(recalls(view.retrieve(q.text, k=5), q.truth)[5])
    pools.show([])
    grid = {key: round(statistics.mean(values), 4) for key, values in got.items()}
    best = max(grid, key=lambda key: grid[key])  # first of equals, in grid order
    return {"train_questions": len(train), "train_recall@5": grid, "best": best}


def request_texts(text: str) -> list[str]:
    """What a query embeds, as `ToolRetriever` does: the request alone, or the request and its parts."""
    parts = split_request(text)
    return [text, *parts] if len(parts) > 1 else [text]


def percentiles(values_ms: list[float]) -> dict[str, float]:
    """p50 and p95 of a list of milliseconds."""
    ordered = sorted(values_ms)
    return {
        "p50": round(statistics.median(ordered), 2),
        "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
    }


def thread_comparison(backend: str, questions: list[Question]) -> dict[str, Any] | None:
    """Embedding the request and its parts on one ONNX thread and on `onnx_threads()`, the two
    alternating question by question in one run, so load changes hit both alike (None on torch)."""
    if backend == "torch":
        return None
    path = onnx_model_path(int8=backend == "onnx-int8")
    encoders = {n: OnnxEncoder(path, threads=n, max_batch=1) for n in dict.fromkeys((1, onnx_threads()))}
    times: dict[int, list[float]] = {n: [] for n in encoders}
    for q in questions:
        texts = request_texts(q.text)
        for n, encoder in encoders.items():
            start = time.perf_counter()
            encoder.encode(texts)
            times[n].append((time.perf_counter() - start) * 1000)
    measured = {f"threads={n}": percentiles(values) for n, values in times.items()}
    one, chosen = measured["threads=1"]["p50"], measured[f"threads={onnx_threads()}"]["p50"]
    return {**measured, "p50_ratio_chosen_to_one": round(chosen / one, 3)}


def recall_rows(per_question: list[tuple[Question, str, dict[int, float]]]) -> dict[str, dict[str, float]]:
    """Mean recall@k per category, overall and per split, from (question, category, recalls)."""
    groups: dict[str, list[dict[int, float]]] = {
        group: [] for group in (*SCORED_CATEGORIES, "overall", "split train", "split eval")
    }
    for q, category, got in per_question:
        for group in (category, "overall", f"split {split_of(q.id)}"):
            groups[group].append(got)
    return {
        group: {"n": len(got), **{f"recall@{k}": statistics.mean(g[k] for g in got) for k in KS}}
        for group, got in groups.items()
    }


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
        first_schema: list[tuple[Question, str, dict[int, float]]] = []
        for category, questions in by_category.items():
            for q in questions:
                start = time.perf_counter()
                ranked = retriever.retrieve(q.text, k=max(KS))
                latencies_ms.append((time.perf_counter() - start) * 1000)
                texts = request_texts(q.text)
                start = time.perf_counter()
                embed_queries(texts)
                embed_ms.append((time.perf_counter() - start) * 1000)
                first_schema.append((q, category, recalls(ranked, q.truth)))
        load_after_queries = os.getloadavg()
        threads = thread_comparison(backend, [q for qs in by_category.values() for q in qs])

        pools = QuestionPools(retriever, pool)
        own: list[tuple[Question, str, dict[int, float]]] = []
        needed: list[tuple[str, float]] = []
        for category, questions in by_category.items():
            for q in questions:
                pools.show(q.functions)
                own.append((q, category, recalls(retriever.retrieve(q.text, k=max(KS)), q.truth)))
                needed.append((q.id, min(retriever.similarities(q.text, q.truth))))
        pools.show([])
        answerable = [q for qs in by_category.values() for q in qs]
        floors = floor_table(pools, needed, args.bfcl)
        chosen = sweep(pools, answerable) if args.sweep else None

    rows = recall_rows(own)
    first_rows = recall_rows(first_schema)
    summary: dict[str, Any] = {
        "pool_size": len(pool),
        "questions_with_own_schemas": sum(pools.differs(q) for q in answerable),
        "embedding_backend": backend,
        "backend_ready_s": round(backend_s, 2),
        "lexical_weight": DEFAULT_LEXICAL_WEIGHT,
        "part_baseline_rank": PART_BASELINE_RANK,
        "index_s": round(index_s, 2),
        "upserted": len(result.upserted),
        "reindex_s": round(reindex_s, 2),
        "reindex_upserted": len(again.upserted),
        "latency_ms": percentiles(latencies_ms),
        "embed_query_ms": percentiles(embed_ms),
        "onnx_threads": onnx_threads(),
        "embed_by_threads_ms": threads,
        "load_average_1m_5m": [round(x, 2) for x in load_after_queries[:2]],
        "cpus": os.cpu_count(),
        "recall": {c: {m: round(v, 4) for m, v in r.items()} for c, r in rows.items()},
        "recall_first_schema_pool": {
            c: {m: round(v, 4) for m, v in r.items()} for c, r in first_rows.items()
        },
        "relevance_floor": floors,
    }
    if chosen is not None:
        summary["sweep"] = chosen
    print(
        f"embedding backend: {backend}, ready in {backend_s:.1f} s; pool: {len(pool)} tools, indexed in"
        f" {index_s:.1f} s; re-index upserted {len(again.upserted)}"
    )
    print(
        f"recall, each question asked of the pool with its own functions"
        f" ({summary['questions_with_own_schemas']} questions have a function unlike the pool's namesake;"
        f" R@5 in brackets: on the pool of first schemas)"
    )
    print(f"{'group':<20}{'n':>6}{'R@1':>8}{'R@3':>8}{'R@5':>8}{'(first)':>10}")
    for group, r in rows.items():
        print(
            f"{group:<20}{r['n']:>6}{r['recall@1']:>8.3f}{r['recall@3']:>8.3f}{r['recall@5']:>8.3f}"
            f"{'(' + format(first_rows[group]['recall@5'], '.3f') + ')':>10}"
        )
    print(
        f"query latency: p50 {summary['latency_ms']['p50']} ms, p95 {summary['latency_ms']['p95']} ms"
        f" (of which embedding the request and its parts: p50 {summary['embed_query_ms']['p50']} ms,"
        f" p95 {summary['embed_query_ms']['p95']} ms; load average 1/5 min"
        f" {summary['load_average_1m_5m'][0]}/{summary['load_average_1m_5m'][1]} on {os.cpu_count()} CPUs)"
    )
    if threads is not None:
        print(
            "embedding the request and its parts, side by side: "
            + ", ".join(
                f"{key} p50 {value['p50']} ms"
                for key, value in threads.items()
                if key != "p50_ratio_chosen_to_one"
            )
            + f"; ratio {threads['p50_ratio_chosen_to_one']}"
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
