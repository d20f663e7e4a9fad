"""Load the non-live single-turn BFCL categories and turn their schemas into OpenAI tools.

The data stays where it was put (``../shared/bfcl`` next to the repository, or ``$TINYCREW_BFCL``,
or an explicit path); see that folder's SOURCE.md for the format. Nothing here copies it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

CATEGORIES: tuple[str, ...] = ("simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance")
"""The categories this project uses; all but ``irrelevance`` have ground truth."""

ENV_VAR = "TINYCREW_BFCL"
TRAIN_FRACTION_PERCENT = 80

Split = Literal["train", "eval"]

# dialect type -> JSON-schema type; "any" is handled separately (string, or no constraint)
_TYPE_MAP: dict[str, str] = {
    "string": "string",
    "integer": "integer",
    "float": "number",
    "boolean": "boolean",
    "array": "array",
    "tuple": "array",
    "dict": "object",
}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class BfclEntry:
    """One single-turn BFCL question with its tools and, where the category has one, its ground truth."""

    id: str
    category: str
    messages: list[dict[str, Any]]
    functions: list[dict[str, Any]]
    ground_truth: list[dict[str, dict[str, list[Any]]]] | None


def default_root() -> Path:
    """Where the data lives unless told otherwise: ``$TINYCREW_BFCL`` or ``<repo>/../shared/bfcl``."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    repo_root = Path(__file__).resolve().parents[2]
    return repo_root.parent / "shared" / "bfcl"


def split_of(entry_id: str) -> Split:
    """Assign an id to ``train`` (80 %) or ``eval`` (20 %) by its sha256, so the split never drifts."""
    digest = hashlib.sha256(entry_id.encode("utf-8")).digest()
    bucket = int.from_bytes(digest[:8], "big") % 100
    return "train" if bucket < TRAIN_FRACTION_PERCENT else "eval"


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def load_category(
    category: str,
    root: str | Path | None = None,
    limit: int | None = None,
    split: Split | None = None,
) -> list[BfclEntry]:
    """Read one category (questions joined with ground truth by id), optionally one split and the first
    ``limit`` entries of it."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown BFCL category {category!r}; expected one of {CATEGORIES}")
    if split is not None and split not in ("train", "eval"):
        raise ValueError(f"split must be 'train', 'eval' or None, not {split!r}")
    base = Path(root) if root is not None else default_root()
    question_file = base / f"BFCL_v4_{category}.json"
    if not question_file.is_file():
        raise FileNotFoundError(
            f"BFCL question file {question_file} not found; pass root= or set ${ENV_VAR} to the data folder"
        )
    answers: dict[str, list[Any]] | None = None
    answer_file = base / "possible_answer" / f"BFCL_v4_{category}.json"
    if category != "irrelevance":
        answers = {row["id"]: row["ground_truth"] for row in _read_jsonl(answer_file)}

    entries: list[BfclEntry] = []
    for row in _read_jsonl(question_file):
        entry_id = row["id"]
        if split is not None and split_of(entry_id) != split:
            continue
        turns = row["question"]
        if len(turns) != 1:
            raise ValueError(f"{entry_id}: expected a single turn, found {len(turns)}")
        truth = None
        if answers is not None:
            if entry_id not in answers:
                raise ValueError(f"{entry_id}: no ground truth in {answer_file}")
            truth = answers[entry_id]
        entries.append(
            BfclEntry(
                id=entry_id,
                category=category,
                messages=list(turns[0]),
                functions=list(row["function"]),
                ground_truth=truth,
            )
        )
        if limit is not None and len(entries) >= limit:
            break
    return entries


class NameMap:
    """Two-way map between BFCL function names (may contain dots) and API-safe names (``[A-Za-z0-9_-]``).

    Collisions after replacement get a numeric suffix, so the map is always invertible.
    """

    def __init__(self, names: list[str] | None = None) -> None:
        self._to_api: dict[str, str] = {}
        self._from_api: dict[str, str] = {}
        for name in names or []:
            self.add(name)

    def add(self, name: str) -> str:
        """Register ``name`` and return its API-safe form."""
        if name in self._to_api:
            return self._to_api[name]
        safe = _SAFE_NAME.sub("_", name) or "_"
        candidate, counter = safe, 2
        while candidate in self._from_api:
            candidate = f"{safe}_{counter}"
            counter += 1
        self._to_api[name] = candidate
        self._from_api[candidate] = name
        return candidate

    def to_api(self, name: str) -> str:
        """The API-safe name for a BFCL name (unknown names are mapped by the same rule)."""
        return self._to_api.get(name) or _SAFE_NAME.sub("_", name)

    def from_api(self, name: str) -> str:
        """The original BFCL name for an API-safe name; unknown names come back unchanged."""
        return self._from_api.get(name, name)


def _convert_schema(schema: dict[str, Any], any_as_string: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type":
            if value == "any":
                if any_as_string:
                    out["type"] = "string"
            else:
                out["type"] = _TYPE_MAP.get(value, value)
        elif key == "properties" and isinstance(value, dict):
            out["properties"] = {
                name: _convert_schema(sub, any_as_string) if isinstance(sub, dict) else sub
                for name, sub in value.items()
            }
        elif key == "items" and isinstance(value, dict):
            out["items"] = _convert_schema(value, any_as_string)
        elif key == "optional":
            continue  # not JSON Schema; "required" already says it
        else:
            out[key] = copy.deepcopy(value)
    return out


def to_openai_tools(
    functions: list[dict[str, Any]],
    name_map: NameMap | None = None,
    any_as_string: bool = True,
) -> list[dict[str, Any]]:
    """Map BFCL function docs to OpenAI ``tools`` entries (dict→object, float→number, tuple→array,
    any→string or unconstrained), recursively; names go through ``name_map`` (created if not given)."""
    names = name_map if name_map is not None else NameMap()
    tools: list[dict[str, Any]] = []
    for function in functions:
        parameters = _convert_schema(function.get("parameters", {"type": "dict"}), any_as_string)
        parameters["type"] = "object"
        parameters.setdefault("properties", {})
        tools.append(
            {
                "type": "function",
                "function": {
                    "name": names.add(function["name"]),
                    "description": function.get("description", ""),
                    "parameters": parameters,
                },
            }
        )
    return tools
