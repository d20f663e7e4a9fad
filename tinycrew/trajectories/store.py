"""The trajectory store: runs, steps, feedback and content-addressed blobs in SQLite or PostgreSQL.

Every write is its own committed transaction, so whatever a call returned from is on disk even if the
process is killed right after. Messages and tool lists go to the blob table once, keyed by the sha256 of
their canonical JSON; steps keep only the keys (the system prompt and tool schemas repeat on every step).
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

from tinycrew.trajectories.backends import Backend, connect
from tinycrew.trajectories.canonical import canonical_json, compact_json
from tinycrew.trajectories.location import default_store_path
from tinycrew.trajectories.records import (
    Feedback,
    RunFilter,
    RunInfo,
    RunRecord,
    RunSummary,
    StepRecord,
    StoreStats,
    utc_now,
)
from tinycrew.trajectories.schema import LATEST_VERSION, MIGRATIONS, SCHEMA_VERSION_TABLE

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
# Hashes known to be in the blob table; forgotten wholesale past this size (they are only a shortcut).
_KNOWN_BLOBS_MAX = 200_000
_IN_CHUNK = 500


class TrajectoryError(RuntimeError):
    """A write the store refused: unknown run, duplicate run id or step index, newer schema."""


def to_us(value: datetime) -> int:
    """Microseconds since the epoch; a naive datetime is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // _ONE_US


def from_us(value: int | None) -> datetime | None:
    """The aware UTC datetime for microseconds since the epoch."""
    return None if value is None else _EPOCH + timedelta(microseconds=int(value))


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


_SUMMARY_SELECT = """
SELECT r.*,
       COALESCE(s.n_steps, 0) AS n_steps,
       COALESCE(s.n_validation_errors, 0) AS n_validation_errors,
       COALESCE(s.n_step_errors, 0) AS n_step_errors,
       COALESCE(s.n_escalations, 0) AS n_escalations,
       COALESCE(s.prompt_tokens, 0) AS prompt_tokens,
       COALESCE(s.completion_tokens, 0) AS completion_tokens,
       COALESCE(f.n_feedback, 0) AS n_feedback,
       f.mean_score AS mean_score
FROM runs r
LEFT JOIN (
    SELECT run_id,
           COUNT(*) AS n_steps,
           SUM(CASE WHEN validation_error IS NULL THEN 0 ELSE 1 END) AS n_validation_errors,
           SUM(CASE WHEN error IS NULL THEN 0 ELSE 1 END) AS n_step_errors,
           SUM(escalated) AS n_escalations,
           SUM(prompt_tokens) AS prompt_tokens,
           SUM(completion_tokens) AS completion_tokens
    FROM steps GROUP BY run_id
) s ON s.run_id = r.run_id
LEFT JOIN (
    SELECT run_id, COUNT(*) AS n_feedback, AVG(score) AS mean_score FROM feedback GROUP BY run_id
) f ON f.run_id = r.run_id
"""


def _where(filters: RunFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if filters.outcome:
        clauses.append(f"r.outcome IN ({', '.join('?' for _ in filters.outcome)})")
        params.extend(filters.outcome)
    if filters.graph is not None:
        clauses.append("r.graph = ?")
        params.append(filters.graph)
    if filters.model is not None:
        clauses.append("EXISTS (SELECT 1 FROM steps m WHERE m.run_id = r.run_id AND m.model = ?)")
        params.append(filters.model)
    if filters.since is not None:
        clauses.append("r.started_at_us >= ?")
        params.append(to_us(filters.since))
    if filters.until is not None:
        clauses.append("r.started_at_us < ?")
        params.append(to_us(filters.until))
    if filters.min_score is not None:
        clauses.append("f.mean_score >= ?")
        params.append(filters.min_score)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "run_id": row["run_id"],
        "graph": row["graph"],
        "task": row["task"],
        "retrieved_tools": json.loads(row["retrieved_tools"]),
        "models": json.loads(row["models"]),
        "tinycrew_version": row["tinycrew_version"],
        "metadata": json.loads(row["metadata"]),
        "started_at": from_us(row["started_at_us"]),
        "finished_at": from_us(row["finished_at_us"]),
        "answer": row["answer"],
        "outcome": row["outcome"],
        "cost": _loads(row["cost"]),
        "error": row["error"],
        "n_steps": int(row["n_steps"]),
        "n_validation_errors": int(row["n_validation_errors"]),
        "n_step_errors": int(row["n_step_errors"]),
        "n_escalations": int(row["n_escalations"]),
        "prompt_tokens": int(row["prompt_tokens"]),
        "completion_tokens": int(row["completion_tokens"]),
        "n_feedback": int(row["n_feedback"]),
        "mean_score": None if row["mean_score"] is None else float(row["mean_score"]),
    }


