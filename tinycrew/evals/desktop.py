"""The desktop eval (issue 25): tasks, the exact plan match, and the plan an agent's run made.

A task is one JSON line ``{"id", "now", "request", "plan", "split"}``; ``plan`` is the expected plan,
``[{"id": 1, "name": ..., "args": {...}}, ...]``, where the string ``"$N"`` (alone, or inside a list)
stands for call N's result, and ``[]`` means no tool serves the request. The packaged set is
``tinycrew/evals/data/desktop_tasks.jsonl`` (`load_tasks()`).

`match_plans(predicted, expected, now)` is the exact plan match: the same multiset of calls with the
same arguments after normalisation and the same dependency structure, up to a renumbering of the calls
consistent with the ``$N`` references. The normalisation rules, each applied per parameter:

1. **Strings** are casefolded, runs of whitespace collapse to one space, and quotes around the whole
   value and sentence punctuation at its end (``.!?``) are dropped: ``"Running late."`` equals
   ``"running  late"``; accents and inner punctuation count (``"Ménard"`` is not ``"Menard"``).
2. **Dates** (``start_date``, ``end_date``, ``due_date``, ``start_time``) are read on both sides with
   `resolve_when(text, now)`, so ``"tomorrow at 10"`` equals ``"2026-12-04T10:00"``; an ``end_date``
   may also be a duration or a bare time after the start (`resolve_end`). An expected date without a
   time of day (``"2026-12-04"``) matches any time that day. A value that cannot be read is compared
   as a string.
3. **Defaults**: an optional argument equal to its default (the tool signatures of issue 25,
   `DEFAULTS`) is the same as an absent one.
4. **Sets**: ``recipients``, ``cc``, ``invitees``, ``meeting_invitees`` and ``attachments`` are compared
   as sets (order and repeats do not count).
5. **References** are never conflated with values: an expected ``"$1"`` matches only a reference to the
   call mapped onto call 1, never the name or address itself (``"Odile"`` is not ``"$1"``).
6. **Prose the assistant writes** (the ``context`` of the three email tools, the ``notes`` of events and
   reminders) is only checked when the expected call gives it; an expected value that is exactly one
   reference (``"$2"``) there, or in ``message``/``content``, matches prose that contains the reference
   (``"Join here: $2"``).
7. **Alternatives**: where the request leaves the wording open, an expected value may be
   ``{"$one_of": [a, b, ...]}``; any one of them matches (written with the task, never after a run).

`kind_of(plan)` names the kind of a task from its expected plan: ``none`` (no call), ``single``,
``parallel`` (several calls, no dependency), ``chain`` (a dependency, at most three calls) or ``long``
(four calls or more). `split_of(task_id)` puts 40 % of the ids in ``eval`` by the sha256 of the id, as
`tinycrew.evals.bfcl_data.split_of` does for BFCL with 20 %.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from tinycrew.agents import CallRecord

Split = Literal["train", "eval"]
EVAL_FRACTION_PERCENT = 40
"""Share of the task ids in the eval split (the rest is train, for examples and for looking at failures)."""

DEFAULTS: dict[str, dict[str, Any]] = {
    "get_phone_number": {},
    "get_email_address": {},
    "create_calendar_event": {"location": "", "invitees": [], "notes": "", "calendar": ""},
    "open_and_get_file_path": {},
    "summarize_pdf": {},
    "compose_new_email": {"context": "", "attachments": [], "cc": []},
    "reply_to_email": {"context": "", "attachments": [], "cc": []},
    "forward_email": {"context": "", "attachments": [], "cc": []},
    "maps_open_location": {},
    "maps_show_directions": {"start_location": "", "end_location": "", "transport": "d"},
    "create_note": {"folder": "Notes"},
    "open_note": {"folder": "Notes"},
    "append_note_content": {"folder": "Notes"},
    "create_reminder": {"due_date": "", "notes": "", "list_name": "", "priority": 0, "all_day": False},
    "send_sms": {},
    "get_zoom_meeting_link": {},
}
"""The optional parameters of the 16 desktop tools and their defaults, as issue 25 fixes them."""
SET_PARAMS = frozenset({"recipients", "cc", "invitees", "meeting_invitees", "attachments"})
DATE_PARAMS = frozenset({"start_date", "end_date", "due_date", "start_time"})
PROSE_PARAMS: dict[str, frozenset[str]] = {
    "compose_new_email": frozenset({"context"}),
    "reply_to_email": frozenset({"context"}),
    "forward_email": frozenset({"context"}),
    "create_calendar_event": frozenset({"notes"}),
    "create_reminder": frozenset({"notes"}),
}
"""Text the assistant writes itself: checked only where the expected call gives it (rule 6)."""
TEXT_PARAMS = frozenset({"context", "notes", "message", "content"})
"""Free text in which an expected lone reference matches a containing string (rule 6)."""
KINDS = ("single", "chain", "parallel", "long", "none")
ONE_OF = "$one_of"

_REFERENCE = re.compile(r"\$\{?(\d+)\}?")
_LONE_REFERENCE = re.compile(r"^\s*\$\{?(\d+)\}?\s*$")
_ISO_DATE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}\s*$")
_QUOTES = "\"'`“”‘’"


@dataclass(frozen=True)
class Call:
    """One call of a plan: ``deps`` are the declared dependencies; every ``$N`` cited adds to them."""

    id: int
    name: str
    args: dict[str, Any] = field(default_factory=dict)
    deps: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Task:
    """One desktop request with its clock and (optionally) its expected plan."""

    id: str
    now: datetime
    request: str
    plan: list[Call] | None = None
    split: Split = "train"

    @property
    def kind(self) -> str:
        """The task's kind (`kind_of` its expected plan), or "unscored" without one."""
        return "unscored" if self.plan is None else kind_of(self.plan)


