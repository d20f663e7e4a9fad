"""`tinycrew router ...`: fit the query router (RouteLLM-style) from recorded or scored runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from tinycrew.paths import tinycrew_home

app = typer.Typer(help="Query-level routing: which requests go to the cloud model before they run.")
console = Console()


def default_router_dir() -> Path:
    """Where `tinycrew router fit` writes by default: $TINYCREW_HOME/router."""
    return tinycrew_home() / "router"


def _sample(path: Path) -> list[str]:
    """Requests from a text file (one per line) or JSONL (a "request", "query" or "task" field)."""
    queries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        if path.suffix == ".jsonl":
            row = json.loads(line)
            line = next((row[key] for key in ("request", "query", "task") if key in row), None)
            if line is None:
                raise typer.BadParameter(f"{path}: a line has no request, query or task field")
        queries.append(line)
    return queries


@app.command("fit")
def fit_command(
    cloud_share: Annotated[
        float, typer.Option("--cloud-share", help="Target share of requests sent to the cloud (0..1).")
    ] = 0.3,
    store: Annotated[
        str | None, typer.Option("--store", help="Trajectory store URL or path (default: the user's store).")
    ] = None,
    graph: Annotated[str | None, typer.Option("--graph", help="Only runs of this graph.")] = None,
    results: Annotated[
        Path | None,
        typer.Option(
            "--results", help="Learn from a BFCL report (tinycrew eval bfcl --out) instead of the store."
        ),
    ] = None,
    mode: Annotated[
        str, typer.Option("--mode", help="With --results: the graph whose outcomes to learn.")
    ] = "crew",
    bfcl: Annotated[Path | None, typer.Option("--bfcl", help="With --results: the BFCL data folder.")] = None,
    sample: Annotated[
        Path | None,
        typer.Option(
            "--sample", help="Requests to calibrate on (.txt one per line, or .jsonl); default: the examples."
        ),
    ] = None,
    k: Annotated[int, typer.Option("--k", help="Neighbours that vote.")] = 10,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder to write (default $TINYCREW_HOME/router).")
    ] = None,
) -> None:
    """Fit the router on requests whose local outcome is known and calibrate its threshold.

    Example: `tinycrew router fit --cloud-share 0.3` (from the trajectory store), or
    `tinycrew router fit --results docs/bfcl --mode compiler --bfcl ../shared/bfcl` (BFCL train split).
    Use it with `Agent(tools, cloud=..., router="~/.tinycrew/router")`.
    """
    from tinycrew.switching.router import QueryRouter, examples_from_store

    if results is not None:
        from tinycrew.evals.routing import bfcl_routing_examples

        examples = bfcl_routing_examples(results, mode, bfcl, split="train")
        source = f"{results} ({mode}, train split)"
    else:
        from tinycrew.trajectories import TrajectoryStore

        with TrajectoryStore.open(store) as opened:
            examples = examples_from_store(opened, graph=graph)
            source = opened.display_url
    if not examples:
        raise typer.BadParameter(f"no finished runs with a known outcome in {source}: record some runs first")
    router = QueryRouter.fit(examples, k=k)
    queries = _sample(sample) if sample is not None else None
    threshold = router.calibrate(queries, cloud_share)
    folder = router.save(out or default_router_dir())
    console.print(
        f"router: {len(examples)} requests from {source}, "
        f"local failure rate {router.local_failure_rate:.1%}, k={router.k}\n"
        f"threshold {threshold:.4f} sends {cloud_share:.0%} of the "
        f"{'sample' if queries else 'examples'} to the cloud\nwritten to {folder}"
    )
