"""Unit tests for each decoding and scoring rule of SOURCE.md §1–§5."""

from __future__ import annotations

from typing import Any

import pytest

from tinycrew.evals.bfcl_data import BfclEntry, NameMap
from tinycrew.evals.bfcl_scorer import (
    DecodeError,
    calls_from_tool_calls,
    check_call,
    is_well_formed,
    normalize_string,
    parse_python_calls,
    score_category,
    score_entry,
    score_output,
)


def _function(name: str, properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "description": "",
        "parameters": {"type": "dict", "properties": properties, "required": required or []},
    }


def _entry(
    functions: list[dict[str, Any]], truth: list[dict[str, Any]] | None, category: str = "simple_python"
) -> BfclEntry:
    return BfclEntry(
        id=f"{category}_t",
        category=category,
        messages=[{"role": "user", "content": "q"}],
        functions=functions,
        ground_truth=truth,
    )


def _one(spec: dict[str, Any], alternatives: list[Any], value: Any, required: bool = False) -> bool:
    """Score a single-parameter call f(x=value) against ground truth x: alternatives."""
    schema = _function("f", {"x": spec}, ["x"] if required else [])
    return check_call({"f": {"x": value}}, {"f": {"x": alternatives}}, schema) is None


# ------------------------------------------------------------------ parse_python_calls


def test_parse_simple_and_multiple_calls() -> None:
    assert parse_python_calls("[f(a=1, b='x')]") == [{"f": {"a": 1, "b": "x"}}]
    assert parse_python_calls("[f(a=1), g(b=2.5)]") == [{"f": {"a": 1}}, {"g": {"b": 2.5}}]
    assert parse_python_calls("f(a=True, b=None)") == [{"f": {"a": True, "b": None}}]
    assert parse_python_calls("f(), g(x=1)") == [{"f": {}}, {"g": {"x": 1}}]


def test_parse_dotted_names() -> None:
    assert parse_python_calls("[spotify.play(artist='A')]") == [{"spotify.play": {"artist": "A"}}]
    assert parse_python_calls("a.b.c.d(x=1)") == [{"a.b.c.d": {"x": 1}}]


def test_parse_drops_positional_arguments() -> None:
    assert parse_python_calls("[f(1, 2, c=3)]") == [{"f": {"c": 3}}]
    assert parse_python_calls("[f('only positional')]") == [{"f": {}}]


def test_parse_negative_numbers_and_literal_types() -> None:
    calls = parse_python_calls("[f(a=-5, b=-2.5, c=+3, t=(1, 2), l=[1, -1], d={'k': -1})]")
    assert calls == [{"f": {"a": -5, "b": -2.5, "c": 3, "t": (1, 2), "l": [1, -1], "d": {"k": -1}}}]
    assert type(calls[0]["f"]["t"]) is tuple


def test_parse_bare_names_calls_and_expressions() -> None:
    calls = parse_python_calls(
        "[f(unit=meters, g=math_fn(3), h=inner(k=1), s=data[0], e=2**3, p='a'+'b', z=...)]"
    )
    args = calls[0]["f"]
    assert args["unit"] == "meters"
    assert args["g"] == "math_fn(3)"  # a call without keywords becomes its source text
    assert args["h"] == {"inner": {"k": 1}}
    assert args["s"] == "data[0]"
    assert args["e"] == 8
    assert args["p"] == "ab"
    assert args["z"] == "..."


def test_parse_strips_backticks_newlines_and_spaces() -> None:
    assert parse_python_calls("`[f(a=1)]`") == [{"f": {"a": 1}}]
    assert parse_python_calls("```\n[f(a=1)]\n```") == [{"f": {"a": 1}}]
    assert parse_python_calls("  \n f(a=1) \n") == [{"f": {"a": 1}}]


