"""LoRA adapters as llama.cpp GGUF files over one shared quantized base, and a small registry of them.

Training (transformers + peft) loads the very GGUF that llama.cpp serves, dequantized, so its LoRA
deltas apply to the quantized weights as they are. `export_gguf_lora` writes a peft adapter directory
as llama.cpp's GGUF LoRA format; `register_adapter` files it under `$TINYCREW_HOME/models/adapters/<name>/`
with a card; `"<base>+<name>"` is then a model name that `load_model` and `Agent(models=...)` take.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np

from tinycrew.models.packaged import PACKAGED_MODELS
from tinycrew.models.registry import ensure_local, get_spec, models_dir
from tinycrew.models.spec import ModelSpec

ADAPTER_FILE = "adapter.gguf"
CARD_FILE = "card.json"

# Architectures whose GGUF projection weights keep the HF row order (convert_hf_to_gguf does not permute
# q/k for them, as it does for "llama"), so a peft delta B @ A applies to the GGUF tensor unchanged.
SUPPORTED_ARCHITECTURES = frozenset({"qwen2", "qwen3", "gemma2", "gemma3"})

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_SAFETENSORS_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "BF16": np.uint16}


class AdapterExportError(ValueError):
    """A peft adapter that cannot become a llama.cpp LoRA for this base; the message says why."""


# ---------------------------------------------------------------------------------------- the base


@dataclass(frozen=True)
class BaseLayout:
    """What export needs from the base GGUF: its architecture, block count and tensor shapes (ne order)."""

    architecture: str
    block_count: int
    tensors: dict[str, tuple[int, ...]] = field(repr=False)


@lru_cache(maxsize=4)
def _read_layout(path: str, size: int, mtime_ns: int) -> BaseLayout:
    """GGUFReader parses the whole vocabulary (seconds), so each base file is read once per process."""
    from gguf import GGUFReader

    reader = GGUFReader(path)
    architecture = str(reader.fields["general.architecture"].contents())
    blocks = int(reader.fields[f"{architecture}.block_count"].contents())
    tensors = {t.name: tuple(int(n) for n in t.shape) for t in reader.tensors}
    return BaseLayout(architecture=architecture, block_count=blocks, tensors=tensors)


def base_gguf_path(base: str | Path | ModelSpec) -> Path:
    """A base as a local GGUF path: an existing file, or a packaged name / spec assembled on demand."""
    if isinstance(base, Path | str) and Path(base).expanduser().is_file():
        return Path(base).expanduser().resolve()
    return ensure_local(get_spec(base if isinstance(base, ModelSpec) else str(base)))


def base_layout(base: str | Path | ModelSpec) -> BaseLayout:
    """The base GGUF's architecture, block count and tensor shapes, read with gguf.GGUFReader."""
    path = base_gguf_path(base)
    stat = path.stat()
    return _read_layout(str(path), stat.st_size, stat.st_mtime_ns)


