"""Replay each opt-in call policy on BFCL's ground truth, without a model (issue 22).

Usage: .venv/bin/python benchmarks/replay_policies.py [--split eval|train|all] [--shape umi|plan]
       [--limit N] [--bfcl DIR] [--ids]

Every answerable question of simple_python, multiple, parallel and parallel_multiple gives its
ground-truth calls, each argument its first acceptable value, in two forms: "minimal" (every parameter
the ground truth lets out, left out) and "full" (every parameter given). A form counts only where it
scores correct under `tinycrew.evals.bfcl_scorer`. Each policy runs alone, on one call at a time, with
the question's task text and all of its functions offered; `--shape umi` (the default) hands calls over
as the umi graph does, one a step, the ground-truth calls before this one as the run's earlier successful
calls (no tool results); `--shape plan` as a compiler plan does, all calls planned together. The
send-back policies run only in umi, so they are always replayed in its shape.

- harm: calls a rewrite changes, and of those, calls that no longer pass the single-call check against
  their ground-truth call (`check_call`): a correct call made wrong;
- help: the slip a rewrite is meant to undo, made on a correct call (minimal form, else full) by a rule
  that reads only the schema, the ground truth and the task, never a particular entry; only slips that
  make the call wrong count. After the policy: restored (correct again), left (unchanged), wrong
  (changed, still wrong);
- false alarms: correct calls a send-back policy sends back.

Prints one table per replay and, last, one JSON line with every count and the entry ids behind them.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tinycrew.agents import CallRecord, PlannedCall  # noqa: E402
from tinycrew.evals.bfcl_data import BfclEntry, NameMap, load_category, to_openai_tools  # noqa: E402
from tinycrew.evals.bfcl_scorer import check_call, score_entry  # noqa: E402
from tinycrew.evals.ground_truth import ground_truth_calls  # noqa: E402
from tinycrew.evals.runner import current_commit, task_text  # noqa: E402
from tinycrew.policies import (  # noqa: E402
    CallContext,
    CallPolicy,
    CompleteUSPlaces,
    ConvertUnits,
    DropUnfoundedOptions,
    FillStatedOptions,
    OverusedNumbers,
    PercentAsFraction,
    Replace,
    SendBack,
)
from tinycrew.policies.grounding import documented_choices  # noqa: E402
from tinycrew.tools import ToolRegistry, tool_from_schema  # noqa: E402

CATEGORIES = ("simple_python", "multiple", "parallel", "parallel_multiple")
FORMS = ("minimal", "full")
SHAPES = ("umi", "plan")
REWRITES: tuple[Callable[[], CallPolicy], ...] = (
    DropUnfoundedOptions,
    FillStatedOptions,
    ConvertUnits,
    PercentAsFraction,
    CompleteUSPlaces,
)
SEND_BACKS: tuple[Callable[[], CallPolicy], ...] = (OverusedNumbers,)

_STATE_SUFFIX = re.compile(r"^([^,]+),\s*([A-Z]{2})$")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3})")
_NUMBER_WITH_WORD = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*[A-Za-z°µ]")
_TASK_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")


# ---------------------------------------------------------------- the ground truth as calls


def truth_arguments(entry: BfclEntry, omit: bool) -> list[dict[str, Any]]:
    """The arguments of each ground-truth call, in order (`tinycrew.evals.ground_truth`)."""
    return [arguments for _, arguments in ground_truth_calls(entry, omit)]


def _schema(entry: BfclEntry, name: str) -> dict[str, Any]:
    return next(f for f in entry.functions if f["name"] == name)


@dataclass
class Case:
    """One question ready for replay: its tools under API names, task text and ground truth."""

    entry: BfclEntry
    names: NameMap
    registry: ToolRegistry
    task: str
    forms: dict[str, list[dict[str, Any]]]
    """Each form ("minimal", "full") that scores correct: the arguments of each ground-truth call."""

    @property
    def truth(self) -> list[dict[str, dict[str, list[Any]]]]:
        assert self.entry.ground_truth is not None
        return self.entry.ground_truth

    def bfcl_name(self, index: int) -> str:
        return next(iter(self.truth[index]))

    def schema(self, index: int) -> dict[str, Any]:
        return _schema(self.entry, self.bfcl_name(index))

    def correct(self, index: int, arguments: dict[str, Any]) -> bool:
        """Whether call `index` with `arguments` passes BFCL's single-call check against its ground truth."""
        call = {self.bfcl_name(index): arguments}
        return check_call(call, self.truth[index], self.schema(index)) is None

    def base(self) -> list[dict[str, Any]] | None:
        """The correct answer perturbations start from: the minimal form, else the full one."""
        return self.forms.get("minimal") or self.forms.get("full")