@pytest.mark.parametrize(
    "text",
    [
        "I cannot help with that.",
        "[1, 2]",
        "[f(a=1), 'text']",
        "[]",
        "",
        "```python\n[f(a=1)]\n```",  # the language tag survives the strip, as in BFCL
        "[f(a=x.y)]",
        "[f(a=lambda: 1)]",
        "[f(a=-x)]",
        "[f(a=2**100000)]",
        "[f(a=(10**1000)**1000)]",
        "[f(a={[1]: 2})]",
        "[f(**kw)]",
        "[f(a={**d})]",
        "[f(a=1/0)]",
        "[obj[0](a=1)]",
    ],
)
def test_parse_failures_raise_decode_error(text: str) -> None:
    with pytest.raises(DecodeError):
        parse_python_calls(text)


# ------------------------------------------------------------------ native tool calls


def test_calls_from_tool_calls_json_and_dicts() -> None:
    calls = calls_from_tool_calls([("f", '{"a": 1}'), ("g", {"b": "x"}), ("h", "")])
    assert calls == [{"f": {"a": 1}}, {"g": {"b": "x"}}, {"h": {}}]


def test_calls_from_tool_calls_maps_names_back() -> None:
    names = NameMap(["spotify.play"])
    assert calls_from_tool_calls([("spotify_play", "{}")], names) == [{"spotify.play": {}}]


@pytest.mark.parametrize("arguments", ["{not json", "[1, 2]", "3"])
def test_calls_from_tool_calls_rejects_bad_arguments(arguments: str) -> None:
    with pytest.raises(DecodeError):
        calls_from_tool_calls([("f", arguments)])


def test_is_well_formed() -> None:
    assert is_well_formed([]) and is_well_formed([{"f": {}}])
    assert not is_well_formed({"f": {}})
    assert not is_well_formed([{}])
    assert not is_well_formed([{"f": {}, "g": {}}])
    assert not is_well_formed([{"f": "x"}])
    assert not is_well_formed(["f(x=1)"])


# ------------------------------------------------------------------ single-call check, rule by rule


def test_wrong_name_fails_and_missing_required_fails() -> None:
    schema = _function("f", {"a": {"type": "integer"}}, ["a"])
    assert check_call({"g": {"a": 1}}, {"f": {"a": [1]}}, schema).startswith("wrong function name")
    assert check_call({"f": {}}, {"f": {"a": [1, ""]}}, schema).startswith("missing required")


def test_required_beats_omittable_ground_truth() -> None:
    schema = _function("f", {"x": {"type": "boolean"}}, ["x"])
    assert check_call({"f": {}}, {"f": {"x": ["", True]}}, schema) == "missing required parameter: f.x"
    assert check_call({"f": {"x": True}}, {"f": {"x": ["", True]}}, schema) is None


def test_unexpected_parameters() -> None:
    schema = _function("f", {"a": {"type": "integer"}, "b": {"type": "integer"}})
    truth = {"f": {"a": [1]}}
    assert check_call({"f": {"a": 1, "zzz": 2}}, truth, schema) == "unexpected parameter: f.zzz"
    # in the schema but not in the ground truth: also unexpected
    assert check_call({"f": {"a": 1, "b": 2}}, truth, schema) == "unexpected parameter: f.b"


def test_int_to_float_coercion_top_level_only() -> None:
    assert _one({"type": "float"}, [5.0], 5)
    assert _one({"type": "float"}, [5.0], 5.0)
    array_of_floats = {"type": "array", "items": {"type": "float"}}
    assert _one(array_of_floats, [[1.0, 2.0]], [1.0, 2.0])
    assert not _one(array_of_floats, [[1.0, 2.0]], [1, 2])


def test_no_float_or_bool_as_int() -> None:
    assert _one({"type": "integer"}, [5], 5)
    assert not _one({"type": "integer"}, [5], 5.0)
    assert not _one({"type": "integer"}, [1], True)
    assert not _one({"type": "boolean"}, [True], 1)
    assert not _one({"type": "string"}, ["5"], 5)