# ------------------------------------------------------------------------------------ peft's files


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Tensors of a .safetensors file as float32 numpy arrays (bf16 too, which numpy lacks).

    Read directly (8-byte header length, JSON header, raw little-endian data) so that serving-side
    export needs neither torch nor the `safetensors` package.
    """
    data = path.read_bytes()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len])
    body = memoryview(data)[8 + header_len :]
    tensors: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in _SAFETENSORS_DTYPES:
            raise AdapterExportError(f"{path.name}: tensor {name} has unsupported dtype {info['dtype']}")
        start, end = info["data_offsets"]
        kind = np.dtype(_SAFETENSORS_DTYPES[info["dtype"]]).newbyteorder("<")
        raw = np.frombuffer(body[start:end], dtype=kind)
        if info["dtype"] == "BF16":
            raw = (raw.astype(np.uint32) << 16).view(np.float32)
        tensors[name] = raw.astype(np.float32).reshape(info["shape"])
    return tensors


def _split_key(key: str) -> tuple[str, str]:
    """`base_model.model.model.layers.0.mlp.up_proj.lora_A.weight` -> (`model.layers.0.mlp.up_proj`, "A")."""
    match = re.fullmatch(r"(?:base_model\.model\.)?(.+)\.lora_([AB])(?:\.[^.]+)?\.weight", key)
    if match is None:
        hint = ""
        if "lora_embedding" in key:
            hint = " (LoRA on embeddings is not supported)"
        elif "lora_magnitude_vector" in key:
            hint = " (DoRA is not supported by llama.cpp)"
        elif "modules_to_save" in key or key.endswith(".bias"):
            hint = " (only lora_A/lora_B matrices can be exported; train without modules_to_save / lora_bias)"
        raise AdapterExportError(f"unexpected tensor {key!r} in the peft adapter{hint}")
    return match.group(1), match.group(2)


def _pattern_value(patterns: dict[str, Any], module: str) -> Any | None:
    """peft's rank_pattern/alpha_pattern lookup: a key matches the module's name or a dotted suffix of it."""
    for key, value in patterns.items():
        if module == key or module.endswith("." + key) or re.fullmatch(rf"(.*\.)?{key}", module):
            return value
    return None


def _module_scale(config: dict[str, Any], module: str, rank: int) -> float:
    """The factor peft multiplies B @ A by for this module (alpha / r, or alpha / sqrt(r) with rsLoRA)."""
    alpha = _pattern_value(config.get("alpha_pattern") or {}, module)
    alpha = float(config.get("lora_alpha", 8) if alpha is None else alpha)
    return alpha / (math.sqrt(rank) if config.get("use_rslora") else rank)


def _read_peft_dir(peft_dir: Path) -> tuple[dict[str, Any], dict[str, dict[str, np.ndarray]]]:
    """The adapter config and, per module, its "A" (r x in) and "B" (out x r) matrices."""
    config_path, weights_path = peft_dir / "adapter_config.json", peft_dir / "adapter_model.safetensors"
    for needed in (config_path, weights_path):
        if not needed.is_file():
            raise AdapterExportError(f"{peft_dir} is not a peft adapter directory: {needed.name} is missing")
    config = json.loads(config_path.read_text())
    if config.get("peft_type", "LORA") != "LORA":
        raise AdapterExportError(f"{peft_dir}: peft_type {config.get('peft_type')!r} is not LORA")
    if config.get("use_dora"):
        raise AdapterExportError(f"{peft_dir}: DoRA adapters are not supported by llama.cpp")
    modules: dict[str, dict[str, np.ndarray]] = {}
    for key, tensor in read_safetensors(weights_path).items():
        module, part = _split_key(key)
        modules.setdefault(module, {})[part] = tensor
    for module, parts in modules.items():
        if set(parts) != {"A", "B"}:
            raise AdapterExportError(f"{peft_dir}: module {module} lacks lora_{'B' if 'A' in parts else 'A'}")
    if not modules:
        raise AdapterExportError(f"{peft_dir}: the adapter has no LoRA tensors")
    return config, modules


# ------------------------------------------------------------------------------------------ export


def _gguf_tensor_name(module: str, layout: BaseLayout, name_map: Any) -> str:
    """The base GGUF tensor an HF module's weight became, through gguf's own TensorNameMap."""
    gguf_name = name_map.get_name(module + ".weight", try_suffixes=(".weight",))
    if gguf_name is None:
        raise AdapterExportError(
            f"module {module!r} has no GGUF tensor name for architecture {layout.architecture!r}"
        )
    if gguf_name not in layout.tensors:
        raise AdapterExportError(f"module {module!r} maps to {gguf_name!r}, which the base GGUF lacks")
    return gguf_name


def _checked_pair(module: str, gguf_name: str, a: np.ndarray, b: np.ndarray, layout: BaseLayout) -> None:
    """llama.cpp's own checks, failed here with the module's name: A is r x in, B is out x r."""
    n_in, n_out = layout.tensors[gguf_name][:2]
    if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[1]:
        raise AdapterExportError(f"{module}: lora_A {a.shape} and lora_B {b.shape} do not share a rank")
    if a.shape[1] != n_in or b.shape[0] != n_out:
        raise AdapterExportError(
            f"{module}: lora_B @ lora_A is {b.shape[0]} x {a.shape[1]}, "
            f"but the base's {gguf_name} is {n_out} x {n_in}"
        )


def export_gguf_lora(
    peft_dir: str | Path,
    base_gguf: str | Path | ModelSpec,
    out_path: str | Path,
    *,
    dtype: Literal["f32", "f16"] = "f32",
) -> Path:
    """Write a peft LoRA directory as a llama.cpp GGUF LoRA adapter for `base_gguf`; returns `out_path`.

    `base_gguf` is the GGUF the adapter was trained on (a path, a packaged name or a spec): its
    architecture and block count pick gguf's TensorNameMap, and every module must map to one of its
    tensors with matching shape, so a wrong base fails here and not at load time. Tensors are written as
    llama.cpp's convert_lora_to_gguf.py does: `<base tensor>.lora_a` = lora_A (r x in) and `.lora_b` =
    lora_B (out x r), plus `adapter.lora.alpha`; llama.cpp scales by alpha / r per tensor, and any
    other peft scaling (rsLoRA, alpha_pattern) is folded into lora_b so the product stays exact.
    Example: `export_gguf_lora("runs/caller/final", DEFAULT_MODEL, "caller.gguf")`.
    """
    import gguf

    peft_dir, out_path = Path(peft_dir), Path(out_path)
    layout = base_layout(base_gguf)
    if layout.architecture not in SUPPORTED_ARCHITECTURES:
        raise AdapterExportError(
            f"architecture {layout.architecture!r} is not supported "
            f"(supported: {', '.join(sorted(SUPPORTED_ARCHITECTURES))})"
        )
    arch = {name: arch for arch, name in gguf.MODEL_ARCH_NAMES.items()}[layout.architecture]
    name_map = gguf.get_tensor_name_map(arch, layout.block_count)
    config, modules = _read_peft_dir(peft_dir)
    alpha = float(config.get("lora_alpha", 8))
    np_dtype = np.float16 if dtype == "f16" else np.float32
    pairs: list[tuple[str, np.ndarray, np.ndarray]] = []
    for module in sorted(modules, key=_natural_key):
        a, b = modules[module]["A"], modules[module]["B"]
        gguf_name = _gguf_tensor_name(module, layout, name_map)
        _checked_pair(module, gguf_name, a, b, layout)
        factor = _module_scale(config, module, a.shape[0])
        factor = factor * a.shape[0] / alpha if alpha else factor  # llama.cpp applies alpha / r itself
        if not math.isclose(factor, 1.0, rel_tol=1e-9):
            b = b * np.float32(factor)
        pairs.append((gguf_name, a, b))
    _write_adapter(out_path, layout.architecture, alpha, pairs, np_dtype, gguf)
    return out_path


def _natural_key(module: str) -> list[Any]:
    """Sort `layers.10` after `layers.9` so the file's tensors follow the base's block order."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", module)]