@dataclass(frozen=True)
class MatchResult:
    """Whether a plan matched, and why not: the kind of failure and a detail."""

    ok: bool
    reason: str = "ok"
    detail: str = ""
    structure_ok: bool = False
    """Same tools and dependency DAG, arguments not compared (TinyAgent-style structure match)."""


def split_of(task_id: str) -> Split:
    """``eval`` for 40 % of ids, ``train`` for the rest, by the sha256 of the id (stable everywhere)."""
    digest = hashlib.sha256(task_id.encode("utf-8")).digest()
    bucket = int.from_bytes(digest[:8], "big") % 100
    return "eval" if bucket < EVAL_FRACTION_PERCENT else "train"


def references(value: Any) -> set[int]:
    """Every call id cited as ``$N`` / ``${N}`` anywhere in `value`."""
    if isinstance(value, str):
        return {int(number) for number in _REFERENCE.findall(value)}
    if isinstance(value, dict):
        return set().union(*(references(item) for item in value.values()))
    if isinstance(value, list | tuple):
        return set().union(*(references(item) for item in value))
    return set()


def to_calls(plan: Iterable[dict[str, Any] | Call]) -> list[Call]:
    """Plan rows (``{"id", "name", "args", "deps"?}``) as `Call`s; deps include the cited ``$N``."""
    calls = []
    for row in plan:
        if isinstance(row, Call):
            calls.append(row)
            continue
        args = dict(row.get("args") or row.get("arguments") or {})
        deps = frozenset(int(dep) for dep in row.get("deps") or row.get("depends_on") or [])
        calls.append(Call(int(row["id"]), str(row["name"]), args, deps | references(args)))
    return calls


def kind_of(plan: Sequence[Call | dict[str, Any]]) -> str:
    """none (no call), single, long (4+ calls), parallel (2-3 calls in two or more independent
    branches) or chain (2-3 calls linked by ``$N``)."""
    calls = to_calls(plan)
    if not calls:
        return "none"
    if len(calls) == 1:
        return "single"
    if len(calls) >= 4:
        return "long"
    parent = {call.id: call.id for call in calls}

    def root(node: int) -> int:
        while parent[node] != node:
            node = parent[node]
        return node

    for call in calls:
        for dep in call.deps & parent.keys():
            parent[root(dep)] = root(call.id)
    return "parallel" if len({root(call.id) for call in calls}) > 1 else "chain"


def parse_task(row: dict[str, Any]) -> Task:
    """A task from its JSON row; ``split`` defaults to `split_of(id)`."""
    task_id = str(row["id"])
    plan = row.get("plan")
    return Task(
        id=task_id,
        now=datetime.fromisoformat(row["now"]),
        request=row["request"],
        plan=None if plan is None else to_calls(plan),
        split=row.get("split") or split_of(task_id),
    )


