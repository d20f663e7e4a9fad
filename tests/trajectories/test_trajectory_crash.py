"""A recording process killed with SIGKILL loses none of the steps it had recorded."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from tinycrew.trajectories import Recorder, StepRecord, TrajectoryStore

WRITER = Path(__file__).with_name("crash_writer.py")


def _record_until_killed(store_url: str, run_id: str, at_least: int) -> list[int]:
    """Start the writer, kill it with SIGKILL once it reported `at_least` steps; return what it reported."""
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), store_url, run_id],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "started", proc.stderr.read() if proc.stderr else ""
        reported: list[int] = []
        while len(reported) < at_least:
            line = proc.stdout.readline()
            assert line, f"writer died early: {proc.stderr.read() if proc.stderr else ''}"
            reported.append(int(line))
        proc.send_signal(signal.SIGKILL)  # mid-run: the writer is recording the next steps right now
        # read through the text buffer: lines that readline() already buffered would be skipped by
        # communicate(), which reads the pipe underneath it
        rest = proc.stdout.read()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    reported += [int(line) for line in rest.split()]
    return reported


def test_sigkill_loses_no_reported_step(store_url: str) -> None:
    reported = _record_until_killed(store_url, "crash-run", at_least=40)
    assert reported == list(range(len(reported)))
    with TrajectoryStore.open(store_url) as store:
        run = store.get_run("crash-run")
        assert run is not None
        stored = [s.index for s in run.steps]
        # everything reported is there; at most the one step in flight at the kill may be there too
        assert stored[: len(reported)] == reported
        assert len(stored) - len(reported) in (0, 1)
        last = run.steps[len(reported) - 1]
        assert (
            last.raw_output == f"output {last.index}" and last.messages[-1]["content"] == f"step {last.index}"
        )
        # the store is still usable: the run can go on
        Recorder(store).record_step(
            StepRecord(run_id="crash-run", index=len(stored), role="caller", model="m", messages=[])
        )
    if not store_url.startswith("postgresql://"):
        with sqlite3.connect(store_url) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
