"""`tinycrew doctor` on this machine: its sections, a real smoke generation in a child process, and a
child that really crashes (a signal) reported as a failed line with its fix and exit status 1."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tinycrew.cli import app

runner = CliRunner()
SECTIONS = ("llama.cpp", "CPU", "models", "extras")


def _tinycrew() -> str:
    script = Path(sys.executable).with_name("tinycrew")
    found = str(script) if script.is_file() else shutil.which("tinycrew")
    assert found, "the tinycrew console script is not installed next to this python"
    return found


def _python(code: str) -> str:
    """A --smoke-command that runs `code` in a fresh interpreter."""
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"


def _doctor(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "COLUMNS": "80", **env}
    return subprocess.run(
        [_tinycrew(), "doctor", *args], capture_output=True, text=True, env=environment, timeout=600
    )


def _lines_fit(output: str, width: int = 80) -> None:
    too_wide = [line for line in output.splitlines() if len(line) > width]
    assert not too_wide, "\n".join(too_wide)


@pytest.mark.slow
def test_doctor_passes_on_this_machine_with_a_real_smoke_generation() -> None:
    done = _doctor()
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for section in (*SECTIONS, "smoke"):
        assert f"\n{section}" in f"\n{out}", out
    for check in ("llama-cpp-python", "build features", "CPU flags", "extra buffer types", "threads"):
        assert check in out
    assert "qwen2.5-coder-0.5b-instruct-q4_k_m" in out and "TINYCREW_HOME" in out
    assert "train" in out and "service" in out and "interop" in out and "postgres" in out
    assert "smoke generation" in out and "ok:" in out and "tok/s" in out
    assert out.rstrip().endswith("doctor: no problems found")
    _lines_fit(out)


def test_doctor_without_smoke_prints_every_section() -> None:
    result = runner.invoke(app, ["doctor", "--no-smoke"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    for section in SECTIONS:
        assert f"\n{section}" in f"\n{result.output}"
    assert "smoke generation" not in result.output
    assert "AVX2" in result.output or "NEON" in result.output or "SSE3" in result.output
    _lines_fit(result.output)


def test_a_segfault_in_the_smoke_child_is_a_failed_line_with_the_fix() -> None:
    crash = _python("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    done = _doctor("--smoke-command", crash, TINYCREW_LLAMA_EXTRA_BUFTS="on")
    assert done.returncode == 1, done.stdout + done.stderr
    out = " ".join(done.stdout.split())  # a table cell may wrap a long line
    assert "smoke generation crashed (signal 11, SIGSEGV)" in out
    assert "fix: set TINYCREW_LLAMA_EXTRA_BUFTS=off" in out
    assert "doctor: 1 problem(s): smoke generation" in out
    assert "Traceback" not in done.stdout + done.stderr
    _lines_fit(done.stdout)


def test_an_illegal_instruction_points_at_the_build() -> None:
    result = runner.invoke(
        app,
        ["doctor", "--smoke-command", _python("import os, signal; os.kill(os.getpid(), signal.SIGILL)")],
        env={"COLUMNS": "80"},
    )
    assert result.exit_code == 1, result.output
    out = " ".join(result.output.split())
    assert "crashed (signal 4, SIGILL)" in out and "GGML_NATIVE=OFF" in out


def test_a_failing_smoke_shows_its_last_error_line() -> None:
    failing = _python("import sys; print('loading', file=sys.stderr); sys.exit('no model file here')")
    result = runner.invoke(app, ["doctor", "--smoke-command", failing], env={"COLUMNS": "80"})
    assert result.exit_code == 1, result.output
    out = " ".join(result.output.split())
    assert "failed (exit status 1): no model file here" in out


def test_a_bad_extra_buffer_setting_is_a_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINYCREW_LLAMA_EXTRA_BUFTS", "maybe")
    result = runner.invoke(app, ["doctor", "--no-smoke"], env={"COLUMNS": "80"})
    assert result.exit_code == 1, result.output
    out = " ".join(result.output.split())
    assert (
        "TINYCREW_LLAMA_EXTRA_BUFTS='maybe'" in out
        and "fix: set TINYCREW_LLAMA_EXTRA_BUFTS to on or off" in out
    )


def test_a_segfault_with_the_repack_path_off_points_at_the_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINYCREW_LLAMA_EXTRA_BUFTS", "off")
    crash = _python("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    result = runner.invoke(app, ["doctor", "--smoke-command", crash], env={"COLUMNS": "80"})
    assert result.exit_code == 1, result.output
    out = " ".join(result.output.split())
    assert "crashed (signal 11, SIGSEGV)" in out and "already off" in out and "GGML_AMX_TILE=OFF" in out
    assert "set TINYCREW_LLAMA_EXTRA_BUFTS=off" not in out
