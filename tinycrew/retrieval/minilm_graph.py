"""all-MiniLM-L6-v2 as an ONNX graph, written with the `onnx` helper API straight from the packaged
safetensors weights, and the same forward pass in numpy to check it against.

The core install has no PyTorch, so the ONNX model cannot come from `torch.onnx.export`. The network
is small and fixed (a 6-layer BERT encoder, mean pooling over real tokens, L2 normalisation), so we
write its graph ourselves: the same inputs (`input_ids`, `attention_mask`, int64, batch x sequence) and
output (`sentence_embedding`, float32, batch x 384) as the old export, with the op patterns a PyTorch
export has (LayerNormalization, erf GELU, MatMul + Add), so ONNX Runtime fuses and quantizes it alike.
The weights are read by a few lines of numpy: safetensors is an 8-byte header length, a JSON header,
then raw little-endian tensors, and reading it ourselves spares the core a dependency.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnx

OPSET = 17
IR_VERSION = 8
"""The IR version of opset 17, so that any ONNX Runtime that runs opset 17 loads the file."""

INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAME = "sentence_embedding"

_MASK_VALUE = float(np.finfo(np.float32).min)
"""Added to the attention scores of padding, as transformers' BERT does: their softmax weight is 0."""

_POOL_EPS = 1e-9
_NORM_EPS = 1e-12
"""sentence-transformers' mean pooling clamps the token count at 1e-9; `F.normalize` the norm at 1e-12."""

_DTYPES: dict[str, str] = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U8": "u1",
    "BOOL": "?",
}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a .safetensors file as a numpy array (bf16 widened to float32), without torch.

    Raises ValueError for a malformed file or a dtype we do not know.
    """
    raw = path.read_bytes()
    if len(raw) < 8:
        raise ValueError(f"{path} is too short for a safetensors file")
    header_len = int.from_bytes(raw[:8], "little")
    if 8 + header_len > len(raw):
        raise ValueError(f"{path}: header length {header_len} runs past the end of the file")
    header = json.loads(raw[8 : 8 + header_len])
    base = 8 + header_len
    tensors: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        if not 0 <= start <= end <= len(raw) - base:
            raise ValueError(f"{path}: tensor {name} lies outside the file")
        shape = tuple(int(d) for d in info["shape"])
        dtype = info["dtype"]
        if dtype == "BF16":  # the top half of a float32
            halves = np.frombuffer(raw, dtype="<u2", count=(end - start) // 2, offset=base + start)
            array = (halves.astype(np.uint32) << 16).view(np.float32)
        elif dtype in _DTYPES:
            item = np.dtype(_DTYPES[dtype])
            array = np.frombuffer(raw, dtype=item, count=(end - start) // item.itemsize, offset=base + start)
        else:
            raise ValueError(f"{path}: tensor {name} has unsupported dtype {dtype}")
        tensors[name] = array.reshape(shape)
    return tensors


@dataclass(frozen=True)
class BertConfig:
    """The few config.json fields the graph depends on."""

    hidden_size: int
    num_heads: int
    num_layers: int
    layer_norm_eps: float

    @classmethod
    def from_file(cls, path: Path) -> BertConfig:
        """Read a transformers config.json, refusing what this graph does not implement."""
        config = json.loads(path.read_text(encoding="utf-8"))
        if config.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"unsupported activation {config.get('hidden_act')!r} (only erf GELU)")
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"unsupported position embeddings {config.get('position_embedding_type')!r}")
        if config["hidden_size"] % config["num_attention_heads"]:
            raise ValueError("hidden_size is not a multiple of num_attention_heads")
        return cls(
            hidden_size=int(config["hidden_size"]),
            num_heads=int(config["num_attention_heads"]),
            num_layers=int(config["num_hidden_layers"]),
            layer_norm_eps=float(config.get("layer_norm_eps", 1e-12)),
        )


class BertWeights:
    """The encoder's float32 tensors by their transformers names, whatever prefix the file puts first
    (none, "bert." or "0.auto_model.")."""

    def __init__(self, tensors: dict[str, np.ndarray]) -> None:
        """Find the prefix from the word embeddings' name."""
        anchor = "embeddings.word_embeddings.weight"
        prefixes = [name[: -len(anchor)] for name in tensors if name.endswith(anchor)]
        if len(prefixes) != 1:
            raise ValueError(f"expected one {anchor} tensor, found {len(prefixes)}")
        self.prefix = prefixes[0]
        self.tensors = tensors

    def __getitem__(self, name: str) -> np.ndarray:
        """The tensor `name` (without prefix) as float32."""
        return np.asarray(self.tensors[self.prefix + name], dtype=np.float32)

    def layer(self, index: int, name: str) -> np.ndarray:
        """A tensor of encoder layer `index`, e.g. layer(0, "attention.self.query.weight")."""
        return self[f"encoder.layer.{index}.{name}"]


