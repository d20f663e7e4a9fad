"""Export recorded runs as Hugging Face `datasets` (Parquet, save_to_disk) or clean JSONL files.

JSONL lines are the samples exactly as built (no null keys, `tools` as objects), which is what OpenAI's
fine-tuning upload and `datasets.load_dataset("json", ...)` expect. Parquet and save_to_disk go through a
`datasets.Dataset` with a fixed schema: messages are structs whose absent keys read back as None, and
`tools` is JSON text (tool schemas differ in shape, which Arrow columns cannot hold); `decode_row`
turns such a row back into the clean sample.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from tinycrew.trajectories.records import RunFilter
from tinycrew.trajectories.redact import Redactor
from tinycrew.trajectories.samples import CallVersion, SampleFormat, dedupe_samples, run_samples
from tinycrew.trajectories.store import TrajectoryStore

FileFormat = Literal["jsonl", "parquet", "disk"]
FILE_FORMATS: tuple[str, ...] = ("jsonl", "parquet", "disk")

if TYPE_CHECKING:  # datasets takes a second to import: only exports pay for it
    import datasets


def dataset_features(fmt: SampleFormat) -> datasets.Features:
    """The fixed `datasets` schema of a sample format (messages as structs, tools as JSON text)."""
    import datasets

    text = datasets.Value("string")
    score = datasets.Value("float64")
    message = {
        "role": text,
        "content": text,
        "name": text,
        "tool_call_id": text,
        "tool_calls": datasets.List(
            {"id": text, "type": text, "function": {"name": text, "arguments": text}}
        ),
    }
    chat = {"messages": datasets.List(message), "tools": text}
    if fmt == "backbone":
        return datasets.Features(
            {"run_id": text, "graph": text, "outcome": text, "score": score, "trains_on": text, **chat}
        )
    if fmt == "role":
        return datasets.Features(
            {
                "run_id": text,
                "step_index": datasets.Value("int64"),
                "role": text,
                "model": text,
                "graph": text,
                "outcome": text,
                "score": score,
                "trains_on": text,
                "model_call": text,
                **chat,
            }
        )
    return datasets.Features(chat)


class ExportResult(BaseModel):
    """What an export wrote: where, in which format, and how many samples."""

    path: Path
    format: str
    file_format: str
    runs: int
    samples: int
    duplicates_dropped: int
    trains_on: str = "ran"
    """Which version of a call a policy changed the samples hold: "ran" (the call that ran) or "model"."""


def build_samples(
    store: TrajectoryStore,
    fmt: SampleFormat,
    *,
    role: str | None = None,
    filters: RunFilter | None = None,
    include_invalid: bool = False,
    dedupe: bool = True,
    redact: Redactor | None = None,
    trains_on: CallVersion = "ran",
) -> tuple[list[dict[str, Any]], int, int]:
    """Samples of every run matching `filters`, oldest run first; returns (samples, runs, duplicates).

    `filters.model` selects runs with a step by that model and, per step, only that model's steps (a
    backbone sample needs every step of the run to be by it). Steps with a validation error or an error
    are left out of role and openai samples unless `include_invalid`. `trains_on` picks the version of
    a call a policy changed: the call that ran ("ran", default) or the model's own ("model").
    """
    filters = filters or RunFilter()
    samples: list[dict[str, Any]] = []
    runs = 0
    for run in store.iter_runs(filters):
        runs += 1
        samples.extend(
            run_samples(
                run,
                fmt,
                role=role,
                model=filters.model,
                include_invalid=include_invalid,
                redact=redact,
                trains_on=trains_on,
            )
        )
    unique = dedupe_samples(samples) if dedupe else samples
    return unique, runs, len(samples) - len(unique)


def to_dataset(samples: list[dict[str, Any]], fmt: SampleFormat) -> datasets.Dataset:
    """A `datasets.Dataset` with the fixed schema of `fmt` (tools as JSON text)."""
    try:
        import datasets
    except ImportError:
        raise ImportError(
            "Parquet and dataset-folder exports need the `datasets` package: pip install 'tinycrew[train]' "
            "(JSONL needs nothing more)"
        ) from None

    features = dataset_features(fmt)
    columns: dict[str, list[Any]] = {name: [] for name in features}
    for sample in samples:
        for name in features:
            value = sample.get(name)
            columns[name].append(json.dumps(value or [], ensure_ascii=False) if name == "tools" else value)
    return datasets.Dataset.from_dict(columns, features=features)


def decode_row(row: dict[str, Any]) -> dict[str, Any]:
    """A Parquet/save_to_disk row back to the clean sample: null keys dropped, tools parsed."""

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    out = clean(row)
    if "tools" in out:
        out["tools"] = json.loads(out["tools"])
    return out


def write_jsonl(samples: list[dict[str, Any]], path: Path) -> None:
    """Write one JSON object per line, atomically (a temporary file renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for sample in samples:
            fh.write(json.dumps(sample, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def export_trajectories(
    store: TrajectoryStore,
    out: str | Path,
    fmt: SampleFormat,
    *,
    file_format: FileFormat = "jsonl",
    role: str | None = None,
    filters: RunFilter | None = None,
    include_invalid: bool = False,
    dedupe: bool = True,
    redact: Redactor | None = None,
    trains_on: CallVersion = "ran",
) -> ExportResult:
    """Build the samples (see `build_samples`) and write them to `out` as JSONL, Parquet or a dataset dir."""
    if file_format not in FILE_FORMATS:
        raise ValueError(f"unknown file format {file_format!r}; expected one of {FILE_FORMATS}")
    samples, runs, dropped = build_samples(
        store,
        fmt,
        role=role,
        filters=filters,
        include_invalid=include_invalid,
        dedupe=dedupe,
        redact=redact,
        trains_on=trains_on,
    )
    path = Path(out)
    if file_format == "jsonl":
        write_jsonl(samples, path)
    else:
        dataset = to_dataset(samples, fmt)
        path.parent.mkdir(parents=True, exist_ok=True)
        if file_format == "parquet":
            dataset.to_parquet(str(path))
        else:
            # one shard at least: datasets cannot load back an empty dataset saved with zero shards
            dataset.save_to_disk(str(path), num_shards=None if samples else 1)
    return ExportResult(
        path=path,
        format=fmt,
        file_format=file_format,
        runs=runs,
        samples=len(samples),
        duplicates_dropped=dropped,
        trains_on=trains_on,
    )
