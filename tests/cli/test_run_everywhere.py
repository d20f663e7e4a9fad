"""`tinycrew run` as a user runs it, in a subprocess, on the path an AMX machine takes (llama.cpp's
extra buffer types off) and on this machine's own decision: it exits 0 with a real tool call."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tinycrew.models.hardware import EXTRA_BUFTS_ENV

pytestmark = pytest.mark.slow
TINYCREW = Path(sys.executable).with_name("tinycrew")


@pytest.mark.parametrize("setting", ["off", ""])
def test_tinycrew_run_exits_zero_with_a_tool_call(setting: str) -> None:
    command = [str(TINYCREW), "run", "What is 17 times 23?", "--graph", "umi", "--no-record",
               "--checkpointer", "memory"]  # fmt: skip
    env = {**os.environ, EXTRA_BUFTS_ENV: setting, "COLUMNS": "100"}
    completed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    assert "calculate" in completed.stdout and "391" in completed.stdout, completed.stdout[-2000:]
