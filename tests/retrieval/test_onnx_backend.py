"""The local ONNX export of the packaged model: made once, cached, checked, and equal to PyTorch."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tinycrew.retrieval import OnnxEncoder, load_embedding_model, onnx_model_path
from tinycrew.retrieval.onnx_backend import EXPORT_VERSION, INT8_FILE_NAME, ONNX_FILE_NAME, load_tokenizer

TEXTS = [
    "hi",
    "Find the area of a triangle with base 10 and height 5.",
    "Imagine you are planning a trip to Mars and then to Japan; convert 5000 dollars to yen. " * 20,
]


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One fresh export for this module (about 20 s), as a first use on a new machine would make."""
    directory = tmp_path_factory.mktemp("onnx")
    onnx_model_path(cache_dir=directory)
    return directory


def torch_vectors(texts: list[str]) -> np.ndarray:
    """What sentence-transformers itself computes."""
    model = load_embedding_model()
    return np.asarray(model.encode(texts, normalize_embeddings=True, convert_to_numpy=True))


def test_export_writes_both_variants_and_a_sidecar(export_dir: Path) -> None:
    assert (export_dir / ONNX_FILE_NAME).stat().st_size > 80_000_000
    assert (export_dir / INT8_FILE_NAME).stat().st_size < 30_000_000
    meta = json.loads((export_dir / "all-MiniLM-L6-v2.json").read_text())
    assert meta["export_version"] == EXPORT_VERSION and len(meta["source_sha256"]) == 64
    assert not [p for p in export_dir.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_second_use_reuses_the_export(export_dir: Path) -> None:
    before = (export_dir / ONNX_FILE_NAME).stat().st_mtime_ns
    assert onnx_model_path(cache_dir=export_dir) == export_dir / INT8_FILE_NAME
    assert onnx_model_path(int8=False, cache_dir=export_dir) == export_dir / ONNX_FILE_NAME
    assert (export_dir / ONNX_FILE_NAME).stat().st_mtime_ns == before


def test_moved_stamp_with_same_weights_is_refreshed_not_reexported(export_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "onnx"
    shutil.copytree(export_dir, copy)
    meta_path = copy / "all-MiniLM-L6-v2.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "source_mtime_ns": 1}))
    before = (copy / ONNX_FILE_NAME).stat().st_mtime_ns
    onnx_model_path(cache_dir=copy)
    assert (copy / ONNX_FILE_NAME).stat().st_mtime_ns == before
    assert json.loads(meta_path.read_text())["source_mtime_ns"] == meta["source_mtime_ns"]


def test_stale_export_is_redone(export_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "onnx"
    shutil.copytree(export_dir, copy)
    meta_path = copy / "all-MiniLM-L6-v2.json"
    meta_path.write_text(json.dumps({**json.loads(meta_path.read_text()), "export_version": 0}))
    (copy / INT8_FILE_NAME).write_bytes(b"not a model")
    path = onnx_model_path(cache_dir=copy)
    assert json.loads(meta_path.read_text())["export_version"] == EXPORT_VERSION
    assert path.stat().st_size > 1_000_000
    assert OnnxEncoder(path, max_batch=1).encode(["hello"]).shape == (1, 384)


def test_float_export_equals_pytorch(export_dir: Path) -> None:
    encoder = OnnxEncoder(export_dir / ONNX_FILE_NAME)
    batched = encoder.encode(TEXTS)  # one padded batch
    single = np.concatenate([encoder.encode([t]) for t in TEXTS])
    expected = torch_vectors(TEXTS)
    assert batched.dtype == np.float32 and batched.shape == (3, 384)
    assert np.min(np.sum(batched * expected, axis=1)) > 0.9999
    assert np.min(np.sum(single * expected, axis=1)) > 0.9999


def test_int8_export_is_close_and_independent_of_batch_neighbours(export_dir: Path) -> None:
    encoder = OnnxEncoder(export_dir / INT8_FILE_NAME, max_batch=1)
    together = encoder.encode(TEXTS)
    alone = np.concatenate([encoder.encode([t]) for t in TEXTS])
    assert np.array_equal(together, alone)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert np.min(np.sum(together * torch_vectors(TEXTS), axis=1)) > 0.98


def test_tokenizer_matches_sentence_transformers() -> None:
    model = load_embedding_model()
    for text in TEXTS:
        expected = model.tokenizer(text, truncation=True, max_length=model.max_seq_length)["input_ids"]
        assert load_tokenizer().encode(text).ids == expected
    assert len(load_tokenizer().encode(TEXTS[2]).ids) == 256
