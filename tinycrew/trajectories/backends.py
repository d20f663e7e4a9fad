"""Thin database backends with one interface: SQLite (stdlib sqlite3) and PostgreSQL (psycopg 3).

SQL is written once with `?` placeholders; the PostgreSQL backend rewrites them to `%s`.
Each backend runs statements in explicit transactions and returns rows as dicts. They are not
thread-safe on their own: `TrajectoryStore` serialises access with a lock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

Params = Sequence[Any]

# A fixed key for pg_advisory_xact_lock so that concurrent openers migrate one at a time.
_PG_MIGRATION_LOCK = 7_204_118_553


class Transaction(Protocol):
    """Statements inside one open transaction."""

    def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return the number of rows it changed."""
        ...

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        """Run one statement once per parameter row."""
        ...

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        """Run a SELECT and return its rows as dicts."""
        ...


class Backend(Protocol):
    """A connection to one store database."""

    dialect: str
    integrity_errors: tuple[type[Exception], ...]

    def transaction(self, *, migration: bool = False) -> Any:
        """A context manager yielding a `Transaction`; commits on success, rolls back on error."""
        ...

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        """Run a SELECT outside any explicit transaction."""
        ...

    def close(self) -> None:
        """Close the connection."""
        ...


class _SQLiteTx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Params = ()) -> int:
        return self._conn.execute(sql, params).rowcount

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        self._conn.executemany(sql, rows)

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        return [dict(row) for row in self._conn.execute(sql, params).fetchall()]


class SQLiteBackend:
    """SQLite in WAL mode, one connection shared by threads, each write its own committed transaction.

    synchronous=NORMAL: a commit is in the WAL file when it returns, so a killed process loses
    nothing it committed (only a power cut can lose the last commits).
    """

    dialect = "sqlite"
    integrity_errors: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30.0)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")

    @contextmanager
    def transaction(self, *, migration: bool = False) -> Iterator[_SQLiteTx]:
        # BEGIN IMMEDIATE takes the write lock up front: no deadlocking lock upgrades between processes,
        # and concurrent openers run the migrations one at a time.
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield _SQLiteTx(self._conn)
            self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        return _SQLiteTx(self._conn).query(sql, params)

    def close(self) -> None:
        self._conn.close()


def _pg(sql: str) -> str:
    return sql.replace("?", "%s")


class _PostgresTx:
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Params = ()) -> int:
        with self._conn.cursor() as cur:
            cur.execute(_pg(sql), params)
            return cur.rowcount

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        with self._conn.cursor() as cur:
            cur.executemany(_pg(sql), rows)

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        from psycopg.rows import dict_row

        with self._conn.cursor(row_factory=dict_row) as cur:
            cur.execute(_pg(sql), params)
            return list(cur.fetchall())


class PostgresBackend:
    """PostgreSQL through psycopg 3, autocommit connection with explicit transactions per write."""

    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        import psycopg

        self.url = url
        self.integrity_errors = (psycopg.IntegrityError,)
        self._conn = psycopg.connect(url, autocommit=True)

    @contextmanager
    def transaction(self, *, migration: bool = False) -> Iterator[_PostgresTx]:
        with self._conn.transaction():
            tx = _PostgresTx(self._conn)
            if migration:
                tx.execute(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
            yield tx

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        return _PostgresTx(self._conn).query(sql, params)

    def close(self) -> None:
        self._conn.close()


def connect(url: str) -> SQLiteBackend | PostgresBackend:
    """Open the backend a store URL names.

    postgresql://... (or postgres://...) uses psycopg; sqlite:///relative.db and sqlite:////abs.db
    follow SQLAlchemy's convention; anything else is taken as a file path.
    """
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresBackend(url)
    if url.startswith("sqlite:"):
        if not url.startswith("sqlite:///") or url == "sqlite:///":
            raise ValueError(f"expected sqlite:///path, got {url!r}")
        return SQLiteBackend(Path(url.removeprefix("sqlite:///")).expanduser())
    return SQLiteBackend(Path(url).expanduser())
