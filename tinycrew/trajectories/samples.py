"""Training samples cut from recorded runs: α-UMi backbone (whole run), per-role, and OpenAI chat format.

Samples are plain JSON-ready dicts with no null keys. A redactor, when given, is applied to every free
text: message contents, tool-call arguments and observations (roles, names and tool schemas are kept).
"""

from __future__ import annotations

from typing import Any, Literal

from tinycrew.trajectories.canonical import canonical_json, compact_json
from tinycrew.trajectories.records import RunRecord, StepRecord
from tinycrew.trajectories.redact import Redactor

SampleFormat = Literal["backbone", "role", "openai"]
SAMPLE_FORMATS: tuple[str, ...] = ("backbone", "role", "openai")
CallVersion = Literal["ran", "model"]
CALL_VERSIONS: tuple[str, ...] = ("ran", "model")
"""Which version of a call a call policy changed the samples train on: the call that ran (default), or
the one the model wrote. The other is kept beside it (`model_call` in role and backbone samples)."""


def _text(value: Any, redact: Redactor | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):  # content parts: keep the text ones
        value = "".join(p.get("text", "") for p in value if isinstance(p, dict))
    elif not isinstance(value, str):
        value = canonical_json(value)
    return redact(value) if redact else value


def _tool_call(call: dict[str, Any], fallback_id: str, redact: Redactor | None) -> dict[str, Any]:
    function = call.get("function", call)
    arguments = function.get("arguments", {})
    if not isinstance(arguments, str):
        arguments = compact_json(arguments)
    return {
        "id": str(call.get("id") or fallback_id),
        "type": "function",
        "function": {"name": str(function.get("name", "")), "arguments": _text(arguments, redact) or ""},
    }


def chat_message(message: dict[str, Any], redact: Redactor | None = None) -> dict[str, Any]:
    """A sent message reduced to the OpenAI chat keys (role, content, name, tool_call_id, tool_calls)."""
    out: dict[str, Any] = {"role": str(message.get("role", "user"))}
    content = _text(message.get("content"), redact)
    if content is not None:
        out["content"] = content
    for key in ("name", "tool_call_id"):
        if message.get(key) is not None:
            out[key] = str(message[key])
    calls = message.get("tool_calls")
    if calls:
        out["tool_calls"] = [_tool_call(c, f"call_{i}", redact) for i, c in enumerate(calls)]
    return out


def _assistant_turn(step: StepRecord, trains_on: CallVersion, redact: Redactor | None) -> dict[str, Any]:
    """The step's output as an assistant turn: its raw text, or, for a step whose call a policy changed
    when training on the call that ran, that call as `tool_calls` (the raw text holds the model's own)."""
    if trains_on == "ran" and step.rewrites and step.parsed_call is not None:
        return {
            "role": "assistant",
            "tool_calls": [_tool_call(step.parsed_call, f"call_{step.index}", redact)],
        }
    return {"role": "assistant", "content": _text(step.raw_output, redact)}


def _trained_call(step: StepRecord, trains_on: CallVersion) -> dict[str, Any] | None:
    """The call a sample of `step` trains on: what ran, or what the model wrote (`model_call`)."""
    if trains_on == "model" and step.model_call is not None:
        return step.model_call
    return step.parsed_call


def _sample_key(sample: dict[str, Any]) -> str:
    return canonical_json({"messages": sample["messages"], "tools": sample.get("tools", [])})


def _run_tools(run: RunRecord) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for step in run.steps:
        for tool in step.tools:
            name = tool.get("function", tool).get("name") or canonical_json(tool)
            seen.setdefault(name, tool)
    return list(seen.values())


def backbone_sample(
    run: RunRecord, redact: Redactor | None = None, trains_on: CallVersion = "ran"
) -> dict[str, Any]:
    """The whole run as one multi-role conversation (α-UMi GLPFT stage 1).

    user: the task; then per step an assistant turn named after its role holding the raw output (for a
    step whose call a policy changed, the call that ran unless `trains_on="model"`), and a tool turn
    with the observation when the step produced one. `tools` is the union offered in the run.
    """
    messages: list[dict[str, Any]] = [{"role": "user", "content": _text(run.task, redact)}]
    for step in run.steps:
        messages.append({**_assistant_turn(step, trains_on, redact), "name": step.role})
        if step.observation is not None:
            observation: dict[str, Any] = {"role": "tool", "content": _text(step.observation, redact)}
            if step.parsed_call and step.parsed_call.get("name"):
                observation["name"] = str(step.parsed_call["name"])
            messages.append(observation)
    sample: dict[str, Any] = {
        "run_id": run.run_id,
        "graph": run.graph,
        "outcome": run.outcome,
        "score": run.mean_score,
        "trains_on": trains_on,
        "messages": messages,
        "tools": _run_tools(run),
    }
    return {k: v for k, v in sample.items() if v is not None}


