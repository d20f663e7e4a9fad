"""BFCL's ground truth as concrete calls: each parameter's first acceptable value.

A ground-truth call lists, per parameter, every value the scorer accepts ("" meaning the parameter may
be left out). Replays and tests need one concrete call: the first acceptable value of each parameter,
with every optional one left out (`omit=True`, the minimal form) or given (`omit=False`, the full form).
"""

from __future__ import annotations

from typing import Any

from tinycrew.evals.bfcl_data import BfclEntry


def _first(alternatives: list[Any]) -> Any:
    return next(a for a in alternatives if a != "")


def _keep(alternatives: list[Any], omit: bool) -> bool:
    has_value = any(a != "" for a in alternatives)
    return has_value and not (omit and "" in alternatives)


def _dict_value(alternative: dict[str, list[Any]], omit: bool) -> dict[str, Any]:
    return {key: _first(alts) for key, alts in alternative.items() if _keep(alts, omit)}


def _value(alternatives: list[Any], spec: dict[str, Any], omit: bool, tuples: bool) -> Any:
    value = _first(alternatives)
    if spec.get("type") == "dict" and isinstance(value, dict):
        return _dict_value(value, omit)
    if spec.get("type") == "array" and spec.get("items", {}).get("type") == "dict":
        return [_dict_value(item, omit) for item in value]
    if tuples and spec.get("type") == "tuple":
        return tuple(value)
    return value


def ground_truth_calls(
    entry: BfclEntry, omit: bool, tuples: bool = False
) -> list[tuple[str, dict[str, Any]]]:
    """(BFCL function name, arguments) of each ground-truth call of `entry`, in order; `tuples` gives a
    "tuple" parameter as a Python tuple (as a model writing Python would), else as the JSON list.

    Example: `ground_truth_calls(entry, omit=True)` -> `[("calculate_area", {"base": 10, "height": 5})]`.
    """
    assert entry.ground_truth is not None, f"{entry.id} has no ground truth"
    calls = []
    for truth_call in entry.ground_truth:
        ((name, params),) = truth_call.items()
        schema = next(f for f in entry.functions if f["name"] == name)
        properties = schema["parameters"].get("properties", {})
        arguments = {
            param: _value(alts, properties.get(param, {}), omit, tuples)
            for param, alts in params.items()
            if _keep(alts, omit)
        }
        calls.append((name, arguments))
    return calls
