"""Two-stage LoRA fine-tuning (issue 26, item 3): α-UMi's GLPFT on the very GGUF llama.cpp serves.

Stage 1 trains one LoRA on the backbone dataset (whole runs, every role); stage 2 trains one LoRA per
role, each starting from the stage-1 LoRA's weights. The base is the served GGUF, dequantized by
transformers (`gguf_file=`), so nothing is downloaded and the adapters fit the weights they will run on.

Our own small loop rather than HF's Trainer: one base model is shared by every stage (the LoRA is put
on and taken off again), and what a checkpoint holds is plain: the adapter (`save_pretrained`), the
optimizer and scheduler state, the step and the RNG state. A stage's folder:

    <out>/stage1/ or <out>/stage2/<role>/
        checkpoints/step-000010/   resumable state (the last `keep_checkpoints` kept)
        adapter/                   the finished LoRA (peft format; a separate module writes GGUF)
        losses.jsonl               one line per optimizer step
        init.json                  where the LoRA started (stage 2: the stage-1 weights' digest)

A re-run skips a stage whose adapter is written and continues an unfinished one from its latest
checkpoint. `<out>/losses.jsonl` and `<out>/losses.png` gather all stages.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from tinycrew.learning.datasets import IGNORE_INDEX

logger = logging.getLogger(__name__)
DEFAULT_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
STAGE1 = "stage1"


class TrainConfig(BaseModel):
    """LoRA and optimisation settings for both stages (stage 2 may take its own learning rate/steps)."""

    r: int = Field(default=16, ge=1)
    alpha: float = Field(default=32.0, gt=0)
    dropout: float = Field(default=0.05, ge=0, lt=1)
    target_modules: list[str] = Field(default_factory=lambda: list(DEFAULT_TARGETS))
    learning_rate: float = Field(default=2e-4, gt=0)
    stage2_learning_rate: float | None = Field(default=None, description="None: learning_rate")
    weight_decay: float = 0.0
    warmup_ratio: float = Field(default=0.03, ge=0, lt=1)
    epochs: float = Field(default=1.0, gt=0)
    max_steps: int | None = Field(
        default=None, ge=1, description="optimizer steps per stage; wins over epochs"
    )
    stage2_max_steps: int | None = Field(default=None, ge=1, description="None: max_steps")
    batch_size: int = Field(default=1, ge=1)
    grad_accum: int = Field(default=4, ge=1)
    max_length: int = Field(default=2048, ge=16, description="longer rows lose tokens from the left")
    max_grad_norm: float = 1.0
    save_steps: int = Field(default=50, ge=1, description="checkpoint every this many optimizer steps")
    keep_checkpoints: int = Field(default=2, ge=1)
    seed: int = 0
    device: str | None = Field(default=None, description="None: cuda when torch sees it, else cpu")
    cpu_precision: Literal["auto", "bf16", "fp32"] = Field(
        default="auto",
        description="CPU matmuls: bf16 autocast over fp32 weights, or fp32; auto: bf16 where the CPU "
        "has native bf16 (AVX512-BF16, AMX), about 1.9x faster per step there",
    )
    progress: bool = True


@dataclass(frozen=True)
class StepLog:
    """One optimizer step, as written to losses.jsonl and handed to `on_step`."""

    stage: str
    step: int
    total: int
    loss: float
    lr: float
    tokens: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


OnStep = Callable[[StepLog], None]


# --- the base model ---------------------------------------------------------------------------------


def pick_device(config: TrainConfig) -> tuple[str, Any]:
    """(device, dtype): CUDA in bf16 (fp16 without bf16 support) when torch sees a GPU, else CPU in
    fp32 with `TINYCREW_THREADS` (or every core) threads, which CPU kernels need to be fast."""
    import torch

    device = config.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda"):
        return device, torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    torch.set_num_threads(int(os.environ.get("TINYCREW_THREADS") or os.cpu_count() or 1))
    return device, torch.float32


def cpu_bf16(config: TrainConfig, device: str) -> bool:
    """Whether steps on `device` run under bf16 autocast (`config.cpu_precision`; CPU only: on CUDA
    the weights are already bf16 or fp16)."""
    from tinycrew.models.hardware import has_native_bf16

    if not device.startswith("cpu") or config.cpu_precision == "fp32":
        return False
    return config.cpu_precision == "bf16" or has_native_bf16()


def load_base(base_gguf: str | Path, config: TrainConfig | None = None) -> Any:
    """The served GGUF's weights as a torch causal LM (dequantized, on the training device)."""
    from tinycrew.models.gguf_torch import load_causal_lm

    device, dtype = pick_device(config or TrainConfig())
    model = load_causal_lm(base_gguf, dtype=dtype)
    model.config.use_cache = False
    return model.to(device)


