"""Synthetic tasks for any tool set, written and judged by small models in three roles (after GRA).

A user with their own tools has no benchmark for them; this module writes one, so the teacher has
requests to solve and the checker has expected calls to compare with. The roles, after "multiple small
LLMs as Generator, Reviewer and Adjudicator":

1. **Generator**: from the schemas of one or two sampled tools, writes a user request and the calls
   that carry it out, as JSON decoded under a schema (`json_schema=`) whose calls are valid calls to
   the sampled tools by construction. Candidates vary by seed: which tools are sampled, how many calls
   are asked for, a style hint, the temperature, and the backend's sampling seed where it has one.
2. Checks without a model: the calls must validate against the real tools (`Tool.canonical_arguments`);
   an optional text argument the request never says is removed from the expected call (small
   generators copy the example from the tool's docs; `without_unfounded_options`, the test
   `tinycrew.policies.grounding` uses); and a request already kept (same normalised text, or
   embeddings closer than `similarity`) is dropped as a duplicate before any reviewer time is spent.
3. **Reviewer**: judges whether the calls follow from the request (every value stated or clearly
   implied, nothing invented, nothing missing) and answers ``{"reason", "verdict"}``; it is told which
   values the request does not write out (`unsaid_values`), since each must then be implied. With
   ``reviews=2`` a second, independently sampled review is taken.
4. **Adjudicator**: the generator's output is itself a claim that the pair is right, so any rejecting
   review is a disagreement with the generator; the adjudicator, told every review, then decides keep
   or drop. Unanimous acceptance keeps the task without it. (With two reviews, one accept and one
   reject is also a disagreement between reviewers; the same rule covers both.)

Every role's decision is written on the task (`SyntheticTask.reviews`, `.adjudication`,
`.decided_by`), kept or not, and `save_synthetic_tasks` / `load_synthetic_tasks` round-trip them as
JSONL. `tinycrew.learning.teacher.collect_teacher_runs` accepts the kept tasks and checks the teacher's
calls against `SyntheticTask.calls` with `check_synthetic_calls`.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tinycrew.agents import CallRecord, PlannedCall
from tinycrew.evals.desktop import match_plans, plan_of_calls, ran
from tinycrew.models import ChatModel, ModelSpec, load_model
from tinycrew.models.grammar import tool_call_schema
from tinycrew.policies.grounding import mentions, plain_text, scalar_values, unfounded_options
from tinycrew.tools import Tool, ToolArgumentError, ToolRegistry, tool_from_schema

STYLES: tuple[str, ...] = (
    "short and direct",
    "polite, one sentence",
    "casual, as typed on a phone",
    "with a short reason for the request",
    "phrased as a question",
    "with the details in an unusual order",
)
"""Style hints the generator is given in turn, so that requests do not all read alike."""

DecidedBy = Literal["generator", "schema", "duplicate", "reviewer", "adjudicator"]

GENERATOR_SYSTEM = """You write test cases for an assistant that calls tools. Write one realistic \
request a user could type, and the tool calls that carry it out exactly.
Rules:
- Every argument value must be written in the request or follow clearly from it. Invent no value the \
request does not give.
- Fill every required argument. Use only the tools listed.
- The request is in the user's own words: never mention tool or parameter names."""

REVIEWER_SYSTEM = """You check test cases for an assistant that calls tools. You get a user request and \
the tool calls proposed for it. Accept only if all of these hold:
1. Every call is needed for the request, and nothing the request asks for is missing.
2. Every argument value is written in the request or clearly implied by it; no value is invented.
3. Each call uses its tool for what the tool's description says.
Otherwise reject. Give a one-sentence reason first, then the verdict."""

ADJUDICATOR_SYSTEM = """You settle disagreements about test cases for an assistant that calls tools. \
A generator wrote a user request and the tool calls it needs; reviewers judged the pair and at least \
one objected. Decide whether the calls follow from the request: every argument value written in the \
request or clearly implied by it, nothing invented, nothing the request asks for missing. Give a \
one-sentence reason, then "keep" or "drop"."""

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
MAX_REASON_CHARS = 200
GENERATOR_MAX_TOKENS = 320
JUDGE_MAX_TOKENS = 160


