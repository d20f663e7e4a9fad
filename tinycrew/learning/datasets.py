"""Training datasets from recorded runs (issue 26, items 2): α-UMi GLPFT stage 1 and stage 2.

Stage 1 trains one LoRA on whole runs (`backbone_sample`: every role's turns in one conversation);
stage 2 trains one LoRA per role on that role's steps (`role_samples`: exactly the messages sent at
run time plus the output). Every sample is rendered by the base GGUF's own `ChatTemplate`, the one
renderer llama.cpp serves with, so a role is trained on the very prompt text it is served.

Decisions (see docs/learning.md):
- A backbone sample is one sequence trained on every assistant turn at once (everything else is
  masked): one forward pass per run instead of one per turn, and each turn still sees the whole run
  before it, as in α-UMi's stage 1. A turn whose step failed (validation error, tool error) stays as
  context but is not trained on, unless `include_invalid`.
- An output is trained in the form the model wrote it at run time. A call a policy changed is written
  as the model would have written it: inside `<tool_call>` tags through the template when the step's
  raw output used the tags, else as the bare JSON the caller's grammar makes it write.
- A reply cut off on purpose (the gate reads only its first tokens) is trained without the end token,
  so the model does not learn to stop there; a peek followed by the full reply is left out.
- Prompt and completion are tokenized separately, as llama.cpp tokenizes the prompt and then generates;
  a long sample loses prompt tokens from the left; one whose last completion does not fit is dropped.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from tinycrew.models.chat_template import ChatTemplate
from tinycrew.trajectories.canonical import canonical_json
from tinycrew.trajectories.records import RunRecord, StepRecord
from tinycrew.trajectories.samples import CallVersion, backbone_sample, dedupe_samples, role_samples

IGNORE_INDEX = -100
"""The label torch's cross-entropy skips: every token that is not model output."""
BACKBONE = "backbone"
"""The stage-1 dataset's name (role names are the stage-2 datasets')."""


class DatasetConfig(BaseModel):
    """How samples are cut from runs and tokenized."""

    max_length: int = Field(default=2048, ge=16, description="tokens per sample; prompts cut from the left")
    trains_on: CallVersion = Field(default="ran", description="a policy-changed call: what ran, or 'model'")
    include_invalid: bool = Field(default=False, description="also train on steps that failed validation")
    roles: list[str] | None = Field(default=None, description="stage-2 roles to build; None: all present")


@dataclass(frozen=True)
class Segment:
    """A piece of a rendered sample: text and whether the model is trained to write it."""

    text: str
    trained: bool


@dataclass
class LearningDatasets:
    """The stage-1 (backbone) dataset and the stage-2 datasets per role, tokenized."""

    backbone: Any
    roles: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def save(self, path: str | Path) -> Path:
        """Write all datasets with `save_to_disk` (one DatasetDict) and a meta.json beside them."""
        from datasets import DatasetDict

        path = Path(path)
        DatasetDict({BACKBONE: self.backbone, **self.roles}).save_to_disk(str(path / "data"))
        (path / "meta.json").write_text(json.dumps(self.meta, indent=2, sort_keys=True))
        return path

    @classmethod
    def load(cls, path: str | Path) -> LearningDatasets:
        """Read datasets written by `save`."""
        from datasets import load_from_disk

        path = Path(path)
        data = load_from_disk(str(path / "data"))
        roles = {name: data[name] for name in data if name != BACKBONE}
        return cls(backbone=data[BACKBONE], roles=roles, meta=json.loads((path / "meta.json").read_text()))


def load_tokenizer(base_gguf: str | Path) -> Any:
    """The HF tokenizer read from the same GGUF the model is served from (nothing downloaded)."""
    from tinycrew.models.gguf_torch import load_tokenizer as gguf_tokenizer

    return gguf_tokenizer(base_gguf)


# --- how an output is written at run time -----------------------------------------------------------


def _arguments(value: Any) -> Any:
    """Tool-call arguments as a dict: samples keep them as JSON text (OpenAI style), while the template
    applies `tojson` itself and would otherwise write a quoted string."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def with_dict_arguments(message: dict[str, Any]) -> dict[str, Any]:
    """`message` with every tool call's arguments parsed to a dict (a copy when anything changes)."""
    if not message.get("tool_calls"):
        return message
    message = copy.deepcopy(message)
    for call in message["tool_calls"]:
        function = call.get("function", call)
        function["arguments"] = _arguments(function.get("arguments", {}))
    return message


