"""LangGraph checkpointers: SQLite by default (a crashed run resumes), in-memory, or Postgres."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from tinycrew.paths import tinycrew_home

CheckpointerSpec = str | Path | BaseCheckpointSaver | None

# The pydantic records kept in graph state, allowed explicitly for msgpack deserialization.
SERDE = JsonPlusSerializer(
    allowed_msgpack_modules=[
        ("tinycrew.agents.common", "CallRecord"),
        ("tinycrew.agents.compiler_planner", "PlannedCall"),
    ]
)


def memory_checkpointer() -> InMemorySaver:
    """An in-process saver (runs resume only within this process)."""
    return InMemorySaver(serde=SERDE)


def default_checkpoint_path() -> Path:
    """`$TINYCREW_HOME/checkpoints.sqlite`."""
    return tinycrew_home() / "checkpoints.sqlite"


@asynccontextmanager
async def open_checkpointer(
    spec: CheckpointerSpec, memory: InMemorySaver
) -> AsyncIterator[BaseCheckpointSaver]:
    """Open the saver for one run: "sqlite" (default) or a .sqlite path, "memory", a postgresql:// URL,
    or a saver instance the caller manages."""
    if isinstance(spec, BaseCheckpointSaver):
        yield spec
    elif spec == "memory":
        yield memory
    elif isinstance(spec, str) and spec.startswith(("postgres://", "postgresql://")):
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        async with AsyncPostgresSaver.from_conn_string(spec) as saver:
            saver.serde = SERDE
            await saver.setup()
            yield saver
    else:
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        path = default_checkpoint_path() if spec in (None, "sqlite") else Path(spec)
        path.parent.mkdir(parents=True, exist_ok=True)
        import aiosqlite

        async with aiosqlite.connect(str(path)) as connection:
            yield AsyncSqliteSaver(connection, serde=SERDE)