def _pad_id(model: Any) -> int:
    config = model.config
    for value in (getattr(config, "pad_token_id", None), getattr(config, "eos_token_id", None)):
        if isinstance(value, list):
            value = value[0] if value else None
        if value is not None:
            return int(value)
    return 0


@contextmanager
def lora_on(base: Any, config: TrainConfig, init_from: str | Path | None) -> Iterator[Any]:
    """`base` wrapped in a trainable LoRA (fresh, or the weights in `init_from`); taken off afterwards,
    so the next stage gets the plain base again."""
    from peft import LoraConfig, PeftModel, get_peft_model

    if init_from is not None:
        model = PeftModel.from_pretrained(base, str(init_from), is_trainable=True)
    else:
        lora = LoraConfig(
            r=config.r,
            lora_alpha=config.alpha,
            lora_dropout=config.dropout,
            target_modules=config.target_modules,
            bias="none",
            task_type="CAUSAL_LM",
        )
        model = get_peft_model(base, lora)
    try:
        yield model
    finally:
        model.unload()


def adapter_digest(state: dict[str, Any]) -> str:
    """A digest of LoRA weights by tensor name (the adapter name removed), to tell where one started."""
    digest = hashlib.sha256()
    for name in sorted(state):
        key = name.replace(".default.", ".")
        digest.update(key.encode())
        digest.update(state[name].detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def saved_adapter_digest(adapter_dir: str | Path) -> str:
    """`adapter_digest` of an adapter folder written by `save_pretrained`."""
    from safetensors.torch import load_file

    return adapter_digest(load_file(str(Path(adapter_dir) / "adapter_model.safetensors")))


def _trainable_state(model: Any) -> dict[str, Any]:
    from peft import get_peft_model_state_dict

    return get_peft_model_state_dict(model, save_embedding_layers=False)


# --- batches ----------------------------------------------------------------------------------------


def _left_truncate(ids: list[int], labels: list[int], max_length: int) -> tuple[list[int], list[int]]:
    return (ids[-max_length:], labels[-max_length:]) if len(ids) > max_length else (ids, labels)


def _collate(rows: list[dict[str, Any]], pad_id: int, max_length: int, device: str) -> dict[str, Any]:
    """Right-padded tensors; padding is masked out of attention and loss."""
    import torch

    pairs = [_left_truncate(list(r["input_ids"]), list(r["labels"]), max_length) for r in rows]
    width = max(len(ids) for ids, _ in pairs)
    input_ids = [ids + [pad_id] * (width - len(ids)) for ids, _ in pairs]
    labels = [lab + [IGNORE_INDEX] * (width - len(lab)) for _, lab in pairs]
    mask = [[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in pairs]
    return {
        "input_ids": torch.tensor(input_ids, device=device),
        "labels": torch.tensor(labels, device=device),
        "attention_mask": torch.tensor(mask, device=device),
    }


def _micro_batches(n_rows: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """The epoch's row order (a seeded shuffle, the same on a resumed run) cut into micro-batches."""
    import torch

    order = torch.randperm(n_rows, generator=torch.Generator().manual_seed(seed + epoch)).tolist()
    return [order[i : i + batch_size] for i in range(0, n_rows, batch_size)]


def _micro_batch(n_rows: int, config: TrainConfig, index: int) -> list[int]:
    """The `index`-th micro-batch of the endless stream of epochs."""
    per_epoch = math.ceil(n_rows / config.batch_size)
    return _micro_batches(n_rows, config.batch_size, config.seed, index // per_epoch)[index % per_epoch]


def total_steps(n_rows: int, config: TrainConfig, max_steps: int | None) -> int:
    """Optimizer steps of a stage: `max_steps`, else `epochs` over the data."""
    if max_steps is not None:
        return max_steps
    micro = math.ceil(n_rows / config.batch_size) * config.epochs
    return max(1, math.ceil(micro / config.grad_accum))


# --- checkpoints ------------------------------------------------------------------------------------


def _checkpoints(stage_dir: Path) -> list[Path]:
    """Complete checkpoints (state.json is written last), oldest first."""
    found = [p for p in (stage_dir / "checkpoints").glob("step-*") if (p / "state.json").exists()]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def _save_checkpoint(
    stage_dir: Path, model: Any, optimizer: Any, scheduler: Any, step: int, keep: int
) -> None:
    import torch

    folder = stage_dir / "checkpoints" / f"step-{step:06d}"
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp), save_embedding_layers=False)
    torch.save(
        {
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": torch.get_rng_state(),
        },
        tmp / "trainer.pt",
    )
    (tmp / "state.json").write_text(json.dumps({"step": step}))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    for old in _checkpoints(stage_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def _resume(stage_dir: Path, model: Any, optimizer: Any, scheduler: Any) -> int:
    """Load the latest checkpoint into the model, optimizer and scheduler; the step it ended at (0: none)."""
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    found = _checkpoints(stage_dir)
    if not found:
        return 0
    latest = found[-1]
    set_peft_model_state_dict(model, load_file(str(latest / "adapter_model.safetensors")))
    state = torch.load(latest / "trainer.pt", weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng"])
    return int(json.loads((latest / "state.json").read_text())["step"])


def _keep_losses(path: Path, until: int) -> list[dict[str, Any]]:
    """The logged steps up to a resumed checkpoint (later ones are trained again), rewritten to `path`."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line] if path.exists() else []
    rows = [r for r in rows if r["step"] <= until]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


# --- the loop ---------------------------------------------------------------------------------------


class _Progress:
    """A rich progress bar with the loss and ETA (silent when `enabled` is False)."""

    def __init__(self, stage: str, total: int, done: int, enabled: bool) -> None:
        self.bar: Any = None
        if not enabled:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        )
        self.task = self.bar.add_task(stage, total=total, completed=done, loss="-")
        self.bar.start()

    def advance(self, loss: float) -> None:
        if self.bar is not None:
            self.bar.update(self.task, advance=1, loss=f"{loss:.4f}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _optimizer(model: Any, config: TrainConfig, lr: float, steps: int) -> tuple[Any, Any]:
    """AdamW on the LoRA weights with linear warm-up and linear decay to zero."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=config.weight_decay)
    warmup = int(steps * config.warmup_ratio)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (steps - step) / max(1, steps - warmup))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _loss(model: Any, batch: dict[str, Any]) -> Any:
    """Mean cross-entropy over the labelled tokens, with logits computed only at the positions that
    predict one (`logits_to_keep`): the 150k-word output layer over every prompt position would cost
    more than a tenth of the step and most of its memory for nothing. Equal to the model's own loss."""
    import torch

    targets = batch["labels"][:, 1:]
    keep = (targets != IGNORE_INDEX).any(dim=0).nonzero().squeeze(-1)
    logits = model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], logits_to_keep=keep
    ).logits
    return torch.nn.functional.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]), targets[:, keep].reshape(-1), ignore_index=IGNORE_INDEX
    )


