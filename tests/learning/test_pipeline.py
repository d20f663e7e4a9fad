"""`tinycrew train` end to end at toy scale: the packaged 0.5B as teacher on two BFCL train entries
(and as the student on the one it misses, `--fill-with-student`), verified runs -> datasets -> stage 1
and the crew planner's and gate's stage 2 (one step each) -> GGUF adapters registered on the quantized base ->
the gate's model chosen on the next train entry of each category (`--gate-check 1`) -> the eval split
before and after. Nothing is downloaded.

The adapters are registered in a temporary registry (`adapters_dir` patched), never the user's.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tinycrew.cli import app
from tinycrew.learning.pipeline import GATE_CANDIDATES, role_bindings
from tinycrew.learning.teacher import checker_verdict
from tinycrew.models import DEFAULT_MODEL, ensure_local, load_model
from tinycrew.models import adapters as adapter_registry
from tinycrew.trajectories import TrajectoryStore

pytestmark = pytest.mark.slow
QUESTION = [{"role": "user", "content": "Which tool would you use to add two numbers? Answer in one word."}]
TOY = [
    "train", "--fill-with-student", "--tasks", "bfcl", "--category", "simple_python",
    "--category", "irrelevance", "--limit", "1", "--eval-limit", "1", "--max-steps", "1",
    "--lora-r", "4", "--max-length", "320", "--learning-rate", "5e-3", "--name", "toy",
    "--role", "crew_planner", "--role", "gate", "--gate-check", "1",
]  # fmt: skip


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "registry"
    monkeypatch.setattr(adapter_registry, "adapters_dir", lambda: folder)
    return folder


@pytest.fixture
def teacher(tmp_path: Path) -> Path:
    """The packaged 0.5B under another name (a hard link, nothing copied where the disk allows), so that
    the student (the same weights as the base) runs the tasks this teacher did not solve."""
    path = tmp_path / "toy-teacher.gguf"
    try:
        os.link(ensure_local(DEFAULT_MODEL), path)
    except OSError:
        shutil.copyfile(ensure_local(DEFAULT_MODEL), path)
    return path


def stored_runs(out: Path) -> list[object]:
    with TrajectoryStore.open(out / "trajectories.sqlite") as store:
        return store.list_runs()


def first_token_logprobs(model_ref: str) -> tuple[str, list[float]]:
    model = load_model(model_ref, state_cache_bytes=0)  # compared exactly: no restored prefix
    result = model.chat(QUESTION, max_tokens=8, temperature=0.0, logprobs=True)
    return result.content, [item.logprob for item in result.logprobs or []]


def verdicts_by_model(out: Path) -> dict[str, dict[str, bool]]:
    """model name -> {task text: checker verdict} over the runs in `out`'s store."""
    found: dict[str, dict[str, bool]] = {}
    with TrajectoryStore.open(out / "trajectories.sqlite") as store:
        for summary in store.list_runs():
            run = store.get_run(summary.run_id)
            verdict = checker_verdict(run)
            if verdict is not None:
                found.setdefault(run.models["default"], {})[run.task] = verdict[0]
    return found


def test_train_runs_every_stage_and_its_adapters_change_the_served_model(
    tmp_path: Path, registry: Path, teacher: Path
) -> None:
    out = tmp_path / "run"
    toy = [*TOY, "--teacher", str(teacher), "--out", str(out)]
    result = CliRunner().invoke(app, toy, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["verified_runs"] >= 1, result.output
    verdicts = verdicts_by_model(out)
    taught = verdicts.pop("toy-teacher")
    assert len(taught) == 2  # --limit 1 of two categories
    missed = {task for task, ok in taught.items() if not ok}
    assert missed, "the 0.5B used to miss irrelevance_0: the student part of this test ran nothing"
    assert set(verdicts.get(DEFAULT_MODEL, {})) == missed, "the student runs exactly the tasks missed"
    adapters = report["adapters"]
    assert set(adapters) == {"backbone", "crew_planner", "gate"}, adapters  # stage 2 for the --role asked
    assert report["bindings"]["default"] == f"{DEFAULT_MODEL}+toy-backbone"
    assert report["bindings"]["planner"] == f"{DEFAULT_MODEL}+toy-crew_planner"  # the crew's planner
    gate = report["gate"]
    assert gate["cases"] == 2 and set(gate["scores"]) == set(GATE_CANDIDATES)  # each category's 2nd entry
    assert report["bindings"]["gate"] == role_bindings(DEFAULT_MODEL, adapters, gate["chosen"])["gate"]
    assert f"gate: {gate['chosen']} serves the gate" in result.output
    gate_card = json.loads((registry / adapters["gate"] / "card.json").read_text())
    assert gate_card["gate_check"]["chosen"] == gate["chosen"]
    [bfcl] = report["evals"]
    assert bfcl["task_set"] == "bfcl" and bfcl["n"] == 2
    assert "held-out split" in result.output and "bfcl" in result.output
    assert (out / "training" / "losses.png").stat().st_size > 0

    for role, name in adapters.items():
        card = json.loads((registry / name / "card.json").read_text())
        assert card["base"] == DEFAULT_MODEL and card["role"] == role
        assert card["hyperparameters"]["r"] == 4 and card["trained_on"]["runs"] == report["verified_runs"]
        assert card["scores"]["bfcl"]["n"] == 2

    base_text, base_logprobs = first_token_logprobs(DEFAULT_MODEL)
    for name in (adapters["crew_planner"], adapters["backbone"]):
        text, logprobs = first_token_logprobs(f"{DEFAULT_MODEL}+{name}")
        changed = text != base_text or any(
            abs(a - b) > 1e-3 for a, b in zip(logprobs, base_logprobs, strict=False)
        )
        assert changed, f"{name} left the output as it was: {text!r}"
    assert first_token_logprobs(DEFAULT_MODEL) == (base_text, base_logprobs)  # the base is untouched

    runs = len(stored_runs(out))
    again = CliRunner().invoke(app, toy, env={"COLUMNS": "200"})
    assert again.exit_code == 0, again.output  # resumed: no teacher run, no training step again
    assert len(stored_runs(out)) == runs
    assert "chosen before" in again.output  # the gate check is read back too
    assert json.loads((out / "report.json").read_text())["evals"] == report["evals"]


def test_an_unknown_task_set_or_target_set_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["train", "--out", str(tmp_path), "--tasks", "imagenet"])
    assert result.exit_code == 2 and "unknown task set imagenet" in result.output
    result = CliRunner().invoke(app, ["train", "--out", str(tmp_path), "--targets", "mlp"])
    assert result.exit_code == 2 and "--targets 'mlp' is not all or attention" in result.output
