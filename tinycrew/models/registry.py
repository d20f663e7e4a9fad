"""Model registry: find a model by name and turn its source into a verified local GGUF path."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from tinycrew.models.packaged import DEFAULT_MODEL, PACKAGED_MODELS
from tinycrew.models.spec import HubSource, ModelSpec, PackagedSource, PathSource
from tinycrew.paths import tinycrew_home

_BLOCK = 8 * 1024 * 1024


class ModelNotAvailableError(RuntimeError):
    """The model's weights cannot be found or fetched; the message says how to get them."""


class ModelState(StrEnum):
    READY = "ready"  # assembled/downloaded and verified
    INSTALLED = "installed"  # chunk packages present, not yet assembled
    MISSING = "missing"  # chunk packages (or file) absent


def models_dir() -> Path:
    """Where assembled and downloaded GGUF files live (`$TINYCREW_HOME/models`)."""
    path = tinycrew_home() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def list_models() -> list[ModelSpec]:
    """The packaged models, default first."""
    return list(PACKAGED_MODELS.values())


def get_spec(name_or_path: str | ModelSpec | None = None) -> ModelSpec:
    """A spec by packaged name, or for a path to a `.gguf` file; None means the default model."""
    if isinstance(name_or_path, ModelSpec):
        return name_or_path
    name = name_or_path or DEFAULT_MODEL
    if name in PACKAGED_MODELS:
        return PACKAGED_MODELS[name]
    if name.endswith(".gguf") or Path(name).expanduser().exists():
        return ModelSpec.from_path(name)
    known = ", ".join(PACKAGED_MODELS)
    raise KeyError(f"unknown model {name!r}: use a packaged name ({known}) or a path to a .gguf file")


def _chunk_paths(source: PackagedSource) -> list[Path] | None:
    """Installed chunk files in order, or None when any chunk package is missing."""
    paths = []
    for module, relative in source.chunks:
        found = importlib.util.find_spec(module)
        if found is None or found.origin is None:
            return None
        path = Path(found.origin).parent / relative
        if not path.is_file():
            return None
        paths.append(path)
    return paths


def local_path(spec: ModelSpec) -> Path:
    """Where the spec's GGUF file is (or will be) on disk."""
    source = spec.source
    if isinstance(source, PathSource):
        return source.path
    if isinstance(source, PackagedSource):
        return models_dir() / source.filename
    return models_dir() / "hub" / source.repo_id.replace("/", "--") / source.filename


def _verified_marker(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _is_verified(spec: ModelSpec, path: Path) -> bool:
    """True when the file exists and matches the recorded sha256 (cached by size+mtime marker)."""
    if not path.is_file():
        return False
    if spec.sha256 is None:
        return True
    marker = _verified_marker(path)
    stamp = f"{spec.sha256} {path.stat().st_size} {path.stat().st_mtime_ns}"
    if marker.is_file() and marker.read_text() == stamp:
        return True
    if sha256_file(path) != spec.sha256:
        return False
    marker.write_text(stamp)
    return True


def model_state(spec: ModelSpec) -> ModelState:
    """Whether the model is ready to load, installable without network, or missing."""
    path = local_path(spec)
    if path.is_file() and (spec.sha256 is None or _verified_marker(path).is_file()):
        return ModelState.READY
    source = spec.source
    if isinstance(source, PackagedSource) and _chunk_paths(source) is not None:
        return ModelState.INSTALLED
    return ModelState.READY if path.is_file() else ModelState.MISSING


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in large blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def _progress(description: str, total: int | None, show: bool) -> Iterator[tuple[Progress, int]]:
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, disable=not show, transient=True) as progress:
        yield progress, progress.add_task(description, total=total)


def _assemble(spec: ModelSpec, source: PackagedSource, target: Path, show_progress: bool) -> None:
    """Concatenate the chunks into `target` atomically, hashing on the way."""
    chunks = _chunk_paths(source)
    if chunks is None:
        packages = " ".join(source.distributions)
        raise ModelNotAvailableError(
            f"model {spec.name!r} is not installed: its chunk packages are missing. "
            f"Install them with: pip install {packages}"
        )
    total = sum(path.stat().st_size for path in chunks)
    digest = hashlib.sha256()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, _progress(f"assembling {spec.name}", total, show_progress) as bar:
            progress, task = bar
            for chunk in chunks:
                with chunk.open("rb") as handle:
                    while block := handle.read(_BLOCK):
                        out.write(block)
                        digest.update(block)
                        progress.advance(task, len(block))
            out.flush()
            os.fsync(out.fileno())
        if spec.sha256 is not None and digest.hexdigest() != spec.sha256:
            raise ModelNotAvailableError(
                f"assembled {spec.name!r} has sha256 {digest.hexdigest()}, expected {spec.sha256}; "
                "reinstall its chunk packages"
            )
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    if spec.sha256 is not None:
        stat = target.stat()
        _verified_marker(target).write_text(f"{spec.sha256} {stat.st_size} {stat.st_mtime_ns}")


def _download(spec: ModelSpec, source: HubSource, target: Path) -> None:
    """Fetch from the Hugging Face hub; offline or unreachable hubs give a clear error."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled

    try:
        downloaded = hf_hub_download(
            source.repo_id, source.filename, revision=source.revision, local_dir=target.parent
        )
    except (LocalEntryNotFoundError, OfflineModeIsEnabled, HfHubHTTPError, OSError) as error:
        raise ModelNotAvailableError(
            f"cannot download {source.repo_id}/{source.filename} from the Hugging Face hub "
            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else 'no detail'}). "
            "Check your network or use a packaged model or a local .gguf path instead."
        ) from error
    if Path(downloaded) != target:
        os.replace(downloaded, target)


def ensure_local(spec: ModelSpec | str | None = None, show_progress: bool = False) -> Path:
    """Return a verified local GGUF path for the spec, assembling or downloading it once.

    Example: `path = ensure_local("qwen2.5-coder-0.5b-instruct-q4_k_m", show_progress=True)`.
    """
    spec = get_spec(spec)
    target = local_path(spec)
    if _is_verified(spec, target):
        return target
    source = spec.source
    if isinstance(source, PathSource):
        if not target.is_file():
            raise ModelNotAvailableError(f"model file {target} does not exist")
        raise ModelNotAvailableError(f"model file {target} does not match sha256 {spec.sha256}")
    if isinstance(source, PackagedSource):
        _assemble(spec, source, target, show_progress)
    else:
        _download(spec, source, target)
        if not _is_verified(spec, target):
            target.unlink(missing_ok=True)
            raise ModelNotAvailableError(f"downloaded {spec.name!r} does not match sha256 {spec.sha256}")
    return target