def _schema_order(arguments: dict[str, Any], name: str, tools: list[dict[str, Any]]) -> dict[str, Any]:
    """Arguments in the order the caller's grammar writes them: required ones, then the others, each in
    the schema's order (llama.cpp's JSON-schema grammar), then any the schema does not name."""
    function = next((t.get("function", t) for t in tools if t.get("function", t).get("name") == name), {})
    parameters = function.get("parameters") or {}
    names = list((parameters.get("properties") or {}).keys())
    required = [n for n in names if n in set(parameters.get("required") or [])]
    order = required + [n for n in names if n not in required]
    ordered = {n: arguments[n] for n in order if n in arguments}
    return ordered | {k: v for k, v in arguments.items() if k not in ordered}


def call_text(call: dict[str, Any], tools: list[dict[str, Any]]) -> str:
    """A call as bare JSON, as the caller writes it under its grammar at run time:
    `{"name": "get_weather", "arguments": {"city": "Paris"}}`."""
    function = call.get("function", call)
    name = str(function.get("name", ""))
    arguments = _arguments(function.get("arguments", {}))
    if isinstance(arguments, dict):
        arguments = _schema_order(arguments, name, tools)
    return json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False)


def runtime_turn(turn: dict[str, Any], step: StepRecord, tools: list[dict[str, Any]]) -> dict[str, Any]:
    """A sample's assistant turn for `step` in the form the step's model wrote it: a policy-changed
    call is `tool_calls` for the template's `<tool_call>` tags when the raw output used them, else the
    bare JSON the grammar produces (a JSON list when the step wrote one: the crew caller's
    `call_tools`). A text turn is unchanged."""
    if not turn.get("tool_calls"):
        return turn
    written = step.raw_output.lstrip()
    if written.startswith("<tool_call>"):
        return with_dict_arguments(turn)
    texts = [call_text(call, tools) for call in turn["tool_calls"]]
    text = f"[{', '.join(texts)}]" if written.startswith("[") else "\n".join(texts)
    return {k: v for k, v in turn.items() if k != "tool_calls"} | {"content": text}


@dataclass(frozen=True)
class Peeks:
    """The gate's peeks in a run: it reads only the first tokens of a reply (`PEEK_TOKENS` in
    tinycrew.agents.gate). `cut_off`: steps whose recorded text is such a prefix (trained without the
    end token, or the model would learn to stop there); `superseded`: peeks followed by the full reply
    to the same prompt (left out: the reply says it all)."""

    cut_off: frozenset[int]
    superseded: frozenset[int]


def gate_peeks(run: RunRecord) -> Peeks:
    """Which of `run`'s gate steps are peeks (see `Peeks`). The gate records a whole reply only as the
    second of two steps with the same messages (`answer_without_tools` after the peek); so the first of
    such a pair is superseded, and a gate step on its own is a cut-off peek: a call's opening, or text
    the graph did not ask to finish (`Agent(answer=False)`)."""
    cut_off, superseded = set(), set()
    steps = run.steps
    for k, step in enumerate(steps):
        if step.role != "gate":
            continue
        before = steps[k - 1] if k > 0 else None
        after = steps[k + 1] if k + 1 < len(steps) else None
        if after is not None and after.role == "gate" and after.messages == step.messages:
            superseded.add(step.index)
        elif before is not None and before.role == "gate" and before.messages == step.messages:
            continue  # the full reply after a peek
        else:  # the peek alone: a call's opening, or text the graph did not ask to finish
            cut_off.add(step.index)
    return Peeks(frozenset(cut_off), frozenset(superseded))


def is_valid(step: StepRecord) -> bool:
    """A step whose output passed validation and whose tool ran without error."""
    return step.validation_error is None and step.error is None


# --- rendering --------------------------------------------------------------------------------------


def _strip_end(template: ChatTemplate, completion: str) -> str:
    end = template.eos_token
    return completion[: -len(end)] if end and completion.endswith(end) else completion


