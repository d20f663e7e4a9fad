"""How long `Recorder.record_step` takes on SQLite for realistic steps (goal: median < 2 ms).

Each run repeats a 2 KB system prompt and 5 tool schemas on every step and adds new user/assistant
turns, as the umi graph does. Every step is a committed transaction (WAL, synchronous=NORMAL).

    python benchmarks/bench_recording.py [--runs 50] [--steps 20] [--store PATH]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tinycrew.trajectories import Recorder, StepRecord, TrajectoryStore

ROLES = ("planner", "caller", "planner", "summarizer")


def tool_schemas() -> list[dict[str, Any]]:
    """Five OpenAI tool schemas of typical size."""
    return [
        {
            "type": "function",
            "function": {
                "name": f"tool_{i}",
                "description": f"Tool number {i}: " + "does something useful with its arguments. " * 4,
                "parameters": {
                    "type": "object",
                    "properties": {
                        "query": {"type": "string", "description": "what to look for"},
                        "limit": {"type": "integer", "description": "how many results", "default": 5},
                        "mode": {"type": "string", "enum": ["fast", "exact", "fuzzy"]},
                    },
                    "required": ["query"],
                },
            },
        }
        for i in range(5)
    ]


SYSTEM_PROMPT = ("You are the planner of a tool-using assistant. Decide the next step. " * 30)[:2048]


def run(store_url: str, runs: int, steps: int) -> list[float]:
    """Record `runs` runs of `steps` steps each; return each record_step's duration in seconds."""
    tools = tool_schemas()
    timings: list[float] = []
    with TrajectoryStore.open(store_url) as store:
        recorder = Recorder(store)
        for r in range(runs):
            run_id = f"bench-{r}"
            recorder.start_run(
                run_id, graph="umi", task=f"task number {r}", retrieved_tools=[f"tool_{i}" for i in range(5)]
            )
            history: list[dict[str, Any]] = [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": f"Task {r}: find the three best matches and summarise them."},
            ]
            for i in range(steps):
                output = f"Step {i} of run {r}: thinking about the observation and choosing what to do next."
                step = StepRecord(
                    run_id=run_id,
                    index=i,
                    role=ROLES[i % len(ROLES)],
                    model="qwen2.5-coder-0.5b-instruct-q4_k_m",
                    messages=list(history),
                    tools=tools,
                    raw_output=output,
                    parsed_call={"name": "tool_1", "arguments": {"query": f"q{i}"}},
                    observation=f"result {i}: " + "data " * 40,
                    prompt_tokens=900 + 40 * i,
                    completion_tokens=40,
                    latency_s=0.8,
                    confidence={"mean_logprob": -0.3},
                )
                start = time.perf_counter()
                recorder.record_step(step)
                timings.append(time.perf_counter() - start)
                history += [
                    {"role": "assistant", "content": output},
                    {"role": "user", "content": f"Observation {i}: " + "data " * 40},
                ]
            recorder.finish_run(run_id, answer="done", outcome="success")
        stats = store.stats()
    print(
        f"blobs: {stats.blobs}, {stats.blob_bytes} bytes for {stats.payload_bytes} bytes of payload "
        f"({stats.dedup_ratio:.1f}x dedup)"
    )
    return timings


def main() -> None:
    """Parse arguments, run the benchmark, print median and p95 in milliseconds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--store", help="SQLite file to write (default: a temporary directory)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.store or str(Path(tmp) / "bench.sqlite")
        timings = sorted(run(url, args.runs, args.steps))
    median = statistics.median(timings) * 1000
    p95 = timings[int(0.95 * (len(timings) - 1))] * 1000
    print(
        f"record_step on SQLite: {len(timings)} steps, median {median:.3f} ms, p95 {p95:.3f} ms "
        f"(goal: median < 2 ms) {'OK' if median < 2 else 'SLOW'}"
    )


if __name__ == "__main__":
    main()