def _steps(run: RunRecord, role: str | None, model: str | None, include_invalid: bool) -> list[StepRecord]:
    return [
        s
        for s in run.steps
        if (role is None or s.role == role)
        and (model is None or s.model == model)
        and (include_invalid or (s.validation_error is None and s.error is None))
    ]


def role_samples(
    run: RunRecord,
    role: str,
    *,
    model: str | None = None,
    include_invalid: bool = False,
    redact: Redactor | None = None,
    trains_on: CallVersion = "ran",
) -> list[dict[str, Any]]:
    """One sample per step of `role` (α-UMi stage 2): the messages sent plus the output as assistant, the
    raw text or, for a step whose call a policy changed, the call that ran (see `_assistant_turn`); the
    model's own call is kept beside it as `model_call` (JSON text)."""
    samples = []
    for step in _steps(run, role, model, include_invalid):
        messages = [chat_message(m, redact) for m in step.messages]
        messages.append(_assistant_turn(step, trains_on, redact))
        model_call = compact_json(step.model_call) if step.model_call is not None else None
        sample: dict[str, Any] = {
            "run_id": run.run_id,
            "step_index": step.index,
            "role": step.role,
            "model": step.model,
            "graph": run.graph,
            "outcome": run.outcome,
            "score": run.mean_score,
            "trains_on": trains_on,
            "model_call": _text(model_call, redact),
            "messages": messages,
            "tools": step.tools,
        }
        samples.append({k: v for k, v in sample.items() if v is not None})
    return samples


def openai_samples(
    run: RunRecord,
    *,
    role: str | None = None,
    model: str | None = None,
    include_invalid: bool = False,
    redact: Redactor | None = None,
    trains_on: CallVersion = "ran",
) -> list[dict[str, Any]]:
    """OpenAI chat fine-tuning samples, one per step: {"messages": [...], "tools": [...]}.

    The assistant turn carries `tool_calls` when the step parsed a call (the call that ran, or with
    `trains_on="model"` the one the model wrote), else the raw output as content.
    """
    samples = []
    for step in _steps(run, role, model, include_invalid):
        messages = [chat_message(m, redact) for m in step.messages]
        trained = _trained_call(step, trains_on)
        if trained is not None:
            call = _tool_call(trained, f"call_{step.index}", redact)
            messages.append({"role": "assistant", "tool_calls": [call]})
        else:
            messages.append({"role": "assistant", "content": _text(step.raw_output, redact)})
        sample: dict[str, Any] = {"messages": messages}
        if step.tools:
            sample["tools"] = step.tools
        samples.append(sample)
    return samples


def run_samples(
    run: RunRecord,
    fmt: SampleFormat,
    *,
    role: str | None = None,
    model: str | None = None,
    include_invalid: bool = False,
    redact: Redactor | None = None,
    trains_on: CallVersion = "ran",
) -> list[dict[str, Any]]:
    """The samples of one run in format `fmt`; a backbone run with a step by another model gives none.
    `trains_on` picks the version of a policy-changed call they train on (see `CALL_VERSIONS`)."""
    if trains_on not in CALL_VERSIONS:
        raise ValueError(f"unknown call version {trains_on!r}; expected one of {CALL_VERSIONS}")
    options = {"include_invalid": include_invalid, "redact": redact, "trains_on": trains_on}
    if fmt == "backbone":
        if model is not None and any(s.model != model for s in run.steps):
            return []
        return [backbone_sample(run, redact, trains_on)] if run.steps else []
    if fmt == "role":
        if role is None:
            raise ValueError("the role format needs a role (planner, caller, summarizer, ...)")
        return role_samples(run, role, model=model, **options)
    if fmt == "openai":
        return openai_samples(run, role=role, model=model, **options)
    raise ValueError(f"unknown sample format {fmt!r}; expected one of {SAMPLE_FORMATS}")


def dedupe_samples(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop samples whose messages and tools equal an earlier sample's (metadata is ignored)."""
    seen: set[str] = set()
    unique = []
    for sample in samples:
        key = _sample_key(sample)
        if key not in seen:
            seen.add(key)
            unique.append(sample)
    return unique


def is_alternating_chat(messages: list[dict[str, Any]]) -> bool:
    """True if: optional system first, then user/assistant strictly alternating, ending with assistant."""
    roles = [m["role"] for m in messages]
    if roles and roles[0] == "system":
        roles = roles[1:]
    expected = ["user", "assistant"] * (len(roles) // 2)
    return bool(roles) and roles == expected