def test_variable_escape_uses_ground_truth_type_and_plain_equality() -> None:
    # schema says integer, ground truth holds a string (a variable name): a string is accepted, exactly
    assert _one({"type": "integer"}, ["num_items"], "num_items")
    assert not _one({"type": "integer"}, ["num_items"], "Num Items")  # no normalisation on this path
    # "any" maps to str; a ground truth of another type escapes to that type
    assert _one({"type": "any"}, [[1, 2]], [1, 2])
    assert _one({"type": "any"}, ["abc"], "A B C")
    # only omittable alternatives: the type cannot be inferred, so no escape
    assert not _one({"type": "integer"}, [""], "x")


def test_tuple_coercion() -> None:
    spec = {"type": "tuple", "items": {"type": "float"}}
    assert _one(spec, [[1.5, 2.5]], (1.5, 2.5))
    assert _one(spec, [[1.5, 2.5]], [1.5, 2.5])
    assert not _one(spec, [[1.5, 2.5]], (2.5, 1.5))
    # a tuple where the schema says array is not coerced
    assert not _one({"type": "array", "items": {"type": "float"}}, [[1.5, 2.5]], (1.5, 2.5))


def test_array_element_types_one_level_deep() -> None:
    spec = {"type": "array", "items": {"type": "string"}}
    assert _one(spec, [["a", "b"]], ["a", "b"])
    schema = _function("f", {"x": spec})
    reason = check_call({"f": {"x": ["a", 2]}}, {"f": {"x": [["a", "b"]]}}, schema)
    assert reason == "type error: f.x expected array of string, got list ['a', 2]"
    # elements may use the type of the ground-truth elements (escape inside arrays)
    assert _one({"type": "array", "items": {"type": "integer"}}, [["n", "m"]], ["n", "m"])
    # quirk: an omittable alternative skips the element check (once earlier list alternatives failed)
    assert _one(spec, ["", [1, 2]], [1, 2])
    assert _one(spec, [[1, 2], ""], [1, 2.5]) is False  # element check skipped, value check still fails
    assert check_call({"f": {"x": [1, 2.5]}}, {"f": {"x": [[1, 2], ""]}}, schema).startswith("value error")


def test_string_normalisation() -> None:
    spec = {"type": "string"}
    assert normalize_string("New York, NY") == "newyorkny"
    assert normalize_string("a-b_c*d^e/f.g h") == "abcdefgh"
    assert normalize_string("it's") == 'it"s'
    assert _one(spec, ["New York, NY"], "new york ny")
    assert _one(spec, ["April 1, 2024"], "April 1,2024")
    assert _one(spec, ['say "hi"'], "say 'hi'")
    assert not _one(spec, ["New York"], "New York City")  # not fuzzy
    assert not _one(spec, ["color"], "colour")
    assert _one(spec, ["x\ty"], "x\ty")
    assert not _one(spec, ["xy"], "x\ty")  # only spaces are removed, not all whitespace


def test_empty_string_matches_omittable_string_parameter() -> None:
    assert _one({"type": "string"}, [""], "", required=True)
    assert not _one({"type": "string"}, ["abc"], "")


def test_arrays_compare_in_order_with_normalised_strings() -> None:
    spec = {"type": "array", "items": {"type": "string"}}
    assert _one(spec, [["New York", "LA"], ["NYC"]], ["new york", "la"])
    assert _one(spec, [["New York", "LA"], ["NYC"]], ["nyc"])
    assert not _one(spec, [["New York", "LA"]], ["LA", "New York"])
    assert not _one(spec, [["New York", "LA"]], ["New York"])
    assert _one({"type": "array", "items": {"type": "float"}}, [[5.0]], [5.0])
    ints = {"type": "array", "items": {"type": "integer"}}
    assert not _one(ints, [[1, 2]], [1, 2, 3])
    # quirk: len("") == 0, so an empty list matches an omittable array
    assert _one(ints, [[1, 2], ""], [])


