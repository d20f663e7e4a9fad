"""Decode speed through tinycrew vs raw llama-cpp-python, extra buffer types off vs on, and warm vs
cold tool-prompt TTFT.

Both sides run the same GGUF with the same settings and the same prompt tokens, interleaved rep by
rep so that machine noise hits both alike. Prints medians and the ratios. The raw side loads with the
extra-buffer-type decision tinycrew made (`tinycrew.models.hardware`), so it cannot take the AMX path
that crashes; "off vs on" measures what turning the repacking buffers off costs on this CPU (skipped
where the CPU has AMX, since "on" is the crash).
Usage: python benchmarks/bench_models.py [--reps 5] [--tokens 128]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from llama_cpp import Llama

from tinycrew.models.hardware import has_amx, model_params_with_extra_bufts
from tinycrew.models.llama_backend import LlamaCppModel
from tinycrew.tools.builtin import builtin_tools

STORY = [{"role": "user", "content": "Write a long story about a lighthouse keeper and a storm."}]


def raw_decode(llama: Llama, tokens: list[int], max_tokens: int) -> tuple[float, int]:
    """Decode tokens/s of raw llama-cpp-python (first token excluded, as in tinycrew's timings)."""
    llama.reset()
    first, count = None, 0
    for _ in llama.create_completion(prompt=tokens, max_tokens=max_tokens, temperature=0.0, stream=True):
        count += 1
        first = first or time.perf_counter()
    assert first is not None
    return (count - 1) / (time.perf_counter() - first), count


def tinycrew_decode(model: LlamaCppModel, max_tokens: int) -> tuple[float, int]:
    model.reset_cache()
    first, count = None, 0
    for chunk in model.stream(STORY, max_tokens=max_tokens, temperature=0.0):
        if chunk.delta:
            count += 1
            first = first or time.perf_counter()
    assert first is not None
    return (count - 1) / (time.perf_counter() - first), count


def tool_prompt(question: str) -> list[dict[str, str]]:
    system = "You are an assistant that calls tools. Pick the right tool and fill its arguments exactly."
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]


def ttft(model: LlamaCppModel, question: str, tools: list[dict], cold: bool) -> float:
    if cold:
        model.reset_cache()
    result = model.chat(tool_prompt(question), tools, max_tokens=1)
    return result.timings.ttft_s


def main() -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=128)
    args = parser.parse_args()

    model = LlamaCppModel(n_ctx=4096)
    threads = model.llama.context_params.n_threads
    with model_params_with_extra_bufts(model.extra_bufts):
        raw = Llama(str(model.path), n_ctx=4096, n_threads=threads, n_batch=512, verbose=False)
    tokens = model.render(STORY)
    compare_bufts = not has_amx()
    if compare_bufts:
        with_bufts = LlamaCppModel(n_ctx=4096, extra_bufts=True)
        without_bufts = LlamaCppModel(n_ctx=4096, extra_bufts=False)
    ours, theirs, off, on = [], [], [], []
    for _ in range(args.reps):
        theirs.append(raw_decode(raw, tokens, args.tokens)[0])
        ours.append(tinycrew_decode(model, args.tokens)[0])
        if compare_bufts:
            off.append(tinycrew_decode(without_bufts, args.tokens)[0])
            on.append(tinycrew_decode(with_bufts, args.tokens)[0])
    tools = builtin_tools().openai_schemas()
    questions = [
        "What is 17 * 23?",
        "Which weekday was 2024-03-05?",
        "Convert 5 km to miles.",
        "Time in Tokyo?",
    ]
    cold, warm = [], []
    for question in questions + questions[:1]:
        cold.append(ttft(model, question, tools, cold=True))
        warm.append(ttft(model, question + " Please.", tools, cold=False))
    prompt_tokens = len(model.render(tool_prompt(questions[0]), tools))
    figures = {
        "threads": threads,
        "decode_tok_s_tinycrew_median": statistics.median(ours),
        "decode_tok_s_raw_median": statistics.median(theirs),
        "decode_ratio": statistics.median(ours) / statistics.median(theirs),
        "extra_bufts": model.extra_bufts,
        "decode_tok_s_bufts_off_median": statistics.median(off) if off else None,
        "decode_tok_s_bufts_on_median": statistics.median(on) if on else None,
        "bufts_off_on_ratio": statistics.median(off) / statistics.median(on) if on else None,
        "tool_prompt_tokens": prompt_tokens,
        "ttft_cold_ms_median": 1000 * statistics.median(cold),
        "ttft_warm_ms_median": 1000 * statistics.median(warm),
        "ttft_speedup": statistics.median(cold) / statistics.median(warm),
    }
    print(f"decode tokens/s (median of {args.reps}, {args.tokens} tokens, interleaved):")
    print(
        f"  tinycrew {figures['decode_tok_s_tinycrew_median']:.1f}  raw llama-cpp-python "
        f"{figures['decode_tok_s_raw_median']:.1f}  ratio {figures['decode_ratio']:.3f} (goal >= 0.95)"
    )
    if compare_bufts:
        print(
            f"  extra buffer types (default here: {'on' if model.extra_bufts else 'off'}): off "
            f"{figures['decode_tok_s_bufts_off_median']:.1f}  "
            f"on {figures['decode_tok_s_bufts_on_median']:.1f}"
            f"  ratio off/on {figures['bufts_off_on_ratio']:.3f}"
        )
    else:
        print("  extra buffer types: off (the CPU has AMX; 'on' is the llama.cpp crash, not measured)")
    print(f"time to first token, tool prompt of {prompt_tokens} tokens (median of {len(cold)}):")
    print(
        f"  cold {figures['ttft_cold_ms_median']:.0f} ms  warm prefix {figures['ttft_warm_ms_median']:.0f} ms"
        f"  speedup {figures['ttft_speedup']:.1f}x (goal >= 3x)"
    )
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
