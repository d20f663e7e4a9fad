"""Cost and quality of local/cloud switching on BFCL's eval split (issue 23), one command.

The default agent (crew) on the packaged 0.5B, with the packaged 1.5B behind llama.cpp's OpenAI-compatible
server on 127.0.0.1 as the "cloud". Runs, each entry once per run kind:

- local: no cloud.
- cloud: every step of every run on the cloud (`FixedRoute("cloud")`: the local roles' prompts, the
  cloud's answers), which is exactly what a routed run does.
- escalation at several `min_logprob` thresholds (step-level, AdaSwitch).

Derived without running anything again, since decoding is greedy and a routed run is the cloud run:

- routing at several target shares: a `QueryRouter` fitted on the local runs of train-split entries
  and calibrated on their requests; each eval entry takes the cloud run's result when routed there.
- cascade: the local run, or the cloud run when the local result fails `failed_check` (the local
  attempt's tokens still count).
- signals: the local run again with each step's signals recorded (logprobs asked, nothing acted on),
  on train and eval entries; calibrated cascade at each target share: `calibrate_cascade` sets the
  default policy's `min_logprob` so that the target share of the train runs would go to the cloud, and
  an eval entry takes the cloud run where `UnsureCheck` fails its signals run.
- agreement cascade (`AgreementCheck`): the compiler graph on the same 0.5B runs each eval entry too
  ("compiler" rows); where its calls differ from the signals run's, the entry takes the cloud run.
  Both runs' local work counts.
- cascade on unsure runs (`Agent(cascade=EscalationPolicy(min_logprob=t))`) at each threshold: the
  cloud run where the escalation run at t escalated a step or failed `failed_check`, else that run.
  Exact: up to its first escalated step an escalation run is the local run with the same signals, and
  one that escalated nothing is the local attempt itself. Local tokens count the escalation run's
  (an upper bound on the local attempt's).

Printed per kind: accuracy, share of model steps on the cloud, cloud tokens as a share of the cloud-only
run's, cost at the given prices, and the share of the local-to-cloud accuracy gap recovered; a PNG of
the cost-quality curve. Runs are appended to `--out/runs-<kind>.jsonl` and reused: a stopped benchmark
continues where it was.

Usage: python benchmarks/bench_switching.py [--per-category 30] [--train-per-category 20] [--out DIR]
       [--only KIND ...]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tinycrew.evals.bfcl_data import CATEGORIES, BfclEntry, NameMap, load_category, to_openai_tools
from tinycrew.evals.runner import MIN_TOP_K, current_commit, score_graph_calls, task_text
from tinycrew.graphs import Agent
from tinycrew.models import DEFAULT_MODEL, TEACHER_MODEL, ensure_local, load_model
from tinycrew.switching import (
    CloudConfig,
    EscalationDecision,
    EscalationPolicy,
    FixedRoute,
    QueryRouter,
    RoutingExample,
    calibrate_cascade,
    call_set,
    failed_check,
    unsure_step,
)
from tinycrew.tools import ToolRegistry, tool_from_schema

THRESHOLDS = (-3.0, -1.5)
COMMIT = current_commit()
"""Recorded on each row: a benchmark continued over several sessions can tell its rows apart."""
TARGETS = (0.1, 0.3, 0.5)
STEP_SIGNALS = ("min_logprob", "mean_logprob", "validation", "constraint", "repeat", "tool_error")
SIGNALS_ONLY = EscalationPolicy(
    min_logprob=-1e9, on_constraint=False, on_tool_error=False, on_validation=False, on_repeat=False
)
"""Asks for logprobs (a threshold is set) and fires on nothing: the local run with its signals."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def cloud_server(threads: int) -> Iterator[str]:
    """The packaged 1.5B behind llama-cpp-python's server on a free 127.0.0.1 port; its /v1 URL."""
    port = free_port()
    command = [
        sys.executable, "-m", "tinycrew.models.llama_server", "--model", str(ensure_local(TEACHER_MODEL)),
        "--model_alias", TEACHER_MODEL, "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "8192",
        "--n_threads", str(threads), "--n_threads_batch", str(threads),
    ]  # fmt: skip
    log = tempfile.NamedTemporaryFile(prefix="bench-switching-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the cloud server exited: {Path(log.name).read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the cloud server did not answer in 300 s")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def entries(split: str, per_category: int, root: Path | None, categories: list[str]) -> list[BfclEntry]:
    """The first `per_category` entries of each category in `split`."""
    return [entry for category in categories for entry in load_category(category, root, per_category, split)]


