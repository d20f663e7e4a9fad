"""tool_from_schema: JSON schemas (OpenAI form, BFCL dialect) to validating Tools, dry-run or callable."""

from __future__ import annotations

from typing import Any

import pytest

from tinycrew.tools import ToolArgumentError, normalize_schema, tool, tool_from_schema

ORDER_SCHEMA: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "shop.order",
        "description": "Place an order.",
        "parameters": {
            "type": "object",
            "properties": {
                "item": {"type": "string", "description": "What to buy."},
                "quantity": {"type": "integer", "default": 1, "maximum": 10},
                "express": {"type": "boolean"},
                "size": {"type": "integer", "enum": [1, 2, 3]},
                "address": {
                    "type": "object",
                    "properties": {
                        "street": {"type": "string"},
                        "zip": {"type": "string"},
                    },
                    "required": ["street"],
                },
                "lines": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}},
                        "required": ["sku"],
                    },
                },
                "note": {"type": ["string", "null"]},
            },
            "required": ["item"],
        },
    },
}


def test_openai_form_and_inner_form_give_the_same_tool() -> None:
    outer = tool_from_schema(ORDER_SCHEMA)
    inner = tool_from_schema(ORDER_SCHEMA["function"])
    assert outer.name == inner.name == "shop.order"
    assert outer.description == "Place an order."
    assert outer.openai_schema() == ORDER_SCHEMA
    assert outer.schema_hash() == inner.schema_hash()
    assert outer.fn is None and outer.side_effect is False


def test_nested_objects_arrays_defaults_and_enums() -> None:
    order = tool_from_schema(ORDER_SCHEMA)
    args = order.validate_args(
        {
            "item": "tea",
            "quantity": "2",
            "size": 2,
            "address": {"street": "Main 1"},
            "lines": [{"sku": "A", "qty": "3"}, {"sku": "B"}],
        }
    )
    assert args == {
        "item": "tea",
        "quantity": 2,
        "size": 2,
        "address": {"street": "Main 1"},
        "lines": [{"sku": "A", "qty": 3}, {"sku": "B"}],
    }
    assert type(args["address"]) is dict and type(args["lines"][0]) is dict
    cases = {
        "argument 'size': expected one of 1, 2, 3, got 4": {"item": "t", "size": 4},
        "argument 'quantity': should be less than or equal to 10, got 11": {"item": "t", "quantity": 11},
        "missing required argument 'address.street'": {"item": "t", "address": {"zip": "1"}},
        "unknown argument 'address.city' (allowed: street, zip)": {
            "item": "t",
            "address": {"street": "s", "city": "c"},
        },
        "argument 'lines[1].qty': expected integer, got 'x'": {
            "item": "t",
            "lines": [{"sku": "A"}, {"sku": "B", "qty": "x"}],
        },
        "argument 'note': expected string or null, got 3": {"item": "t", "note": 3},
    }
    for message, raw in cases.items():
        with pytest.raises(ToolArgumentError) as caught:
            order.validate_args(raw)
        assert caught.value.message == message


def test_null_for_an_optional_argument_means_omitted_unless_null_is_allowed() -> None:
    order = tool_from_schema(ORDER_SCHEMA)
    assert order.validate_args({"item": "tea", "express": None, "note": None}) == {
        "item": "tea",
        "note": None,
    }
    with pytest.raises(ToolArgumentError, match="argument 'item': expected string, got null"):
        order.validate_args({"item": None})


async def test_dry_run_observation() -> None:
    order = tool_from_schema(ORDER_SCHEMA)
    result = await order.arun({"item": "tea", "quantity": 2})
    assert result.ok
    assert result.content == "ok (dry run): shop.order(item='tea', quantity=2)"
    assert result.value == {"item": "tea", "quantity": 2}
    bad = await order.arun({"quantity": 2})
    assert not bad.ok and bad.error == "missing required argument 'item'"
    with pytest.raises(TypeError, match="dry-run tool"):
        order()


ODD_SCHEMA = {
    "name": "odd",
    "description": "Properties that are not Python identifiers or clash with pydantic.",
    "parameters": {
        "type": "object",
        "properties": {
            "odd-name": {"type": "integer"},
            "from": {"type": "string"},
            "json": {"type": "boolean"},
            "model_config": {"type": "string"},
            "_private": {"type": "number"},
            "1st": {"type": "string"},
            "with space": {"type": "string"},
        },
        "required": ["odd-name", "from"],
    },
}


def test_property_names_that_are_not_identifiers() -> None:
    received: list[dict[str, Any]] = []

    def implementation(**kwargs: Any) -> str:
        received.append(kwargs)
        return "done"

    odd = tool_from_schema(ODD_SCHEMA, implementation)
    raw = {
        "odd-name": "4",
        "from": "Rome",
        "json": "true",
        "model_config": "c",
        "_private": 1,
        "1st": "a",
        "with space": "b",
    }
    result = odd.run(raw)
    assert result.ok and result.content == "done"
    assert received == [
        {
            "odd-name": 4,
            "from": "Rome",
            "json": True,
            "model_config": "c",
            "_private": 1.0,
            "1st": "a",
            "with space": "b",
        }
    ]
    with pytest.raises(ToolArgumentError, match="missing required argument 'odd-name'"):
        odd.validate_args({"from": "x"})
    dry = tool_from_schema(ODD_SCHEMA).run({"odd-name": 1, "from": "x"})
    assert dry.content == "ok (dry run): odd(**{'odd-name': 1}, **{'from': 'x'})"