def dataset_loss(model: Any, dataset: Any, *, max_length: int = 2048, batch_size: int = 1) -> float:
    """The model's mean loss per labelled token over `dataset`, without gradients: for comparing a
    base, a stage-1 and a stage-2 adapter on the same rows."""
    import torch

    rows = dataset.with_format(None)
    device = str(next(model.parameters()).device)
    total, tokens = 0.0, 0
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            batch = _collate(
                [rows[i] for i in range(start, min(start + batch_size, len(rows)))], 0, max_length, device
            )
            count = int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
            total += float(_loss(model, batch)) * count
            tokens += count
    model.train(was_training)
    return total / max(tokens, 1)


def _train_step(
    model: Any, rows: Any, config: TrainConfig, step: int, pad_id: int, device: str
) -> tuple[float, int]:
    """One optimizer step's forward/backward over `grad_accum` micro-batches: (mean loss, tokens)."""
    import torch

    losses, tokens = [], 0
    for micro in range(config.grad_accum):
        index = step * config.grad_accum + micro
        batch = _collate(
            [rows[i] for i in _micro_batch(len(rows), config, index)], pad_id, config.max_length, device
        )
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cpu_bf16(config, device)):
            loss = _loss(model, batch)
        (loss / config.grad_accum).backward()
        losses.append(float(loss.detach()))
        tokens += int(batch["attention_mask"].sum())
    return sum(losses) / len(losses), tokens


