"""Datasets per role (issue 26 item 2): rendered by the served template, masked to the completion, cut
from real recorded runs of the 0.5B."""

from __future__ import annotations

from typing import Any

import pytest

from tinycrew.learning.datasets import (
    IGNORE_INDEX,
    DatasetConfig,
    LearningDatasets,
    Segment,
    build_datasets,
    call_text,
    gate_peeks,
    prepare_datasets,
    runtime_turn,
    tokenize_segments,
    with_dict_arguments,
)
from tinycrew.trajectories import RunRecord
from tinycrew.trajectories.records import StepRecord

END = "<|im_end|>"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def test_a_call_is_written_in_the_grammar_order_with_the_model_spacing() -> None:
    call = {"name": "get_weather", "arguments": '{"unit": "celsius", "city": "Zürich"}'}
    text = call_text(call, [WEATHER])
    assert text == '{"name": "get_weather", "arguments": {"city": "Zürich", "unit": "celsius"}}'


def test_tool_call_arguments_are_parsed_for_the_template() -> None:
    message = {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": '{"a": 1}'}}]}
    parsed = with_dict_arguments(message)
    assert parsed["tool_calls"][0]["function"]["arguments"] == {"a": 1}
    assert message["tool_calls"][0]["function"]["arguments"] == '{"a": 1}'  # the sample is not changed


@pytest.fixture(scope="module")
def built(recorded: dict[str, RunRecord], base_gguf: Any, template: Any, tokenizer: Any) -> LearningDatasets:
    runs = [recorded[name] for name in ("crew", "umi", "chat", "rewritten", "tagged")]
    return build_datasets(
        runs, base_gguf, DatasetConfig(max_length=384), template=template, tokenizer=tokenizer
    )


def _rows(built: LearningDatasets) -> list[dict[str, Any]]:
    return [row for data in built.roles.values() for row in data]


def _run(recorded: dict[str, RunRecord], row: dict[str, Any]) -> RunRecord:
    return next(r for r in recorded.values() if r.run_id == row["run_id"])


def _step(recorded: dict[str, RunRecord], row: dict[str, Any]) -> Any:
    return _run(recorded, row).steps[row["step_index"]]


@pytest.mark.slow
def test_one_dataset_per_role_present_with_its_valid_steps(built, recorded) -> None:
    runs = [recorded[name] for name in ("crew", "umi", "chat", "rewritten", "tagged")]
    roles = {s.role for r in runs for s in r.steps}
    assert set(built.roles) == roles >= {"gate", "crew_planner", "caller", "summarizer", "planner"}
    for role, data in built.roles.items():
        assert set(data["role"]) == {role}
        steps = [_step(recorded, row) for row in data]
        assert all(s.role == role and s.validation_error is None for s in steps)
    assert len(built.backbone) == 5 and built.meta["sizes"]["backbone"] == 5
    assert len(built.roles["caller"]) == 3  # umi, rewritten, tagged; not the failed try


@pytest.mark.slow
def test_the_prompt_is_the_served_render_and_tokens(
    built, recorded, template, tokenizer, default_model
) -> None:
    for row in _rows(built):
        step = _step(recorded, row)
        messages = [with_dict_arguments(m) for m in step.messages]
        assert row["prompt"] == template.render(messages, step.tools or None)
        served = default_model.render(step.messages, step.tools or None)  # what llama.cpp evaluates
        prompt_ids = [
            t for t, label in zip(row["input_ids"], row["labels"], strict=True) if label == IGNORE_INDEX
        ]
        assert prompt_ids == (served[-len(prompt_ids) :] if row["truncated"] else served)


@pytest.mark.slow
def test_labels_cover_exactly_the_completion(built, tokenizer) -> None:
    for row in _rows(built):
        ids, labels = row["input_ids"], row["labels"]
        first = next(i for i, label in enumerate(labels) if label != IGNORE_INDEX)
        assert all(label == IGNORE_INDEX for label in labels[:first])
        assert (
            labels[first:]
            == ids[first:]
            == tokenizer(row["completion"], add_special_tokens=False)["input_ids"]
        )
        assert tokenizer.decode(ids[first:]) == row["completion"]
        assert len(ids) <= 384 and (len(ids) == 384) == row["truncated"]


@pytest.mark.slow
def test_completions_are_what_the_model_wrote_and_end_with_the_end_token(built, recorded) -> None:
    for row in _rows(built):
        step = _step(recorded, row)
        if step.index in gate_peeks(_run(recorded, row)).cut_off:  # the first tokens only: no end token
            assert row["completion"] == step.raw_output and not row["completion"].endswith(END)
        elif not step.rewrites:
            assert row["completion"] == step.raw_output + END


@pytest.mark.slow
def test_real_caller_outputs_are_the_bare_json_a_changed_call_is_written_as(recorded) -> None:
    for name in ("crew", "umi"):
        for step in recorded[name].steps:
            if step.role == "caller":
                assert call_text(step.parsed_call, step.tools) == step.raw_output


def test_a_changed_call_of_a_step_that_wrote_a_list_is_written_as_a_list() -> None:
    call = {"function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    turn = {"role": "assistant", "tool_calls": [call]}
    raw = '[{"name": "get_weather", "arguments": {"city": "paris"}}]'
    step = StepRecord(run_id="r", index=0, role="caller", model="m", messages=[], raw_output=raw)
    written = runtime_turn(turn, step, [WEATHER])
    assert written["content"] == '[{"name": "get_weather", "arguments": {"city": "Paris"}}]'


@pytest.mark.slow
def test_a_call_a_policy_changed_is_trained_as_it_ran_in_the_model_format(built, recorded) -> None:
    completions = {row["run_id"]: row["completion"] for row in built.roles["caller"]}
    ran = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
    assert completions["rewritten"] == ran + END  # the grammar's bare JSON, as the caller writes it
    assert completions["tagged"] == f"<tool_call>\n{ran}\n</tool_call>{END}"  # the template's tags
    assert "fahrenheit" not in completions["rewritten"] + completions["tagged"]


@pytest.mark.slow
def test_the_backbone_trains_every_valid_assistant_turn(built, recorded, tokenizer) -> None:
    row = next(r for r in built.backbone if r["run_id"] == "rewritten")
    assert not row["truncated"]
    trained = tokenizer.decode([label for label in row["labels"] if label != IGNORE_INDEX])
    run = recorded["rewritten"]
    expected = ""
    for step in run.steps:
        if step.validation_error is not None:
            assert step.raw_output not in trained
            continue
        text = '{"name": "get_weather", "arguments": {"city": "Paris"}}' if step.rewrites else step.raw_output
        expected += text + ("" if step.role == "gate" else END)
    assert trained == expected
    assert row["text"].count("<|im_start|>assistant\n") == len(run.steps)


@pytest.mark.slow
def test_identical_samples_are_deduplicated(recorded, base_gguf, template, tokenizer) -> None:
    options = {"template": template, "tokenizer": tokenizer}
    once = build_datasets([recorded["crew"]], base_gguf, DatasetConfig(max_length=384), **options)
    twice = build_datasets(
        [recorded["crew"], recorded["repeat"]], base_gguf, DatasetConfig(max_length=384), **options
    )
    assert twice.meta["sizes"] == once.meta["sizes"] and once.meta["sizes"]["backbone"] == 1


@pytest.mark.slow
def test_long_samples_lose_prompt_tokens_from_the_left(recorded, base_gguf, template, tokenizer) -> None:
    options = {"template": template, "tokenizer": tokenizer}
    config = DatasetConfig(max_length=64, roles=["caller"])
    short = build_datasets([recorded["umi"]], base_gguf, config, **options)
    full = build_datasets(
        [recorded["umi"]], base_gguf, config.model_copy(update={"max_length": 4096}), **options
    )
    [cut], [whole] = short.roles["caller"], full.roles["caller"]
    assert cut["truncated"] and not whole["truncated"]
    assert cut["input_ids"] == whole["input_ids"][-64:] and cut["labels"] == whole["labels"][-64:]
    assert cut["completion"] == whole["completion"]


def test_a_sample_whose_completion_does_not_fit_is_dropped_and_a_cut_turn_is_masked(tokenizer) -> None:
    segments = [
        Segment("a b c d e f", False),
        Segment("g h i", True),
        Segment("j k", False),
        Segment("l m", True),
    ]
    ids = [tokenizer(s.text, add_special_tokens=False)["input_ids"] for s in segments]
    assert tokenize_segments(tokenizer, segments, len(ids[3]) - 1) is None
    width = len(ids[3]) + len(ids[2]) + len(ids[1]) - 1  # cuts into the first trained turn
    row = tokenize_segments(tokenizer, segments, width)
    assert row is not None and row["truncated"] and len(row["input_ids"]) == width
    assert [label for label in row["labels"] if label != IGNORE_INDEX] == ids[3]
    tail = [Segment("a b", True), Segment("c d e f g h i j k l", False)]  # nothing trained would be left
    assert tokenize_segments(tokenizer, tail, len(tokenizer("c d e f g h i j k l")["input_ids"])) is None


@pytest.mark.slow
def test_datasets_are_saved_and_reused(recorded, base_gguf, built, template, tokenizer, tmp_path) -> None:
    runs = [recorded[name] for name in ("crew", "umi", "chat", "rewritten", "tagged")]
    built.save(tmp_path / "ds")
    loaded = LearningDatasets.load(tmp_path / "ds")
    assert loaded.meta == built.meta and set(loaded.roles) == set(built.roles)
    assert loaded.backbone["input_ids"] == built.backbone["input_ids"]
    config = DatasetConfig(max_length=384)
    again = prepare_datasets(runs, base_gguf, tmp_path / "ds", config, template=template, tokenizer=tokenizer)
    assert again.roles["caller"]["labels"] == built.roles["caller"]["labels"]
    other = prepare_datasets(
        runs[:1], base_gguf, tmp_path / "ds", config, template=template, tokenizer=tokenizer
    )
    assert other.meta["fingerprint"] != built.meta["fingerprint"] and other.meta["sizes"]["backbone"] == 1


@pytest.mark.slow
def test_a_gate_peek_gives_way_to_the_full_reply(built, recorded) -> None:
    run = recorded["chat"]
    peek, reply = run.steps  # the gate answered without a tool: the first tokens, then the whole text
    assert peek.role == reply.role == "gate" and reply.raw_output.startswith(peek.raw_output)
    assert peek.raw_output != reply.raw_output
    [row] = [row for row in built.roles["gate"] if row["run_id"] == run.run_id]
    assert row["completion"] == reply.raw_output + END
    backbone = next(row for row in built.backbone if row["run_id"] == run.run_id)
    assert backbone["text"].count("<|im_start|>assistant\n") == 1 and backbone["text"].endswith(END)
