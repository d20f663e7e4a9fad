from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tinycrew.cli import app
from tinycrew.models import (
    DEFAULT_MODEL,
    PACKAGED_MODELS,
    ModelNotAvailableError,
    ModelSpec,
    ModelState,
    ensure_local,
    get_spec,
    model_state,
)
from tinycrew.models.registry import local_path, sha256_file


def test_three_packaged_models_with_sha256() -> None:
    assert len(PACKAGED_MODELS) == 3
    assert all(spec.sha256 and len(spec.sha256) == 64 for spec in PACKAGED_MODELS.values())
    assert get_spec(None).name == DEFAULT_MODEL


def test_default_model_assembles_and_verifies() -> None:
    path = ensure_local(DEFAULT_MODEL)
    assert path.stat().st_size == 491_400_064
    assert model_state(get_spec(DEFAULT_MODEL)) is ModelState.READY
    with path.open("rb") as handle:
        assert handle.read(4) == b"GGUF"


def test_corrupt_file_is_reassembled(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINYCREW_HOME", str(tmp_path))
    spec = get_spec("gemma-3-270m-q4_k_m")
    target = local_path(spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"not a model")
    path = ensure_local(spec)
    assert sha256_file(path) == spec.sha256
    assert not list(path.parent.glob("*.part")), "no temporary file is left behind"


def test_unknown_name_and_missing_path_give_clear_errors(tmp_path) -> None:
    with pytest.raises(KeyError, match="unknown model"):
        get_spec("no-such-model")
    with pytest.raises(ModelNotAvailableError, match="does not exist"):
        ensure_local(ModelSpec.from_path(tmp_path / "absent.gguf"))


def test_hub_offline_fails_with_a_clear_message(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINYCREW_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    spec = ModelSpec.from_hub("Qwen/Qwen2.5-0.5B-Instruct-GGUF", "qwen2.5-0.5b-instruct-q4_k_m.gguf")
    with pytest.raises(ModelNotAvailableError, match="cannot download .* Hugging Face hub"):
        ensure_local(spec)


def test_cli_list_and_pull() -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["models", "list"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    for name in PACKAGED_MODELS:
        assert name in listed.output
    assert "491 MB" in listed.output
    pulled = runner.invoke(app, ["models", "pull", DEFAULT_MODEL], env={"COLUMNS": "200"})
    assert pulled.exit_code == 0, pulled.output
    assert "sha256 verified" in pulled.output
    missing = runner.invoke(app, ["models", "pull", "nope"])
    assert missing.exit_code == 2 and "unknown model" in missing.output


def test_cli_info_reads_gguf_metadata() -> None:
    result = CliRunner().invoke(app, ["models", "info", DEFAULT_MODEL], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Qwen2.5 Coder 0.5B Instruct" in result.output
