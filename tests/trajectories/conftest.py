"""Fixtures for the trajectory tests: a real PostgreSQL server, stores on SQLite and PostgreSQL,
and a synthetic multi-role run recorded through the real Recorder."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tinycrew.trajectories import Recorder, RunInfo, StepRecord, TrajectoryStore

HERE = Path(__file__).parent

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
        },
    },
}
EMAIL_TOOL = {
    "type": "function",
    "function": {
        "name": "send_email",
        "description": "Send an e-mail.",
        "parameters": {
            "type": "object",
            "properties": {"to": {"type": "string"}, "body": {"type": "string"}},
            "required": ["to", "body"],
        },
    },
}
TOOLS = [WEATHER_TOOL, EMAIL_TOOL]
PLANNER_SYSTEM = (
    "You are the planner. Think, then end with 'Next: caller', 'Next: summarizer' or 'Next: give_up'."
)
CALLER_SYSTEM = "You are the caller. Answer with one JSON tool call for the plan."
SUMMARIZER_SYSTEM = "You are the summarizer. Write the final answer from the observations."


def _pg_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throw-away PostgreSQL server on 127.0.0.1 (initdb + pg_ctl as a non-root user); yields its URL."""
    bindir = _pg_bindir()
    if bindir is None and os.geteuid() == 0:
        subprocess.run(["bash", str(HERE / "ensure_postgres.sh")], check=False)
        bindir = _pg_bindir()
    if bindir is None:
        reason = "PostgreSQL server binaries not found and could not be installed (run ensure_postgres.sh)"
        print(f"SKIP postgres: {reason}")
        pytest.skip(reason)
    base = Path(tempfile.mkdtemp(prefix="tinycrew-pg-"))
    data = base / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(base, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    pg_ctl = [*as_user, str(bindir / "pg_ctl"), "-D", str(data)]
    try:
        subprocess.run(
            [
                *as_user,
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
        )
        options = f"-k {base} -p {port} -h 127.0.0.1 -c fsync=off"
        subprocess.run(
            [*pg_ctl, "-l", str(base / "server.log"), "-w", "-t", "60", "-o", options, "start"],
            check=True,
            capture_output=True,
        )
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run([*pg_ctl, "-m", "fast", "-w", "stop"], check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the session's PostgreSQL server, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield f"{postgres_server}/{name}"
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty store: a SQLite file in tmp_path, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "trajectories.sqlite")
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[TrajectoryStore]:
    """An open store on each backend, closed after the test."""
    with TrajectoryStore.open(store_url) as opened:
        yield opened


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[TrajectoryStore]:
    """An open SQLite store, for tests whose subject is not the database (exports, CLI)."""
    with TrajectoryStore.open(tmp_path / "trajectories.sqlite") as opened:
        yield opened


def synthetic_steps(
    run_id: str,
    task: str,
    *,
    teacher: str = "qwen-1.5b",
    student: str = "qwen-0.5b",
    with_invalid: bool = True,
) -> list[StepRecord]:
    """A planner -> caller (one invalid try) -> planner -> summarizer run, as the umi graph records it."""
    plan = "The user wants the weather in Paris. Next: caller"
    call = {"name": "get_weather", "arguments": {"city": "Paris"}}
    observation = "Sunny, 21 C"
    steps: list[dict[str, Any]] = [
        dict(
            role="planner",
            model=student,
            messages=[{"role": "system", "content": PLANNER_SYSTEM}, {"role": "user", "content": task}],
            raw_output=plan,
            confidence={"mean_logprob": -0.21},
        ),
    ]
    caller_messages = [
        {"role": "system", "content": CALLER_SYSTEM},
        {"role": "user", "content": f"Task: {task}\nPlan: {plan}"},
    ]
    if with_invalid:
        steps.append(
            dict(
                role="caller",
                model=student,
                messages=caller_messages,
                tools=TOOLS,
                raw_output='{"name": "get_weather", "arguments": {}}',
                parsed_call={"name": "get_weather", "arguments": {}},
                validation_error="city: field required",
            )
        )
    steps += [
        dict(
            role="caller",
            model=teacher,
            messages=caller_messages,
            tools=TOOLS,
            raw_output='{"name": "get_weather", "arguments": {"city": "Paris"}}',
            parsed_call=call,
            observation=observation,
            escalated=with_invalid,
            escalation_reason="validation failed" if with_invalid else None,
        ),
        dict(
            role="planner",
            model=student,
            messages=[
                {"role": "system", "content": PLANNER_SYSTEM},
                {"role": "user", "content": task},
                {"role": "assistant", "content": plan},
                {"role": "user", "content": f"Observation: {observation}"},
            ],
            raw_output="I have the weather. Next: summarizer",
        ),
        dict(
            role="summarizer",
            model=student,
            messages=[
                {"role": "system", "content": SUMMARIZER_SYSTEM},
                {"role": "user", "content": f"Task: {task}\nObservations: {observation}"},
            ],
            raw_output="It is sunny and 21 C in Paris.",
        ),
    ]
    return [
        StepRecord(
            run_id=run_id, index=i, prompt_tokens=100 + i, completion_tokens=10 + i, latency_s=0.1, **s
        )
        for i, s in enumerate(steps)
    ]


RecordRun = Callable[..., list[StepRecord]]


@pytest.fixture
def tools() -> list[dict[str, Any]]:
    """The tool schemas the synthetic caller steps are offered."""
    return TOOLS


@pytest.fixture
def record_run() -> RecordRun:
    """Record one synthetic run into a store and return the steps recorded."""

    def record(
        store: TrajectoryStore,
        run_id: str,
        *,
        task: str = "What is the weather in Paris?",
        graph: str = "umi",
        outcome: str = "success",
        score: float | None = None,
        started_at: datetime | None = None,
        **step_options: Any,
    ) -> list[StepRecord]:
        recorder = Recorder(store)
        info = RunInfo(
            run_id=run_id,
            graph=graph,
            task=task,
            retrieved_tools=["get_weather", "send_email"],
            models={"planner": "qwen-0.5b", "caller": "qwen-0.5b", "summarizer": "qwen-0.5b"},
            tinycrew_version="0.1.0",
            metadata={"seed": 1},
        )
        if started_at is None:
            recorder.start_run(**info.model_dump(exclude={"started_at"}))
        else:  # back-dated, for time-range filters: the store takes a RunInfo with its start time
            store.add_run(info.model_copy(update={"started_at": started_at}))
        steps = synthetic_steps(run_id, task, **step_options)
        for step in steps:
            recorder.record_step(step)
        recorder.finish_run(run_id, answer=steps[-1].raw_output, outcome=outcome, cost={"usd": 0.0})
        if score is not None:
            recorder.record_feedback(run_id, score, comment="ok", source="evaluator")
        return steps

    return record