def default_tasks_path() -> Path:
    """The packaged desktop task set."""
    return Path(str(resources.files("tinycrew.evals") / "data" / "desktop_tasks.jsonl"))


def load_tasks(
    path: str | Path | None = None, split: str | None = None, limit: int | None = None
) -> list[Task]:
    """Tasks of a JSONL file (default: the packaged set), of one split ("train", "eval"; None or "all":
    both), the first `limit` of them."""
    source = Path(path) if path is not None else default_tasks_path()
    with source.open(encoding="utf-8") as handle:
        tasks = [parse_task(json.loads(line)) for line in handle if line.strip()]
    if split not in (None, "all"):
        tasks = [task for task in tasks if task.split == split]
    return tasks if limit is None else tasks[:limit]


# ----------------------------------------------------------------------------------------------- values


def normalize_text(text: str) -> str:
    """Rule 1: NFC, casefold, collapse whitespace, drop surrounding quotes and final ``.!?``."""
    folded = " ".join(unicodedata.normalize("NFC", text).casefold().split())
    previous = None
    while previous != folded:
        previous = folded
        folded = folded.rstrip(".!?").strip()
        if len(folded) >= 2 and folded[0] in _QUOTES and folded[-1] in _QUOTES:
            folded = folded[1:-1].strip()
    return folded


def _when(text: Any, now: datetime, start: datetime | None = None) -> datetime | None:
    """`text` read as the desktop tools read it (`resolve_when`, or `resolve_end` after `start`)."""
    if not isinstance(text, str) or not text.strip() or _REFERENCE.search(text):
        return None
    from tinycrew.tools.desktop.dates import resolve_end, resolve_when

    try:
        return resolve_when(text, now) if start is None else resolve_end(text, start, now)
    except (ValueError, OverflowError, TypeError):
        return None


def _rewrite(value: Any, mapping: dict[int, int]) -> Any:
    """``$N`` -> ``$M`` with M = mapping[N]; ids outside the mapping become ``$?N`` (match nothing)."""
    if isinstance(value, str):
        return _REFERENCE.sub(lambda m: f"${mapping.get(int(m.group(1)), '?' + m.group(1))}", value)
    if isinstance(value, list | tuple):
        return [_rewrite(item, mapping) for item in value]
    if isinstance(value, dict):
        return {key: _rewrite(item, mapping) for key, item in value.items()}
    return value