class _GraphWriter:
    """Collects nodes and initializers under unique names, so the builder reads like the forward pass."""

    def __init__(self) -> None:
        """Start an empty graph."""
        from onnx import NodeProto, TensorProto

        self.nodes: list[NodeProto] = []
        self.initializers: list[TensorProto] = []
        self._count = 0

    def const(self, name: str, value: np.ndarray) -> str:
        """Add `value` as an initializer and return its name."""
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], name: str | None = None, **attrs: object) -> str:
        """Add one single-output node and return the name of its output."""
        from onnx import helper

        self._count += 1
        out = name or f"/{op_type.lower()}_{self._count}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=f"{op_type}_{self._count}", **attrs))
        return out


def build_model(weights: BertWeights, config: BertConfig) -> onnx.ModelProto:
    """The float ONNX model: BERT encoder, mean pooling over `attention_mask`, L2 normalisation.

    token_type_ids are always 0 (sentence-transformers passes none), so token type row 0 is folded into
    the position table; the 1/sqrt(head size) attention scale is folded into the query projection.
    """
    from onnx import TensorProto, helper

    hidden, heads = config.hidden_size, config.num_heads
    head_size = hidden // heads
    g = _GraphWriter()

    def linear(x: str, name: str, scale: float = 1.0) -> str:
        """x @ W.T + b of the transformers Linear `name`, as MatMul then Add (what quantization rewrites)."""
        weight = g.const(f"{name}.weight_t", weights[f"{name}.weight"].T * np.float32(scale))
        bias = g.const(f"{name}.bias", weights[f"{name}.bias"] * np.float32(scale))
        return g.op("Add", [g.op("MatMul", [x, weight]), bias])

    def layer_norm(x: str, name: str) -> str:
        """The transformers LayerNorm `name` over the last axis."""
        gamma, beta = (
            g.const(f"{name}.weight", weights[f"{name}.weight"]),
            g.const(f"{name}.bias", weights[f"{name}.bias"]),
        )
        return g.op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=config.layer_norm_eps)

    def const(name: str, value: float | list[int]) -> str:
        """A small constant: float32 scalar for a float, int64 vector for a list."""
        return g.const(name, np.array(value, np.float32 if isinstance(value, float) else np.int64))

    ids, mask = INPUT_NAMES
    # embeddings: word + (position + token type 0)[:sequence], then LayerNorm
    word = g.op(
        "Gather", [g.const("embeddings.word_embeddings", weights["embeddings.word_embeddings.weight"]), ids]
    )
    table = (
        weights["embeddings.position_embeddings.weight"]
        + weights["embeddings.token_type_embeddings.weight"][0]
    )
    seq_len = g.op("Slice", [g.op("Shape", [ids]), const("one_i64", [1]), const("two_i64", [2])])
    zero = const("zero_i64", [0])
    position = g.op("Slice", [g.const("embeddings.position_and_type", table), zero, seq_len, zero])
    x = layer_norm(g.op("Add", [word, position]), "embeddings.LayerNorm")

    # padding gets a large negative score: (1 - mask) * float32 min, shaped batch x 1 x 1 x sequence
    one = const("one_f", 1.0)
    mask_f = g.op("Cast", [mask], to=TensorProto.FLOAT)
    padding = g.op("Mul", [g.op("Sub", [one, mask_f]), const("mask_value", _MASK_VALUE)])
    scores_bias = g.op("Unsqueeze", [padding, const("axes_1_2", [1, 2])])
    split_heads = const("split_heads_shape", [0, 0, heads, head_size])
    merge_heads = const("merge_heads_shape", [0, 0, hidden])
    sqrt2, half = const("sqrt2", math.sqrt(2.0)), const("half", 0.5)

    for i in range(config.num_layers):
        p = f"encoder.layer.{i}"
        q = linear(x, f"{p}.attention.self.query", scale=1.0 / math.sqrt(head_size))
        k = linear(x, f"{p}.attention.self.key")
        v = linear(x, f"{p}.attention.self.value")
        q = g.op("Transpose", [g.op("Reshape", [q, split_heads])], perm=[0, 2, 1, 3])
        k = g.op("Transpose", [g.op("Reshape", [k, split_heads])], perm=[0, 2, 3, 1])
        v = g.op("Transpose", [g.op("Reshape", [v, split_heads])], perm=[0, 2, 1, 3])
        probs = g.op("Softmax", [g.op("Add", [g.op("MatMul", [q, k]), scores_bias])], axis=-1)
        context = g.op("Transpose", [g.op("MatMul", [probs, v])], perm=[0, 2, 1, 3])
        attended = linear(g.op("Reshape", [context, merge_heads]), f"{p}.attention.output.dense")
        x = layer_norm(g.op("Add", [attended, x]), f"{p}.attention.output.LayerNorm")
        inner = linear(x, f"{p}.intermediate.dense")
        # erf GELU as PyTorch exports it: x * (1 + erf(x / sqrt 2)) * 0.5 (ONNX Runtime fuses it)
        erf = g.op("Erf", [g.op("Div", [inner, sqrt2])])
        gelu = g.op("Mul", [g.op("Mul", [inner, g.op("Add", [erf, one])]), half])
        x = layer_norm(g.op("Add", [linear(gelu, f"{p}.output.dense"), x]), f"{p}.output.LayerNorm")

    # mean over real tokens, then divide by the L2 norm (at least 1e-12)
    weight = g.op("Unsqueeze", [mask_f, const("axis_minus1", [-1])])
    axis1 = const("axis_1", [1])
    total = g.op("ReduceSum", [g.op("Mul", [x, weight]), axis1], keepdims=0)
    count = g.op("Max", [g.op("ReduceSum", [weight, axis1], keepdims=0), const("pool_eps", _POOL_EPS)])
    mean = g.op("Div", [total, count])
    norm = g.op("Max", [g.op("ReduceL2", [mean], axes=[-1], keepdims=1), const("norm_eps", _NORM_EPS)])
    g.op("Div", [mean, norm], name=OUTPUT_NAME)

    graph = helper.make_graph(
        g.nodes,
        "all-MiniLM-L6-v2",
        [
            helper.make_tensor_value_info(ids, TensorProto.INT64, ["batch", "sequence"]),
            helper.make_tensor_value_info(mask, TensorProto.INT64, ["batch", "sequence"]),
        ],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", hidden])],
        g.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name="tinycrew",
    )
    return model


