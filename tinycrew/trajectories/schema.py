"""The store's schema as an ordered list of migrations, valid SQL for both SQLite and PostgreSQL.

A migration is never edited once released: add a new one at the end. JSON lives in TEXT columns
and times in BIGINT microseconds since the epoch so that both databases hold exactly the same thing.
"""

from __future__ import annotations

from typing import NamedTuple


class Migration(NamedTuple):
    """One schema step: its version number and the statements that take the schema there."""

    version: int
    description: str
    statements: tuple[str, ...]


SCHEMA_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at_us BIGINT NOT NULL
)
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "runs, steps, content-addressed blobs, feedback",
        (
            """
            CREATE TABLE runs (
                run_id TEXT PRIMARY KEY,
                graph TEXT NOT NULL,
                task TEXT NOT NULL,
                retrieved_tools TEXT NOT NULL,
                models TEXT NOT NULL,
                tinycrew_version TEXT NOT NULL,
                metadata TEXT NOT NULL,
                started_at_us BIGINT NOT NULL,
                finished_at_us BIGINT,
                answer TEXT,
                outcome TEXT,
                cost TEXT,
                error TEXT
            )
            """,
            """
            CREATE TABLE blobs (
                hash TEXT PRIMARY KEY,
                size INTEGER NOT NULL,
                body TEXT NOT NULL
            )
            """,
            """
            CREATE TABLE steps (
                run_id TEXT NOT NULL REFERENCES runs (run_id),
                idx INTEGER NOT NULL,
                role TEXT NOT NULL,
                model TEXT NOT NULL,
                adapter TEXT,
                message_refs TEXT NOT NULL,
                tools_ref TEXT NOT NULL REFERENCES blobs (hash),
                payload_bytes INTEGER NOT NULL,
                raw_output TEXT NOT NULL,
                parsed_call TEXT,
                validation_error TEXT,
                error TEXT,
                observation TEXT,
                prompt_tokens INTEGER NOT NULL,
                completion_tokens INTEGER NOT NULL,
                latency_s DOUBLE PRECISION NOT NULL,
                confidence TEXT NOT NULL,
                escalated INTEGER NOT NULL,
                escalation_reason TEXT,
                created_at_us BIGINT NOT NULL,
                PRIMARY KEY (run_id, idx)
            )
            """,
            """
            CREATE TABLE feedback (
                id TEXT PRIMARY KEY,
                run_id TEXT NOT NULL REFERENCES runs (run_id),
                score DOUBLE PRECISION NOT NULL,
                comment TEXT,
                source TEXT NOT NULL,
                created_at_us BIGINT NOT NULL
            )
            """,
            "CREATE INDEX runs_started_at ON runs (started_at_us)",
            "CREATE INDEX runs_outcome ON runs (outcome)",
            "CREATE INDEX runs_graph ON runs (graph)",
            "CREATE INDEX steps_model ON steps (model)",
            "CREATE INDEX steps_role ON steps (role)",
            "CREATE INDEX feedback_run ON feedback (run_id)",
        ),
    ),
    Migration(
        2,
        "steps: what call policies changed (rewrites) and the model's own call (model_call)",
        (
            "ALTER TABLE steps ADD COLUMN model_call TEXT",
            "ALTER TABLE steps ADD COLUMN rewrites TEXT",
        ),
    ),
    Migration(
        3,
        "steps: the escalation decision (tinycrew.switching) and the step's cloud cost",
        (
            "ALTER TABLE steps ADD COLUMN escalation TEXT",
            "ALTER TABLE steps ADD COLUMN cost_usd DOUBLE PRECISION",
        ),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version