def render_role_sample(
    template: ChatTemplate, sample: dict[str, Any], *, cut_off: bool = False
) -> list[Segment]:
    """A role sample as [prompt (masked), completion (trained)]: `ChatTemplate.split` of the sent
    messages plus the output; a cut-off reply loses its end token."""
    messages = [with_dict_arguments(m) for m in sample["messages"]]
    prompt, completion = template.split(messages, sample.get("tools") or None)
    return [
        Segment(prompt, False),
        Segment(_strip_end(template, completion) if cut_off else completion, True),
    ]


def render_backbone_sample(
    template: ChatTemplate, sample: dict[str, Any], trained: Sequence[bool], cut_off: Sequence[bool]
) -> list[Segment]:
    """A whole run as alternating masked context and trained assistant turns. The i-th assistant turn
    is trained when `trained[i]`; each turn is cut by `ChatTemplate.split` of the conversation up to it,
    so every turn is trained on the exact prompt that precedes it."""
    messages = [with_dict_arguments(m) for m in sample["messages"]]
    tools = sample.get("tools") or None
    segments: list[Segment] = []
    done, turn = "", 0
    for i, message in enumerate(messages):
        if message.get("role") != "assistant":
            continue
        prompt, completion = template.split(messages[: i + 1], tools)
        if not prompt.startswith(done):
            raise ValueError("the template renders an earlier turn differently once later turns follow")
        if cut_off[turn]:
            completion = _strip_end(template, completion)
        segments += [Segment(prompt[len(done) :], False), Segment(completion, trained[turn])]
        done = prompt + completion
        turn += 1
    return [s for s in segments if s.text]


# --- tokenizing -------------------------------------------------------------------------------------


def tokenize_segments(tokenizer: Any, segments: list[Segment], max_length: int) -> dict[str, Any] | None:
    """input_ids and labels (IGNORE_INDEX on untrained tokens) for `segments`, each tokenized on its own
    (special tokens in the text parsed, none added). Too long: tokens cut from the left, and a trained
    segment cut into is masked whole; None when the last trained segment (with what follows it) does
    not fit."""
    pieces = [(tokenizer(s.text, add_special_tokens=False)["input_ids"], s.trained) for s in segments]
    last = max((i for i, (_, trained) in enumerate(pieces) if trained), default=None)
    if last is None or sum(len(ids) for ids, _ in pieces[last:]) > max_length:
        return None
    input_ids: list[int] = []
    labels: list[int] = []
    for ids, trained in pieces:
        input_ids += ids
        labels += ids if trained else [IGNORE_INDEX] * len(ids)
    cut = max(0, len(input_ids) - max_length)
    if cut:
        start = 0
        for ids, trained in pieces:  # mask a trained segment the cut goes into
            if start < cut < start + len(ids) and trained:
                labels[start : start + len(ids)] = [IGNORE_INDEX] * len(ids)
            start += len(ids)
    return {"input_ids": input_ids[cut:], "labels": labels[cut:], "truncated": cut > 0}


# --- building ---------------------------------------------------------------------------------------


def _role_rows(
    runs: Sequence[RunRecord], role: str, config: DatasetConfig, template: ChatTemplate, tokenizer: Any
) -> tuple[list[dict[str, Any]], int]:
    """The tokenized, deduplicated samples of `role` over `runs`, and how many were dropped as too long."""
    samples = []
    for run in runs:
        steps, peeks = {s.index: s for s in run.steps}, gate_peeks(run)
        options = {"include_invalid": config.include_invalid, "trains_on": config.trains_on}
        for sample in role_samples(run, role, **options):
            step = steps[sample["step_index"]]
            if step.index in peeks.superseded:
                continue
            sample["messages"][-1] = runtime_turn(sample["messages"][-1], step, sample.get("tools") or [])
            sample["cut_off"] = step.index in peeks.cut_off
            samples.append(sample)
    rows, dropped = [], 0
    for sample in dedupe_samples(samples):
        segments = render_role_sample(template, sample, cut_off=sample["cut_off"])
        tokens = tokenize_segments(tokenizer, segments, config.max_length)
        if tokens is None:
            dropped += 1
            continue
        rows.append(
            {
                **tokens,
                "role": role,
                "run_id": sample["run_id"],
                "step_index": sample["step_index"],
                "prompt": segments[0].text,
                "completion": segments[1].text,
            }
        )
    return rows, dropped