class RoleDecision(BaseModel):
    """What one reviewer or the adjudicator said about a candidate."""

    model: str
    verdict: str
    """"accept"/"reject" for a review, "keep"/"drop" for the adjudicator."""
    reason: str = ""


class SyntheticTask(BaseModel):
    """A generated request, its expected calls, and every role's decision on it (kept or dropped)."""

    id: str
    request: str
    calls: list[dict[str, Any]]
    """The expected calls, ``{"name", "arguments"}`` each, arguments as the tool validates them."""
    tool_schemas: list[dict[str, Any]] = Field(default_factory=list)
    """OpenAI schemas of the tools the generator was shown (dry-run tools are built from them when the
    teacher runs without the real ones, and their defaults are ignored when calls are compared)."""
    now: datetime | None = None
    """The clock the agent is told when the teacher solves the task (and dates are compared with)."""
    kept: bool = False
    decided_by: DecidedBy = "reviewer"
    """Which step settled the task: generator (its output did not parse), schema (calls did not
    validate), duplicate, reviewer (unanimous accept) or adjudicator."""
    drop_reason: str = ""
    generator: dict[str, Any] = Field(default_factory=dict)
    """How the candidate was made: model, seed, temperature, style, sampled tools, calls asked for."""
    reviews: list[RoleDecision] = Field(default_factory=list)
    adjudication: RoleDecision | None = None

    def plan(self) -> list[dict[str, Any]]:
        """The expected calls as desktop-eval plan rows (``{"id", "name", "args"}``), for `match_plans`."""
        return [
            {"id": index, "name": call["name"], "args": dict(call.get("arguments") or {})}
            for index, call in enumerate(self.calls, 1)
        ]


# ------------------------------------------------------------------------------------------ helpers


def request_key(text: str) -> str:
    """A request's text for duplicate detection: NFKC, casefolded, punctuation dropped, spaces collapsed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.sub(r"[^\w\s]", " ", folded).split())


def canonical_calls(calls: Iterable[dict[str, Any]]) -> str:
    """Calls as one order-free canonical JSON string, for comparing call sets."""
    rows = sorted(json.dumps(call, sort_keys=True, ensure_ascii=False) for call in calls)
    return json.dumps(rows, ensure_ascii=False)


def task_id_of(request: str, calls: Sequence[dict[str, Any]]) -> str:
    """A stable id from the content, so that synthesizing again names the same task the same way."""
    text = request_key(request) + "\n" + canonical_calls(calls)
    return "syn-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def as_registry(tools: ToolRegistry | Iterable[Tool | Callable[..., Any] | dict[str, Any]]) -> ToolRegistry:
    """A registry from tools, typed functions or OpenAI schemas (schemas become dry-run tools)."""
    if isinstance(tools, ToolRegistry):
        return tools
    return ToolRegistry(tool_from_schema(item) if isinstance(item, dict) else item for item in tools)


def _seed_backend(model: ChatModel, seed: int) -> None:
    """Seed a llama.cpp model's sampler so that a candidate is reproducible from its seed; other
    backends sample as they do (the chat protocol has no seed). The KV cache is dropped first: on some
    CPUs (Intel with AMX, repacking off) a reused prompt prefix gives slightly different logits than
    a fresh one, enough to change a sampled token."""
    llama = getattr(model, "llama", None)
    if llama is not None and hasattr(llama, "set_seed"):
        reset = getattr(model, "reset_cache", None)
        if callable(reset):
            reset()
        llama.set_seed(seed)


def _schema_lines(schemas: Sequence[dict[str, Any]]) -> str:
    return "\n".join(json.dumps(schema.get("function", schema), ensure_ascii=False) for schema in schemas)


def _calls_text(calls: Sequence[dict[str, Any]]) -> str:
    return "\n".join(
        f"{index}. {call['name']}({json.dumps(call.get('arguments') or {}, ensure_ascii=False)})"
        for index, call in enumerate(calls, 1)
    )


def without_unfounded_options(
    registry: ToolRegistry, request: str, calls: Sequence[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """The calls less their optional text arguments the request never says (the tool's default then
    applies), and what was dropped (``tool.param=value``). Small generators fill options nobody asked
    for, often with the example from the tool's docs; the expected call must not teach that."""
    text = plain_text(request)
    kept, dropped = [], []
    for index, call in enumerate(calls, 1):
        planned = PlannedCall(id=index, name=call["name"], arguments=call["arguments"])
        unfounded = set(unfounded_options(registry, text, planned))
        dropped += [f"{call['name']}.{name}={call['arguments'][name]!r}" for name in sorted(unfounded)]
        arguments = {key: value for key, value in call["arguments"].items() if key not in unfounded}
        kept.append({"name": call["name"], "arguments": arguments})
    return kept, dropped