def _scalar_equal(predicted: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or isinstance(predicted, bool):
        if isinstance(predicted, str):
            predicted = {"true": True, "false": False}.get(predicted.strip().lower(), predicted)
        return predicted is expected or predicted == expected and type(predicted) is type(expected)
    if isinstance(expected, int | float) or isinstance(predicted, int | float):
        try:
            return float(predicted) == float(expected)
        except (TypeError, ValueError):
            return False
    if isinstance(predicted, str) and isinstance(expected, str):
        if _REFERENCE.search(expected) or _REFERENCE.search(predicted):
            return expected.strip() == predicted.strip()  # rule 5: references compare exactly
        return normalize_text(predicted) == normalize_text(expected)
    return predicted == expected


def _as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def value_matches(
    tool: str,
    param: str,
    predicted: Any,
    expected: Any,
    now: datetime,
    start: tuple[Any, Any] | None = None,
) -> bool:
    """Whether one argument matches (references already mapped onto the expected ids). `start` is the
    (predicted, expected) start of the call, for an ``end_date`` given relative to it."""
    if isinstance(expected, dict) and ONE_OF in expected:
        return any(value_matches(tool, param, predicted, one, now, start) for one in expected[ONE_OF])
    if param in SET_PARAMS:
        left, right = _as_list(predicted), _as_list(expected)
        return {_set_key(item) for item in left} == {_set_key(item) for item in right}
    if (
        param in TEXT_PARAMS
        and isinstance(expected, str)
        and _LONE_REFERENCE.match(expected)
        and isinstance(predicted, str)
    ):
        return f"${_LONE_REFERENCE.match(expected).group(1)}" in _REFERENCE.sub(r"$\1", predicted)
    if param in DATE_PARAMS and isinstance(expected, str) and isinstance(predicted, str):
        if _scalar_equal(predicted, expected):
            return True
        predicted_start = expected_start = None
        if param == "end_date" and start is not None:
            predicted_start, expected_start = (_when(text, now) for text in start)
        when_expected = _when(expected, now, expected_start)
        when_predicted = _when(predicted, now, predicted_start)
        if when_expected is None or when_predicted is None:
            return False
        if _ISO_DATE.match(expected):
            return when_predicted.date() == when_expected.date()
        return when_predicted.replace(tzinfo=None) == when_expected.replace(tzinfo=None)
    return _scalar_equal(predicted, expected)


def _set_key(item: Any) -> Any:
    if isinstance(item, str):
        return item.strip() if _REFERENCE.search(item) else normalize_text(item)
    return json.dumps(item, sort_keys=True)


def _is_default(tool: str, param: str, value: Any, now: datetime) -> bool:
    defaults = DEFAULTS.get(tool, {})
    if param not in defaults:
        return False
    default = defaults[param]
    if isinstance(default, list):
        return not _as_list(value)
    if isinstance(default, str) and isinstance(value, str):
        return normalize_text(value) == normalize_text(default)
    return _scalar_equal(value, default)


def argument_mismatches(predicted: Call, expected: Call, mapping: dict[int, int], now: datetime) -> list[str]:
    """The parameters whose values differ (``tool.param``), predicted references read through `mapping`
    (predicted id -> expected id); empty when the call matches."""
    tool = expected.name
    left = {k: _rewrite(v, mapping) for k, v in predicted.args.items() if not _is_default(tool, k, v, now)}
    right = {k: v for k, v in expected.args.items() if not _is_default(tool, k, v, now)}
    prose = PROSE_PARAMS.get(tool, frozenset())
    start = (predicted.args.get("start_date"), expected.args.get("start_date"))
    wrong = []
    for param in sorted(left.keys() | right.keys()):
        if param in prose and param not in expected.args:
            continue  # rule 6: the assistant's own prose, not fixed by the task
        present = param in left and param in right
        if not present or not value_matches(tool, param, left[param], right[param], now, start):
            wrong.append(f"{tool}.{param}")
    return wrong


# ------------------------------------------------------------------------------------------- structure


def _topological(calls: Sequence[Call]) -> list[Call]:
    placed: set[int] = set()
    order: list[Call] = []
    remaining = sorted(calls, key=lambda call: call.id)
    own = {call.id for call in calls}
    while remaining:
        ready = [call for call in remaining if (call.deps & own) <= placed] or remaining[:1]
        order.extend(ready)
        placed.update(call.id for call in ready)
        remaining = [call for call in remaining if call.id not in placed]
    return order


def _mappings(predicted: Sequence[Call], expected: Sequence[Call]) -> Iterable[dict[int, int]]:
    """Every bijection predicted -> expected with equal names and the same dependency DAG."""
    own_predicted = {call.id for call in predicted}
    order = _topological(expected)
    mapping: dict[int, int] = {}

    def extend(position: int) -> Iterable[dict[int, int]]:
        if position == len(order):
            yield dict(mapping)
            return
        target = order[position]
        for call in predicted:
            if call.id in mapping or call.name != target.name:
                continue
            deps = call.deps & own_predicted
            if not deps <= mapping.keys() or {mapping[dep] for dep in deps} != set(target.deps):
                continue
            mapping[call.id] = target.id
            yield from extend(position + 1)
            del mapping[call.id]

    yield from extend(0)


def match_plans(
    predicted: Sequence[Call | dict[str, Any]], expected: Sequence[Call | dict[str, Any]], now: datetime
) -> MatchResult:
    """The exact plan match (module docstring); on a mismatch, the kind of failure:

    ``no call`` / ``call on a no-tool request``, ``wrong tools`` (the multisets of tool names differ),
    ``dependencies`` (same tools, another DAG), ``arguments`` (the detail names the parameters of the
    closest correspondence).
    """
    left, right = to_calls(predicted), to_calls(expected)
    right_ids = {call.id for call in right}
    right = [Call(c.id, c.name, c.args, c.deps & right_ids) for c in right]
    if not right:
        if not left:
            return MatchResult(True, structure_ok=True)
        return MatchResult(False, "call on a no-tool request", ", ".join(c.name for c in left))
    if not left:
        return MatchResult(False, "no call", ", ".join(c.name for c in right))
    if len({c.id for c in left}) != len(left):
        return MatchResult(False, "wrong tools", "duplicate call ids")
    names_left, names_right = Counter(c.name for c in left), Counter(c.name for c in right)
    if names_left != names_right:
        missing = ", ".join(sorted((names_right - names_left).elements()))
        extra = ", ".join(sorted((names_left - names_right).elements()))
        detail = "; ".join(
            part
            for part in (f"missing {missing}" if missing else "", f"extra {extra}" if extra else "")
            if part
        )
        return MatchResult(False, "wrong tools", detail)
    identity = {call.id: call.id for call in right}
    right = [Call(c.id, c.name, _rewrite(c.args, identity), c.deps) for c in right]
    by_id = {call.id: call for call in right}
    best: list[str] | None = None
    for mapping in itertools.islice(_mappings(left, right), 5000):
        wrong = [
            item for call in left for item in argument_mismatches(call, by_id[mapping[call.id]], mapping, now)
        ]
        if not wrong:
            return MatchResult(True, structure_ok=True)
        if best is None or len(wrong) < len(best):
            best = wrong
    if best is None:
        return MatchResult(False, "dependencies", _deps_text(left) + " vs expected " + _deps_text(right))
    return MatchResult(False, "arguments", ", ".join(dict.fromkeys(best)), structure_ok=True)


def _deps_text(calls: Sequence[Call]) -> str:
    return "; ".join(f"{c.id}.{c.name}<-{sorted(c.deps)}" for c in calls) or "(none)"


# ----------------------------------------------------------------------------------- the plan of a run


def _cited(value: Any, results: dict[int, str], deps: Sequence[int], request: str) -> Any:
    """`value` with every part that came from a dependency's result written as ``$K``: a value equal to
    the result, a piece of the result that the request does not contain, or a result quoted inside a
    longer text."""
    if isinstance(value, list | tuple):
        return [_cited(item, results, deps, request) for item in value]
    if isinstance(value, dict):
        return {key: _cited(item, results, deps, request) for key, item in value.items()}
    if not isinstance(value, str) or not value.strip():
        return value
    text = value.strip()
    folded_request = request.casefold()
    for dep in deps:
        result = (results.get(dep) or "").strip()
        if not result:
            continue
        if normalize_text(text) == normalize_text(result):
            return f"${dep}"
        if len(text) >= 4 and text.casefold() in result.casefold() and text.casefold() not in folded_request:
            return f"${dep}"
    for dep in deps:
        result = (results.get(dep) or "").strip()
        if len(result) >= 6 and result in value:
            value = value.replace(result, f"${dep}")
    return value


NOT_RUN = frozenset({"arguments", "unknown_tool", "duplicate", "repeated", "refused", "unfounded", "not run"})
"""Error kinds of calls that never ran: invalid arguments or tool after the retries, a copy of another
call dropped by the loop protection, a call a policy sent back for good, a call whose dependency failed.
They are not part of the plan the agent ran (`ran`)."""


def plan_of_calls(calls: Sequence[CallRecord], request: str) -> list[dict[str, Any]]:
    """Every call of a run as eval rows ``{"id", "name", "args", "deps"}``: in id order, with the
    arguments they ran with, dependencies as the crew planner declared them (`depends_on`), and ``$K``
    where an argument came from dependency K's result (see `_cited`). A call that did not succeed also
    carries ``"error"``: its kind, or ``"not run"`` when a call it depends on failed."""
    results = {call.id: call.observation for call in calls if call.ok}
    rows = []
    for call in sorted(calls, key=lambda item: item.id):
        row: dict[str, Any] = {
            "id": call.id,
            "name": call.name,
            "args": _cited(call.arguments, results, call.depends_on, request),
            "deps": sorted(call.depends_on),
        }
        if not call.ok:
            skipped = call.observation.startswith("not run:")
            row["error"] = "not run" if skipped else call.error_kind or "error"
        rows.append(row)
    return rows


def ran(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of calls that ran (succeeded, or failed while running): the plan the agent ran."""
    return [row for row in rows if row.get("error") not in NOT_RUN]