def _write_adapter(
    out_path: Path,
    architecture: str,
    alpha: float,
    pairs: list[tuple[str, np.ndarray, np.ndarray]],
    np_dtype: Any,
    gguf: Any,
) -> None:
    """The GGUF file itself, written to a temporary name beside `out_path` and renamed into place."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_path.parent, prefix=f".{out_path.name}.", suffix=".part")
    os.close(fd)
    try:
        writer = gguf.GGUFWriter(tmp, architecture)
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
        file_type = gguf.LlamaFileType.MOSTLY_F16 if np_dtype is np.float16 else gguf.LlamaFileType.ALL_F32
        writer.add_file_type(file_type)
        for gguf_name, a, b in pairs:
            writer.add_tensor(f"{gguf_name}.lora_a", np.ascontiguousarray(a, dtype=np_dtype))
            writer.add_tensor(f"{gguf_name}.lora_b", np.ascontiguousarray(b, dtype=np_dtype))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, out_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_adapter_metadata(path: str | Path) -> dict[str, Any]:
    """An adapter GGUF's metadata (general.*, adapter.*) and tensor names -> shapes, to check a file."""
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    meta: dict[str, Any] = {
        key: field_.contents() for key, field_ in reader.fields.items() if not key.startswith("GGUF.")
    }
    meta["tensors"] = {t.name: tuple(int(n) for n in t.shape) for t in reader.tensors}
    meta["tensor_types"] = {t.name: t.tensor_type.name for t in reader.tensors}
    return meta


def _check_adapter_file(path: Path) -> None:
    """Refuse to register something llama.cpp would not take as a LoRA adapter."""
    try:
        meta = read_adapter_metadata(path)
    except Exception as error:  # noqa: BLE001 - any parse failure means "not a GGUF adapter"
        raise AdapterExportError(f"{path} is not a GGUF file: {error}") from error
    if meta.get("general.type") != "adapter" or meta.get("adapter.type") != "lora":
        raise AdapterExportError(f"{path} is not a GGUF LoRA adapter (general.type / adapter.type)")


