"""Two-stage LoRA training (issue 26 item 3) at toy scale on the packaged 0.5B's own GGUF weights: a
stopped run resumes, a finished one is skipped, stage 2 starts from stage 1 and the roles part ways."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import pytest

from tinycrew.learning.datasets import DatasetConfig, build_datasets
from tinycrew.learning.train import (
    StepLog,
    TrainConfig,
    cpu_bf16,
    dataset_loss,
    load_base,
    saved_adapter_digest,
    total_steps,
    train_stages,
)
from tinycrew.models.hardware import has_native_bf16
from tinycrew.trajectories import RunRecord

ROLES = ["caller", "summarizer"]
CONFIG = TrainConfig(
    max_steps=2,
    stage2_max_steps=1,
    grad_accum=1,
    max_length=256,
    learning_rate=1e-3,
    stage2_learning_rate=1e-4,  # small, so stage 2 stays near where it started
    save_steps=1,
)


class Stop(Exception):
    """Stands for a person stopping a long run."""


def test_steps_follow_epochs_unless_max_steps_is_given() -> None:
    config = TrainConfig(batch_size=2, grad_accum=2, epochs=3)
    assert total_steps(9, config, None) == math.ceil(5 * 3 / 2)
    assert total_steps(9, config, 7) == 7


def test_cpu_precision_follows_the_setting_and_the_cpu() -> None:
    assert cpu_bf16(TrainConfig(cpu_precision="bf16"), "cpu")
    assert not cpu_bf16(TrainConfig(cpu_precision="fp32"), "cpu")
    assert not cpu_bf16(TrainConfig(cpu_precision="bf16"), "cuda:0")  # CUDA weights are bf16 already
    assert cpu_bf16(TrainConfig(), "cpu") == has_native_bf16()


def _weights(adapter: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(adapter / "adapter_model.safetensors"))


def _lora_b(weights: dict[str, Any]) -> Any:
    import torch

    return torch.cat([weights[k].flatten().float() for k in sorted(weights) if "lora_B" in k])


@pytest.mark.slow
def test_two_stages_resume_skip_and_start_stage2_from_stage1(
    recorded: dict[str, RunRecord], base_gguf: Path, template: Any, tokenizer: Any, tmp_path: Path
) -> None:
    runs = [recorded[name] for name in ("crew", "umi", "rewritten", "tagged")]
    data = build_datasets(
        runs, base_gguf, DatasetConfig(max_length=256, roles=ROLES), template=template, tokenizer=tokenizer
    )
    data.roles["caller"] = data.roles["caller"].select([0])  # one row: the one its step trains on
    base = load_base(base_gguf, CONFIG)
    out, logs = tmp_path / "train", []

    def stop_after_first(log: StepLog) -> None:
        logs.append(log)
        raise Stop

    with pytest.raises(Stop):  # stopped after stage 1's first step
        train_stages(
            base_gguf, data.backbone, data.roles, out, CONFIG, base_model=base, on_step=stop_after_first
        )
    assert (out / "stage1" / "checkpoints" / "step-000001" / "state.json").exists()
    assert not (out / "stage1" / "adapter").exists() and (out / "losses.png").exists()
    assert not any("lora" in name for name, _ in base.named_parameters())  # the base is plain again

    adapters = train_stages(
        base_gguf, data.backbone, data.roles, out, CONFIG, base_model=base, on_step=logs.append
    )
    assert [(log.stage, log.step) for log in logs] == [
        ("stage1", 1),
        ("stage1", 2),
        ("caller", 1),
        ("summarizer", 1),
    ]
    for log in logs:
        print(f"{log.stage} step {log.step}: loss {log.loss:.4f}, {log.tokens} tokens, {log.seconds:.1f} s")
    losses = [json.loads(line) for line in (out / "losses.jsonl").read_text().splitlines()]
    assert [(row["stage"], row["step"]) for row in losses] == [(log.stage, log.step) for log in logs]
    assert all(math.isfinite(row["loss"]) and row["loss"] > 0 for row in losses)
    assert (out / "losses.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(adapters) == set(ROLES) and all(
        (a / "adapter_config.json").exists() for a in adapters.values()
    )

    stage1 = out / "stage1" / "adapter"
    for role in ROLES:  # stage 2 began with the stage-1 weights, read back from the live model
        init = json.loads((adapters[role].parent / "init.json").read_text())
        assert init["init_from"] == str(stage1) and init["digest"] == saved_adapter_digest(stage1)
    first, caller, summarizer = (
        _lora_b(_weights(a)) for a in (stage1, adapters["caller"], adapters["summarizer"])
    )
    assert first.abs().sum() > 0  # stage 1 moved B off its zero start
    for role_b in (caller, summarizer):
        assert not role_b.equal(first) and (role_b - first).norm() < 0.5 * first.norm()
    assert not caller.equal(summarizer)

    from peft import PeftModel

    both = PeftModel.from_pretrained(base, str(stage1), adapter_name="stage1")
    both.load_adapter(str(adapters["caller"]), adapter_name="caller")
    before = dataset_loss(both, data.roles["caller"], max_length=256)
    both.set_adapter("caller")
    after = dataset_loss(both, data.roles["caller"], max_length=256)
    both.unload()
    print(f"caller row loss: stage-1 adapter {before:.4f}, caller adapter {after:.4f}")
    assert after < before  # the caller's step learned its row, and the adapter changes the output

    init = adapters["summarizer"].parent / "init.json"  # as if stage 1 had been trained again since
    init.write_text(json.dumps(json.loads(init.read_text()) | {"digest": "0" * 16}))
    train_stages(base_gguf, data.backbone, data.roles, out, CONFIG, base_model=base, on_step=logs.append)
    assert [(log.stage, log.step) for log in logs[4:]] == [("summarizer", 1)]  # only the stale role again
    assert json.loads(init.read_text())["digest"] == saved_adapter_digest(stage1)

    started = time.perf_counter()  # finished: a re-run loads nothing and trains nothing
    again = train_stages(base_gguf, data.backbone, data.roles, out, CONFIG, on_step=logs.append)
    assert again == adapters and len(logs) == 5 and time.perf_counter() - started < 5
