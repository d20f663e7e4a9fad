"""The local ONNX model of the packaged weights: built once without PyTorch, cached, checked, and equal to
what sentence-transformers computes on PyTorch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinycrew.retrieval import OnnxEncoder, load_embedding_model, onnx_model_path
from tinycrew.retrieval.minilm_graph import BertConfig, BertWeights, numpy_forward, read_safetensors
from tinycrew.retrieval.onnx_backend import (
    EXPORT_VERSION,
    INT8_FILE_NAME,
    ONNX_FILE_NAME,
    _encode,
    _model_dir,
    load_tokenizer,
)

TEXTS = [
    "hi",
    "Find the area of a triangle with base 10 and height 5.",
    "Imagine you are planning a trip to Mars and then to Japan; convert 5000 dollars to yen. " * 20,
]


SENTENCE = "Book a flight from Oslo to Tokyo next Friday."

# Run in a fresh interpreter where PyTorch (and sentence-transformers, and the safetensors package) cannot
# be imported, as in the core install: build the models, embed one sentence, say which modules loaded.
# A finder that raises, rather than sys.modules[name] = None, because libraries such as scipy take a
# name present in sys.modules for a loaded module; this way they see what an uninstalled package shows.
WITHOUT_TORCH = """
import json, sys
BLOCKED = {"torch", "sentence_transformers", "safetensors"}
class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, NotInstalled())
from tinycrew.retrieval.onnx_backend import OnnxEncoder, onnx_model_path
path = onnx_model_path(cache_dir=sys.argv[1])
vector = OnnxEncoder(path, max_batch=1).encode([sys.argv[2]])[0]
print(json.dumps({"path": str(path), "vector": vector.tolist(), "modules": sorted(sys.modules)}))
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """One fresh build for this module, made as a first use on a new core install would make it: in a
    subprocess without PyTorch. Returns the cache directory and what the subprocess reported."""
    directory = tmp_path_factory.mktemp("onnx")
    env = {**os.environ, "TINYCREW_HOME": str(tmp_path_factory.mktemp("home"))}
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_TORCH, str(directory), SENTENCE],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return directory, json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def export_dir(built: tuple[Path, dict[str, Any]]) -> Path:
    """The cache directory of the torch-free build."""
    return built[0]


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


def test_builds_and_embeds_without_torch(built: tuple[Path, dict[str, Any]]) -> None:
    directory, report = built
    assert report["path"] == str(directory / INT8_FILE_NAME)
    assert not {"torch", "sentence_transformers", "safetensors"} & {
        m.partition(".")[0] for m in report["modules"]
    }
    vector = np.asarray(report["vector"], dtype=np.float32)
    assert vector.shape == (384,) and abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
    here = OnnxEncoder(directory / INT8_FILE_NAME, max_batch=1).encode([SENTENCE])[0]
    assert np.array_equal(vector, here)  # the same file gives the same vector in this process
    assert float(vector @ torch_vectors([SENTENCE])[0]) > 0.98


def test_safetensors_reader_matches_the_safetensors_package() -> None:
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    path = _model_dir() / "model.safetensors"
    ours, theirs = read_safetensors(path), safetensors_numpy.load_file(str(path))
    assert ours.keys() == theirs.keys()
    for name, array in theirs.items():
        assert ours[name].dtype == array.dtype and np.array_equal(ours[name], array), name


def test_numpy_reference_equals_pytorch() -> None:
    """The build-time check is only as good as its reference: the numpy forward pass is the model."""
    directory = _model_dir()
    weights = BertWeights(read_safetensors(directory / "model.safetensors"))
    ids, mask = _encode(load_tokenizer(), TEXTS)
    reference = numpy_forward(weights, BertConfig.from_file(directory / "config.json"), ids, mask)
    assert np.min(np.sum(reference * torch_vectors(TEXTS), axis=1)) > 0.9999
