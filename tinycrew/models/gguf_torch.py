"""A GGUF model's weights and tokenizer in torch, converted once and kept beside the other caches.

transformers reads a GGUF (`gguf_file=`) by parsing its whole vocabulary three times (config, weights,
tokenizer) and dequantizing in numpy: about 70 s for the packaged 0.5B on one core. The training
pipeline and the transformers backend load the same base again and again, so the first load saves a
plain transformers checkpoint (fp32 safetensors, the dequantized values exactly) under
`$TINYCREW_HOME/torch/`, and later loads read that in seconds. The cost is disk: 4 bytes per weight
(2 GB for the 0.5B). `TINYCREW_TORCH_CACHE=off` reads the GGUF every time and writes nothing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any

from tinycrew.paths import tinycrew_home

COMPLETE = "converted-from.txt"


def cache_enabled() -> bool:
    """False when the user set `TINYCREW_TORCH_CACHE` to off, 0 or false."""
    return os.environ.get("TINYCREW_TORCH_CACHE", "on").strip().lower() not in {"off", "0", "false", "no"}


def checkpoint_dir(gguf: str | Path) -> Path:
    """Where the conversion of this GGUF file lives: keyed by its path, size and modification time, so a
    replaced file is converted again."""
    path = Path(gguf).resolve()
    stat = path.stat()
    key = hashlib.sha256(f"{path}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    return tinycrew_home() / "torch" / f"{path.stem}-{key}"


def _convert(gguf: Path, folder: Path) -> bool:
    """Write the checkpoint into a private folder first and move it into place whole, so a second
    process converting the same file at the same time never reads half a checkpoint. False (nothing
    written) when transformers kept some weights packed in GGUF blocks: those are not plain weights."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    partial = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    if not all(parameter.is_floating_point() for parameter in model.parameters()):
        return False
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:  # the GGUF loader dequantized every weight; it keeps only its marker
        quantizer.remove_quantization_config(model)
    tokenizer.save_pretrained(partial)
    model.save_pretrained(partial)
    (partial / COMPLETE).write_text(f"{gguf}\n")
    try:
        partial.rename(folder)
    except OSError:  # another process finished first: its copy is the same conversion
        shutil.rmtree(partial, ignore_errors=True)
    return True


def converted(gguf: str | Path) -> tuple[str, dict[str, Any]]:
    """(`from_pretrained` path, extra options) for this GGUF: the cached checkpoint (made now when it is
    missing), or the GGUF itself through `gguf_file=` when the cache is off.

    Example: `path, options = converted(ensure_local(DEFAULT_MODEL))`.
    """
    path = Path(gguf)
    if not cache_enabled():
        return str(path.parent), {"gguf_file": path.name}
    folder = checkpoint_dir(path)
    packed = folder.with_name(f"{folder.name}.packed")  # tried once: not plain weights, read the GGUF
    if packed.exists():
        return str(path.parent), {"gguf_file": path.name}
    if not (folder / COMPLETE).exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        if not _convert(path, folder):
            packed.write_text(f"{path}\n")
            return str(path.parent), {"gguf_file": path.name}
    return str(folder), {}


def load_causal_lm(gguf: str | Path, **options: Any) -> Any:
    """The GGUF's weights as a transformers causal LM (dequantized); `options` go to `from_pretrained`
    (e.g. `dtype=torch.bfloat16`).

    Example: `model = load_causal_lm(ensure_local(DEFAULT_MODEL))`.
    """
    from transformers import AutoModelForCausalLM

    source, extra = converted(gguf)
    return AutoModelForCausalLM.from_pretrained(source, **extra, **options)


def load_tokenizer(gguf: str | Path) -> Any:
    """The HF tokenizer (chat template included) read from the same GGUF the model is served from.

    Example: `load_tokenizer(ensure_local(DEFAULT_MODEL)).apply_chat_template(messages, tokenize=False)`.
    """
    from transformers import AutoTokenizer

    source, extra = converted(gguf)
    return AutoTokenizer.from_pretrained(source, **extra)