def train_lora(
    base_gguf: str | Path,
    dataset: Any,
    out_dir: str | Path,
    *,
    init_from: str | Path | None = None,
    config: TrainConfig | None = None,
    stage: str = STAGE1,
    base_model: Any = None,
    on_step: OnStep | None = None,
) -> Path:
    """Train one LoRA on `dataset` (rows with input_ids and labels) and return its adapter folder
    (`<out_dir>/adapter`, peft's `save_pretrained` format).

    `init_from` starts from another adapter's weights (stage 2 from stage 1); `base_model` shares an
    already loaded base (else `base_gguf` is loaded). Finished already: returned at once; checkpoints
    in `out_dir`: continued from the latest. `on_step` sees every step (a `StepLog`).
    """
    import torch

    config = config or TrainConfig()
    out_dir, adapter_dir = Path(out_dir), Path(out_dir) / "adapter"
    if _finished(out_dir):
        return adapter_dir
    if len(dataset) == 0:
        raise ValueError(f"{stage}: the dataset is empty")
    out_dir.mkdir(parents=True, exist_ok=True)
    base = base_model if base_model is not None else load_base(base_gguf, config)
    device = str(next(base.parameters()).device)
    is_stage2 = init_from is not None
    lr = (config.stage2_learning_rate or config.learning_rate) if is_stage2 else config.learning_rate
    max_steps = (config.stage2_max_steps or config.max_steps) if is_stage2 else config.max_steps
    steps = total_steps(len(dataset), config, max_steps)
    rows = dataset.with_format(None)
    torch.manual_seed(config.seed)
    logger.info(
        "%s: %d steps on %s, %s",
        stage,
        steps,
        device,
        "bf16 autocast" if cpu_bf16(config, device) else "fp32",
    )
    with lora_on(base, config, init_from) as model:
        _write_init(out_dir, model, init_from)
        optimizer, scheduler = _optimizer(model, config, lr, steps)
        done = _resume(out_dir, model, optimizer, scheduler)
        _keep_losses(out_dir / "losses.jsonl", done)
        model.train()
        progress = _Progress(stage, steps, done, config.progress)
        try:
            for step in range(done, steps):
                started = time.perf_counter()
                loss, tokens = _train_step(model, rows, config, step, _pad_id(base), device)
                torch.nn.utils.clip_grad_norm_(
                    [p for p in model.parameters() if p.requires_grad], config.max_grad_norm
                )
                current_lr = scheduler.get_last_lr()[0]
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                log = StepLog(stage, step + 1, steps, loss, current_lr, tokens, time.perf_counter() - started)
                with (out_dir / "losses.jsonl").open("a") as file:
                    file.write(json.dumps(log.as_dict()) + "\n")
                if (step + 1) % config.save_steps == 0 or step + 1 == steps:
                    _save_checkpoint(out_dir, model, optimizer, scheduler, step + 1, config.keep_checkpoints)
                progress.advance(loss)
                if on_step is not None:
                    on_step(log)
        finally:
            progress.close()
        model.save_pretrained(str(adapter_dir.with_name("adapter.tmp")), save_embedding_layers=False)
        shutil.rmtree(adapter_dir, ignore_errors=True)
        adapter_dir.with_name("adapter.tmp").rename(adapter_dir)
    return adapter_dir


