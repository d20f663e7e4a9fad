"""A short real generation, meant to run in a subprocess: a crash in llama.cpp then kills only it.

`python -m tinycrew.models.smoke [--model NAME_OR_PATH] [--max-tokens N]` prints one JSON line
{"ok": true, "model": ..., "text": ..., "tokens": n, "decode_tok_s": x, "extra_bufts": bool} and exits 0.
`tinycrew doctor` and the crash regression test run it.
"""

from __future__ import annotations

import argparse
import json
import sys


def smoke(model: str | None = None, max_tokens: int = 16) -> dict[str, object]:
    """Load `model` (default: the packaged default) with llama.cpp and generate a few tokens."""
    from tinycrew.models.llama_backend import LlamaCppModel

    llama = LlamaCppModel(model)
    result = llama.chat(
        [{"role": "user", "content": "Count from one to five in words."}],
        max_tokens=max_tokens,
        temperature=0.0,
    )
    tokens = result.usage.completion_tokens
    return {
        "ok": bool(result.content.strip()),
        "model": llama.name,
        "text": result.content,
        "tokens": tokens,
        "decode_tok_s": round(result.timings.decode_tokens_per_s(tokens), 1),
        "extra_bufts": llama.extra_bufts,
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: run `smoke` and print its JSON line; exit 1 when nothing was generated."""
    parser = argparse.ArgumentParser(prog="python -m tinycrew.models.smoke", description=__doc__)
    parser.add_argument("--model", default=None, help="packaged model name or .gguf path")
    parser.add_argument("--max-tokens", type=int, default=16)
    options = parser.parse_args(argv)
    report = smoke(options.model, options.max_tokens)
    print(json.dumps(report), flush=True)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