def unsaid_values(request: str, calls: Sequence[dict[str, Any]]) -> list[str]:
    """The argument values the request does not write out (``tool.param=value``): the reviewers are
    told, since each must then be clearly implied (euros for "EUR") rather than invented."""
    text = plain_text(request)
    numbers = {float(number) for number in _NUMBER.findall(text)}

    def said(item: str) -> bool:
        if mentions(item, text):
            return True
        try:
            return float(item) in numbers  # 25.5 is written out by "$25.50"
        except ValueError:
            return False

    return [
        f"{call['name']}.{name}={value!r}"
        for call in calls
        for name, value in call["arguments"].items()
        if not all(said(item) for item in scalar_values(value))
    ]


def _unsaid_note(task: SyntheticTask) -> str:
    unsaid = unsaid_values(task.request, task.calls)
    if not unsaid:
        return ""
    return (
        "\n\nValues the request does not write out (each must be clearly implied by it, else reject): "
        + ", ".join(unsaid)
    )


def _verdict_schema(choices: tuple[str, str]) -> dict[str, Any]:
    """A short reason first (the judge thinks before it decides), then one of two verdicts."""
    return {
        "type": "object",
        "properties": {
            "reason": {"type": "string", "maxLength": MAX_REASON_CHARS},
            "verdict": {"enum": list(choices)},
        },
        "required": ["reason", "verdict"],
        "additionalProperties": False,
    }


def generator_schema(schemas: Sequence[dict[str, Any]], n_calls: int) -> dict[str, Any]:
    """The generator's output schema: a request, then exactly `n_calls` valid calls to the given tools."""
    return {
        "type": "object",
        "properties": {
            "request": {"type": "string", "minLength": 8, "maxLength": 400},
            "calls": {
                "type": "array",
                "items": tool_call_schema(list(schemas)),
                "minItems": n_calls,
                "maxItems": n_calls,
            },
        },
        "required": ["request", "calls"],
        "additionalProperties": False,
    }


def _ask_json(model: ChatModel, system: str, user: str, schema: dict[str, Any], **options: Any) -> Any:
    """One constrained reply, parsed; None when it does not parse (cut off at max_tokens, say)."""
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    result = model.chat(messages, json_schema=schema, **options)
    try:
        return json.loads(result.content, strict=False)
    except json.JSONDecodeError:
        return None


# ------------------------------------------------------------------------------------------- the roles


