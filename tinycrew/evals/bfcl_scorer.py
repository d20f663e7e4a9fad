"""BFCL's AST scoring for the single-turn categories, re-implemented from the rules in SOURCE.md.

Decoding (prompting mode and native tool calls), dispatch by category, the greedy order-free parallel
match and the single-call check with BFCL's type coercions, string normalisation and omission rules.
The quirks of the official checker are kept on purpose, so that numbers are comparable.
"""

from __future__ import annotations

import ast
import json
import operator
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tinycrew.evals.bfcl_data import BfclEntry, NameMap

Call = dict[str, dict[str, Any]]
"""One decoded call: ``{function_name: {argument: value}}``."""

ModelOutput = str | list[Any] | None
"""What a model produced for one entry: prompting-mode text, decoded calls, or ``None`` (nothing usable)."""

_PY_TYPES: dict[str, type] = {
    "string": str,
    "integer": int,
    "float": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "any": str,
}
_NESTED_TYPES = ("array", "tuple")
_STRIP_CHARS = re.compile(r"[ ,./\-_*^]")
_MAX_POWER = 1000  # bounds on ** so a decoded argument can never take long to evaluate
_MAX_POWER_BASE = 10**6

_BINARY_OPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}


class DecodeError(ValueError):
    """The model output could not be turned into a list of calls; BFCL scores such an entry as failed
    (or, for irrelevance, as "no call")."""


@dataclass(frozen=True)
class ScoreResult:
    """Outcome of one entry: ``ok`` is the 0/1 score, ``reason`` says why it failed (or passed)."""

    ok: bool
    reason: str


@dataclass(frozen=True)
class CategoryScore:
    """Accuracy of one category plus the per-entry results behind it."""

    category: str
    total: int
    correct: int
    results: dict[str, ScoreResult] = field(default_factory=dict)

    @property
    def accuracy(self) -> float:
        """Fraction of entries that scored 1 (0.0 for an empty category)."""
        return self.correct / self.total if self.total else 0.0

    def failure_reasons(self) -> Counter[str]:
        """How often each failure kind (text before the first colon) occurred."""
        return Counter(r.reason.split(":", 1)[0] for r in self.results.values() if not r.ok)


# ---------------------------------------------------------------- decoding


def _call_name(node: ast.expr) -> str:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        raise DecodeError(f"call target is not a (dotted) name: {ast.unparse(node)!r}")
    parts.append(node.id)
    return ".".join(reversed(parts))


def _arithmetic(node: ast.BinOp) -> Any:
    left, right = _value(node.left), _value(node.right)
    op = _BINARY_OPS.get(type(node.op))
    numeric = all(isinstance(x, int | float) and not isinstance(x, bool) for x in (left, right))
    concat = isinstance(node.op, ast.Add) and isinstance(left, str) and isinstance(right, str)
    if op is None or not (numeric or concat):
        raise DecodeError(f"unsupported expression: {ast.unparse(node)!r}")
    if isinstance(node.op, ast.Pow) and (abs(right) > _MAX_POWER or abs(left) > _MAX_POWER_BASE):
        raise DecodeError(f"power too large to evaluate: {ast.unparse(node)!r}")
    try:
        return op(left, right)
    except (ArithmeticError, ValueError) as exc:
        raise DecodeError(f"cannot evaluate {ast.unparse(node)!r}: {exc}") from exc


def _value(node: ast.expr) -> Any:
    """Turn an argument expression into a Python value the way BFCL's decoder does."""
    if isinstance(node, ast.Constant):
        return "..." if node.value is Ellipsis else node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = node.operand
        if isinstance(operand, ast.Constant) and isinstance(operand.value, int | float | complex):
            return -operand.value if isinstance(node.op, ast.USub) else operand.value
        raise DecodeError(f"unsupported unary expression: {ast.unparse(node)!r}")
    if isinstance(node, ast.List):
        return [_value(item) for item in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_value(item) for item in node.elts)
    if isinstance(node, ast.Dict):
        if any(key is None for key in node.keys):
            raise DecodeError("dict unpacking (**) is not a literal")
        try:
            return {_value(k): _value(v) for k, v in zip(node.keys, node.values, strict=True)}
        except TypeError as exc:  # an unhashable key such as a list
            raise DecodeError(f"bad dict literal {ast.unparse(node)!r}: {exc}") from exc
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Call):
        return _call(node) if node.keywords else ast.unparse(node)
    if isinstance(node, ast.BinOp):
        return _arithmetic(node)
    if isinstance(node, ast.Subscript):
        return ast.unparse(node)
    raise DecodeError(f"unsupported argument expression {type(node).__name__}: {ast.unparse(node)!r}")


