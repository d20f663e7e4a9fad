"""LangGraph checkpointers: SQLite by default (a crashed run resumes), in-memory, or Postgres."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver

from tinycrew.paths import tinycrew_home

CheckpointerSpec = str | Path | BaseCheckpointSaver | None

# The pydantic records kept in graph state, allowed explicitly for msgpack deserialization.
SERDE = JsonPlusSerializer(
    allowed_msgpack_modules=[
        ("tinycrew.agents.common", "CallRecord"),
        ("tinycrew.agents.compiler_planner", "PlannedCall"),
        ("tinycrew.agents.crew_planner", "PlanNode"),
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

        # wait for another writer of the same file (a stopping service instance still committing its
        # last step) as the synchronous saver does, instead of failing the run after sqlite's 5 s
        async with aiosqlite.connect(str(path), timeout=30.0) as connection:
            yield AsyncSqliteSaver(connection, serde=SERDE)


class ThreadedAsync(BaseCheckpointSaver):
    """The async methods of a synchronous saver, each run on a worker thread: the saver behind
    `Agent.graph` then serves `get_state` and `aget_state`, `invoke` and `ainvoke` alike (SQLite's and
    Postgres' synchronous savers refuse async calls; their async ones are bound to one event loop)."""

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """`get_tuple` on a worker thread."""
        return await asyncio.to_thread(self.get_tuple, config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,  # noqa: A002 - LangGraph's name
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """`list` on a worker thread."""
        found = await asyncio.to_thread(
            lambda: list(self.list(config, filter=filter, before=before, limit=limit))
        )
        for item in found:
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """`put` on a worker thread."""
        return await asyncio.to_thread(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        """`put_writes` on a worker thread."""
        await asyncio.to_thread(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        """`delete_thread` on a worker thread."""
        await asyncio.to_thread(self.delete_thread, thread_id)


class ThreadedSqliteSaver(ThreadedAsync, SqliteSaver):
    """LangGraph's synchronous SQLite saver, with async methods (see `ThreadedAsync`)."""


def state_checkpointer(spec: CheckpointerSpec, memory: InMemorySaver) -> BaseCheckpointSaver:
    """The saver `Agent.graph` holds for the agent's lifetime, over the same checkpoints as its runs: the
    in-memory one, the caller's saver, or a synchronous SQLite / Postgres saver on the same database
    (see `ThreadedAsync`); runs themselves open their own for each run (`open_checkpointer`)."""
    if isinstance(spec, BaseCheckpointSaver):
        return spec
    if spec == "memory":
        return memory
    if isinstance(spec, str) and spec.startswith(("postgres://", "postgresql://")):
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg import Connection
        from psycopg.rows import dict_row

        class ThreadedPostgresSaver(ThreadedAsync, PostgresSaver):
            """LangGraph's synchronous Postgres saver, with async methods (see `ThreadedAsync`)."""

        connection = Connection.connect(spec, autocommit=True, prepare_threshold=0, row_factory=dict_row)
        postgres = ThreadedPostgresSaver(connection, serde=SERDE)
        postgres.setup()
        return postgres
    path = default_checkpoint_path() if spec in (None, "sqlite") else Path(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    # SqliteSaver serialises its use of the connection with a lock, so any thread may use it; another
    # process writing the same file (the desktop UI beside `tinycrew run`) is waited for, not an error
    connection = sqlite3.connect(str(path), check_same_thread=False, timeout=30.0)
    return ThreadedSqliteSaver(connection, serde=SERDE)
