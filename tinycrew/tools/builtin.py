"""A small real toolset (arithmetic, dates, units) for demos and tests: every answer is computed."""

from __future__ import annotations

import ast
import operator
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tinycrew.tools.decorator import tool
from tinycrew.tools.registry import ToolRegistry

_OPERATORS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def _evaluate(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
    ):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > 100:
            raise ValueError("exponent too large")
        return _OPERATORS[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_evaluate(node.operand))
    raise ValueError(f"unsupported expression element: {ast.dump(node)[:40]}")


@tool
def calculate(expression: str) -> float:
    """Evaluate an arithmetic expression such as "17 * 23" or "(2 + 3) / 4".

    Args:
        expression: Numbers with + - * / // % ** and parentheses.
    """
    value = _evaluate(ast.parse(expression.replace("^", "**"), mode="eval"))
    return int(value) if isinstance(value, float) and value.is_integer() else value


@tool
def day_of_week(day: str) -> str:
    """Tell the weekday of a calendar date.

    Args:
        day: The date in ISO format, e.g. "2024-03-05".
    """
    return date.fromisoformat(day.strip()).strftime("%A")


@tool
def current_time(timezone: str = "UTC") -> str:
    """The current date and time in a time zone.

    Args:
        timezone: An IANA time zone name such as "Europe/Paris" or "UTC".
    """
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"unknown time zone {timezone!r}") from error
    return datetime.now(zone).strftime("%Y-%m-%d %H:%M %Z")


_LENGTH_M = {"mm": 0.001, "cm": 0.01, "m": 1.0, "km": 1000.0, "in": 0.0254, "ft": 0.3048, "mi": 1609.344}
_MASS_KG = {"g": 0.001, "kg": 1.0, "lb": 0.45359237, "oz": 0.028349523125}


@tool
def convert_units(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a length (mm, cm, m, km, in, ft, mi), mass (g, kg, lb, oz) or temperature (C, F, K).

    Args:
        value: The amount to convert.
        from_unit: The unit of the amount, e.g. "km".
        to_unit: The unit wanted, e.g. "mi".
    """
    source, target = from_unit.strip().lower(), to_unit.strip().lower()
    for table in (_LENGTH_M, _MASS_KG):
        if source in table and target in table:
            return round(value * table[source] / table[target], 6)
    kelvin = {"c": lambda v: v + 273.15, "f": lambda v: (v - 32) * 5 / 9 + 273.15, "k": lambda v: v}
    back = {"c": lambda v: v - 273.15, "f": lambda v: (v - 273.15) * 9 / 5 + 32, "k": lambda v: v}
    if source in kelvin and target in back:
        return round(back[target](kelvin[source](value)), 4)
    raise ValueError(f"cannot convert {from_unit!r} to {to_unit!r}")


def builtin_tools() -> ToolRegistry:
    """The demo toolset: calculate, day_of_week, current_time, convert_units."""
    return ToolRegistry([calculate, day_of_week, current_time, convert_units])
