"""BFCL through the service: tool-call accuracy of `tinycrew serve` (official `openai` client) next to
the same model in process, on the same entries of BFCL's eval split.

Each entry's functions become OpenAI tools (`tinycrew.evals.to_openai_tools`), its messages go as they
are, with tool_choice "auto" and temperature 0; the calls the service returns in `tool_calls` are
scored by the project's AST scorer (`tinycrew.evals.bfcl_scorer.score_entry`), exactly as the runner's
`native` mode scores the in-process model's calls. The in-process modes (`--modes`, default `native`)
run through `tinycrew.evals.runner.run_entry` on the same entries afterwards, one phase after the
other (never both on the CPU at once). The data is read where it lies (`../shared/bfcl` or
`$TINYCREW_BFCL`); nothing is copied.

    python benchmarks/bench_service_bfcl.py [--limit 10 | --limit 0 (the whole eval split)]
        [--categories simple_python multiple ...]
        [--modes native prompt] [--url http://127.0.0.1:8000/v1] [--threads 1] [--out FILE]

Without `--url` it starts `tinycrew serve` on a free 127.0.0.1 port with the packaged 0.5B (and stops
it); with `--url` it uses that server (`--model` names what it serves). "Within noise" is a paired
bootstrap (`tinycrew.evals.bootstrap.paired_bootstrap`) of service minus each in-process mode over the
same entries: an interval that holds 0, or lies above it, says the service loses nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import openai
from bench_service import Server, free_port  # benchmarks/ is on sys.path when run as a script

from tinycrew.evals.bfcl_data import CATEGORIES, BfclEntry, NameMap, load_category, to_openai_tools
from tinycrew.evals.bfcl_scorer import DecodeError, calls_from_tool_calls, score_entry
from tinycrew.evals.bootstrap import paired_bootstrap
from tinycrew.evals.runner import run_entry
from tinycrew.models import DEFAULT_MODEL


def via_service(client: openai.OpenAI, model: str, entry: BfclEntry, max_tokens: int) -> dict[str, Any]:
    """One entry through the service, scored; the calls are taken from `tool_calls` only."""
    names = NameMap()
    tools = to_openai_tools(entry.functions, names)
    started = time.perf_counter()
    try:
        reply = client.chat.completions.create(
            model=model,
            messages=entry.messages,  # type: ignore[arg-type]
            tools=tools,  # type: ignore[arg-type]
            tool_choice="auto",
            temperature=0.0,
            max_tokens=max_tokens,
        )
    except openai.APIStatusError as error:  # e.g. a 400 for a prompt over the context window
        reason = f"error: {error.status_code} {error.message}"[:300]
        return {"id": entry.id, "ok": False, "reason": reason, "seconds": time.perf_counter() - started}
    message = reply.choices[0].message
    pairs = [(call.function.name, call.function.arguments) for call in message.tool_calls or []]
    try:
        calls = calls_from_tool_calls(pairs, names)
        scored = score_entry(entry, calls)
    except DecodeError as error:
        scored = score_entry(entry, None, str(error))
    return {
        "id": entry.id,
        "ok": scored.ok,
        "reason": scored.reason,
        "seconds": time.perf_counter() - started,
        "finish_reason": reply.choices[0].finish_reason,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=10, help="eval-split entries per category; 0: all")
    parser.add_argument("--categories", nargs="+", default=list(CATEGORIES), choices=CATEGORIES)
    parser.add_argument("--modes", nargs="+", default=["native"], help="in-process modes to compare with")
    parser.add_argument("--url", help="an already running service (.../v1); default: start one")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--max-tokens", type=int, default=512)
    parser.add_argument("--threads", type=int, default=int(os.environ.get("TINYCREW_THREADS", "1")))
    parser.add_argument("--root", help="the BFCL folder (default ../shared/bfcl or $TINYCREW_BFCL)")
    parser.add_argument("--out", type=Path, help="write every entry's result here (JSON)")
    args = parser.parse_args()
    os.environ["TINYCREW_THREADS"] = str(args.threads)

    limit = args.limit or None
    data = {c: load_category(c, args.root, limit=limit, split="eval") for c in args.categories}
    results: dict[str, dict[str, list[dict[str, Any]]]] = {"service": {}}

    server = None
    if args.url is None:
        port = free_port()
        tinycrew = Path(sys.executable).with_name("tinycrew")
        command = [str(tinycrew), "serve", "--port", str(port), "--rate-limit", "0", "--log-level", "warning"]
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        server = Server("tinycrew", command, "/readyz", env, port, args.model)
        print(f"starting tinycrew serve on 127.0.0.1:{port} ...", flush=True)
        server.start()
    base_url = args.url or (server.base_url if server else "")
    try:
        client = openai.OpenAI(base_url=base_url, api_key="bench", max_retries=0, timeout=600)
        for category, entries in data.items():
            results["service"][category] = [
                via_service(client, args.model, e, args.max_tokens) for e in entries
            ]
            ok = sum(r["ok"] for r in results["service"][category])
            print(f"service   {category:<18} {ok}/{len(entries)}", flush=True)
    finally:
        if server is not None:
            server.stop()

    from tinycrew.models import load_model

    model = load_model(args.model)
    for mode in args.modes:
        results[mode] = {}
        for category, entries in data.items():
            cell = []
            for entry in entries:
                result = run_entry(model, mode, entry, max_tokens=args.max_tokens)
                cell.append(
                    {"id": entry.id, "ok": result.ok, "reason": result.reason, "seconds": result.seconds}
                )
            results[mode][category] = cell
            print(f"{mode:<9} {category:<18} {sum(r['ok'] for r in cell)}/{len(cell)}", flush=True)

    columns = list(results)
    print()
    print("| category | n | " + " | ".join(columns) + " |")
    print("|---|---|" + "---|" * len(columns))
    totals = dict.fromkeys(columns, 0)
    n_all = 0
    for category, entries in data.items():
        n = len(entries)
        n_all += n
        cells = []
        for column in columns:
            ok = sum(r["ok"] for r in results[column][category])
            totals[column] += ok
            cells.append(f"{ok}/{n} ({ok / n:.0%})" if n else "-")
        print(f"| {category} | {n} | " + " | ".join(cells) + " |")
    print(
        f"| all | {n_all} | "
        + " | ".join(f"{totals[c]}/{n_all} ({totals[c] / n_all:.0%})" for c in columns)
        + " |"
    )
    disagree = {
        mode: sum(
            s["ok"] != m["ok"]
            for category in data
            for s, m in zip(results["service"][category], results[mode][category], strict=True)
        )
        for mode in args.modes
    }
    figures: dict[str, Any] = {"limit": args.limit, "entries": n_all, "split": "eval"}
    for column in columns:
        figures[f"{column}_accuracy"] = totals[column] / n_all if n_all else 0.0
    for mode, count in disagree.items():
        figures[f"entries_service_vs_{mode}_disagree"] = count
        delta = paired_bootstrap(
            [r["ok"] for category in data for r in results[mode][category]],
            [r["ok"] for category in data for r in results["service"][category]],
        )
        figures[f"service_minus_{mode}"] = [delta.delta, delta.low, delta.high]
        print(f"service - {mode}: {delta.text()}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"figures": figures, "results": results}, indent=1))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