def generate_candidate(
    generator: ChatModel,
    registry: ToolRegistry,
    seed: int,
    *,
    temperature: float = 0.8,
    max_calls: int = 2,
    now: datetime | None = None,
) -> SyntheticTask:
    """One candidate from the generator, varied by `seed`; not yet reviewed (`kept` False).

    The seed picks one or two tools, how many calls the request should need (1 to `max_calls`), a
    style hint and a temperature around `temperature`; a candidate whose output does not parse or whose
    calls do not validate is returned with ``decided_by`` "generator" or "schema" and a drop reason.
    """
    rng = random.Random(f"tinycrew-synthetic:{seed}")
    names = registry.names()
    n_calls = rng.choice((1, *range(1, max(1, max_calls) + 1)))  # 1: twice as likely as any other
    n_tools = min(len(names), n_calls, rng.choice((1, 2)))
    sampled = rng.sample(names, n_tools)
    schemas = registry.openai_schemas(sampled)
    style = STYLES[rng.randrange(len(STYLES))]
    heat = round(max(0.1, min(1.2, temperature + rng.uniform(-0.2, 0.2))), 2)
    told = f"\nCurrent date and time: {now:%A %Y-%m-%d %H:%M}" if now is not None else ""
    user = (
        f"Tools:\n{_schema_lines(schemas)}\n\nWrite a request that needs exactly {n_calls} call(s). "
        f"Style: {style}.{told}\nAnswer with JSON: "
        '{"request": "...", "calls": [{"name": "...", "arguments": {...}}]}'
    )
    _seed_backend(generator, seed)
    data = _ask_json(
        generator,
        GENERATOR_SYSTEM,
        user,
        generator_schema(schemas, n_calls),
        temperature=heat,
        max_tokens=GENERATOR_MAX_TOKENS,
    )
    made = {
        "model": generator.name,
        "seed": seed,
        "temperature": heat,
        "style": style,
        "tools": sampled,
        "n_calls": n_calls,
    }
    if not isinstance(data, dict) or not str(data.get("request", "")).strip():
        return SyntheticTask(
            id=f"syn-unparsed-{seed}",
            request="",
            calls=[],
            tool_schemas=schemas,
            now=now,
            decided_by="generator",
            drop_reason="the generator's output did not parse",
            generator=made,
        )
    request = " ".join(str(data["request"]).split())
    calls: list[dict[str, Any]] = []
    problem = ""
    for call in data.get("calls") or []:
        name = str(call.get("name", ""))
        try:
            arguments = registry.get(name).canonical_arguments(call.get("arguments") or {})
        except KeyError:
            problem = f"unknown tool {name!r}"
            break
        except ToolArgumentError as error:
            problem = f"{name}: {error.message}"
            break
        calls.append({"name": name, "arguments": arguments})
    if not problem:
        calls, dropped = without_unfounded_options(registry, request, calls)
        if dropped:
            made["dropped_options"] = dropped
    task = SyntheticTask(
        id=task_id_of(request, calls),
        request=request,
        calls=calls,
        tool_schemas=schemas,
        now=now,
        generator=made,
    )
    if problem or not calls:
        task.decided_by, task.drop_reason = "schema", problem or "no call"
    return task


def review_candidate(
    reviewer: ChatModel, task: SyntheticTask, *, temperature: float = 0.0, seed: int = 0
) -> RoleDecision:
    """One review: do the calls follow from the request? ``accept`` or ``reject``, with a reason (an
    unparsable reply counts as reject, with that reason)."""
    user = (
        f"Tools:\n{_schema_lines(task.tool_schemas)}\n\nRequest: {task.request}\n\n"
        f"Proposed calls:\n{_calls_text(task.calls)}{_unsaid_note(task)}"
    )
    _seed_backend(reviewer, seed)
    data = _ask_json(
        reviewer,
        REVIEWER_SYSTEM,
        user,
        _verdict_schema(("accept", "reject")),
        temperature=temperature,
        max_tokens=JUDGE_MAX_TOKENS,
    )
    if not isinstance(data, dict):
        return RoleDecision(model=reviewer.name, verdict="reject", reason="review did not parse")
    return RoleDecision(model=reviewer.name, verdict=data["verdict"], reason=str(data.get("reason", "")))


def adjudicate_candidate(adjudicator: ChatModel, task: SyntheticTask) -> RoleDecision:
    """The adjudicator's ``keep`` or ``drop``, told the request, the calls and every review."""
    reviews = "\n".join(
        f"Reviewer {index}: {review.verdict} - {review.reason}"
        for index, review in enumerate(task.reviews, 1)
    )
    user = (
        f"Tools:\n{_schema_lines(task.tool_schemas)}\n\nRequest: {task.request}\n\n"
        f"Calls the generator proposed:\n{_calls_text(task.calls)}{_unsaid_note(task)}\n\n"
        f"Reviews:\n{reviews}"
    )
    _seed_backend(adjudicator, 0)
    data = _ask_json(
        adjudicator,
        ADJUDICATOR_SYSTEM,
        user,
        _verdict_schema(("keep", "drop")),
        temperature=0.0,
        max_tokens=JUDGE_MAX_TOKENS,
    )
    if not isinstance(data, dict):
        return RoleDecision(model=adjudicator.name, verdict="drop", reason="adjudication did not parse")
    return RoleDecision(model=adjudicator.name, verdict=data["verdict"], reason=str(data.get("reason", "")))