class TrajectoryStore:
    """Runs and steps in one database; safe to share between threads (one lock around the connection)."""

    def __init__(self, backend: Backend, url: str) -> None:
        """Wrap an open backend and bring its schema up to date; prefer `TrajectoryStore.open`."""
        self._backend = backend
        self.url = url
        self._lock = threading.Lock()
        self._known_blobs: set[str] = set()
        self._closed = False
        try:
            self._migrate()
        except BaseException:
            backend.close()
            raise

    @classmethod
    def open(cls, url: str | Path | None = None) -> Self:
        """Open (creating if needed) the store at `url`.

        None: trajectories.sqlite under $TINYCREW_HOME (else the user cache dir); "sqlite:///path" or a
        plain path: that SQLite file (WAL mode); "postgresql://...": PostgreSQL through psycopg 3.
        """
        target = str(default_store_path() if url is None else url)
        return cls(connect(target), target)

    @property
    def display_url(self) -> str:
        """The URL with any password masked, for messages and logs."""
        parts = urlsplit(self.url)
        if not parts.password:
            return self.url
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))

    @property
    def dialect(self) -> str:
        """Either "sqlite" or "postgresql"."""
        return self._backend.dialect

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection; further calls fail."""
        with self._lock:
            if not self._closed:
                self._backend.close()
                self._closed = True

    # -- schema ---------------------------------------------------------------------------------------

    def _migrate(self) -> None:
        with self._lock, self._backend.transaction(migration=True) as tx:
            tx.execute(SCHEMA_VERSION_TABLE)
            current = tx.query("SELECT MAX(version) AS v FROM schema_version")[0]["v"] or 0
            if current > LATEST_VERSION:
                raise TrajectoryError(
                    f"store {self.display_url} has schema version {current}, newer than this tinycrew "
                    f"({LATEST_VERSION}): upgrade tinycrew"
                )
            for migration in MIGRATIONS:
                if migration.version <= current:
                    continue
                for statement in migration.statements:
                    tx.execute(statement)
                tx.execute(
                    "INSERT INTO schema_version (version, description, applied_at_us) VALUES (?, ?, ?)",
                    (migration.version, migration.description, to_us(utc_now())),
                )

    def schema_version(self) -> int:
        """The highest migration applied to this database."""
        with self._lock:
            return int(self._backend.query("SELECT MAX(version) AS v FROM schema_version")[0]["v"])

    # -- writes ---------------------------------------------------------------------------------------

    def add_run(self, run: RunInfo) -> None:
        """Insert a new run row; a run id can be started only once."""
        row = (
            run.run_id,
            run.graph,
            run.task,
            json.dumps(run.retrieved_tools),
            json.dumps(run.models),
            run.tinycrew_version,
            json.dumps(run.metadata),
            to_us(run.started_at),
        )
        sql = (
            "INSERT INTO runs (run_id, graph, task, retrieved_tools, models, tinycrew_version, metadata,"
            " started_at_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        )
        with self._lock:
            try:
                with self._backend.transaction() as tx:
                    tx.execute(sql, row)
            except self._backend.integrity_errors as exc:
                raise TrajectoryError(f"run {run.run_id!r} already exists") from exc

    def add_step(self, step: StepRecord) -> None:
        """Insert one step and any blobs it brings, in one committed transaction."""
        blobs: dict[str, tuple[str, int, str]] = {}
        sizes: list[int] = []

        def address(value: Any) -> str:
            data = canonical_json(value).encode("utf-8")
            digest = hashlib.sha256(data).hexdigest()
            sizes.append(len(data))
            if digest not in self._known_blobs:
                blobs[digest] = (digest, len(data), compact_json(value))
            return digest

        message_refs = [address(m) for m in step.messages]
        tools_ref = address(step.tools)
        payload = sum(sizes)
        row = (
            step.run_id,
            step.index,
            step.role,
            step.model,
            step.adapter,
            json.dumps(message_refs),
            tools_ref,
            payload,
            step.raw_output,
            None if step.parsed_call is None else json.dumps(step.parsed_call, ensure_ascii=False),
            step.validation_error,
            step.error,
            step.observation,
            step.prompt_tokens,
            step.completion_tokens,
            step.latency_s,
            json.dumps(step.confidence),
            int(step.escalated),
            step.escalation_reason,
            to_us(step.created_at),
            None if step.model_call is None else json.dumps(step.model_call, ensure_ascii=False),
            json.dumps(step.rewrites, ensure_ascii=False) if step.rewrites else None,
            None if step.escalation is None else json.dumps(step.escalation, ensure_ascii=False),
            step.cost_usd,
        )
        sql = (
            "INSERT INTO steps (run_id, idx, role, model, adapter, message_refs, tools_ref, payload_bytes,"
            " raw_output, parsed_call, validation_error, error, observation, prompt_tokens,"
            " completion_tokens, latency_s, confidence, escalated, escalation_reason, created_at_us,"
            " model_call, rewrites, escalation, cost_usd)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        with self._lock:
            try:
                with self._backend.transaction() as tx:
                    if blobs:
                        tx.executemany(
                            "INSERT INTO blobs (hash, size, body) VALUES (?, ?, ?)"
                            " ON CONFLICT (hash) DO NOTHING",
                            list(blobs.values()),
                        )
                    tx.execute(sql, row)
            except self._backend.integrity_errors as exc:
                raise TrajectoryError(
                    f"cannot record step {step.index} of run {step.run_id!r}: unknown run or duplicate index"
                ) from exc
            if len(self._known_blobs) > _KNOWN_BLOBS_MAX:
                self._known_blobs.clear()
            self._known_blobs.update(blobs)

    def finish_run(
        self,
        run_id: str,
        *,
        answer: str | None,
        outcome: str,
        cost: dict[str, Any] | None = None,
        error: str | None = None,
        finished_at: datetime | None = None,
    ) -> None:
        """Set a run's end: answer, outcome, cost and error (finishing again overwrites)."""
        sql = (
            "UPDATE runs SET finished_at_us = ?, answer = ?, outcome = ?, cost = ?, error = ?"
            " WHERE run_id = ?"
        )
        params = (
            to_us(finished_at or utc_now()),
            answer,
            outcome,
            None if cost is None else json.dumps(cost),
            error,
            run_id,
        )
        with self._lock, self._backend.transaction() as tx:
            changed = tx.execute(sql, params)
        if changed == 0:
            raise TrajectoryError(f"unknown run {run_id!r}")

    def add_feedback(
        self, run_id: str, score: float, comment: str | None = None, source: str = "user"
    ) -> Feedback:
        """Attach a score to a run; a run may collect any number of them."""
        feedback = Feedback(id=uuid.uuid4().hex, run_id=run_id, score=score, comment=comment, source=source)
        sql = (
            "INSERT INTO feedback (id, run_id, score, comment, source, created_at_us)"
            " VALUES (?, ?, ?, ?, ?, ?)"
        )
        params = (feedback.id, run_id, score, comment, source, to_us(feedback.created_at))
        with self._lock:
            try:
                with self._backend.transaction() as tx:
                    tx.execute(sql, params)
            except self._backend.integrity_errors as exc:
                raise TrajectoryError(f"unknown run {run_id!r}") from exc
        return feedback

    # -- reads ----------------------------------------------------------------------------------------

    def list_runs(self, filters: RunFilter | None = None) -> list[RunSummary]:
        """Runs matching `filters`, newest first, with their outcome signals (no steps)."""
        filters = filters or RunFilter()
        where, params = _where(filters)
        sql = _SUMMARY_SELECT + where + " ORDER BY r.started_at_us DESC, r.run_id"
        if filters.limit is not None:
            sql += " LIMIT ?"
            params.append(filters.limit)
        with self._lock:
            rows = self._backend.query(sql, params)
        return [RunSummary(**_summary(row)) for row in rows]

    def get_run(self, run_id: str) -> RunRecord | None:
        """One run with its steps (messages and tools resolved) and feedback; None if unknown."""
        with self._lock:
            runs = self._backend.query(_SUMMARY_SELECT + " WHERE r.run_id = ?", (run_id,))
            if not runs:
                return None
            steps = self._backend.query("SELECT * FROM steps WHERE run_id = ? ORDER BY idx", (run_id,))
            hashes = {h for s in steps for h in json.loads(s["message_refs"])} | {
                s["tools_ref"] for s in steps
            }
            bodies = self._blobs(hashes)
            feedback = self._backend.query(
                "SELECT * FROM feedback WHERE run_id = ? ORDER BY created_at_us, id", (run_id,)
            )
        return RunRecord(
            **_summary(runs[0]),
            steps=[self._step(row, bodies) for row in steps],
            feedback=[
                Feedback(
                    id=f["id"],
                    run_id=f["run_id"],
                    score=float(f["score"]),
                    comment=f["comment"],
                    source=f["source"],
                    created_at=from_us(f["created_at_us"]),
                )
                for f in feedback
            ],
        )

    def iter_runs(self, filters: RunFilter | None = None) -> Iterable[RunRecord]:
        """Full runs matching `filters`, oldest first, fetched one at a time (for exports)."""
        for summary in reversed(self.list_runs(filters)):
            run = self.get_run(summary.run_id)
            if run is not None:
                yield run

    def _blobs(self, hashes: set[str]) -> dict[str, Any]:
        ordered = sorted(hashes)
        bodies: dict[str, Any] = {}
        for start in range(0, len(ordered), _IN_CHUNK):
            chunk = ordered[start : start + _IN_CHUNK]
            sql = f"SELECT hash, body FROM blobs WHERE hash IN ({', '.join('?' for _ in chunk)})"
            for row in self._backend.query(sql, chunk):
                bodies[row["hash"]] = json.loads(row["body"])
        return bodies

    @staticmethod
    def _step(row: dict[str, Any], bodies: dict[str, Any]) -> StepRecord:
        return StepRecord(
            run_id=row["run_id"],
            index=row["idx"],
            role=row["role"],
            model=row["model"],
            adapter=row["adapter"],
            messages=[bodies[h] for h in json.loads(row["message_refs"])],
            tools=bodies[row["tools_ref"]],
            raw_output=row["raw_output"],
            parsed_call=_loads(row["parsed_call"]),
            validation_error=row["validation_error"],
            error=row["error"],
            observation=row["observation"],
            prompt_tokens=row["prompt_tokens"],
            completion_tokens=row["completion_tokens"],
            latency_s=float(row["latency_s"]),
            confidence=json.loads(row["confidence"]),
            escalated=bool(row["escalated"]),
            escalation_reason=row["escalation_reason"],
            created_at=from_us(row["created_at_us"]),
            model_call=_loads(row["model_call"]),
            rewrites=_loads(row["rewrites"]) or [],
            escalation=_loads(row["escalation"]),
            cost_usd=float(row["cost_usd"] or 0.0),
        )

    def stats(self) -> StoreStats:
        """Totals over the whole store: runs by outcome, steps by role and model, errors, dedup."""

        def grouped(sql: str) -> dict[str, int]:
            return {str(r["k"]): int(r["n"]) for r in self._backend.query(sql)}

        with self._lock:
            steps = self._backend.query(
                "SELECT COUNT(*) AS steps,"
                " COALESCE(SUM(CASE WHEN validation_error IS NULL THEN 0 ELSE 1 END), 0)"
                " AS validation_errors,"
                " COALESCE(SUM(CASE WHEN error IS NULL THEN 0 ELSE 1 END), 0) AS step_errors,"
                " COALESCE(SUM(escalated), 0) AS escalations,"
                " COALESCE(SUM(prompt_tokens), 0) AS prompt_tokens,"
                " COALESCE(SUM(completion_tokens), 0) AS completion_tokens,"
                " COALESCE(SUM(payload_bytes), 0) AS payload_bytes FROM steps"
            )[0]
            blobs = self._backend.query(
                "SELECT COUNT(*) AS blobs, COALESCE(SUM(size), 0) AS blob_bytes FROM blobs"
            )[0]
            counts = self._backend.query(
                "SELECT (SELECT COUNT(*) FROM runs) AS runs, (SELECT COUNT(*) FROM feedback) AS feedback,"
                " (SELECT MAX(version) FROM schema_version) AS schema_version"
            )[0]
            by_outcome = grouped(
                "SELECT COALESCE(outcome, 'unfinished') AS k, COUNT(*) AS n FROM runs GROUP BY 1 ORDER BY 1"
            )
            by_role = grouped("SELECT role AS k, COUNT(*) AS n FROM steps GROUP BY role ORDER BY role")
            by_model = grouped("SELECT model AS k, COUNT(*) AS n FROM steps GROUP BY model ORDER BY model")
            usage_by_model, usage_by_role = self._usage()
        return StoreStats(
            **{k: int(v) for k, v in (steps | blobs | counts).items()},
            runs_by_outcome=by_outcome,
            steps_by_role=by_role,
            steps_by_model=by_model,
            usage_by_model=usage_by_model,
            usage_by_role=usage_by_role,
            cost_usd=sum(usage["cost_usd"] for usage in usage_by_role.values()),
        )

    def _usage(self) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
        """Steps, tokens, seconds and cloud cost per model and per role. A step the cloud redid is
        recorded under the cloud model with the tokens of both attempts; its escalation record gives
        the cloud's share, and the rest counts for the local model."""
        columns = (
            "COUNT(*) AS steps, COALESCE(SUM(prompt_tokens), 0) AS prompt_tokens,"
            " COALESCE(SUM(completion_tokens), 0) AS completion_tokens,"
            " COALESCE(SUM(latency_s), 0) AS seconds, COALESCE(SUM(cost_usd), 0) AS cost_usd"
        )
        keys = ("steps", "prompt_tokens", "completion_tokens", "seconds", "cost_usd")

        def table(group: str) -> dict[str, dict[str, float]]:
            rows = self._backend.query(
                f"SELECT {group} AS k, {columns} FROM steps GROUP BY {group} ORDER BY 1"
            )
            return {str(r["k"]): {key: float(r[key]) for key in keys} for r in rows}

        by_model, by_role = table("model"), table("role")
        escalated = self._backend.query(
            "SELECT model, prompt_tokens, completion_tokens, latency_s, escalation FROM steps"
            " WHERE escalated = 1 AND escalation IS NOT NULL"
        )
        for row in escalated:
            record = json.loads(row["escalation"])
            cloud, local = record.get("cloud") or {}, record.get("local_model")
            if not local or local == row["model"]:
                continue
            share = {
                "prompt_tokens": row["prompt_tokens"] - cloud.get("prompt_tokens", 0),
                "completion_tokens": row["completion_tokens"] - cloud.get("completion_tokens", 0),
                "seconds": float(row["latency_s"]) - cloud.get("seconds", 0.0),
            }
            target = by_model.setdefault(local, dict.fromkeys(keys, 0.0))
            for key, value in share.items():
                by_model[row["model"]][key] -= value
                target[key] += value
        return by_model, by_role


def new_run_id() -> str:
    """A fresh random run id, for callers without a LangGraph thread id."""
    return uuid.uuid4().hex