PROJECTIONS = (
    "self_attn.q_proj",
    "self_attn.k_proj",
    "self_attn.v_proj",
    "self_attn.o_proj",
    "mlp.gate_proj",
    "mlp.up_proj",
    "mlp.down_proj",
)
"""The usual LoRA targets of a Qwen2/Llama-style block, as HF module names under `model.layers.N.`."""


def write_safetensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    """float32 tensors as a .safetensors file (the inverse of `read_safetensors`, no extra package)."""
    header: dict[str, Any] = {}
    offset = 0
    arrays = {name: np.ascontiguousarray(t, dtype="<f4") for name, t in tensors.items()}
    for name, array in arrays.items():
        header[name] = {
            "dtype": "F32",
            "shape": list(array.shape),
            "data_offsets": [offset, offset + array.nbytes],
        }
        offset += array.nbytes
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    with path.open("wb") as handle:
        handle.write(struct.pack("<Q", len(encoded)) + encoded)
        for array in arrays.values():
            handle.write(array.tobytes())


def write_random_peft_adapter(
    out_dir: str | Path,
    base: str | Path | ModelSpec,
    *,
    rank: int = 8,
    alpha: float = 16.0,
    scale: float = 0.025,
    seed: int = 0,
    layers: int | None = None,
    projections: tuple[str, ...] = PROJECTIONS,
) -> Path:
    """A peft-format LoRA directory with random A and B, shaped for `base`, without any training.

    For tests and benchmarks: it has the size and key format (`base_model.model.model.layers.N....
    lora_A.weight`) of a trained adapter; `scale` is the entries' standard deviation, and the default
    changes greedy output of the packaged 0.5B while keeping it near its base. `layers` limits the
    blocks covered (all by default).
    """
    import gguf

    out_dir = Path(out_dir)
    layout = base_layout(base)
    arch = {name: arch for arch, name in gguf.MODEL_ARCH_NAMES.items()}[layout.architecture]
    name_map = gguf.get_tensor_name_map(arch, layout.block_count)
    rng = np.random.default_rng(seed)
    tensors: dict[str, np.ndarray] = {}
    for block in range(layout.block_count if layers is None else layers):
        for projection in projections:
            module = f"model.layers.{block}.{projection}"
            n_in, n_out = layout.tensors[_gguf_tensor_name(module, layout, name_map)][:2]
            prefix = f"base_model.model.{module}"
            tensors[f"{prefix}.lora_A.weight"] = rng.standard_normal((rank, n_in), np.float32) * scale
            tensors[f"{prefix}.lora_B.weight"] = rng.standard_normal((n_out, rank), np.float32) * scale
    out_dir.mkdir(parents=True, exist_ok=True)
    write_safetensors(out_dir / "adapter_model.safetensors", tensors)
    targets = sorted({projection.split(".")[-1] for projection in projections})
    config = {"peft_type": "LORA", "r": rank, "lora_alpha": alpha, "target_modules": targets}
    (out_dir / "adapter_config.json").write_text(json.dumps(config, indent=2))
    return out_dir


# ---------------------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class AdapterInfo:
    """A registered adapter: its folder's `adapter.gguf` and what its `card.json` says."""

    name: str
    base: str
    created: str
    path: Path
    card: dict[str, Any] = field(repr=False)


def adapters_dir() -> Path:
    """Where registered adapters live: `$TINYCREW_HOME/models/adapters/<name>/`."""
    return models_dir() / "adapters"


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"adapter name {name!r} must be letters, digits, '.', '_' or '-' (no '+' or '/'), at most 100"
        )