def numpy_forward(weights: BertWeights, config: BertConfig, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The same sentence embeddings in float64 numpy, written as transformers' BERT reads, without any of
    the graph's folding: an independent reference for the graph on machines without PyTorch."""
    hidden, heads = config.hidden_size, config.num_heads
    head_size = hidden // heads
    batch, seq = ids.shape

    def w(name: str) -> np.ndarray:
        return weights[name].astype(np.float64)

    def layer_norm(x: np.ndarray, prefix: str) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        return (x - mean) / np.sqrt(var + config.layer_norm_eps) * w(f"{prefix}.weight") + w(f"{prefix}.bias")

    def dense(x: np.ndarray, prefix: str) -> np.ndarray:
        return x @ w(f"{prefix}.weight").T + w(f"{prefix}.bias")

    x = (
        weights["embeddings.word_embeddings.weight"][ids].astype(np.float64)
        + w("embeddings.position_embeddings.weight")[:seq][None]
        + w("embeddings.token_type_embeddings.weight")[0]
    )
    x = layer_norm(x, "embeddings.LayerNorm")
    bias = ((1.0 - mask.astype(np.float64)) * np.finfo(np.float32).min)[:, None, None, :]
    for i in range(config.num_layers):
        p = f"encoder.layer.{i}"

        def heads_of(t: np.ndarray) -> np.ndarray:
            return t.reshape(batch, seq, heads, head_size).transpose(0, 2, 1, 3)

        q = heads_of(dense(x, f"{p}.attention.self.query"))
        k = heads_of(dense(x, f"{p}.attention.self.key"))
        v = heads_of(dense(x, f"{p}.attention.self.value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(head_size) + bias
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        context = (scores / scores.sum(axis=-1, keepdims=True)) @ v
        context = context.transpose(0, 2, 1, 3).reshape(batch, seq, hidden)
        x = layer_norm(dense(context, f"{p}.attention.output.dense") + x, f"{p}.attention.output.LayerNorm")
        inner = dense(x, f"{p}.intermediate.dense")
        inner = 0.5 * inner * (1.0 + _erf(inner / math.sqrt(2.0)))
        x = layer_norm(dense(inner, f"{p}.output.dense") + x, f"{p}.output.LayerNorm")
    weight = mask.astype(np.float64)[:, :, None]
    mean = (x * weight).sum(axis=1) / np.maximum(weight.sum(axis=1), _POOL_EPS)
    norm = np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), _NORM_EPS)
    return mean / norm


def _erf(x: np.ndarray) -> np.ndarray:
    """erf by Abramowitz and Stegun 7.1.26 (absolute error under 1.5e-7, below float32's own rounding of
    the graph), since numpy has no erf and math.erf element by element takes seconds."""
    t = 1.0 / (1.0 + 0.3275911 * np.abs(x))
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return np.sign(x) * (1.0 - poly * np.exp(-x * x))
