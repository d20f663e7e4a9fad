"""A run that a test kills mid-way: the slow tool announces itself, then blocks until killed."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from tinycrew.graphs import Agent
from tinycrew.tools import ToolRegistry, tool
from tinycrew.tools.builtin import calculate

MARKER = Path(os.environ["CRASH_MARKER"])


@tool(timeout=120)
def lookup_price(item: str) -> float:
    """The price in euros of an item in the shop.

    Args:
        item: The item name, e.g. "apple".
    """
    if os.environ.get("CRASH_BLOCK") == "1":
        MARKER.write_text("tool started")
        time.sleep(120)
    return {"apple": 0.5, "bread": 2.25}.get(item.lower().strip(), 1.0)


def make_agent(checkpoint: str, graph: str = "compiler") -> Agent:
    from tinycrew.models.llama_backend import LlamaCppModel

    model = LlamaCppModel(n_ctx=4096)
    registry = ToolRegistry([lookup_price, calculate])
    return Agent(registry, graph=graph, models=model, checkpointer=checkpoint, record=False)


if __name__ == "__main__":
    checkpoint, run_id, task = sys.argv[1], sys.argv[2], sys.argv[3]
    agent = make_agent(checkpoint)
    if sys.argv[4] == "start":
        agent.run(task, run_id=run_id)
    else:
        result = agent.resume(run_id)
        print(result.model_dump_json())