def _write_init(out_dir: Path, model: Any, init_from: str | Path | None) -> None:
    """Record where the LoRA started: the source adapter and the digest of the weights loaded from it,
    taken from the live model, so a test (or a person) can see that stage 2 continued stage 1."""
    path = out_dir / "init.json"
    if path.exists():
        return
    record = {
        "init_from": str(init_from) if init_from else None,
        "digest": adapter_digest(_trainable_state(model)),
    }
    path.write_text(json.dumps(record, indent=2))


# --- both stages ------------------------------------------------------------------------------------


def stage_dirs(out_dir: str | Path, roles: list[str]) -> dict[str, Path]:
    """Each stage's folder: `stage1` and one per role under stage2/."""
    out_dir = Path(out_dir)
    return {STAGE1: out_dir / STAGE1, **{role: out_dir / "stage2" / role for role in roles}}


def train_stages(
    base_gguf: str | Path,
    stage1_ds: Any,
    role_datasets: dict[str, Any],
    out_dir: str | Path,
    config: TrainConfig | None = None,
    *,
    base_model: Any = None,
    on_step: OnStep | None = None,
) -> dict[str, Path]:
    """GLPFT: a LoRA on `stage1_ds` (the backbone), then one LoRA per role continued from it. Returns
    role -> adapter folder (the stage-1 adapter is `<out_dir>/stage1/adapter`). Loads the base once
    (or uses `base_model`); resumable; writes losses.jsonl and losses.png in `out_dir` as it goes."""
    config = config or TrainConfig()
    out_dir = Path(out_dir)
    dirs = stage_dirs(out_dir, sorted(role_datasets))
    loaded = [base_model]

    def base_for(folder: Path) -> Any:
        """The base, loaded once and only when a stage still has to train."""
        if not _finished(folder) and loaded[0] is None:
            loaded[0] = load_base(base_gguf, config)
        return loaded[0]

    options = {"config": config, "on_step": on_step}
    try:
        stage1 = train_lora(
            base_gguf, stage1_ds, dirs[STAGE1], stage=STAGE1, base_model=base_for(dirs[STAGE1]), **options
        )
        write_losses(out_dir, dirs)
        adapters = {}
        for role in sorted(role_datasets):
            _drop_if_stale(dirs[role], stage1)
            adapters[role] = train_lora(
                base_gguf,
                role_datasets[role],
                dirs[role],
                init_from=stage1,
                stage=role,
                base_model=base_for(dirs[role]),
                **options,
            )
            write_losses(out_dir, dirs)
        return adapters
    finally:  # an interrupted run still leaves its curves
        write_losses(out_dir, dirs)


def _finished(stage_dir: Path) -> bool:
    return (stage_dir / "adapter" / "adapter_model.safetensors").exists()


def _drop_if_stale(stage_dir: Path, stage1: Path) -> None:
    """Remove a stage-2 folder (adapter, checkpoints, losses) begun from other stage-1 weights than
    those in `stage1`, as when stage 1 was trained again: GLPFT's stage 2 must continue this stage 1."""
    init = stage_dir / "init.json"
    if init.exists() and json.loads(init.read_text())["digest"] != saved_adapter_digest(stage1):
        logger.warning("%s began from an earlier stage-1 adapter; training it again", stage_dir)
        shutil.rmtree(stage_dir)


def write_losses(out_dir: Path, dirs: dict[str, Path]) -> Path | None:
    """Gather every stage's losses into `<out_dir>/losses.jsonl` and plot them to losses.png."""
    rows = []
    for folder in dirs.values():
        path = folder / "losses.jsonl"
        if path.exists():
            rows += [json.loads(line) for line in path.read_text().splitlines() if line]
    (out_dir / "losses.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return plot_losses(rows, out_dir / "losses.png") if rows else None


def plot_losses(rows: list[dict[str, Any]], path: Path) -> Path:
    """One line per stage: training loss by optimizer step (matplotlib's Agg canvas, no pyplot state)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4))
    axes = figure.subplots()
    for stage in dict.fromkeys(r["stage"] for r in rows):
        points = sorted((r["step"], r["loss"]) for r in rows if r["stage"] == stage)
        axes.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=3, label=stage)
    axes.set(xlabel="optimizer step", ylabel="training loss", title="LoRA training loss (GLPFT stages)")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return path