def agent_for(entry: BfclEntry, local: Any, kind: str, cloud: CloudConfig | None) -> tuple[Agent, NameMap]:
    names = NameMap()
    registry = ToolRegistry(tool_from_schema(schema) for schema in to_openai_tools(entry.functions, names))
    options: dict[str, Any] = {}
    if kind == "cloud":
        options = {"cloud": cloud, "router": FixedRoute("cloud")}
    elif kind.startswith("escalation"):
        threshold = float(kind.split("@")[1])
        options = {"cloud": cloud, "escalation": EscalationPolicy(min_logprob=threshold)}
    elif kind == "signals":  # the local run, each step's signals recorded (logprobs asked), none acted on
        options = {"cloud": cloud, "escalation": SIGNALS_ONLY}
    agent = Agent(
        registry, graph="compiler" if kind == "compiler" else "crew", models=local, checkpointer="memory",
        record=False, answer=False, top_k=max(MIN_TOP_K, len(registry)), **options,
    )  # fmt: skip
    return agent, names


def run_entry(entry: BfclEntry, local: Any, kind: str, cloud: CloudConfig | None) -> dict[str, Any]:
    """One entry in one run kind: scored, with steps, tokens and cost split local / cloud."""
    agent, names = agent_for(entry, local, kind, cloud)
    started = time.perf_counter()
    result = agent.run(task_text(entry))
    scored, _, _ = score_graph_calls(entry, result.calls, names)
    mine = result.usage.get(local.name, {})
    theirs = {} if cloud is None else result.usage.get(cloud.model, {})
    return {
        "id": entry.id,
        "ok": scored.ok,
        "check": failed_check(result),
        "local_calls": int(mine.get("calls", 0)),
        "local_tokens": int(mine.get("prompt_tokens", 0) + mine.get("completion_tokens", 0)),
        "cloud_calls": int(theirs.get("calls", 0)),
        "cloud_tokens": int(theirs.get("prompt_tokens", 0) + theirs.get("completion_tokens", 0)),
        "cost_usd": float(result.cost_usd),
        "seconds": time.perf_counter() - started,
        "commit": COMMIT,
        "calls": call_set(result.calls),
        "steps": [
            {"role": d.role, "escalated": d.escalated, **{k: d.signals.get(k) for k in STEP_SIGNALS}}
            for d in result.escalations
        ],
    }


