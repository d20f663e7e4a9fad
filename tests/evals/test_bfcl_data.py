"""Loading the BFCL data, the train/eval split and the mapping to OpenAI tools."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tinycrew.evals.bfcl_data import (
    CATEGORIES,
    ENV_VAR,
    NameMap,
    default_root,
    load_category,
    split_of,
    to_openai_tools,
)

EXPECTED_SIZES = {
    "simple_python": 400,
    "multiple": 200,
    "parallel": 200,
    "parallel_multiple": 200,
    "irrelevance": 240,
}


def test_default_root_is_shared_folder_next_to_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    repo_root = Path(__file__).resolve().parents[2]
    assert default_root() == repo_root.parent / "shared" / "bfcl"
    assert (default_root() / "SOURCE.md").is_file()


def test_env_var_overrides_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert default_root() == tmp_path
    with pytest.raises(FileNotFoundError, match=ENV_VAR):
        load_category("simple_python")


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_category_loads_with_expected_size(category: str) -> None:
    entries = load_category(category)
    assert len(entries) == EXPECTED_SIZES[category]
    assert len({entry.id for entry in entries}) == len(entries)
    for entry in entries:
        assert entry.category == category
        assert entry.id.startswith(category + "_")
        assert entry.messages and all("role" in m and "content" in m for m in entry.messages)
        assert entry.functions and all("name" in f and "parameters" in f for f in entry.functions)
        if category == "irrelevance":
            assert entry.ground_truth is None
        else:
            assert entry.ground_truth and all(len(call) == 1 for call in entry.ground_truth)


def test_first_simple_entry_content() -> None:
    entry = load_category("simple_python", limit=1)[0]
    assert entry.id == "simple_python_0"
    assert entry.messages[0]["role"] == "user"
    assert "triangle" in entry.messages[0]["content"]
    assert entry.functions[0]["name"] == "calculate_triangle_area"
    assert entry.ground_truth == [
        {"calculate_triangle_area": {"base": [10], "height": [5], "unit": ["units", ""]}}
    ]


def test_explicit_root_and_limit(tmp_path: Path) -> None:
    source = default_root()
    (tmp_path / "possible_answer").mkdir()
    questions = (source / "BFCL_v4_parallel.json").read_text().splitlines()[:3]
    answers = (source / "possible_answer" / "BFCL_v4_parallel.json").read_text().splitlines()[:3]
    (tmp_path / "BFCL_v4_parallel.json").write_text("\n".join(questions) + "\n")
    (tmp_path / "possible_answer" / "BFCL_v4_parallel.json").write_text("\n".join(answers) + "\n")
    assert [e.id for e in load_category("parallel", root=tmp_path)] == [
        "parallel_0",
        "parallel_1",
        "parallel_2",
    ]
    assert [e.id for e in load_category("parallel", root=str(tmp_path), limit=2)] == [
        "parallel_0",
        "parallel_1",
    ]


def test_missing_ground_truth_is_an_error(tmp_path: Path) -> None:
    source = default_root()
    (tmp_path / "possible_answer").mkdir()
    questions = (source / "BFCL_v4_multiple.json").read_text().splitlines()[:2]
    answers = (source / "possible_answer" / "BFCL_v4_multiple.json").read_text().splitlines()[:1]
    (tmp_path / "BFCL_v4_multiple.json").write_text("\n".join(questions) + "\n")
    (tmp_path / "possible_answer" / "BFCL_v4_multiple.json").write_text("\n".join(answers) + "\n")
    with pytest.raises(ValueError, match="multiple_1"):
        load_category("multiple", root=tmp_path)


def test_unknown_category_and_split_rejected() -> None:
    with pytest.raises(ValueError, match="unknown BFCL category"):
        load_category("live_simple")
    with pytest.raises(ValueError, match="split"):
        load_category("simple_python", split="test")  # type: ignore[arg-type]


def test_split_is_sha256_based_and_stable() -> None:
    bucket = int.from_bytes(hashlib.sha256(b"simple_python_0").digest()[:8], "big") % 100
    assert split_of("simple_python_0") == ("train" if bucket < 80 else "eval")
    assert all(split_of(f"x_{i}") == split_of(f"x_{i}") for i in range(50))


def test_split_is_about_80_20_and_partitions_the_category() -> None:
    everything = load_category("simple_python")
    train = load_category("simple_python", split="train")
    evaluation = load_category("simple_python", split="eval")
    assert {e.id for e in train} | {e.id for e in evaluation} == {e.id for e in everything}
    assert not {e.id for e in train} & {e.id for e in evaluation}
    assert all(split_of(e.id) == "train" for e in train)
    assert 0.72 < len(train) / len(everything) < 0.88
    assert [e.id for e in load_category("simple_python", split="eval", limit=5)] == [
        e.id for e in evaluation[:5]
    ]


def test_name_map_round_trip_and_collisions() -> None:
    names = NameMap(["spotify.play", "spotify_play", "a.b.c", "plain"])
    assert names.to_api("spotify.play") == "spotify_play"
    assert names.to_api("spotify_play") == "spotify_play_2"
    assert names.to_api("a.b.c") == "a_b_c"
    assert names.to_api("plain") == "plain"
    for original in ("spotify.play", "spotify_play", "a.b.c", "plain"):
        assert names.from_api(names.to_api(original)) == original
    assert names.from_api("never_seen") == "never_seen"
    assert names.add("spotify.play") == "spotify_play"


def test_to_openai_tools_maps_dialect_recursively() -> None:
    functions = [
        {
            "name": "geo.distance",
            "description": "d",
            "parameters": {
                "type": "dict",
                "properties": {
                    "coord": {"type": "tuple", "items": {"type": "float"}},
                    "ratio": {"type": "float", "default": 1.0},
                    "data": {"type": "any"},
                    "points": {
                        "type": "array",
                        "items": {
                            "type": "dict",
                            "properties": {"x": {"type": "float"}, "tag": {"type": "string", "enum": ["a"]}},
                        },
                    },
                    "opts": {"type": "dict", "properties": {"deep": {"type": "boolean"}}, "optional": True},
                },
                "required": ["coord"],
            },
        }
    ]
    names = NameMap()
    (tool,) = to_openai_tools(functions, names)
    assert tool["type"] == "function"
    fn = tool["function"]
    assert fn["name"] == "geo_distance" and names.from_api("geo_distance") == "geo.distance"
    params = fn["parameters"]
    assert params["type"] == "object" and params["required"] == ["coord"]
    props = params["properties"]
    assert props["coord"] == {"type": "array", "items": {"type": "number"}}
    assert props["ratio"] == {"type": "number", "default": 1.0}
    assert props["data"] == {"type": "string"}
    assert props["points"]["items"]["type"] == "object"
    assert props["points"]["items"]["properties"]["x"] == {"type": "number"}
    assert props["points"]["items"]["properties"]["tag"] == {"type": "string", "enum": ["a"]}
    assert props["opts"] == {"type": "object", "properties": {"deep": {"type": "boolean"}}}
    # the input is left untouched
    assert functions[0]["parameters"]["properties"]["coord"]["type"] == "tuple"
    (loose,) = to_openai_tools(functions, any_as_string=False)
    assert loose["function"]["parameters"]["properties"]["data"] == {}


def _types(schema: object) -> set[str]:
    found: set[str] = set()
    if isinstance(schema, dict):
        if isinstance(schema.get("type"), str):
            found.add(schema["type"])
        for value in schema.values():
            found |= _types(value)
    elif isinstance(schema, list):
        for value in schema:
            found |= _types(value)
    return found


@pytest.mark.parametrize("category", CATEGORIES)
def test_converted_tools_have_only_json_schema_types(category: str) -> None:
    json_types = {"string", "integer", "number", "boolean", "array", "object"}
    for entry in load_category(category):
        names = NameMap()
        tools = to_openai_tools(entry.functions, names)
        assert len(tools) == len(entry.functions)
        for tool, function in zip(tools, entry.functions, strict=True):
            assert "." not in tool["function"]["name"]
            assert names.from_api(tool["function"]["name"]) == function["name"]
            properties = tool["function"]["parameters"]["properties"]
            assert _types(properties) <= json_types, (entry.id, _types(properties))
            assert set(properties) == set(function["parameters"]["properties"])
        assert json.loads(json.dumps(tools)) == tools  # serialisable as sent to an API