def settle(task: SyntheticTask, adjudicator: ChatModel | None) -> SyntheticTask:
    """Keep or drop a reviewed task: unanimous accept keeps it; any reject is a disagreement with the
    generator that the adjudicator settles (without an adjudicator, a reject drops the task)."""
    rejects = [review for review in task.reviews if review.verdict != "accept"]
    if not rejects:
        task.kept, task.decided_by = True, "reviewer"
        return task
    if adjudicator is None:
        task.kept, task.decided_by, task.drop_reason = False, "reviewer", rejects[0].reason
        return task
    task.adjudication = adjudicate_candidate(adjudicator, task)
    task.decided_by = "adjudicator"
    task.kept = task.adjudication.verdict == "keep"
    task.drop_reason = "" if task.kept else task.adjudication.reason
    return task


# --------------------------------------------------------------------------------------- the pipeline


class _Duplicates:
    """Kept requests, by normalised text and (optionally) by embedding."""

    def __init__(self, similarity: float | None) -> None:
        self.similarity = similarity
        self.keys: set[str] = set()
        self.vectors: list[Any] = []

    def why(self, task: SyntheticTask) -> str:
        """Why `task` repeats a kept one ("" when it does not)."""
        if request_key(task.request) in self.keys:
            return "same request as a kept task"
        if self.similarity is not None and self.vectors:
            import numpy as np

            from tinycrew.retrieval import embed_texts

            closest = float(np.max(np.stack(self.vectors) @ embed_texts([task.request])[0]))
            if closest >= self.similarity:
                return f"request {closest:.3f} similar to a kept one"
        return ""

    def add(self, task: SyntheticTask) -> None:
        self.keys.add(request_key(task.request))
        if self.similarity is not None:
            from tinycrew.retrieval import embed_texts

            self.vectors.append(embed_texts([task.request])[0])