def _write_atomic(target: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def register_adapter(
    gguf_path: str | Path,
    name: str,
    base: str,
    card: dict[str, Any] | None = None,
    *,
    overwrite: bool = False,
) -> AdapterInfo:
    """Copy an exported adapter into the registry as `<name>`, with a card, so `"<base>+<name>"` loads it.

    `base` is the base model's name (the one `load_model` takes); `card` is free-form JSON the training
    pipeline fills (data, hyperparameters, scores). An existing name is an error unless `overwrite`.
    Example: `register_adapter("caller.gguf", "caller-v3", DEFAULT_MODEL, {"scores": {"bfcl": 0.61}})`.
    """
    _check_name(name)
    source = Path(gguf_path)
    _check_adapter_file(source)
    folder = adapters_dir() / name
    if (folder / ADAPTER_FILE).exists() and not overwrite:
        raise FileExistsError(f"adapter {name!r} is already registered in {folder}; pass overwrite=True")
    folder.mkdir(parents=True, exist_ok=True)
    created = datetime.now(UTC).isoformat(timespec="seconds")
    full_card = {**(card or {}), "name": name, "base": base, "created": created}
    _write_atomic(folder / ADAPTER_FILE, source.read_bytes())
    _write_atomic(folder / CARD_FILE, json.dumps(full_card, indent=2, default=str).encode())
    return _info(folder)


def _info(folder: Path) -> AdapterInfo:
    card = json.loads((folder / CARD_FILE).read_text())
    return AdapterInfo(
        name=folder.name,
        base=str(card.get("base", "")),
        created=str(card.get("created", "")),
        path=folder / ADAPTER_FILE,
        card=card,
    )


def list_adapters(base: str | None = None) -> list[AdapterInfo]:
    """Registered adapters by name (only those for `base` when given)."""
    root = adapters_dir()
    if not root.is_dir():
        return []
    found = [
        _info(folder)
        for folder in sorted(root.iterdir())
        if (folder / ADAPTER_FILE).is_file() and (folder / CARD_FILE).is_file()
    ]
    return [info for info in found if base is None or info.base == base]


def update_adapter_card(name: str, updates: dict[str, Any]) -> AdapterInfo:
    """Merge `updates` into a registered adapter's card (say held-out scores measured after training);
    the adapter file itself is left as it is. Example: `update_adapter_card("caller-v3", {"scores": s})`.
    """
    info = get_adapter(name)
    card = {**info.card, **updates, "name": info.name, "base": info.base, "created": info.created}
    _write_atomic(info.path.parent / CARD_FILE, json.dumps(card, indent=2, default=str).encode())
    return get_adapter(name)


def get_adapter(name: str) -> AdapterInfo:
    """A registered adapter by name; a KeyError lists the registered ones."""
    folder = adapters_dir() / name
    if _NAME.fullmatch(name) and (folder / ADAPTER_FILE).is_file() and (folder / CARD_FILE).is_file():
        return _info(folder)
    known = ", ".join(info.name for info in list_adapters()) or "none"
    raise KeyError(f"no adapter {name!r} in {adapters_dir()} (registered: {known})")


# ------------------------------------------------------------------------------ "<base>+<adapter>"


def split_model_ref(ref: str) -> tuple[str, str | None]:
    """`"<base>+<adapter>"` -> (base, adapter); a plain model name or path -> (ref, None).

    The base is the longest-known prefix before a "+": a packaged name or an existing .gguf file, so a
    path that itself contains "+" still loads as a plain model.
    """
    if ref in PACKAGED_MODELS or Path(ref).expanduser().is_file():
        return ref, None
    for index, char in enumerate(ref):
        if char != "+":
            continue
        base = ref[:index]
        if base in PACKAGED_MODELS or (base.endswith(".gguf") and Path(base).expanduser().is_file()):
            return base, ref[index + 1 :]
    return ref, None


def resolve_adapter(adapter: str | Path, base_name: str) -> tuple[Path, str]:
    """An adapter reference as (GGUF path, display name): a registered name, else a path to a .gguf.

    A registered adapter whose card names another base is refused: its deltas were trained for other
    weights, and llama.cpp would only notice a shape mismatch, not a same-shaped wrong base.
    """
    text = str(adapter)
    if _NAME.fullmatch(text) and (adapters_dir() / text / ADAPTER_FILE).is_file():
        info = get_adapter(text)
        if info.base and info.base != base_name:
            raise ValueError(f"adapter {text!r} was trained on {info.base!r}, not {base_name!r}")
        return info.path.resolve(), info.name
    path = Path(text).expanduser()
    if path.is_file():
        name = path.parent.name if path.name == ADAPTER_FILE else path.stem
        return path.resolve(), name
    known = ", ".join(info.name for info in list_adapters()) or "none"
    raise KeyError(f"adapter {text!r} is neither a registered adapter (registered: {known}) nor a file")
