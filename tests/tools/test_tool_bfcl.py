"""tool_from_schema on every BFCL function: each builds, and the ground-truth arguments validate.

The data lives next to the repository (``../shared/bfcl``) or at ``$TINYCREW_BFCL``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tinycrew.tools import Tool, ToolArgumentError, tool_from_schema

CATEGORIES = ["simple_python", "multiple", "parallel", "parallel_multiple"]


def _bfcl_dir() -> Path:
    override = os.environ.get("TINYCREW_BFCL")
    path = Path(override) if override else Path(__file__).resolve().parents[2].parent / "shared" / "bfcl"
    if not (path / "BFCL_v4_simple_python.json").is_file():
        pytest.fail(f"BFCL data not found at {path}; set TINYCREW_BFCL to its folder")
    return path


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _key(function: dict[str, Any]) -> str:
    return json.dumps(function, sort_keys=True)


@pytest.fixture(scope="module")
def bfcl_tools() -> dict[str, Tool]:
    """One Tool per distinct function schema in the five question files."""
    folder = _bfcl_dir()
    tools: dict[str, Tool] = {}
    for path in sorted(folder.glob("BFCL_v4_*.json")):
        for entry in _read_jsonl(path):
            for function in entry["function"]:
                if _key(function) not in tools:
                    tools[_key(function)] = tool_from_schema(function)
    return tools


def _first_acceptable(value: Any) -> Any:
    """BFCL lists acceptable values; nested dicts list them per key. Take the first one that is given."""
    if isinstance(value, dict):
        out = {}
        for key, options in value.items():
            given = [option for option in options if option != ""]
            if given:
                out[key] = _first_acceptable(given[0])
        return out
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        return [_first_acceptable(item) for item in value]
    return value


def _ground_truth_calls(bfcl_tools: dict[str, Tool]) -> list[tuple[str, Tool, dict[str, Any]]]:
    folder = _bfcl_dir()
    calls = []
    for category in CATEGORIES:
        questions = _read_jsonl(folder / f"BFCL_v4_{category}.json")
        answers = _read_jsonl(folder / "possible_answer" / f"BFCL_v4_{category}.json")
        for question, answer in zip(questions, answers, strict=True):
            assert question["id"] == answer["id"]
            by_name = {f["name"]: bfcl_tools[_key(f)] for f in question["function"]}
            for call in answer["ground_truth"]:
                ((name, params),) = call.items()
                args = _first_acceptable(params)
                calls.append((question["id"], by_name[name], args))
    return calls


def test_every_bfcl_function_builds(bfcl_tools: dict[str, Tool]) -> None:
    names = {t.name for t in bfcl_tools.values()}
    assert len(bfcl_tools) >= 1300 and len(names) >= 980
    assert any("." in name for name in names)
    for built in bfcl_tools.values():
        schema = json.dumps(built.parameters)
        assert '"type": "dict"' not in schema and '"type": "float"' not in schema
        assert '"type": "tuple"' not in schema and '"type": "any"' not in schema


def test_ground_truth_arguments_validate(bfcl_tools: dict[str, Tool]) -> None:
    calls = _ground_truth_calls(bfcl_tools)
    failures = []
    for entry_id, built, args in calls:
        try:
            built.validate_args(args)
        except ToolArgumentError as exc:
            failures.append(f"{entry_id} {built.name}: {exc.message}")
    assert len(calls) > 1700
    # The few misses are BFCL quirks: ground truth naming a variable ("data['sales']") for an array,
    # strings in an integer list, a boolean for a string, and two parameters missing from the schema.
    assert len(failures) <= 0.01 * len(calls), "\n".join(failures)


def test_wrong_arguments_are_caught_on_bfcl_schemas(bfcl_tools: dict[str, Tool]) -> None:
    checked_type = checked_missing = 0
    for entry_id, built, args in _ground_truth_calls(bfcl_tools):
        props = built.parameters["properties"]
        for name, value in args.items():
            if props.get(name, {}).get("type") == "integer" and isinstance(value, int):
                with pytest.raises(ToolArgumentError) as caught:
                    built.validate_args({**args, name: "not a number"})
                assert f"argument '{name}': expected integer, got 'not a number'" in caught.value.message, (
                    entry_id
                )
                checked_type += 1
        for name in built.parameters.get("required", []):
            if name in args:
                with pytest.raises(ToolArgumentError) as caught:
                    built.validate_args({k: v for k, v in args.items() if k != name})
                assert f"missing required argument '{name}'" in caught.value.message, entry_id
                checked_missing += 1
    assert checked_type > 500 and checked_missing > 1500


async def test_bfcl_dry_run_observation(bfcl_tools: dict[str, Tool]) -> None:
    play = next(t for t in bfcl_tools.values() if t.name == "spotify.play")
    result = await play.arun('{"artist": "Taylor Swift", "duration": "20"}')
    assert result.ok
    assert result.content == "ok (dry run): spotify.play(artist='Taylor Swift', duration=20)"