def _call(node: ast.Call) -> Call:
    arguments: dict[str, Any] = {}
    for keyword in node.keywords:
        if keyword.arg is None:
            raise DecodeError("keyword unpacking (**) is not a literal")
        arguments[keyword.arg] = _value(keyword.value)
    return {_call_name(node.func): arguments}


def parse_python_calls(text: str) -> list[Call]:
    """Decode a prompting-mode answer like ``[f(a=1), mod.g(b='x')]`` into ``[{name: {arg: value}}]``.

    Keyword arguments only (positional ones are dropped, as BFCL does); raises DecodeError on failure.
    """
    source = text.strip("`\n ")
    if not source.startswith("["):
        source = "[" + source
    if not source.endswith("]"):
        source = source + "]"
    source = source.strip("[]'")
    try:
        body = ast.parse(source, mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        raise DecodeError(f"not a Python expression: {exc}") from exc
    if isinstance(body, ast.Call):
        elements: list[ast.expr] = [body]
    elif isinstance(body, ast.Tuple | ast.List):
        elements = list(body.elts)
    else:
        raise DecodeError(f"expected a list of calls, got {type(body).__name__}")
    calls: list[Call] = []
    for element in elements:
        if not isinstance(element, ast.Call):
            raise DecodeError(f"element is not a call: {ast.unparse(element)!r}")
        calls.append(_call(element))
    return calls


def calls_from_tool_calls(
    tool_calls: Sequence[tuple[str, dict[str, Any] | str]], name_map: NameMap | None = None
) -> list[Call]:
    """Native tool-calling mode: ``(name, arguments)`` pairs (arguments as a dict or JSON text) to calls.

    API-safe names are mapped back through ``name_map``; raises DecodeError on bad JSON or non-objects.
    """
    calls: list[Call] = []
    for name, arguments in tool_calls:
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as exc:
                raise DecodeError(f"arguments of {name!r} are not JSON: {exc}") from exc
        if not isinstance(arguments, dict):
            raise DecodeError(f"arguments of {name!r} are not an object: {arguments!r}")
        calls.append({name_map.from_api(name) if name_map else name: arguments})
    return calls


def is_well_formed(calls: Any) -> bool:
    """True when ``calls`` is a list whose items are each a dict with one key mapping to a dict."""
    if not isinstance(calls, list):
        return False
    return all(
        isinstance(item, dict) and len(item) == 1 and isinstance(next(iter(item.values())), dict)
        for item in calls
    )


# ---------------------------------------------------------------- single-call check


def normalize_string(text: str) -> str:
    """BFCL's string normalisation: drop spaces and ``,./-_*^``, lowercase, ``'`` becomes ``"``."""
    return _STRIP_CHARS.sub("", text).lower().replace("'", '"')


def _norm(value: Any) -> Any:
    return normalize_string(value) if type(value) is str else value


def _first_answer_type(alternatives: list[Any]) -> type | None:
    for alternative in alternatives:
        if alternative != "":
            return type(alternative)
    return None


def _type_ok(
    value: Any, alternatives: list[Any], expected: type, item_type: type | None
) -> tuple[bool, bool]:
    """(valid, is_variable): exact type identity, one level into arrays, with the ground-truth-type escape."""
    answer_type = _first_answer_type(alternatives)
    is_variable = answer_type is not None and answer_type is not expected
    if type(value) is expected:
        if item_type is None:
            return True, is_variable
        for alternative in alternatives:
            if type(alternative) is not list:
                return True, is_variable  # quirk: a non-list alternative skips the element check
            if all(_type_ok(item, alternative, item_type, None)[0] for item in value):
                return True, is_variable
        return False, False  # elements fit no alternative; the escape below does not rescue this
    if answer_type is not None and type(value) is answer_type:
        return True, True
    return False, False


def _dict_ok(value: dict[Any, Any], alternatives: list[Any]) -> bool:
    for alternative in alternatives:
        if not isinstance(alternative, dict):
            continue
        keys_ok = all(
            key in alternative and _norm(item) in [_norm(a) for a in alternative[key]]
            for key, item in value.items()
        )
        omitted_ok = all(key in value or "" in accepted for key, accepted in alternative.items())
        if keys_ok and omitted_ok:
            return True
    return False


def _list_of_dicts_ok(value: list[Any], alternatives: list[Any]) -> bool:
    for alternative in alternatives:
        if alternative == "":
            alternative = []  # quirk: len("") == 0, so an empty list matches an omittable parameter
        if not isinstance(alternative, list) or len(alternative) != len(value):
            continue
        if all(
            isinstance(item, dict) and _dict_ok(item, [expected])
            for item, expected in zip(value, alternative, strict=True)
        ):
            return True
    return False


def _list_ok(value: list[Any], alternatives: list[Any]) -> bool:
    normalised = [_norm(item) for item in value]
    for alternative in alternatives:
        if alternative == "":
            alternative = []  # same quirk as above
        if isinstance(alternative, list | tuple) and normalised == [_norm(a) for a in alternative]:
            return True
    return False


def check_call(call: Call, truth_call: Call, schema: dict[str, Any]) -> str | None:
    """One model call against one ground-truth call and its schema; returns the failure reason or None."""
    truth = next(iter(truth_call.values()))
    name = schema["name"]
    if name not in call:
        return f"wrong function name: expected {name!r}, got {next(iter(call), None)!r}"
    params = call[name]
    schema_params = schema.get("parameters", {})
    properties: dict[str, Any] = schema_params.get("properties", {})
    for required in schema_params.get("required", []):
        if required not in params:
            return f"missing required parameter: {name}.{required}"
    for param, raw_value in params.items():
        if param not in properties or param not in truth:
            return f"unexpected parameter: {name}.{param}"
        spec = properties[param]
        type_name = spec.get("type")
        expected = _PY_TYPES.get(type_name) if isinstance(type_name, str) else None
        alternatives = truth[param]
        value = raw_value
        if type_name == "tuple" and type(value) is tuple:
            value = list(value)
        if type_name == "float" and type(value) is int:
            value = float(value)
        item_type: type | None = None
        if type_name in _NESTED_TYPES:
            item_name = spec.get("items", {}).get("type")
            item_type = _PY_TYPES.get(item_name) if isinstance(item_name, str) else None
        if expected is None:
            valid, is_variable = True, True  # unknown dialect type: compare by equality only
        else:
            valid, is_variable = _type_ok(value, alternatives, expected, item_type)
        if not valid:
            got = type(raw_value).__name__
            if item_type is not None and type(value) is expected:
                type_name = f"{type_name} of {spec['items']['type']}"  # the elements are what failed
            return f"type error: {name}.{param} expected {type_name}, got {got} {raw_value!r}"
        if not is_variable and expected is dict:
            ok = _dict_ok(value, alternatives)
        elif not is_variable and expected is list and item_type is dict:
            ok = _list_of_dicts_ok(value, alternatives)
        elif not is_variable and expected is str:
            ok = _norm(value) in [normalize_string(a) for a in alternatives if type(a) is str]
        elif not is_variable and expected is list:
            ok = _list_ok(value, alternatives)
        else:
            ok = value in alternatives
        if not ok:
            return f"value error: {name}.{param}={raw_value!r} not in {alternatives!r}"
    for param, alternatives in truth.items():
        if param not in params and "" not in alternatives:
            return f"optional parameter not provided: {name}.{param}"
    return None


# ---------------------------------------------------------------- entry and category scoring


def _find_schema(functions: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((function for function in functions if function.get("name") == name), None)


def _has_call(calls: list[Any] | None, decode_error: str | None) -> bool:
    return decode_error is None and calls is not None and is_well_formed(calls) and len(calls) > 0


def _score_parallel(entry: BfclEntry, calls: list[Call], truth: list[Call]) -> ScoreResult:
    if len(calls) != len(truth):
        return ScoreResult(False, f"wrong count: expected {len(truth)} calls, got {len(calls)}")
    matched: set[int] = set()
    for position, truth_call in enumerate(truth):
        expected_name = next(iter(truth_call))
        schema = _find_schema(entry.functions, expected_name)
        if schema is None:
            return ScoreResult(False, f"no schema: ground-truth function {expected_name!r} is not offered")
        last_reason = "no unmatched call left"
        for index, call in enumerate(calls):
            if index in matched:
                continue
            reason = check_call(call, truth_call, schema)
            if reason is None:
                matched.add(index)
                break
            last_reason = reason
        else:
            return ScoreResult(False, f"no match: ground-truth call {position} ({last_reason})")
    return ScoreResult(True, "ok")


def score_entry(entry: BfclEntry, calls: list[Any] | None, decode_error: str | None = None) -> ScoreResult:
    """Score one entry as BFCL does: irrelevance passes without a call; AST categories need the calls."""
    category = entry.category
    if "irrelevance" in category:
        if _has_call(calls, decode_error):
            return ScoreResult(False, f"irrelevance: made {len(calls or [])} call(s)")
        return ScoreResult(True, "ok: no call")
    if "relevance" in category:
        if _has_call(calls, decode_error):
            return ScoreResult(True, "ok: made a call")
        return ScoreResult(False, "relevance: no call")
    if entry.ground_truth is None:
        raise ValueError(f"{entry.id}: category {category!r} needs ground truth")
    if decode_error is not None or calls is None:
        return ScoreResult(False, f"decode error: {decode_error or 'no output'}")
    if not is_well_formed(calls):
        return ScoreResult(False, "malformed: output is not a list of {name: {args}} calls")
    truth = entry.ground_truth
    if "parallel" in category:
        return _score_parallel(entry, calls, truth)
    if "multiple" in category:
        if len(calls) != len(truth):
            return ScoreResult(False, f"wrong count: expected {len(truth)} calls, got {len(calls)}")
        expected_name = next(iter(truth[0]))
        schema = _find_schema(entry.functions, expected_name)
        if schema is None:
            return ScoreResult(False, f"no schema: ground-truth function {expected_name!r} is not offered")
        reason = check_call(calls[0], truth[0], schema)
    else:
        if len(calls) != 1:
            return ScoreResult(False, f"wrong count: expected 1 call, got {len(calls)}")
        reason = check_call(calls[0], truth[0], entry.functions[0])
    return ScoreResult(True, "ok") if reason is None else ScoreResult(False, reason)


def score_output(entry: BfclEntry, output: ModelOutput) -> ScoreResult:
    """Score raw prompting-mode text (decoded here), already-decoded calls, or ``None`` (no usable output)."""
    if isinstance(output, str):
        try:
            calls = parse_python_calls(output)
        except DecodeError as exc:
            return score_entry(entry, None, str(exc))
        return score_entry(entry, calls)
    if output is None:
        return score_entry(entry, None, "no output")
    return score_entry(entry, output)


def score_category(
    entries: Sequence[BfclEntry], outputs: Mapping[str, ModelOutput] | Sequence[ModelOutput]
) -> CategoryScore:
    """Score every entry; ``outputs`` is keyed by entry id or aligned with ``entries``. Entries must share
    one category."""
    categories = {entry.category for entry in entries}
    if len(categories) > 1:
        raise ValueError(f"entries mix categories: {sorted(categories)}")
    if isinstance(outputs, Mapping):
        missing = [entry.id for entry in entries if entry.id not in outputs]
        if missing:
            raise KeyError(f"no output for {len(missing)} entries, e.g. {missing[:3]}")
        pairs = [(entry, outputs[entry.id]) for entry in entries]
    else:
        if len(outputs) != len(entries):
            raise ValueError(f"{len(outputs)} outputs for {len(entries)} entries")
        pairs = list(zip(entries, outputs, strict=True))
    results = {entry.id: score_output(entry, output) for entry, output in pairs}
    correct = sum(result.ok for result in results.values())
    category = categories.pop() if categories else ""
    return CategoryScore(category=category, total=len(results), correct=correct, results=results)
