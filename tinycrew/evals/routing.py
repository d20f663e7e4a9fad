"""Routing data from BFCL: scored runs of a graph become the examples a `QueryRouter` learns from.

A BFCL report says, per entry, whether the local graph got it right; the entry's task text is the
request. Only the train split is used to fit (the eval split stays for measuring the router).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tinycrew.evals.bfcl_data import CATEGORIES, Split, load_category, split_of
from tinycrew.evals.report import load_report
from tinycrew.evals.runner import task_text
from tinycrew.switching.router import RoutingExample


def bfcl_queries(
    root: str | Path | None = None, split: Split | None = None, categories: Sequence[str] = CATEGORIES
) -> dict[str, str]:
    """Entry id -> the task text a graph gets, for every entry of `categories` in `split`."""
    return {
        entry.id: task_text(entry)
        for category in categories
        for entry in load_category(category, root, split=split)
    }


def bfcl_routing_examples(
    report: str | Path, mode: str, root: str | Path | None = None, split: Split | None = "train"
) -> list[RoutingExample]:
    """(request, local_ok) for each entry the report scored in `mode` (a graph: crew, umi, ...), in
    `split` (None: both)."""
    loaded = load_report(report)
    cells = [cell for cell in loaded.cells if cell.mode == mode]
    if not cells:
        modes = sorted({cell.mode for cell in loaded.cells})
        raise ValueError(f"the report {report} has no {mode!r} runs; it has {', '.join(modes)}")
    texts = bfcl_queries(root, split, sorted({cell.category for cell in cells}))
    return [
        RoutingExample(texts[entry.id], entry.ok)
        for cell in cells
        for entry in cell.entries
        if (split is None or split_of(entry.id) == split) and entry.id in texts
    ]
