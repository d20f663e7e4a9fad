"""LoRA adapters on one shared base (issue 26): memory of three role adapters, and decode speed with one.

Three adapters of a realistic size (rank 16 on all of q, k, v, o, gate, up, down in every block, random
weights in peft's format, exported with `export_gguf_lora`) over the packaged quantized 0.5B.

- Peak RSS: two fresh subprocesses, one loading the plain base, one loading the base plus the three
  adapters; each answers one short prompt per adapter (and the base) so that compute buffers exist, then
  reports `ru_maxrss`. Goal: with adapters <= 1.3x the plain base.
- Decode tokens/s on one loaded base, with an adapter active vs none, interleaved rep by rep so machine
  noise hits both alike (first token excluded, as in tinycrew's timings). Goal: ratio >= 0.9.

Usage: python benchmarks/bench_adapters.py [--reps 5] [--tokens 128] [--rank 16] [--dtype f32]
       [--targets all|attention] [--adapters A.gguf B.gguf C.gguf]
       (TINYCREW_THREADS=1 for one llama.cpp thread; --adapters measures trained adapters instead,
       e.g. the role adapters `tinycrew train` wrote to <out>/adapters)
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tinycrew.models import DEFAULT_MODEL
from tinycrew.models.adapters import PROJECTIONS, export_gguf_lora, write_random_peft_adapter
from tinycrew.models.llama_backend import LlamaCppModel

STORY = [{"role": "user", "content": "Write a long story about a lighthouse keeper and a storm."}]
HELLO = [{"role": "user", "content": "Say hello."}]
ROLES = ("planner", "caller", "summarizer")
N_CTX = 4096
TARGETS = {"all": PROJECTIONS, "attention": PROJECTIONS[:4]}


def make_adapters(directory: Path, rank: int, dtype: str, targets: str) -> list[Path]:
    """One adapter per role on every block (all seven projections by default), as a trained one would be."""
    files = []
    for seed, role in enumerate(ROLES, start=1):
        peft_dir = directory / f"peft-{role}"
        write_random_peft_adapter(peft_dir, DEFAULT_MODEL, rank=rank, seed=seed, projections=TARGETS[targets])
        out = directory / f"{role}.gguf"
        files.append(export_gguf_lora(peft_dir, DEFAULT_MODEL, out, dtype=dtype))  # type: ignore[arg-type]
    return files


def child_rss(adapters: list[str]) -> None:
    """Run in a fresh process: load, answer once per model, print peak RSS in MiB as JSON."""
    models = [LlamaCppModel(DEFAULT_MODEL, n_ctx=N_CTX)]
    models += [LlamaCppModel(DEFAULT_MODEL, n_ctx=N_CTX, adapter=path) for path in adapters]
    for model in models:
        model.chat(HELLO, max_tokens=8)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_rss_mib": peak_kib / 1024, "models": len(models)}))


def peak_rss(adapters: list[Path]) -> float:
    command = [sys.executable, __file__, "--child-rss", *map(str, adapters)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return float(json.loads(done.stdout.strip().splitlines()[-1])["peak_rss_mib"])


def decode_rate(model: LlamaCppModel, max_tokens: int) -> float:
    """Decode tokens/s after the first token, from a cold prompt under the model's own adapter."""
    model.reset_cache()
    first, count = None, 0
    for chunk in model.stream(STORY, max_tokens=max_tokens, temperature=0.0):
        if chunk.delta:
            count += 1
            first = first or time.perf_counter()
    assert first is not None and count > 1
    return (count - 1) / (time.perf_counter() - first)


def main() -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--dtype", choices=["f32", "f16"], default="f32")
    parser.add_argument("--targets", choices=list(TARGETS), default="all", help="projections adapted")
    parser.add_argument("--adapters", nargs="+", type=Path, help="GGUF adapters to measure (default: random)")
    parser.add_argument("--child-rss", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_rss is not None:
        child_rss(args.child_rss)
        return {}

    with tempfile.TemporaryDirectory(prefix="bench-adapters-") as tmp:
        adapters = args.adapters or make_adapters(Path(tmp), args.rank, args.dtype, args.targets)
        adapter_mib = sum(path.stat().st_size for path in adapters) / 2**20
        rss_base, rss_adapters = peak_rss([]), peak_rss(adapters)

        plain = LlamaCppModel(DEFAULT_MODEL, n_ctx=N_CTX)
        tuned = LlamaCppModel(DEFAULT_MODEL, n_ctx=N_CTX, adapter=adapters[min(1, len(adapters) - 1)])
        without, with_adapter = [], []
        for _ in range(args.reps):
            without.append(decode_rate(plain, args.tokens))
            with_adapter.append(decode_rate(tuned, args.tokens))

    figures = {
        "adapters": [str(path) for path in args.adapters] if args.adapters else "random",
        "adapter_rank": args.rank,
        "adapter_dtype": args.dtype,
        "adapter_targets": args.targets,
        "adapter_files_mib": adapter_mib,
        "peak_rss_base_mib": rss_base,
        "n_adapters": len(adapters),
        "peak_rss_base_adapters_mib": rss_adapters,
        "rss_ratio": rss_adapters / rss_base,
        "decode_tok_s_no_adapter_median": statistics.median(without),
        "decode_tok_s_adapter_median": statistics.median(with_adapter),
        "decode_ratio": statistics.median(with_adapter) / statistics.median(without),
        "threads": plain.llama.context_params.n_threads,
    }
    made = f"rank-{args.rank} {args.dtype} adapters on {args.targets} projections"
    print(f"{len(adapters)} {'given adapters' if args.adapters else made}: {adapter_mib:.1f} MiB of GGUF")
    print(
        f"peak RSS: base {rss_base:.0f} MiB, base + {len(adapters)} adapters {rss_adapters:.0f} MiB, "
        f"ratio {figures['rss_ratio']:.3f} (goal <= 1.3)"
    )
    print(
        f"decode tokens/s (median of {args.reps}, {args.tokens} tokens, interleaved, "
        f"{figures['threads']} threads): no adapter {figures['decode_tok_s_no_adapter_median']:.1f}, "
        f"adapter {figures['decode_tok_s_adapter_median']:.1f}, "
        f"ratio {figures['decode_ratio']:.3f} (goal >= 0.9)"
    )
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