def test_bfcl_dialect_is_normalised() -> None:
    bfcl = {
        "name": "weather.get_by_coordinates",
        "description": "Weather at coordinates.",
        "parameters": {
            "type": "dict",
            "properties": {
                "coordinates": {"type": "tuple", "items": {"type": "float"}},
                "options": {"type": "dict", "properties": {"unit": {"type": "string"}}},
                "payload": {"type": "any", "description": "Anything."},
                "limit": {"type": "integer", "optional": True, "default": 5},
            },
            "required": ["coordinates"],
        },
    }
    weather = tool_from_schema(bfcl)
    params = weather.parameters
    assert params["type"] == "object"
    assert params["properties"]["coordinates"] == {"type": "array", "items": {"type": "number"}}
    assert params["properties"]["options"]["type"] == "object"
    assert params["properties"]["payload"] == {"description": "Anything."}
    assert weather.validate_args({"coordinates": [46, "1.5"]}) == {"coordinates": [46.0, 1.5]}
    for anything in ("text", 3, [1], {"a": None}):
        assert weather.validate_args({"coordinates": [], "payload": anything})["payload"] == anything
    assert normalize_schema(params) == params
    assert bfcl["parameters"]["type"] == "dict", "the input schema must not be modified"


def test_refs_are_inlined_and_titles_dropped() -> None:
    schema = {
        "name": "route",
        "parameters": {
            "title": "RouteArgs",
            "type": "object",
            "$defs": {"Point": {"title": "Point", "type": "object", "properties": {"x": {"type": "number"}}}},
            "properties": {"start": {"$ref": "#/$defs/Point"}, "title": {"type": "string", "title": "Title"}},
            "required": ["start"],
        },
    }
    route = tool_from_schema(schema)
    assert route.parameters == {
        "type": "object",
        "properties": {
            "start": {"type": "object", "properties": {"x": {"type": "number"}}},
            "title": {"type": "string"},
        },
        "required": ["start"],
    }
    assert route.validate_args({"start": {"x": "1"}, "title": "t"}) == {"start": {"x": 1.0}, "title": "t"}


def test_open_objects_and_maps() -> None:
    schema = {
        "name": "tag",
        "parameters": {
            "type": "object",
            "properties": {
                "labels": {"type": "object", "additionalProperties": {"type": "integer"}},
                "meta": {"type": "object"},
            },
        },
    }
    tagger = tool_from_schema(schema)
    assert tagger.validate_args({"labels": {"a": "1"}, "meta": {"x": [1]}}) == {
        "labels": {"a": 1},
        "meta": {"x": [1]},
    }
    with pytest.raises(ToolArgumentError, match=r"argument 'labels\['b'\]': expected integer, got 'x'"):
        tagger.validate_args({"labels": {"b": "x"}})


def test_bad_schemas_get_clear_errors() -> None:
    with pytest.raises(ValueError, match="needs a 'name'"):
        tool_from_schema({"description": "no name"})
    with pytest.raises(ValueError, match="unsupported schema type 'decimal'"):
        tool_from_schema(
            {"name": "f", "parameters": {"type": "object", "properties": {"x": {"type": "decimal"}}}}
        )
    with pytest.raises(ValueError, match="must be an object schema"):
        tool_from_schema({"name": "f", "parameters": {"type": "array"}})
    with pytest.raises(ValueError, match="cannot resolve schema reference"):
        tool_from_schema(
            {"name": "f", "parameters": {"type": "object", "properties": {"x": {"$ref": "#/$defs/Y"}}}}
        )
    with pytest.raises(ValueError, match="tool name"):
        tool_from_schema({"name": "two words"})


def test_a_function_tool_round_trips_through_its_schema() -> None:
    @tool
    def convert(amount: float, currency: str = "EUR", rounding: int | None = None) -> str:
        """Convert money.

        Args:
            amount: How much.
            currency: Target currency.
            rounding: Decimal places.
        """
        return f"{amount} {currency}"

    copy = tool_from_schema(convert.openai_schema(), convert.fn)
    assert copy.parameters == convert.parameters
    assert copy.schema_hash() == convert.schema_hash()
    assert copy.run({"amount": "2.5"}).content == convert.run({"amount": "2.5"}).content == "2.5 EUR"


def test_constraints_and_nulls_for_untyped_properties() -> None:
    schema = {
        "name": "register",
        "parameters": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "pattern": "^[A-Z]{3}$", "minLength": 3},
                "age": {"type": "integer", "minimum": 0, "exclusiveMaximum": 150},
                "legacy": {"type": "number", "minimum": 0, "exclusiveMinimum": True},
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
                "extra": {"description": "Any value at all."},
            },
        },
    }
    register = tool_from_schema(schema)
    assert register.validate_args({"code": "ABC", "age": "149", "legacy": 0, "extra": None}) == {
        "code": "ABC",
        "age": 149,
        "legacy": 0.0,
        "extra": None,
    }
    cases = {
        "argument 'code': should match pattern '^[A-Z]{3}$', got 'abc'": {"code": "abc"},
        "argument 'age': should be less than 150, got 150": {"age": 150},
        "argument 'age': should be greater than or equal to 0, got -1": {"age": -1},
        "argument 'tags': should have at most 2 items after validation, not 3, got an array": {
            "tags": ["a", "b", "c"]
        },
    }
    for message, raw in cases.items():
        with pytest.raises(ToolArgumentError) as caught:
            register.validate_args(raw)
        assert caught.value.message == message
