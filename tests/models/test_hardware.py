"""No crash on any CPU: the extra-buffer-type decision, and real generations in subprocesses.

A segfault inside pytest's own process would end the run without a useful message, so every real
generation here runs in a child process and the test reads its exit status.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tinycrew.models.hardware import (
    EXTRA_BUFTS_ENV,
    cpu_flags,
    extra_buffer_types,
    has_amx,
    has_native_bf16,
)

X86_CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse2 avx avx2 avx512f avx512bw amx_bf16 amx_tile amx_int8
"""
ARM_CPUINFO = """processor\t: 0
BogoMIPS\t: 50.00
Features\t: fp asimd evtstrm aes sha1 sha2 crc32 atomics asimddp sve i8mm
"""


def test_cpu_flags_reads_x86_and_arm64_and_nothing_when_unreadable(tmp_path: Path) -> None:
    (tmp_path / "x86").write_text(X86_CPUINFO)
    (tmp_path / "arm").write_text(ARM_CPUINFO)
    assert {"avx2", "amx_tile"} <= cpu_flags(str(tmp_path / "x86"))
    assert {"asimd", "sve"} <= cpu_flags(str(tmp_path / "arm"))
    assert cpu_flags(str(tmp_path / "missing")) == frozenset()


def test_extra_buffer_types_are_off_exactly_where_the_cpu_has_amx(tmp_path: Path) -> None:
    (tmp_path / "x86").write_text(X86_CPUINFO)
    (tmp_path / "arm").write_text(ARM_CPUINFO)
    amx, arm = cpu_flags(str(tmp_path / "x86")), cpu_flags(str(tmp_path / "arm"))
    assert has_amx(amx) and not has_amx(arm)
    enabled, reason = extra_buffer_types(amx, env={})
    assert not enabled and "AMX" in reason and EXTRA_BUFTS_ENV in reason
    assert extra_buffer_types(arm, env={})[0]
    assert extra_buffer_types(frozenset({"avx2", "avx512f"}), env={})[0]


def test_native_bf16_is_avx512_bf16_or_amx_bf16(tmp_path: Path) -> None:
    (tmp_path / "x86").write_text(X86_CPUINFO)
    (tmp_path / "arm").write_text(ARM_CPUINFO)
    assert has_native_bf16(cpu_flags(str(tmp_path / "x86")))  # amx_bf16
    assert has_native_bf16(frozenset({"avx2", "avx512f", "avx512_bf16"}))  # e.g. AMD Zen 4
    assert not has_native_bf16(frozenset({"avx2", "avx512f", "avx512bw"}))
    assert not has_native_bf16(cpu_flags(str(tmp_path / "arm")))


def test_the_environment_overrides_the_decision_both_ways() -> None:
    amx = frozenset({"amx_tile"})
    assert extra_buffer_types(amx, env={EXTRA_BUFTS_ENV: "on"})[0]
    assert not extra_buffer_types(frozenset(), env={EXTRA_BUFTS_ENV: "off"})[0]
    with pytest.raises(ValueError, match="use on or off"):
        extra_buffer_types(amx, env={EXTRA_BUFTS_ENV: "maybe"})


def _smoke(extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **extra_env}
    command = [sys.executable, "-m", "tinycrew.models.smoke", "--max-tokens", "8"]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize("setting", ["", "off"])
def test_a_real_generation_in_a_subprocess_exits_zero(setting: str) -> None:
    """The default decision on this CPU, and the path every AMX machine takes ("off")."""
    completed = _smoke({EXTRA_BUFTS_ENV: setting})
    assert completed.returncode == 0, f"exit {completed.returncode}: {completed.stderr[-2000:]}"
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["ok"] and report["tokens"] > 0 and report["text"].strip()
    assert report["extra_bufts"] is (extra_buffer_types()[0] if not setting else False)


@pytest.mark.slow
@pytest.mark.parametrize("enabled", [extra_buffer_types()[0], False], ids=["this-cpu-decision", "off"])
def test_the_decision_reaches_llama_cpp(enabled: bool) -> None:
    """llama.cpp itself reports a CPU_REPACK buffer only when extra buffer types are on (on an AMX CPU
    both cases are "off": "on" is the crash this module avoids)."""
    script = f"""
from llama_cpp import Llama
from tinycrew.models.hardware import model_params_with_extra_bufts
from tinycrew.models.registry import ensure_local, get_spec
with model_params_with_extra_bufts({enabled}):
    Llama(model_path=str(ensure_local(get_spec(None))), n_ctx=256, verbose=True)
"""
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert ("CPU_REPACK model buffer" in completed.stderr) is enabled