def _backbone_rows(
    runs: Sequence[RunRecord], config: DatasetConfig, template: ChatTemplate, tokenizer: Any
) -> tuple[list[dict[str, Any]], int]:
    """One tokenized sample per run, trained on every (valid) assistant turn; deduplicated."""
    samples = []
    for run in runs:
        if not run.steps:
            continue
        sample, peeks = backbone_sample(run, trains_on=config.trains_on), gate_peeks(run)
        tools = sample.get("tools") or []
        turns, messages = iter(run.steps), []
        for message in sample["messages"]:  # assistant turns follow the steps in order
            if message.get("role") == "assistant":
                step = next(turns)
                if step.index in peeks.superseded:
                    continue
                message = runtime_turn(message, step, tools)
            messages.append(message)
        kept = [s for s in run.steps if s.index not in peeks.superseded]
        sample["messages"] = messages
        sample["trained"] = [config.include_invalid or is_valid(s) for s in kept]
        sample["cut_off"] = [s.index in peeks.cut_off for s in kept]
        samples.append(sample)
    rows, dropped = [], 0
    for sample in dedupe_samples(samples):
        segments = render_backbone_sample(template, sample, sample["trained"], sample["cut_off"])
        tokens = tokenize_segments(tokenizer, segments, config.max_length)
        if tokens is None:
            dropped += 1
            continue
        text = "".join(s.text for s in segments)
        rows.append({**tokens, "run_id": sample["run_id"], "graph": sample.get("graph", ""), "text": text})
    return rows, dropped


def fingerprint(runs: Sequence[RunRecord], base_gguf: str | Path, config: DatasetConfig) -> str:
    """What the datasets are built from: run ids with their step counts, the base file and the config."""
    key = {
        "runs": sorted((r.run_id, len(r.steps)) for r in runs),
        "base": Path(base_gguf).name,
        "config": config.model_dump(),
    }
    return hashlib.sha256(canonical_json(key).encode()).hexdigest()[:16]


def build_datasets(
    runs: Sequence[RunRecord],
    base_gguf: str | Path,
    config: DatasetConfig | None = None,
    *,
    template: ChatTemplate | None = None,
    tokenizer: Any = None,
) -> LearningDatasets:
    """The stage-1 dataset (one backbone sample per run) and one stage-2 dataset per role present in
    `runs` (or per `config.roles`), rendered with `base_gguf`'s chat template and tokenizer.

    The caller picks the runs (verified teacher runs, say). Columns: input_ids, labels, truncated, and
    for reading: run_id, role, step_index, prompt, completion (backbone: run_id, graph, text).
    """
    from datasets import Dataset

    config = config or DatasetConfig()
    template = template or ChatTemplate.from_gguf(base_gguf)
    tokenizer = tokenizer if tokenizer is not None else load_tokenizer(base_gguf)
    backbone, dropped_backbone = _backbone_rows(runs, config, template, tokenizer)
    if not backbone:
        raise ValueError("no backbone sample: the runs have no steps, or none fits max_length")
    present = sorted({s.role for r in runs for s in r.steps})
    roles, dropped = {}, {BACKBONE: dropped_backbone}
    for role in config.roles if config.roles is not None else present:
        rows, dropped[role] = _role_rows(runs, role, config, template, tokenizer)
        if rows:
            roles[role] = Dataset.from_list(rows)
    meta = {
        "fingerprint": fingerprint(runs, base_gguf, config),
        "base": str(base_gguf),
        "config": config.model_dump(),
        "runs": sorted(r.run_id for r in runs),
        "dropped_too_long": dropped,
        "sizes": {BACKBONE: len(backbone), **{k: len(v) for k, v in roles.items()}},
    }
    return LearningDatasets(backbone=Dataset.from_list(backbone), roles=roles, meta=meta)


def prepare_datasets(
    runs: Sequence[RunRecord],
    base_gguf: str | Path,
    path: str | Path,
    config: DatasetConfig | None = None,
    **options: Any,
) -> LearningDatasets:
    """Datasets saved at `path` when they were built from the same runs, base and config; else built
    and saved there (so a stopped pipeline resumes without re-rendering)."""
    config = config or DatasetConfig()
    path = Path(path)
    meta = path / "meta.json"
    if meta.exists() and json.loads(meta.read_text()).get("fingerprint") == fingerprint(
        runs, base_gguf, config
    ):
        return LearningDatasets.load(path)
    built = build_datasets(runs, base_gguf, config, **options)
    built.save(path)
    return built
