"""Records steps in a loop and prints each index once record_step has returned (so: committed).

Run by test_trajectory_crash.py, which kills this process with SIGKILL mid-run:
    python tests/trajectories/crash_writer.py STORE_URL RUN_ID
"""

from __future__ import annotations

import sys

from tinycrew.trajectories import Recorder, StepRecord, TrajectoryStore

SYSTEM = "You are the caller. " + "Tool documentation. " * 100


def main(url: str, run_id: str, limit: int = 1_000_000) -> None:
    """Record up to `limit` steps, printing each committed index on its own line."""
    recorder = Recorder(TrajectoryStore.open(url))
    recorder.start_run(run_id, graph="crash", task="count for ever")
    print("started", flush=True)
    history: list[dict[str, str]] = [{"role": "system", "content": SYSTEM}]
    for index in range(limit):
        history.append({"role": "user", "content": f"step {index}"})
        recorder.record_step(
            StepRecord(
                run_id=run_id,
                index=index,
                role="caller",
                model="qwen-0.5b",
                messages=history[-6:],
                raw_output=f"output {index}",
                observation=f"observation {index}",
            )
        )
        print(index, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