def prepare(entry: BfclEntry) -> Case:
    """The entry's tools in a registry (API-safe names), its task text, and its correct answer forms."""
    names = NameMap()
    registry = ToolRegistry(tool_from_schema(schema) for schema in to_openai_tools(entry.functions, names))
    forms = {}
    for form in FORMS:
        arguments = truth_arguments(entry, omit=form == "minimal")
        calls = [
            {next(iter(truth)): args} for truth, args in zip(entry.ground_truth or [], arguments, strict=True)
        ]
        if score_entry(entry, calls).ok:
            forms[form] = arguments
    return Case(entry, names, registry, task_text(entry), forms)


def decide(
    policy: CallPolicy, case: Case, calls: list[dict[str, Any]], index: int, shape: str = "umi"
) -> Any:
    """The policy's decision on call `index` of `calls`, every function of the question offered. Shape
    "umi" (one call a step): the calls before it are the run's earlier successful calls, with no result;
    shape "plan" (a compiler plan, a react turn): all calls are planned together, siblings of each other."""
    api = [case.names.to_api(case.bfcl_name(i)) for i in range(len(calls))]
    planned = [PlannedCall(id=i + 1, name=api[i], arguments=calls[i]) for i in range(len(calls))]
    if shape == "umi":
        earlier = [CallRecord(id=i + 1, name=api[i], arguments=calls[i]) for i in range(index)]
        siblings = [planned[index]]
    elif shape == "plan":
        earlier, siblings = [], planned
    else:
        raise ValueError(f"unknown shape {shape!r}; expected one of {SHAPES}")
    context = CallContext(
        registry=case.registry,
        task=case.task,
        calls=earlier,
        siblings=siblings,
        tools=[case.names.to_api(f["name"]) for f in case.entry.functions],
    )
    return policy.check(planned[index], context)


def rewritten(
    policy: CallPolicy, case: Case, calls: list[dict[str, Any]], index: int, shape: str = "umi"
) -> dict[str, Any] | None:
    """The arguments a rewrite policy makes of call `index`, or None when it leaves them as they are."""
    decision = decide(policy, case, calls, index, shape)
    if isinstance(decision, Replace) and decision.call.arguments != calls[index]:
        return dict(decision.call.arguments)
    return None


# ---------------------------------------------------------------- the slips each rewrite undoes

Slip = Callable[[Case, int, dict[str, Any]], Iterator[dict[str, Any]]]
"""Given a case, a call index and its correct arguments: the perturbed arguments, one per slip."""


def _properties(case: Case, index: int) -> tuple[dict[str, Any], set[str]]:
    parameters = case.schema(index)["parameters"]
    return parameters.get("properties", {}), set(parameters.get("required", []))