def test_dict_values() -> None:
    spec = {"type": "dict", "properties": {}}
    truth = [
        {"department": ["Science"], "school": ["Bluebird High School", "Bluebird HS"], "year": ["", 2020]}
    ]
    assert _one(spec, truth, {"department": "science", "school": "bluebird hs"})
    assert _one(spec, truth, {"department": "Science", "school": "Bluebird HS", "year": 2020})
    assert not _one(spec, truth, {"department": "Science", "school": "Bluebird HS", "year": 2021})
    assert not _one(spec, truth, {"department": "Science"})  # school may not be omitted
    assert not _one(spec, truth, {"department": "Science", "school": "Bluebird HS", "extra": 1})
    # a second alternative dict can match
    assert _one(spec, ["", {"a": [1]}, {"b": [2]}], {"b": 2})


def test_array_of_dicts_in_order() -> None:
    spec = {"type": "array", "items": {"type": "dict", "properties": {}}}
    truth = [[{"name": ["Ann"], "age": [30]}, {"name": ["Bob"], "age": [40, ""]}]]
    assert _one(spec, truth, [{"name": "ann", "age": 30}, {"name": "Bob"}])
    assert not _one(spec, truth, [{"name": "Bob"}, {"name": "ann", "age": 30}])
    assert not _one(spec, truth, [{"name": "ann", "age": 30}])
    assert not _one(spec, truth, [{"name": "ann", "age": 30}, {"name": "Bob", "age": 41}])


def test_plain_equality_for_numbers_and_booleans() -> None:
    assert _one({"type": "integer"}, [10, 20], 20)
    assert not _one({"type": "integer"}, [10, 20], 15)
    assert _one({"type": "float"}, [0.1], 0.1)
    assert not _one({"type": "float"}, [0.1], 0.1000001)  # no tolerance
    assert _one({"type": "boolean"}, [False], False)
    assert not _one({"type": "boolean"}, [False], True)


def test_omitted_parameters_follow_ground_truth_not_default() -> None:
    schema = _function("f", {"a": {"type": "integer"}, "get_area": {"type": "boolean", "default": True}})
    truth = {"f": {"a": [1], "get_area": ["", True]}}
    assert check_call({"f": {"a": 1}}, truth, schema) is None
    assert check_call({"f": {"a": 1, "get_area": True}}, truth, schema) is None
    assert check_call({"f": {"a": 1, "get_area": False}}, truth, schema) is not None
    must = {"f": {"a": [1], "get_area": [True]}}
    assert check_call({"f": {"a": 1}}, must, schema) == "optional parameter not provided: f.get_area"


# ------------------------------------------------------------------ dispatch and entries


def test_simple_needs_exactly_one_call() -> None:
    entry = _entry([_function("f", {"a": {"type": "integer"}})], [{"f": {"a": [1]}}])
    assert score_entry(entry, [{"f": {"a": 1}}]).ok
    assert not score_entry(entry, [{"f": {"a": 1}}, {"f": {"a": 1}}]).ok
    assert not score_entry(entry, []).ok
    assert score_entry(entry, None, "boom").reason == "decode error: boom"
    assert score_entry(entry, [{"f": 1}]).reason.startswith("malformed")


def test_multiple_uses_ground_truth_schema() -> None:
    functions = [_function("f", {"a": {"type": "integer"}}), _function("g", {"b": {"type": "string"}}, ["b"])]
    entry = _entry(functions, [{"g": {"b": ["x"]}}], "multiple")
    assert score_entry(entry, [{"g": {"b": "X"}}]).ok
    assert not score_entry(entry, [{"f": {"a": 1}}]).ok
    assert not score_entry(entry, [{"g": {"b": "x"}}, {"g": {"b": "x"}}]).ok
    missing = _entry(functions, [{"h": {"b": ["x"]}}], "multiple")
    assert score_entry(missing, [{"h": {"b": "x"}}]).reason.startswith("no schema")


