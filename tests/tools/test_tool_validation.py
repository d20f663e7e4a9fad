"""Argument validation: the safe coercions small models need, nothing lossy, and short precise errors."""

from __future__ import annotations

from typing import Literal

import pytest

from tinycrew.tools import ToolArgumentError, tool


@tool
def book(
    city: str,
    count: int,
    price: float = 0.0,
    vip: bool = False,
    seats: list[int] | None = None,
    level: Literal["low", "high"] = "low",
) -> str:
    """Book seats.

    Args:
        city: Where.
        count: How many tickets.
        price: Price per ticket.
        vip: VIP access.
        seats: Seat numbers.
        level: Service level.
    """
    return f"{count} in {city}"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"city": "X", "count": "5"}, {"city": "X", "count": 5}),
        ({"city": "X", "count": " 7 "}, {"city": "X", "count": 7}),
        ({"city": "X", "count": 5.0}, {"city": "X", "count": 5}),
        ({"city": "X", "count": "5.0"}, {"city": "X", "count": 5}),
        ({"city": "X", "count": 1, "price": "2.5"}, {"city": "X", "count": 1, "price": 2.5}),
        ({"city": "X", "count": 1, "price": 3}, {"city": "X", "count": 1, "price": 3.0}),
        ({"city": "X", "count": 1, "price": "1e3"}, {"city": "X", "count": 1, "price": 1000.0}),
        ({"city": "X", "count": 1, "vip": "true"}, {"city": "X", "count": 1, "vip": True}),
        ({"city": "X", "count": 1, "vip": "False"}, {"city": "X", "count": 1, "vip": False}),
        ({"city": "X", "count": 1, "seats": ["1", 2]}, {"city": "X", "count": 1, "seats": [1, 2]}),
        ({"city": "X", "count": 1, "seats": None}, {"city": "X", "count": 1, "seats": None}),
    ],
)
def test_safe_coercions(raw: dict, expected: dict) -> None:
    args = book.validate_args(raw)
    assert args == expected
    for key, value in expected.items():
        assert type(args[key]) is type(value)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"city": "X", "count": "5.7"}, "argument 'count': expected integer, got '5.7'"),
        ({"city": "X", "count": 5.7}, "argument 'count': expected integer, got 5.7"),
        ({"city": "X", "count": True}, "argument 'count': expected integer, got true"),
        ({"city": "X", "count": "five"}, "argument 'count': expected integer, got 'five'"),
        ({"city": {"name": "X"}, "count": 1}, "argument 'city': expected string, got an object"),
        ({"city": 42, "count": 1}, "argument 'city': expected string, got 42"),
        ({"city": "X", "count": 1, "price": "cheap"}, "argument 'price': expected number, got 'cheap'"),
        ({"city": "X", "count": 1, "price": True}, "argument 'price': expected number, got true"),
        ({"city": "X", "count": 1, "vip": 1}, "argument 'vip': expected boolean (true or false), got 1"),
        (
            {"city": "X", "count": 1, "vip": "yes"},
            "argument 'vip': expected boolean (true or false), got 'yes'",
        ),
        ({"city": "X", "count": 1, "seats": "1,2"}, "argument 'seats': expected array, got '1,2'"),
        ({"city": "X", "count": 1, "seats": [1, "b"]}, "argument 'seats[1]': expected integer, got 'b'"),
        (
            {"city": "X", "count": 1, "level": "mid"},
            "argument 'level': expected one of 'low', 'high', got 'mid'",
        ),
        ({"count": 1}, "missing required argument 'city'"),
        (
            {"city": "X", "count": 1, "foo": 2},
            "unknown argument 'foo' (allowed: city, count, price, vip, seats, level)",
        ),
        (
            {"count": "five", "foo": 1},
            "missing required argument 'city'; argument 'count': expected integer, got 'five'; "
            "unknown argument 'foo' (allowed: city, count, price, vip, seats, level)",
        ),
    ],
)
def test_refused_values_and_their_messages(raw: dict, message: str) -> None:
    with pytest.raises(ToolArgumentError) as caught:
        book.validate_args(raw)
    assert caught.value.message == message
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


def test_json_string_arguments() -> None:
    assert book.validate_args('{"city": "X", "count": "3"}') == {"city": "X", "count": 3}
    assert book.validate_args(b'{"city": "X", "count": 3}') == {"city": "X", "count": 3}
    assert book.validate_args('"{\\"city\\": \\"X\\", \\"count\\": 3}"') == {"city": "X", "count": 3}
    with pytest.raises(ToolArgumentError) as caught:
        book.validate_args('{"city": "X", count: 3}')
    assert caught.value.message.startswith("arguments are not valid JSON (Expecting property name")
    with pytest.raises(ToolArgumentError, match="arguments must be a JSON object, got an array"):
        book.validate_args("[1, 2]")
    with pytest.raises(ToolArgumentError, match="arguments must be a JSON object, got 5"):
        book.validate_args("5")


def test_empty_arguments_for_a_tool_without_parameters() -> None:
    @tool
    def now() -> str:
        """The time."""
        return "noon"

    assert now.validate_args("") == {}
    assert now.validate_args(None) == {}
    assert now.validate_args({}) == {}
    with pytest.raises(ToolArgumentError, match=r"unknown argument 'x' \(allowed: none\)"):
        now.validate_args({"x": 1})


async def test_invalid_arguments_are_an_observation_and_nothing_runs() -> None:
    calls: list[int] = []

    @tool
    def record(n: int) -> str:
        """Record n.

        Args:
            n: A number.
        """
        calls.append(n)
        return "recorded"

    result = await record.arun({"n": "many"})
    assert not result.ok
    assert result.error_kind == "arguments"
    assert result.error == "argument 'n': expected integer, got 'many'"
    assert result.content == "invalid arguments for record: argument 'n': expected integer, got 'many'"
    assert calls == []
    assert (await record.arun('{"n": "4"}')).content == "recorded"
    assert calls == [4]


def test_long_values_are_shortened_in_messages() -> None:
    with pytest.raises(ToolArgumentError) as caught:
        book.validate_args({"city": "X", "count": "z" * 500})
    assert len(caught.value.message) < 100
    assert caught.value.message.endswith("...'")


async def test_a_result_carries_the_arguments_the_tool_ran_with() -> None:
    ok = await book.arun({"city": "X", "count": "5", "seats": ["1", 2]})
    assert ok.arguments == {"city": "X", "count": 5, "seats": [1, 2]}
    refused = await book.arun({"city": "X", "count": "many"})
    assert refused.arguments is None


def test_canonical_arguments_make_calls_that_run_alike_equal() -> None:
    canonical = book.canonical_arguments
    assert canonical({"city": "X", "count": "5"}) == canonical('{"city": "X", "count": 5}')
    assert canonical({"city": "X", "count": 5}) != canonical({"city": "Y", "count": 5})
    with pytest.raises(ToolArgumentError):
        book.canonical_arguments({"city": "X", "count": "many"})
