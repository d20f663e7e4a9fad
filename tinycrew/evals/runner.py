"""Run a model through one of five modes on BFCL categories and score every entry with the AST scorer.

Modes compare the same model under different harnesses: ``prompt`` (BFCL's prompting format, the model
writes ``[f(a=1)]``), ``native`` (the model's own tool-calling template) and the tinycrew graphs
``crew`` (the default), ``umi``, ``compiler`` and ``react`` on dry-run tools built from each entry's
schemas. The order is deterministic (mode, then category, then file order), so two runs of one model
are comparable entry by entry.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tinycrew.agents import CallRecord
from tinycrew.evals.bfcl_data import CATEGORIES, BfclEntry, NameMap, Split, load_category, to_openai_tools
from tinycrew.evals.bfcl_scorer import (
    Call,
    CategoryScore,
    DecodeError,
    ScoreResult,
    calls_from_tool_calls,
    parse_python_calls,
    score_entry,
)
from tinycrew.models import (
    ChatModel,
    ChatResult,
    ModelSpec,
    ModelUnavailableError,
    parse_tool_calls,
)
from tinycrew.models.bindings import Bound, bindings_name, default_of, load_bindings

if TYPE_CHECKING:
    from tinycrew.tools import ToolRegistry

Mode = Literal["prompt", "native", "crew", "umi", "compiler", "react"]
MODES: tuple[str, ...] = ("prompt", "native", "crew", "umi", "compiler", "react")
"""Every mode, in the order reports list them: the two raw-model harnesses, then the default graph and
the three baselines."""

GRAPH_MODES: tuple[str, ...] = ("crew", "umi", "compiler", "react")
INVALID_CALL_KINDS = ("arguments", "unknown_tool", "repeated", "duplicate", "unfounded", "refused")
"""Graph calls with these error kinds never ran a tool (invalid, or sent back by a call policy): they are
left out of the AST score."""

MAX_OUTPUT_CHARS = 2000  # raw text kept per entry for inspection
MAX_REASON_CHARS = 500
MIN_TOP_K = 6

PROMPT_SYSTEM = """You are an expert at calling functions. You get a question and a list of functions \
you may call. Decide which calls, with which arguments, answer the question.

If calls are needed, reply with the calls only, as one Python list in exactly this form:
[func_name1(params_name1=params_value1, params_name2=params_value2), func_name2(params)]
Use keyword arguments and Python literals (strings in quotes). Write nothing else: no explanation, \
no code fences.

If none of the functions fits the question, or the question lacks arguments a function needs, say so in \
plain words and write no function call.