def test_parallel_is_order_free() -> None:
    functions = [_function("f", {"a": {"type": "integer"}}), _function("g", {"b": {"type": "string"}})]
    entry = _entry(
        functions, [{"f": {"a": [1]}}, {"g": {"b": ["x"]}}, {"f": {"a": [2]}}], "parallel_multiple"
    )
    assert score_entry(entry, [{"f": {"a": 2}}, {"g": {"b": "x"}}, {"f": {"a": 1}}]).ok
    assert score_entry(entry, [{"f": {"a": 2}}, {"g": {"b": "x"}}]).reason.startswith("wrong count")
    assert not score_entry(entry, [{"f": {"a": 2}}, {"g": {"b": "x"}}, {"f": {"a": 2}}]).ok


def test_parallel_matching_is_greedy_not_optimal() -> None:
    # ground-truth call 0 accepts a=1 or a=2, call 1 only a=1. For the output [a=1, a=2] an optimal
    # assignment exists (a=2 -> call 0, a=1 -> call 1), but the greedy match gives call 0 the first
    # passing call, a=1, and then call 1 finds nothing: the entry fails, as in BFCL.
    functions = [_function("f", {"a": {"type": "integer"}})]
    entry = _entry(functions, [{"f": {"a": [1, 2]}}, {"f": {"a": [1]}}], "parallel")
    assert score_entry(entry, [{"f": {"a": 2}}, {"f": {"a": 1}}]).ok
    result = score_entry(entry, [{"f": {"a": 1}}, {"f": {"a": 2}}])
    assert not result.ok and result.reason.startswith("no match: ground-truth call 1")


@pytest.mark.parametrize(
    ("output", "ok"),
    [
        ("I am sorry, none of the tools can do that.", True),
        ("Which city do you mean?", True),
        ("[]", True),
        ("[f(a=1), 'x']", True),
        (None, True),
        ([], True),
        ([{}], True),
        ([{"f": "not a dict"}], True),
        ("[f()]", False),
        ("[f(a=1)]", False),
        ([{"f": {}}], False),
    ],
)
def test_irrelevance_passes_without_a_call(output: Any, ok: bool) -> None:
    entry = _entry([_function("f", {"a": {"type": "integer"}})], None, "irrelevance")
    assert score_output(entry, output).ok is ok


def test_irrelevance_with_decode_error_passes_and_relevance_needs_a_call() -> None:
    irrelevant = _entry([_function("f", {})], None, "irrelevance")
    assert score_entry(irrelevant, [{"f": {}}], decode_error="bad").ok
    relevant = _entry([_function("f", {})], None, "live_relevance")
    assert score_entry(relevant, [{"f": {"anything": 1}}]).ok
    assert not score_entry(relevant, []).ok


def test_ast_category_without_ground_truth_is_an_error() -> None:
    with pytest.raises(ValueError, match="ground truth"):
        score_entry(_entry([_function("f", {})], None, "simple_python"), [{"f": {}}])


def test_score_category_by_id_and_by_position() -> None:
    functions = [_function("f", {"a": {"type": "integer"}})]
    entries = [
        BfclEntry(f"simple_python_{i}", "simple_python", [], functions, [{"f": {"a": [i]}}]) for i in range(4)
    ]
    outputs = {"simple_python_0": "[f(a=0)]", "simple_python_1": [{"f": {"a": 1}}], "simple_python_2": None}
    outputs["simple_python_3"] = "f(a=4"
    score = score_category(entries, outputs)
    assert (score.category, score.total, score.correct) == ("simple_python", 4, 2)
    assert score.accuracy == 0.5
    assert score.failure_reasons() == {"decode error": 2}
    assert score_category(entries, list(outputs.values())).correct == 2
    with pytest.raises(KeyError):
        score_category(entries, {"simple_python_0": None})
    with pytest.raises(ValueError):
        score_category(entries, [None])
    mixed = [*entries, BfclEntry("irrelevance_0", "irrelevance", [], functions, None)]
    with pytest.raises(ValueError, match="mix"):
        score_category(mixed, [None] * 5)
    assert score_category([], {}).accuracy == 0.0
