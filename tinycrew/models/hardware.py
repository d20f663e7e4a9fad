"""What the CPU and the llama.cpp build can do, and which llama.cpp code paths are safe to use.

llama.cpp's CPU backend offers "extra buffer types" that repack the weights for a faster kernel. On CPUs
with Intel AMX (Sapphire Rapids and later) the AMX buffer type repacks Q4_K weights, and in
llama-cpp-python 0.3.36 the first matmul then segfaults in `ggml_backend_amx_mul_mat` (llama.cpp issue
#20824, closed without a fix). So by default the extra buffer types are turned off exactly where the
CPU has AMX; everywhere else they stay on (they are the CPU repack path for AVX2/AVX-512/NEON too).
`TINYCREW_LLAMA_EXTRA_BUFTS=on|off` overrides the decision either way.
"""

from __future__ import annotations

import contextlib
import os
import platform
from collections.abc import Iterator
from functools import cache
from pathlib import Path

EXTRA_BUFTS_ENV = "TINYCREW_LLAMA_EXTRA_BUFTS"
AMX_FLAGS = ("amx_tile", "amx_int8", "amx_bf16")
FLAGS_THAT_MATTER = (
    *("avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16"),
    *("avx_vnni", *AMX_FLAGS, "neon", "asimd", "sve", "i8mm", "dotprod"),
)
"""The flags that decide which llama.cpp kernels run (x86 SIMD and AMX, arm64 NEON/SVE/dot products)."""


@cache
def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU's feature flags as Linux reports them ("flags" on x86, "Features" on arm64); empty
    where /proc/cpuinfo cannot be read (macOS, Windows)."""
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def has_amx(flags: frozenset[str] | None = None) -> bool:
    """Whether the CPU has Intel AMX tiles (the path that crashes on Q4_K weights)."""
    return "amx_tile" in (cpu_flags() if flags is None else flags)


BF16_FLAGS = ("avx512_bf16", "amx_bf16")
"""x86 flags of bf16 dot-product instructions, which make torch's bf16 matmuls on the CPU fast."""


def has_native_bf16(flags: frozenset[str] | None = None) -> bool:
    """Whether the CPU multiplies bf16 natively (AVX512-BF16 or AMX-BF16); without it torch emulates
    bf16 on the CPU and is slower than fp32."""
    return any(flag in (cpu_flags() if flags is None else flags) for flag in BF16_FLAGS)


def extra_buffer_types(
    flags: frozenset[str] | None = None, env: dict[str, str] | None = None
) -> tuple[bool, str]:
    """Whether llama.cpp should use its extra (repacking) buffer types here, and why.

    Example: on a Sapphire Rapids VM `extra_buffer_types()` is `(False, "off: the CPU has AMX ...")`.
    """
    setting = (os.environ if env is None else env).get(EXTRA_BUFTS_ENV, "").strip().lower()
    if setting in ("1", "on", "true", "yes"):
        return True, f"on: {EXTRA_BUFTS_ENV}={setting}"
    if setting in ("0", "off", "false", "no"):
        return False, f"off: {EXTRA_BUFTS_ENV}={setting}"
    if setting:
        raise ValueError(f"{EXTRA_BUFTS_ENV}={setting!r}: use on or off")
    if has_amx(flags):
        return False, (
            "off: the CPU has AMX, whose Q4_K repack crashes llama.cpp (issue #20824); "
            f"{EXTRA_BUFTS_ENV}=on forces it"
        )
    return True, "on: no AMX on this CPU (the CPU repack path is safe and faster)"


@contextlib.contextmanager
def model_params_with_extra_bufts(enabled: bool) -> Iterator[None]:
    """Make llama-cpp-python's `Llama(...)` load with `use_extra_bufts=enabled` inside this block.

    `Llama.__init__` builds its model params from `llama_model_default_params()` and loads at once, with
    no argument for this field, so the default params are patched for the duration of the load. The
    caller holds the backend's load lock; nothing else in tinycrew loads a model concurrently.
    """
    import llama_cpp.llama_cpp as native

    original = native.llama_model_default_params
    if enabled or not hasattr(native.llama_model_params, "use_extra_bufts"):
        yield
        return

    def without_extra_bufts() -> object:
        params = original()
        params.use_extra_bufts = False
        return params

    native.llama_model_default_params = without_extra_bufts
    try:
        yield
    finally:
        native.llama_model_default_params = original


def system_info() -> str:
    """llama.cpp's own report of the features its CPU backend uses (`llama_print_system_info`)."""
    import llama_cpp

    return llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip()


def machine() -> str:
    """The machine in a few words: architecture, CPU model, cores this process may use."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith(("model name", "Model", "CPU part")):
                model = line.partition(":")[2].strip()
                break
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{platform.machine()} {model or platform.processor()}, {cores} cores".strip()