def rows_of(kind: str, out: Path) -> dict[str, dict[str, Any]]:
    """The rows already in out/runs-<kind>.jsonl, by entry id."""
    path = out / f"runs-{kind}.jsonl"
    done: dict[str, dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                done[row["id"]] = row
    return done


def run_kind(
    kind: str, todo: list[BfclEntry], local: Any, cloud: CloudConfig | None, out: Path
) -> dict[str, dict[str, Any]]:
    """Every entry of `todo` in run kind `kind`, reusing the lines already in out/runs-<kind>.jsonl."""
    path = out / f"runs-{kind}.jsonl"
    done = rows_of(kind, out)
    with path.open("a", encoding="utf-8") as handle:
        for index, entry in enumerate(todo, start=1):
            if entry.id in done:
                continue
            row = run_entry(entry, local, kind, cloud)
            done[entry.id] = row
            handle.write(json.dumps(row) + "\n")
            handle.flush()
            print(
                f"{kind:<18} {index:>3}/{len(todo)} {entry.id:<26} ok={row['ok']!s:<5} {row['seconds']:.1f} s"
            )
    return {entry.id: done[entry.id] for entry in todo}


def decisions(row: dict[str, Any]) -> list[EscalationDecision]:
    """A row's recorded steps as the escalation decisions they were."""
    return [
        EscalationDecision(
            step=index,
            role=step["role"],
            local_model="local",
            cloud_model="cloud",
            escalated=step["escalated"],
            signals={name: step[name] for name in STEP_SIGNALS if step.get(name) is not None},
        )  # fmt: skip
        for index, step in enumerate(row["steps"])
    ]


def summary(name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    steps = sum(row["local_calls"] + row["cloud_calls"] for row in rows)
    return {
        "kind": name,
        "accuracy": sum(row["ok"] for row in rows) / len(rows),
        "cloud_step_share": sum(row["cloud_calls"] for row in rows) / steps if steps else 0.0,
        "cloud_tokens": sum(row["cloud_tokens"] for row in rows),
        "cost_usd": sum(row["cost_usd"] for row in rows),
    }


def combined(local: dict[str, Any], cloud: dict[str, Any], keep_local_cost: bool) -> dict[str, Any]:
    """A row that took the cloud run's result; with `keep_local_cost` the local attempt was paid too."""
    row = dict(cloud)
    if keep_local_cost:
        row["local_calls"] = local["local_calls"] + cloud["local_calls"]
        row["local_tokens"] = local["local_tokens"] + cloud["local_tokens"]
    return row


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for row in rows:
        axes.scatter(row["cloud_token_share"] * 100, row["accuracy"] * 100)
        axes.annotate(row["kind"], (row["cloud_token_share"] * 100, row["accuracy"] * 100), fontsize=8)
    local, cloud = rows[0]["accuracy"] * 100, rows[1]["accuracy"] * 100
    axes.axvline(30, color="grey", linestyle="--", linewidth=0.8)
    goal = local + 0.9 * (cloud - local)
    axes.axhline(goal, color="grey", linestyle="--", linewidth=0.8)
    axes.annotate("goal: up-left of both lines", (31, goal), fontsize=7, color="grey")
    axes.set_xlabel("cloud tokens, % of cloud-only")
    axes.set_ylabel("BFCL eval-split accuracy, %")
    axes.set_title("Local 0.5B + cloud 1.5B: cost and quality (crew graph)")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-category", type=int, default=30, help="eval-split entries per category")
    parser.add_argument("--train-per-category", type=int, default=20, help="train entries to fit the router")
    parser.add_argument("--bfcl", type=Path, default=None, help="BFCL data folder (default ../shared/bfcl)")
    parser.add_argument("--category", action="append", choices=CATEGORIES, help="default: all five")
    parser.add_argument("--out", type=Path, default=Path("results/switching"))
    parser.add_argument("--price-in", type=float, default=0.15, help="cloud USD per 1M prompt tokens")
    parser.add_argument("--price-out", type=float, default=0.60, help="cloud USD per 1M completion tokens")
    parser.add_argument(
        "--only", action="append", metavar="KIND",
        help="run only these kinds (local, cloud, escalation@-3, signals, compiler, ...), say in a second "
        "process beside a running one; the summary needs every kind's rows",
    )  # fmt: skip
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    threads = int(os.environ.get("TINYCREW_THREADS", "0")) or len(os.sched_getaffinity(0))

    categories = args.category or list(CATEGORIES)
    evals = entries("eval", args.per_category, args.bfcl, categories)
    train = entries("train", args.train_per_category, args.bfcl, categories)
    local = load_model(DEFAULT_MODEL)
    with cloud_server(threads) as url:
        cloud = CloudConfig(
            base_url=url, model=TEACHER_MODEL, dialect="llama.cpp", timeout=600.0,
            input_price_per_m=args.price_in, output_price_per_m=args.price_out,
        )  # fmt: skip
        kinds: list[tuple[str, list[BfclEntry], CloudConfig | None]] = [
            ("local", train + evals, None),
            ("cloud", evals, cloud),
            *((f"escalation@{threshold:g}", evals, cloud) for threshold in THRESHOLDS),
            ("signals", train + evals, cloud),
            ("compiler", evals, None),
        ]
        runs = {}
        for kind, todo, remote in kinds:
            if not args.only or kind in args.only:
                runs[kind] = run_kind(kind, todo, local, remote, args.out)
            else:
                done = rows_of(kind, args.out)
                runs[kind] = {entry.id: done[entry.id] for entry in todo if entry.id in done}
    missing = {kind: len(todo) - len(runs[kind]) for kind, todo, _ in kinds if len(runs[kind]) < len(todo)}
    if missing:
        print(f"no summary yet: rows missing {missing}")
        return

    ids = [entry.id for entry in evals]
    table = [
        summary("local", [runs["local"][i] for i in ids]),
        summary("cloud", [runs["cloud"][i] for i in ids]),
    ]
    table += [summary(kind, [runs[kind][i] for i in ids]) for kind in runs if kind.startswith("escalation")]

    router = QueryRouter.fit([RoutingExample(task_text(e), runs["local"][e.id]["ok"]) for e in train])
    for target in TARGETS:
        router.calibrate(None, target)  # on its own train requests, each scored without itself
        rows = [
            runs["cloud"][e.id] if router.decide(task_text(e)).route == "cloud" else runs["local"][e.id]
            for e in evals
        ]
        table.append(summary(f"routing@{target:g}", rows))
        share = router.cloud_share_of([task_text(entry) for entry in evals])
        print(f"routing@{target:g}: sends {share:.0%} of the eval requests")
    cascade = [
        combined(runs["local"][i], runs["cloud"][i], True) if runs["local"][i]["check"] else runs["local"][i]
        for i in ids
    ]
    table.append(summary("cascade", cascade))
    for threshold in THRESHOLDS:
        escalated = runs[f"escalation@{threshold:g}"]
        unsure = [
            combined(escalated[i], runs["cloud"][i], True)
            if escalated[i]["cloud_calls"] or escalated[i]["check"]
            else escalated[i]
            for i in ids
        ]
        table.append(summary(f"unsure-cascade@{threshold:g}", unsure))
    signals = runs["signals"]
    for target in TARGETS:
        policy = calibrate_cascade(EscalationPolicy(), [decisions(signals[e.id]) for e in train], target)
        sent = [i for i in ids if signals[i]["check"] or unsure_step(decisions(signals[i]), policy)]
        rows = [combined(signals[i], runs["cloud"][i], True) if i in sent else signals[i] for i in ids]
        table.append(summary(f"calibrated-cascade@{target:g}", rows))
        print(f"calibrated-cascade@{target:g}: min_logprob {policy.min_logprob}, sent {len(sent)}/{len(ids)}")

    compiler = runs["compiler"]
    sent = [i for i in ids if signals[i]["check"] or signals[i]["calls"] != compiler[i]["calls"]]
    rows = []
    for i in ids:  # the second opinion's local work is paid on every entry
        row = combined(signals[i], runs["cloud"][i], True) if i in sent else dict(signals[i])
        row["local_calls"] += compiler[i]["local_calls"]
        row["local_tokens"] += compiler[i]["local_tokens"]
        rows.append(row)
    table.append(summary("agreement-cascade", rows))
    print(f"agreement-cascade: the crew and compiler graphs disagree on {len(sent)}/{len(ids)}")

    local_acc, cloud_acc = table[0]["accuracy"], table[1]["accuracy"]
    cloud_tokens = table[1]["cloud_tokens"] or 1
    print(f"\nBFCL eval split, {len(ids)} entries ({args.per_category} per category); router fitted on "
          f"{len(train)} train entries (local failure rate {router.local_failure_rate:.1%})")  # fmt: skip
    commits = sorted({row.get("commit") or "unrecorded" for kind in runs.values() for row in kind.values()})
    print(f"rows from commit(s): {', '.join(commits)}")
    print(f"{'kind':<24} {'accuracy':>8} {'cloud steps':>11} {'cloud tokens':>12} {'cost $':>9} {'gap':>6}")
    for row in table:
        row["cloud_token_share"] = row["cloud_tokens"] / cloud_tokens
        gap = (row["accuracy"] - local_acc) / (cloud_acc - local_acc) if cloud_acc != local_acc else 0.0
        row["gap_recovered"] = gap
        print(
            f"{row['kind']:<24} {row['accuracy']:>8.1%} {row['cloud_step_share']:>11.1%} "
            f"{row['cloud_token_share']:>12.1%} {row['cost_usd']:>9.4f} {gap:>6.0%}"
        )
    plot(table, args.out / "switching_cost_quality.png")
    (args.out / "summary.json").write_text(json.dumps(table, indent=1), encoding="utf-8")
    print(f"plot: {args.out / 'switching_cost_quality.png'}")
    print(json.dumps({"bench": "switching", "rows": table}))


if __name__ == "__main__":
    main()
