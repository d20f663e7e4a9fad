"""TinyAgent's plan metric for desktop tasks: two plans match when their calls correspond one to one.

A plan is a small DAG of calls whose arguments may cite earlier results as ``$N`` (or ``${N}``).
Matching ignores the order of independent calls, normalises strings like BFCL does and compares
date/time strings as datetimes, so that ``"2024-03-05"`` and ``"March 5, 2024"`` agree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from tinycrew.evals.bfcl_scorer import normalize_string

try:  # dateutil reads far more formats; the fallback below covers the common ones
    from dateutil import parser as _dateutil_parser
except ImportError:  # pragma: no cover - depends on the environment
    _dateutil_parser = None

_REFERENCE = re.compile(r"\$\{?(\d+)\}?")
_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
# a string is only tried as a date when it has a year, a numeric date, a month name or a clock time,
# so that "5" or "may I" are never read as dates
_DATE_LIKE = re.compile(
    rf"\b\d{{4}}\b|\b\d{{1,2}}[/.-]\d{{1,2}}\b|\b({_MONTHS})[a-z]*\b|\b\d{{1,2}}:\d{{2}}", re.IGNORECASE
)
_FALLBACK_FORMATS = (
    "%B %d, %Y",
    "%B %d %Y",
    "%b %d, %Y",
    "%b %d %Y",
    "%d %B %Y",
    "%d %b %Y",
    "%m/%d/%Y",
    "%Y/%m/%d",
    "%B %d, %Y %I:%M %p",
    "%B %d, %Y %H:%M",
    "%b %d, %Y %I:%M %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M",
    "%Y-%m-%d %I:%M %p",
)
_DEFAULT_DATE = datetime(2000, 1, 1)


class PlanCall(BaseModel):
    """One step of a plan: ``id`` is what later arguments cite as ``$id``; ``deps`` are earlier ids."""

    id: int
    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    deps: list[int] = Field(default_factory=list)


def _parse_with_formats(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    for pattern in _FALLBACK_FORMATS:
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    return None


def parse_datetime(text: str) -> datetime | None:
    """Read ``text`` as a date/datetime if it looks like one (dateutil if installed), else None."""
    stripped = text.strip()
    if not stripped or not _DATE_LIKE.search(stripped):
        return None
    if _dateutil_parser is not None:
        try:
            return _dateutil_parser.parse(stripped, default=_DEFAULT_DATE)
        except (ValueError, OverflowError):
            return None
    return _parse_with_formats(stripped)


def _references(value: Any) -> set[int]:
    if isinstance(value, str):
        return {int(match) for match in _REFERENCE.findall(value)}
    if isinstance(value, dict):
        return set().union(*(_references(item) for item in value.values())) if value else set()
    if isinstance(value, list | tuple):
        return set().union(*(_references(item) for item in value)) if value else set()
    return set()


def _dependencies(call: PlanCall, known: set[int]) -> frozenset[int]:
    """Declared deps plus every ``$N`` cited in the arguments that names a call of the same plan."""
    return frozenset((set(call.deps) | _references(call.args)) & known)


def _strings_match(predicted: str, expected: str) -> bool:
    if predicted == expected or normalize_string(predicted) == normalize_string(expected):
        return True
    when_predicted, when_expected = parse_datetime(predicted), parse_datetime(expected)
    if when_predicted is None or when_expected is None:
        return False
    if (when_predicted.tzinfo is None) != (when_expected.tzinfo is None):
        return when_predicted.replace(tzinfo=None) == when_expected.replace(tzinfo=None)
    return when_predicted == when_expected


def _values_match(predicted: Any, expected: Any) -> bool:
    if isinstance(predicted, str) and isinstance(expected, str):
        return _strings_match(predicted, expected)
    if isinstance(predicted, bool) or isinstance(expected, bool):
        return type(predicted) is type(expected) and predicted == expected
    if isinstance(predicted, int | float) and isinstance(expected, int | float):
        return predicted == expected
    if isinstance(predicted, dict) and isinstance(expected, dict):
        return predicted.keys() == expected.keys() and all(
            _values_match(predicted[key], expected[key]) for key in predicted
        )
    if isinstance(predicted, list | tuple) and isinstance(expected, list | tuple):
        return len(predicted) == len(expected) and all(
            _values_match(p, e) for p, e in zip(predicted, expected, strict=True)
        )
    return type(predicted) is type(expected) and predicted == expected


def _topological(deps: dict[int, frozenset[int]]) -> list[int]:
    """Ids with their dependencies first, so cited results are mapped before the calls citing them;
    the calls of a cycle (an invalid plan) are appended as they come."""
    order: list[int] = []
    placed: set[int] = set()
    remaining = sorted(deps)
    while remaining:
        ready = [call_id for call_id in remaining if deps[call_id] <= placed] or remaining
        order.extend(ready)
        placed.update(ready)
        remaining = [call_id for call_id in remaining if call_id not in placed]
    return order


def _rewrite_references(value: Any, mapping: dict[int, int], own_ids: set[int]) -> Any:
    """Rewrite every ``$N``/``${N}`` to ``$M`` (M = mapping[N]); citations of ids outside the plan become
    ``$?N`` so they can only ever equal another dangling citation."""

    def replace(match: re.Match[str]) -> str:
        cited = int(match.group(1))
        if cited not in own_ids:
            return f"$?{cited}"
        return f"${mapping[cited]}" if cited in mapping else f"$!{cited}"

    if isinstance(value, str):
        return _REFERENCE.sub(replace, value)
    if isinstance(value, dict):
        return {key: _rewrite_references(item, mapping, own_ids) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_rewrite_references(item, mapping, own_ids) for item in value]
    return value


def plans_match(predicted: Sequence[PlanCall], expected: Sequence[PlanCall]) -> bool:
    """True when a bijection maps predicted calls onto expected ones with equal names, matching
    arguments (``$N`` read through the bijection) and the same dependency DAG.

    Dependencies are the declared ``deps`` plus every ``$N`` cited in the arguments.
    """
    if len(predicted) != len(expected):
        return False
    predicted_ids = {call.id for call in predicted}
    expected_ids = {call.id for call in expected}
    if len(predicted_ids) != len(predicted) or len(expected_ids) != len(expected):
        return False  # duplicate ids make "$N" ambiguous
    predicted_deps = {call.id: _dependencies(call, predicted_ids) for call in predicted}
    expected_deps = {call.id: _dependencies(call, expected_ids) for call in expected}
    identity = {call_id: call_id for call_id in expected_ids}
    expected_args = {call.id: _rewrite_references(call.args, identity, expected_ids) for call in expected}
    cited = {call.id: _references(call.args) & predicted_ids for call in predicted}

    candidates: dict[int, list[PlanCall]] = {
        exp.id: [
            pred
            for pred in predicted
            if pred.name == exp.name
            and pred.args.keys() == exp.args.keys()
            and len(predicted_deps[pred.id]) == len(expected_deps[exp.id])
        ]
        for exp in expected
    }
    order = _topological(expected_deps)
    mapping: dict[int, int] = {}  # predicted id -> expected id

    def edges_agree(pred: PlanCall, exp_id: int) -> bool:
        for other_pred, other_exp in mapping.items():
            if (other_pred in predicted_deps[pred.id]) != (other_exp in expected_deps[exp_id]):
                return False
            if (pred.id in predicted_deps[other_pred]) != (exp_id in expected_deps[other_exp]):
                return False
        return True

    def arguments_agree(pred: PlanCall, exp_id: int) -> bool:
        rewritten = _rewrite_references(pred.args, mapping, predicted_ids)
        return _values_match(rewritten, expected_args[exp_id])

    def assign(position: int) -> bool:
        if position == len(order):
            # calls whose citations were not all mapped when they were placed are checked now
            return all(arguments_agree(pred, mapping[pred.id]) for pred in predicted)
        exp_id = order[position]
        for pred in candidates[exp_id]:
            if pred.id in mapping or not edges_agree(pred, exp_id):
                continue
            mapping[pred.id] = exp_id
            ready = cited[pred.id] <= mapping.keys()
            if (not ready or arguments_agree(pred, exp_id)) and assign(position + 1):
                return True
            del mapping[pred.id]
        return False

    return assign(0)