def _name_says_unit(name: str) -> bool:
    words = re.split(r"[_\W]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower())
    return "unit" in words or "units" in words


def option_taken_out(case: Case, index: int, arguments: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """An optional text or flag argument left out."""
    properties, required = _properties(case, index)
    for name in arguments:
        if name not in required and properties.get(name, {}).get("type") in ("string", "boolean"):
            yield {key: value for key, value in arguments.items() if key != name}


def flag_turned_off(case: Case, index: int, arguments: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """An optional flag given True, written False."""
    properties, required = _properties(case, index)
    for name, value in arguments.items():
        if name not in required and properties.get(name, {}).get("type") == "boolean" and value is True:
            yield {**arguments, name: False}


def documented_value_added(case: Case, index: int, arguments: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A left-out optional text argument given its documented default, else the first other value its
    schema documents (enum, a quoted value of its description) that makes the call wrong."""
    properties, required = _properties(case, index)
    for name, schema in properties.items():
        if name in arguments or name in required or schema.get("type") != "string":
            continue
        choices, default = documented_choices(schema)
        ordered = list(dict.fromkeys([*([default] if default else []), *choices]))
        wrong = next((v for v in ordered if not case.correct(index, {**arguments, name: v})), None)
        if wrong is not None:
            yield {**arguments, name: wrong}


def unit_taken_out(case: Case, index: int, arguments: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """An optional text argument whose name says unit (`unit`, `to_unit`), left out."""
    properties, required = _properties(case, index)
    for name in arguments:
        if (
            name not in required
            and _name_says_unit(name)
            and properties.get(name, {}).get("type") == "string"
        ):
            yield {key: value for key, value in arguments.items() if key != name}


def number_as_written(case: Case, index: int, arguments: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Where the task writes exactly one number with a word after it ("50mH", "5 miles"), a number
    argument whose value the task never writes gets that number (a quantity copied without its unit)."""
    text = _THOUSANDS.sub("", case.task)
    with_word = {float(number) for number in _NUMBER_WITH_WORD.findall(text)}
    written = {float(number) for number in _TASK_NUMBER.findall(text)}
    if len(with_word) != 1:
        return
    number = with_word.pop()
    properties, _ = _properties(case, index)
    for name, value in arguments.items():
        kind = properties.get(name, {}).get("type")
        if kind not in ("integer", "float") or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if float(value) in written or (kind == "integer" and not number.is_integer()):
            continue
        yield {**arguments, name: int(number) if number.is_integer() else number}


def fraction_as_percent(case: Case, index: int, arguments: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A float argument holding a fraction the task writes as a percentage ("10%" for 0.1), written as
    the whole percentage (10)."""
    text = _THOUSANDS.sub("", case.task)
    properties, _ = _properties(case, index)
    for name, value in arguments.items():
        if properties.get(name, {}).get("type") != "float" or isinstance(value, bool):
            continue
        if not isinstance(value, int | float) or value == 0:
            continue
        percent = float(f"{value * 100:.10g}")
        shown = str(int(percent)) if percent.is_integer() else repr(percent)
        if re.search(
            rf"(?<![\w.]){re.escape(shown)}(?:\.0+)?\s*(?:%|percent\b|per cent\b)", text, re.IGNORECASE
        ):
            yield {**arguments, name: int(percent) if percent.is_integer() else percent}


def state_taken_off(case: Case, index: int, arguments: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A text argument written "City, ST" (two capitals after the comma), the state taken off."""
    properties, _ = _properties(case, index)
    for name, value in arguments.items():
        if properties.get(name, {}).get("type") != "string" or not isinstance(value, str):
            continue
        if match := _STATE_SUFFIX.match(value.strip()):
            yield {**arguments, name: match.group(1).strip()}


SLIPS: dict[str, dict[str, Slip]] = {
    "drop_unfounded_options": {"documented value added": documented_value_added},
    "fill_stated_options": {"option taken out": option_taken_out, "flag turned off": flag_turned_off},
    "convert_units": {"unit argument taken out": unit_taken_out, "number as written": number_as_written},
    "percent_as_fraction": {"fraction as percent": fraction_as_percent},
    "complete_us_places": {"state taken off": state_taken_off},
}
"""Per rewrite policy, the slips it is meant to undo, by name."""


# ---------------------------------------------------------------- counting


@dataclass
class Tally:
    """Counts of one replay (calls and the entries behind them)."""

    calls: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    entries: dict[str, set[str]] = field(default_factory=dict)

    def add(self, outcome: str, entry_id: str) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
        self.entries.setdefault(outcome, set()).add(entry_id)

    def count(self, outcome: str) -> int:
        return self.counts.get(outcome, 0)

    def ids(self, outcome: str) -> list[str]:
        return sorted(self.entries.get(outcome, set()), key=_id_order)

    def as_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            **{outcome: self.count(outcome) for outcome in sorted(self.counts)},
            "entries": {outcome: self.ids(outcome) for outcome in sorted(self.entries)},
        }


def _id_order(entry_id: str) -> tuple[str, int]:
    category, _, number = entry_id.rpartition("_")
    return category, int(number) if number.isdigit() else -1


def harm(policy: CallPolicy, cases: list[Case], form: str, shape: str = "umi") -> Tally:
    """Each correct call of `form`, rewritten by `policy` alone: unchanged, changed (still correct) or
    harmed (changed and now wrong)."""
    tally = Tally()
    for case in cases:
        calls = case.forms.get(form)
        for index in range(len(calls or [])):
            assert calls is not None
            tally.calls += 1
            new = rewritten(policy, case, calls, index, shape)
            if new is None:
                tally.add("unchanged", case.entry.id)
            else:
                tally.add("changed" if case.correct(index, new) else "harmed", case.entry.id)
    return tally


def help_(policy: CallPolicy, cases: list[Case], slip: Slip, shape: str = "umi") -> Tally:
    """Each slip made on a correct call (only those that make it wrong), then `policy` alone: restored
    (correct again), left (unchanged) or wrong (changed, still wrong)."""
    tally = Tally()
    for case in cases:
        base = case.base()
        for index in range(len(base or [])):
            assert base is not None
            for perturbed in slip(case, index, base[index]):
                if case.correct(index, perturbed):
                    continue
                tally.calls += 1
                calls = [*base[:index], perturbed, *base[index + 1 :]]
                new = rewritten(policy, case, calls, index, shape)
                if new is None:
                    tally.add("left", case.entry.id)
                else:
                    tally.add("restored" if case.correct(index, new) else "wrong", case.entry.id)
    return tally


def false_alarms(policy: CallPolicy, cases: list[Case], form: str) -> Tally:
    """Each correct call of `form`, checked by a send-back `policy` alone: accepted or sent back."""
    tally = Tally()
    for case in cases:
        calls = case.forms.get(form)
        for index in range(len(calls or [])):
            assert calls is not None
            tally.calls += 1
            sent = isinstance(decide(policy, case, calls, index), SendBack)
            tally.add("sent_back" if sent else "accepted", case.entry.id)
    return tally


def load_cases(
    split: str, root: str | None = None, limit: int | None = None, ids: set[str] | None = None
) -> list[Case]:
    """The answerable questions of `split` ("eval", "train" or "all"), each category's first `limit`,
    or only those of `ids`."""
    chosen: Any = None if split == "all" else split
    entries = [e for c in CATEGORIES for e in load_category(c, root=root, split=chosen, limit=limit)]
    return [prepare(entry) for entry in entries if ids is None or entry.id in ids]


def replay(cases: list[Case], shape: str = "umi") -> dict[str, Any]:
    """Every replay on `cases`: harm per rewrite and form, help per rewrite and slip (rewrites in
    `shape`), false alarms per send-back and form (always the umi shape: only umi runs them)."""
    result: dict[str, Any] = {
        "entries": len(cases),
        "shape": shape,
        "harm": {},
        "help": {},
        "false_alarms": {},
    }
    for form in FORMS:
        result[f"{form}_entries"] = sum(form in case.forms for case in cases)
    for make in REWRITES:
        policy = make()
        result["harm"][policy.name] = {form: harm(policy, cases, form, shape).as_json() for form in FORMS}
        result["help"][policy.name] = {
            name: help_(policy, cases, slip, shape).as_json() for name, slip in SLIPS[policy.name].items()
        }
    for make in SEND_BACKS:
        policy = make()
        result["false_alarms"][policy.name] = {
            form: false_alarms(policy, cases, form).as_json() for form in FORMS
        }
    return result


# ---------------------------------------------------------------- output


def _n_entries(counts: dict[str, Any], outcome: str) -> int:
    return len(counts["entries"].get(outcome, []))


def tables(result: dict[str, Any], show_ids: bool = False) -> str:
    """The replay as three plain-text tables (calls, with entries in brackets)."""

    def cell(counts: dict[str, Any], outcome: str) -> str:
        return f"{counts.get(outcome, 0)} ({_n_entries(counts, outcome)})"

    lines = [
        f"entries {result['entries']} (minimal form correct: {result['minimal_entries']}, "
        f"full form correct: {result['full_entries']}); each cell: calls (entries)",
        "",
        "harm: correct ground-truth calls, the policy alone",
        f"{'policy':<24} {'form':<8} {'calls':>6} {'unchanged':>11} {'changed ok':>11} {'harmed':>9}",
    ]
    for name, forms in result["harm"].items():
        for form, counts in forms.items():
            lines.append(
                f"{name:<24} {form:<8} {counts['calls']:>6} {cell(counts, 'unchanged'):>11} "
                f"{cell(counts, 'changed'):>11} {cell(counts, 'harmed'):>9}"
            )
    lines += [
        "",
        "help: a slip made on a correct call, then the policy alone",
        f"{'policy':<24} {'slip':<24} {'slipped':>9} {'restored':>9} {'left':>9} {'wrong':>9}",
    ]
    for name, slips in result["help"].items():
        for slip, counts in slips.items():
            slipped = f"{counts['calls']} ({len(set().union(*map(set, counts['entries'].values())))})"
            lines.append(
                f"{name:<24} {slip:<24} {slipped:>9} {cell(counts, 'restored'):>9} "
                f"{cell(counts, 'left'):>9} {cell(counts, 'wrong'):>9}"
            )
    lines += [
        "",
        "false alarms: correct ground-truth calls a send-back policy sends back",
        f"{'policy':<24} {'form':<8} {'calls':>6} {'sent back':>10}",
    ]
    for name, forms in result["false_alarms"].items():
        for form, counts in forms.items():
            lines.append(f"{name:<24} {form:<8} {counts['calls']:>6} {cell(counts, 'sent_back'):>10}")
    if show_ids:
        lines += ["", "entries behind the counts"]
        for kind, outcomes in (("harm", ("harmed", "changed")), ("help", ("restored", "wrong"))):
            for name, groups in result[kind].items():
                for group, counts in groups.items():
                    for outcome in outcomes:
                        if ids := counts["entries"].get(outcome):
                            lines.append(f"{kind} {name} {group} {outcome}: {' '.join(ids)}")
        for name, forms in result["false_alarms"].items():
            for form, counts in forms.items():
                if ids := counts["entries"].get("sent_back"):
                    lines.append(f"false alarm {name} {form}: {' '.join(ids)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("eval", "train", "all"), default="eval")
    parser.add_argument("--bfcl", default=None, help="the BFCL data folder (default ../shared/bfcl)")
    parser.add_argument("--shape", choices=SHAPES, default="umi", help="how the rewrites see the other calls")
    parser.add_argument("--limit", type=int, default=None, help="only each category's first N of the split")
    parser.add_argument("--ids", action="store_true", help="list the entries behind each count")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = replay(load_cases(args.split, args.bfcl, args.limit), args.shape)
    result = {"split": args.split, "commit": current_commit(), **result}
    print(f"split {args.split}, shape {args.shape}, commit {result['commit']}")
    print(tables(result, args.ids))
    print(f"\n{time.perf_counter() - started:.1f} s", file=sys.stderr)
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
