"""Tool retrieval on BFCL: recall@1/3/5 per category and query latency for a pool of ~1000 tools.

Usage: python benchmarks/bench_retrieval.py [--bfcl ../shared/bfcl] [--json-out FILE]

Every distinct function (by name) of five BFCL files goes into one ToolRetriever; then each question
of the four categories with ground truth is a query, scored against the function names of its
ground-truth calls. Goals: overall recall@5 >= 0.95, p50 query latency <= 20 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tinycrew.retrieval import ToolRetriever, embed_query  # noqa: E402

POOL_CATEGORIES = ["simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance"]
SCORED_CATEGORIES = ["simple_python", "multiple", "parallel", "parallel_multiple"]
KS = (1, 3, 5)


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


def load_questions(bfcl: Path, category: str) -> list[tuple[str, list[str]]]:
    """(user message, distinct ground-truth function names) for each question of a category."""
    questions = read_jsonl(bfcl / f"BFCL_v4_{category}.json")
    answers = {a["id"]: a for a in read_jsonl(bfcl / "possible_answer" / f"BFCL_v4_{category}.json")}
    out = []
    for q in questions:
        text = " ".join(m["content"] for m in q["question"][0] if m["role"] == "user")
        names = list(dict.fromkeys(name for call in answers[q["id"]]["ground_truth"] for name in call))
        out.append((text, names))
    return out


def main() -> None:
    """Index the pool, run every query, print a table and a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bfcl", type=Path, default=REPO_ROOT.parent / "shared" / "bfcl")
    parser.add_argument("--json-out", type=Path, default=None, help="also write the JSON summary here")
    args = parser.parse_args()

    pool = build_pool(args.bfcl)
    with tempfile.TemporaryDirectory(prefix="tinycrew-bench-") as tmp:
        retriever = ToolRetriever(Path(tmp) / "chroma", collection="bfcl_tools")
        start = time.perf_counter()
        result = retriever.index(pool)
        index_s = time.perf_counter() - start
        start = time.perf_counter()
        again = retriever.index(pool)
        reindex_s = time.perf_counter() - start
        retriever.retrieve("warm up", k=5)

        latencies_ms: list[float] = []
        embed_ms: list[float] = []
        rows: dict[str, dict[str, float]] = {}
        all_recalls: dict[int, list[float]] = {k: [] for k in KS}
        for category in SCORED_CATEGORIES:
            recalls: dict[int, list[float]] = {k: [] for k in KS}
            questions = load_questions(args.bfcl, category)
            for text, truth in questions:
                start = time.perf_counter()
                ranked = retriever.retrieve(text, k=max(KS))
                latencies_ms.append((time.perf_counter() - start) * 1000)
                start = time.perf_counter()
                embed_query(text)
                embed_ms.append((time.perf_counter() - start) * 1000)
                for k in KS:
                    recall = sum(name in ranked[:k] for name in truth) / len(truth)
                    recalls[k].append(recall)
                    all_recalls[k].append(recall)
            rows[category] = {"n": len(questions), **{f"recall@{k}": statistics.mean(recalls[k]) for k in KS}}
        rows["overall"] = {
            "n": len(all_recalls[1]),
            **{f"recall@{k}": statistics.mean(all_recalls[k]) for k in KS},
        }

    latencies_ms.sort()
    summary = {
        "pool_size": len(pool),
        "index_s": round(index_s, 2),
        "upserted": len(result.upserted),
        "reindex_s": round(reindex_s, 2),
        "reindex_upserted": len(again.upserted),
        "latency_ms": {
            "p50": round(statistics.median(latencies_ms), 2),
            "p95": round(latencies_ms[int(0.95 * (len(latencies_ms) - 1))], 2),
        },
        "embed_query_ms": {"p50": round(statistics.median(embed_ms), 2)},
        "load_average_1m": round(os.getloadavg()[0], 2),
        "recall": {c: {m: round(v, 4) for m, v in r.items()} for c, r in rows.items()},
    }
    print(f"pool: {len(pool)} tools, indexed in {index_s:.1f} s; re-index upserted {len(again.upserted)}")
    print(f"{'category':<20}{'n':>6}{'R@1':>8}{'R@3':>8}{'R@5':>8}")
    for category, r in rows.items():
        print(f"{category:<20}{r['n']:>6}{r['recall@1']:>8.3f}{r['recall@3']:>8.3f}{r['recall@5']:>8.3f}")
    print(
        f"query latency: p50 {summary['latency_ms']['p50']} ms, p95 {summary['latency_ms']['p95']} ms"
        f" (of which embedding the query: p50 {summary['embed_query_ms']['p50']} ms;"
        f" 1-minute load average {summary['load_average_1m']} on {os.cpu_count()} CPUs)"
    )
    print(json.dumps(summary, indent=2))
    if args.json_out:
        args.json_out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