def synthesize_tasks(
    tools: ToolRegistry | Iterable[Tool | Callable[..., Any] | dict[str, Any]],
    generator: ChatModel | ModelSpec | str | None,
    reviewer: ChatModel | ModelSpec | str | None,
    adjudicator: ChatModel | ModelSpec | str | None,
    n: int,
    seed: int = 0,
    *,
    reviews: int = 1,
    max_attempts: int | None = None,
    temperature: float = 0.8,
    max_calls: int = 2,
    similarity: float | None = None,
    now: datetime | None = None,
    include_dropped: bool = False,
    progress: bool = True,
    console: Console | None = None,
) -> list[SyntheticTask]:
    """Write up to `n` kept tasks for `tools` with a generator, reviewer(s) and an adjudicator.

    Candidates are made with seeds ``seed, seed + 1, ...`` until `n` are kept or `max_attempts`
    (default ``4 * n``) candidates were made, so a run with the same models and seed makes the same
    tasks (models named here save no prompt states; a `LlamaCppModel` passed in should have
    `state_cache_bytes=0` for that, docs/models.md). `reviews` is how many independent reviews each
    candidate gets (the first at temperature 0, later ones sampled); `similarity` (say 0.95) also drops
    a request whose MiniLM embedding is that close to a kept one. `now` is told to the generator and
    stored on each task for the teacher's run. Returns the kept tasks, or with `include_dropped` every
    candidate with its decisions (see the module docstring for the roles).
    """
    registry = as_registry(tools)
    if not len(registry):
        raise ValueError("synthesize_tasks needs at least one tool")
    if reviews < 1:
        raise ValueError("reviews must be at least 1")
    # no saved prompt states: a restored prefix may tip a sampled token, and the same seed must make
    # the same tasks (a model passed in as an object is used as it is)
    models = [load_model(model, state_cache_bytes=0) for model in (generator, reviewer)]
    judge = load_model(adjudicator, state_cache_bytes=0) if adjudicator is not None else None
    attempts = max_attempts if max_attempts is not None else 4 * n
    duplicates = _Duplicates(similarity)
    candidates: list[SyntheticTask] = []
    kept = 0
    columns = (TextColumn("synthesize"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[note]}"))
    with Progress(*columns, TimeElapsedColumn(), console=console, disable=not progress) as bars:
        bar = bars.add_task("synthesize", total=n, note="")
        for attempt in range(attempts):
            if kept >= n:
                break
            task = generate_candidate(
                models[0], registry, seed + attempt, temperature=temperature, max_calls=max_calls, now=now
            )
            if not task.drop_reason and (repeated := duplicates.why(task)):
                task.decided_by, task.drop_reason = "duplicate", repeated
            if not task.drop_reason:
                task.reviews = [
                    review_candidate(
                        models[1], task, temperature=0.0 if i == 0 else 0.7, seed=seed + attempt + i
                    )
                    for i in range(reviews)
                ]
                settle(task, judge)
            if task.kept:
                kept += 1
                duplicates.add(task)
                bars.update(bar, advance=1)
            candidates.append(task)
            bars.update(bar, note=f"{len(candidates)} written, {kept} kept")
    return candidates if include_dropped else [task for task in candidates if task.kept]


# ------------------------------------------------------------------------------------------ checking


def _without_defaults(rows: list[dict[str, Any]], schemas: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Plan rows with arguments equal to their schema default left out (an explicit default is the same
    call as an absent one)."""
    defaults: dict[str, dict[str, Any]] = {}
    for schema in schemas:
        function = schema.get("function", schema)
        properties = (function.get("parameters") or {}).get("properties") or {}
        defaults[function["name"]] = {
            name: spec["default"]
            for name, spec in properties.items()
            if isinstance(spec, dict) and "default" in spec
        }
    out = []
    for row in rows:
        known = defaults.get(row["name"], {})
        args = {key: value for key, value in row["args"].items() if key not in known or known[key] != value}
        out.append(row | {"args": args})
    return out


def check_synthetic_calls(task: SyntheticTask, calls: Sequence[CallRecord]) -> tuple[bool, str]:
    """Whether the calls a run made match the task's expected calls: ``(verified, reason)``.

    The run's calls become a plan as the desktop eval reads one (`plan_of_calls`, only calls that ran),
    and the desktop plan matcher compares it with the expected calls: same multiset of calls, strings
    compared after normalisation, sets as sets, arguments equal to their schema default ignored.
    """
    plan = ran(plan_of_calls(calls, task.request))
    expected = task.plan()
    schemas = task.tool_schemas
    now = task.now or datetime(2026, 1, 1)
    match = match_plans(_without_defaults(plan, schemas), _without_defaults(expected, schemas), now)
    if match.ok:
        return True, "ok"
    return False, f"{match.reason}: {match.detail}" if match.detail else match.reason


# ----------------------------------------------------------------------------------------------- JSONL


def save_synthetic_tasks(tasks: Iterable[SyntheticTask], path: str | Path) -> Path:
    """Write tasks (kept or not, with every decision) as JSONL, one task a line; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    with partial.open("w", encoding="utf-8") as handle:
        for task in tasks:
            handle.write(task.model_dump_json() + "\n")
    partial.replace(path)
    return path


def load_synthetic_tasks(path: str | Path, *, kept_only: bool = False) -> list[SyntheticTask]:
    """Read tasks written by `save_synthetic_tasks` (only the kept ones with `kept_only`)."""
    with Path(path).open(encoding="utf-8") as handle:
        tasks = [SyntheticTask.model_validate_json(line) for line in handle if line.strip()]
    return [task for task in tasks if task.kept] if kept_only else tasks
