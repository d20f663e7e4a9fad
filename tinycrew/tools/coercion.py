"""Scalar types that accept only the safe, lossless coercions a small model needs.

Small models write ``"5"`` for an integer or ``"true"`` for a boolean; refusing those costs a retry for
nothing. Pydantic's lax mode goes further than is safe (``True`` becomes ``1``), so every scalar here is
strict and a before-validator adds back only conversions that cannot lose information.
"""

from __future__ import annotations

import collections.abc
import re
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BeforeValidator, Strict

_INT_RE = re.compile(r"[+-]?\d+")
_FLOAT_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def _coerce_int(value: Any) -> Any:
    """Turn ``"5"``, ``"5.0"`` and ``5.0`` into ``5``; leave anything else for strict validation to reject.

    >>> _coerce_int("5"), _coerce_int(5.0), _coerce_int("5.7")
    (5, 5, '5.7')
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if _INT_RE.fullmatch(text):
            return int(text)
        if _FLOAT_RE.fullmatch(text):
            number = float(text)
            if number.is_integer():
                return int(number)
    return value


def _coerce_float(value: Any) -> Any:
    """Turn a numeric string such as ``"2.5"`` into a float; ints pass through strict float validation.

    >>> _coerce_float("2.5"), _coerce_float("abc")
    (2.5, 'abc')
    """
    if isinstance(value, str):
        text = value.strip()
        if _FLOAT_RE.fullmatch(text):
            return float(text)
    return value


def _coerce_bool(value: Any) -> Any:
    """Turn ``"true"``/``"false"`` (any case) into a bool; nothing else, so ``1`` or ``"yes"`` are refused.

    >>> _coerce_bool("True"), _coerce_bool("yes")
    (True, 'yes')
    """
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "false"):
            return text == "true"
    return value


Int = Annotated[int, BeforeValidator(_coerce_int), Strict()]
Float = Annotated[float, BeforeValidator(_coerce_float), Strict()]
Bool = Annotated[bool, BeforeValidator(_coerce_bool), Strict()]
Str = Annotated[str, Strict()]

_SCALARS: dict[Any, Any] = {bool: Bool, int: Int, float: Float, str: Str}
_CONTAINERS = {
    list,
    set,
    frozenset,
    tuple,
    dict,
    collections.abc.Sequence,
    collections.abc.MutableSequence,
    collections.abc.Set,
    collections.abc.Mapping,
    collections.abc.MutableMapping,
}


def relax(annotation: Any) -> Any:
    """Rewrite a type annotation so that its scalars (also inside lists, dicts, unions) use the safe types.

    Nested pydantic models and dataclasses keep their own validation rules.

    >>> relax(list[int]) == list[Int]
    True
    """
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Annotated:
        return Annotated[(relax(args[0]), *annotation.__metadata__)]
    if origin in (Union, types.UnionType):
        return Union[tuple(relax(arg) for arg in args)]  # noqa: UP007 - built from a runtime tuple
    if origin is Literal or not args:
        return annotation
    if origin in _CONTAINERS:
        return origin[tuple(arg if arg is Ellipsis else relax(arg) for arg in args)]
    return annotation