The functions you can call, one JSON object per line:
{functions}"""
"""The prompting-mode system prompt (our wording, in the spirit of BFCL's default one)."""


@dataclass
class EntryResult:
    """One scored entry: the score, the decoded calls, the raw output and what the entry cost.

    ``calls`` is what was scored (``None`` when nothing decoded); ``dropped`` holds graph calls left out
    because their arguments did not validate or the tool did not exist.
    """

    id: str
    ok: bool
    reason: str
    calls: list[Call] | None = None
    output: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    model_calls: int = 0
    dropped: list[dict[str, Any]] = field(default_factory=list)
    policies: str = ""
    """The call-policy set a graph mode ran with ("default" or "repairs", see `tinycrew.policies`)."""
    commit: str = ""
    """The git commit of the code that produced this entry ("" when unknown)."""


@dataclass
class CellResult:
    """All entries of one (mode, category) pair, and the means a report shows."""

    mode: str
    category: str
    entries: list[EntryResult] = field(default_factory=list)

    @property
    def n(self) -> int:
        """How many entries were run."""
        return len(self.entries)

    @property
    def correct(self) -> int:
        """How many entries scored 1."""
        return sum(entry.ok for entry in self.entries)

    @property
    def accuracy(self) -> float:
        """Fraction correct (0.0 when empty)."""
        return self.correct / self.n if self.n else 0.0

    def _mean(self, name: str) -> float:
        return sum(getattr(entry, name) for entry in self.entries) / self.n if self.n else 0.0

    @property
    def mean_prompt_tokens(self) -> float:
        """Prompt tokens per entry, summed over every model call of the entry."""
        return self._mean("prompt_tokens")

    @property
    def mean_completion_tokens(self) -> float:
        """Completion tokens per entry, summed over every model call of the entry."""
        return self._mean("completion_tokens")

    @property
    def mean_seconds(self) -> float:
        """Wall-clock seconds per entry."""
        return self._mean("seconds")

    @property
    def score(self) -> CategoryScore:
        """The same numbers as the scorer's CategoryScore, for code written against it."""
        results = {entry.id: ScoreResult(entry.ok, entry.reason) for entry in self.entries}
        return CategoryScore(category=self.category, total=self.n, correct=self.correct, results=results)

    def failure_reasons(self) -> Counter[str]:
        """How often each failure kind (text before the first colon) occurred."""
        return self.score.failure_reasons()


@dataclass
class BfclReport:
    """Every (mode, category) cell of one run, with what was run: the model, the limit, the split."""

    model: str
    modes: list[str]
    categories: list[str]
    cells: list[CellResult] = field(default_factory=list)
    limit: int | None = None
    split: str | None = None
    created: str = ""
    elapsed_s: float = 0.0

    def cell(self, mode: str, category: str) -> CellResult:
        """The cell of one mode and category; KeyError if it was not run."""
        for cell in self.cells:
            if cell.mode == mode and cell.category == category:
                return cell
        raise KeyError(f"no results for mode {mode!r} on category {category!r}")

    def mode_cells(self, mode: str) -> list[CellResult]:
        """The cells of one mode, in category order."""
        return [cell for cell in self.cells if cell.mode == mode]

    def mode_entries(self, mode: str) -> list[EntryResult]:
        """Every entry of one mode, over all its categories."""
        return [entry for cell in self.mode_cells(mode) for entry in cell.entries]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON, with the per-cell summary next to the entries."""
        data = asdict(self)
        for cell, cell_data in zip(self.cells, data["cells"], strict=True):
            cell_data |= {
                "n": cell.n,
                "correct": cell.correct,
                "accuracy": cell.accuracy,
                "mean_prompt_tokens": cell.mean_prompt_tokens,
                "mean_completion_tokens": cell.mean_completion_tokens,
                "mean_seconds": cell.mean_seconds,
            }
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BfclReport:
        """Rebuild a report from ``to_dict`` output (summary fields are recomputed, not trusted)."""
        cells = [
            CellResult(
                mode=cell["mode"],
                category=cell["category"],
                entries=[EntryResult(**entry) for entry in cell["entries"]],
            )
            for cell in data["cells"]
        ]
        fields = {key: data[key] for key in ("model", "modes", "categories", "limit", "split", "created")}
        return cls(cells=cells, elapsed_s=data.get("elapsed_s", 0.0), **fields)


# ---------------------------------------------------------------- one entry per mode


def prompt_messages(entry: BfclEntry) -> list[dict[str, Any]]:
    """The prompting-mode conversation: our system prompt listing the functions, then the entry's turn
    (an entry's own system message is appended to ours, as BFCL does)."""
    functions = "\n".join(json.dumps(function, ensure_ascii=False) for function in entry.functions)
    system = PROMPT_SYSTEM.format(functions=functions)
    messages = [dict(message) for message in entry.messages]
    if messages and messages[0].get("role") == "system":
        first = messages.pop(0)
        system = f"{system}\n\n{first.get('content', '')}"
    return [{"role": "system", "content": system}, *messages]


def _score_raw(entry: BfclEntry, result: ChatResult, decode: Callable[[], list[Call]]) -> EntryResult:
    """Score one raw-model reply: decode its calls (a decode failure is a reason, not a crash)."""
    try:
        calls: list[Call] | None = decode()
        scored = score_entry(entry, calls)
    except DecodeError as error:
        calls, scored = None, score_entry(entry, None, str(error))
    return EntryResult(
        id=entry.id,
        ok=scored.ok,
        reason=scored.reason,
        calls=calls,
        output=result.content[:MAX_OUTPUT_CHARS],
        prompt_tokens=result.usage.prompt_tokens,
        completion_tokens=result.usage.completion_tokens,
        model_calls=1,
    )


def _run_prompt(model: ChatModel, entry: BfclEntry, max_tokens: int) -> EntryResult:
    result = model.chat(prompt_messages(entry), max_tokens=max_tokens, temperature=0.0)
    return _score_raw(entry, result, lambda: parse_python_calls(result.content))


def _run_native(model: ChatModel, entry: BfclEntry, max_tokens: int) -> EntryResult:
    names = NameMap()
    tools = to_openai_tools(entry.functions, names)
    result = model.chat(
        list(entry.messages), tools=tools, tool_choice="auto", max_tokens=max_tokens, temperature=0.0
    )
    # A backend may drop calls to names it was not offered; such a call is still a call (a wrong one).
    tool_calls = result.tool_calls or parse_tool_calls(result.content)
    pairs = [(call.name, call.arguments) for call in tool_calls]
    return _score_raw(entry, result, lambda: calls_from_tool_calls(pairs, names))


def score_graph_calls(
    entry: BfclEntry, records: Sequence[CallRecord], names: NameMap | None = None
) -> tuple[ScoreResult, list[Call], list[dict[str, Any]]]:
    """Score the calls a graph made: ``(score, scored calls, dropped calls)``.

    Calls whose arguments failed validation or that named no tool never ran, so they are dropped from the
    AST score; for irrelevance every attempted call counts, since trying to call is what fails there.
    """
    names = names or NameMap()
    kept = [record for record in records if record.error_kind not in INVALID_CALL_KINDS]
    dropped = [
        {"name": names.from_api(r.name), "arguments": r.arguments, "error_kind": r.error_kind}
        for r in records
        if r.error_kind in INVALID_CALL_KINDS
    ]
    calls: list[Call] = [{names.from_api(record.name): dict(record.arguments)} for record in kept]
    if "irrelevance" in entry.category:
        attempted: list[Call] = [{names.from_api(r.name): dict(r.arguments)} for r in records]
        return score_entry(entry, attempted), calls, dropped
    return score_entry(entry, calls), calls, dropped


def task_text(entry: BfclEntry) -> str:
    """The task a graph gets: the entry's system and user message contents, in order."""
    return "\n".join(
        str(message.get("content", ""))
        for message in entry.messages
        if message.get("role") in ("system", "user")
    )


def entry_registry(entry: BfclEntry, names: NameMap) -> ToolRegistry:
    """The entry's functions as dry-run tools (a `ToolRegistry`) under the safe names `names` gives,
    as every graph run of an entry sees them (the eval, the teacher, the gate check)."""
    from tinycrew.tools import ToolRegistry, tool_from_schema

    return ToolRegistry(tool_from_schema(schema) for schema in to_openai_tools(entry.functions, names))


def current_commit() -> str:
    """The git commit the code runs from (with "+dirty" when the checkout has uncommitted changes), or
    "" outside a git checkout: each result entry records it, so a report can tell runs apart."""
    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "tinycrew"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""
    return f"{head}+dirty" if dirty else head


def _run_graph(model: Bound, entry: BfclEntry, graph: str, policies: str = "default") -> EntryResult:
    from tinycrew.graphs import Agent
    from tinycrew.policies import policy_set

    names = NameMap()
    registry = entry_registry(entry, names)
    agent = Agent(
        registry,
        graph=graph,  # type: ignore[arg-type]
        models=model,
        checkpointer="memory",
        record=False,
        top_k=max(MIN_TOP_K, len(registry)),
        answer=False,  # only the calls are scored: the summarizer would not change them
        policies=policy_set(policies, graph),
    )
    result = agent.run(task_text(entry))
    scored, calls, dropped = score_graph_calls(entry, result.calls, names)
    usage = result.usage.values()
    return EntryResult(
        id=entry.id,
        ok=scored.ok,
        reason=scored.reason,
        calls=calls,
        output=(result.answer or "")[:MAX_OUTPUT_CHARS],
        prompt_tokens=int(sum(item.get("prompt_tokens", 0) for item in usage)),
        completion_tokens=int(sum(item.get("completion_tokens", 0) for item in usage)),
        model_calls=int(sum(item.get("calls", 0) for item in usage)),
        dropped=dropped,
        policies=policies,
    )


def run_entry(
    model: Bound, mode: str, entry: BfclEntry, *, max_tokens: int = 512, policies: str = "default"
) -> EntryResult:
    """Run and score one entry in one mode (a graph mode with the call-policy set `policies`). An
    exception inside the run (say a prompt longer than the context) fails the entry with reason
    ``error: ...``; an unreachable model stops everything."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
    started = time.perf_counter()
    try:
        if mode == "prompt":
            result = _run_prompt(default_of(model), entry, max_tokens)
        elif mode == "native":
            result = _run_native(default_of(model), entry, max_tokens)
        else:
            result = _run_graph(model, entry, mode, policies)
    except ModelUnavailableError:
        raise
    except Exception as error:  # noqa: BLE001 - one bad entry must not end a long evaluation
        message = f"error: {type(error).__name__}: {error}"[:MAX_REASON_CHARS]
        result = EntryResult(id=entry.id, ok=False, reason=message)
    result.seconds = time.perf_counter() - started
    if mode in GRAPH_MODES:
        result.policies = policies
    return result


# ---------------------------------------------------------------- the whole run


@contextmanager
def progress_bars(enabled: bool, console: Console | None, field: str = "score") -> Iterator[Progress]:
    """Rich bars for long runs: description, bar, done/total, a per-task text `field`, elapsed time."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(f"{{task.fields[{field}]}}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, disable=not enabled) as progress:
        yield progress


def _validate(modes: Sequence[str], categories: Sequence[str]) -> None:
    unknown_modes = [mode for mode in modes if mode not in MODES]
    if unknown_modes:
        raise ValueError(f"unknown mode(s) {unknown_modes}; expected some of {MODES}")
    unknown = [category for category in categories if category not in CATEGORIES]
    if unknown:
        raise ValueError(f"unknown BFCL categories {unknown}; expected some of {CATEGORIES}")


def run_bfcl(
    model: ChatModel | ModelSpec | str | None | Mapping[str, ChatModel | ModelSpec | str | None],
    modes: Sequence[str] = MODES,
    categories: Sequence[str] = CATEGORIES,
    root: str | Path | None = None,
    limit: int | None = None,
    split: Split | None = None,
    progress: bool = True,
    *,
    max_tokens: int = 512,
    console: Console | None = None,
    save_to: str | Path | None = None,
    resume: bool = False,
    policies: str = "default",
) -> BfclReport:
    """Run ``model`` in every mode on every category and score each entry.

    ``model`` is a chat model or anything ``load_model`` takes (``None``: the packaged 0.5B), or a role ->
    model mapping for the graph modes (the raw modes use its "default"). Entries are
    taken in file order, filtered by ``split``, then cut to ``limit``; one progress task per mode and
    category shows the running score. With ``save_to`` (a file) the results so far are written after
    every entry, so a killed run loses at most one entry; ``resume`` then reuses the entries that file
    already holds for the same model and split instead of running them again. Graph modes run with the
    call-policy set `policies` ("default": lossless only; "repairs": every opt-in repair, see
    `tinycrew.policies.POLICY_SETS`); each entry records it and the commit it ran on.
    """
    modes, categories = list(dict.fromkeys(modes)), list(dict.fromkeys(categories))
    _validate(modes, categories)
    chat_model = load_bindings(model)
    data = {category: load_category(category, root, limit=limit, split=split) for category in categories}
    report = BfclReport(
        model=bindings_name(chat_model),
        modes=modes,
        categories=categories,
        limit=limit,
        split=split,
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    done = _finished_entries(save_to, report) if resume and save_to else {}
    done = {
        key: entry
        for key, entry in done.items()
        if entry.policies in ("", policies) or key[0] not in GRAPH_MODES
    }
    commit = current_commit()
    started = time.perf_counter()
    with progress_bars(progress, console) as bars:
        tasks = {
            (mode, category): bars.add_task(f"{mode:<8} {category}", total=len(data[category]), score="")
            for mode in modes
            for category in categories
        }
        for mode in modes:
            for category in categories:
                cell = CellResult(mode=mode, category=category)
                report.cells.append(cell)
                task = tasks[(mode, category)]
                for entry in data[category]:
                    result = done.get((mode, entry.id))
                    if result is None:
                        result = run_entry(chat_model, mode, entry, max_tokens=max_tokens, policies=policies)
                        result.commit = commit
                    cell.entries.append(result)
                    bars.update(task, advance=1, score=f"{cell.correct}/{cell.n} correct")
                    if save_to:
                        report.elapsed_s = time.perf_counter() - started
                        _write_json(report, Path(save_to))
                if progress and not bars.console.is_terminal:  # a log file gets one line per cell instead
                    (console or Console()).print(f"{mode} {category}: {cell.correct}/{cell.n} correct")
    report.elapsed_s = time.perf_counter() - started
    return report


def _write_json(report: BfclReport, path: Path) -> None:
    """Replace the results file atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(report.to_dict(), indent=1, ensure_ascii=False, default=repr) + "\n")
    partial.replace(path)


def _finished_entries(path: str | Path, report: BfclReport) -> dict[tuple[str, str], EntryResult]:
    """Entries of an earlier run of the same model and split, by (mode, id); errored entries run again."""
    path = Path(path)
    if not path.is_file():
        return {}
    earlier = BfclReport.from_dict(json.loads(path.read_text(encoding="utf-8")))
    if (earlier.model, earlier.split) != (report.model, report.split):
        raise ValueError(
            f"{path} holds a run of {earlier.model!r} (split {earlier.split}); "
            f"this run is {report.model!r} (split {report.split})"
        )
    return {
        (cell.mode, entry.id): entry
        for cell in earlier.cells
        for entry in cell.entries
        if not entry.reason.startswith("error:")
    }
