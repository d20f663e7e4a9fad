"""Evaluation: BFCL data and AST scoring, and the desktop plan metric."""

from tinycrew.evals.bfcl_data import (
    CATEGORIES,
    BfclEntry,
    NameMap,
    default_root,
    load_category,
    split_of,
    to_openai_tools,
)
from tinycrew.evals.bfcl_scorer import (
    CategoryScore,
    DecodeError,
    ScoreResult,
    calls_from_tool_calls,
    check_call,
    is_well_formed,
    normalize_string,
    parse_python_calls,
    score_category,
    score_entry,
    score_output,
)
from tinycrew.evals.plan_scorer import PlanCall, parse_datetime, plans_match

__all__ = [
    "CATEGORIES",
    "BfclEntry",
    "CategoryScore",
    "DecodeError",
    "NameMap",
    "PlanCall",
    "ScoreResult",
    "calls_from_tool_calls",
    "check_call",
    "default_root",
    "is_well_formed",
    "load_category",
    "normalize_string",
    "parse_datetime",
    "parse_python_calls",
    "plans_match",
    "score_category",
    "score_entry",
    "score_output",
    "split_of",
    "to_openai_tools",
]
