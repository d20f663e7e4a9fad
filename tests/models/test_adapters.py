"""LoRA adapters as GGUF files on the packaged quantized 0.5B: export, shared base, switching, registry.

Adapters are made without training (random A and B in peft's file format, or real peft on a model with
the base's shapes), exported with `export_gguf_lora` and run by llama.cpp on the real base.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from tinycrew.models import DEFAULT_MODEL, ensure_local, load_model
from tinycrew.models.adapters import (
    AdapterExportError,
    base_layout,
    export_gguf_lora,
    get_adapter,
    list_adapters,
    read_adapter_metadata,
    read_safetensors,
    register_adapter,
    split_model_ref,
    write_random_peft_adapter,
    write_safetensors,
)
from tinycrew.models.llama_backend import LlamaCppModel

N_CTX = 2048  # its own loaded base, so the state cache enabled here does not leak into other tests
QUESTION = [{"role": "user", "content": "Name three colors and one animal."}]
PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@pytest.fixture(scope="module")
def adapter_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two different adapters over all seven projections of every block of the 0.5B."""
    root = tmp_path_factory.mktemp("adapters")
    files = {}
    for name, seed in (("one", 1), ("two", 2)):
        peft_dir = write_random_peft_adapter(root / f"peft-{name}", DEFAULT_MODEL, seed=seed)
        files[name] = export_gguf_lora(peft_dir, DEFAULT_MODEL, root / f"{name}.gguf")
    return files


def greedy(model: LlamaCppModel) -> str:
    return model.chat(QUESTION, max_tokens=12, temperature=0.0).content


def test_exported_file_is_what_llama_cpp_expects(adapter_files: dict[str, Path]) -> None:
    meta = read_adapter_metadata(adapter_files["one"])
    assert meta["general.type"] == "adapter" and meta["adapter.type"] == "lora"
    assert meta["general.architecture"] == "qwen2"
    assert meta["adapter.lora.alpha"] == pytest.approx(16.0)
    base = base_layout(DEFAULT_MODEL).tensors
    tensors = meta["tensors"]
    assert len(tensors) == 24 * 7 * 2
    assert set(meta["tensor_types"].values()) == {"F32"}
    for name, shape in tensors.items():
        stem, part = name.rsplit(".", 1)
        assert stem in base and part in ("lora_a", "lora_b"), name
        n_in, n_out = base[stem]
        assert shape == ((n_in, 8) if part == "lora_a" else (8, n_out)), name  # ggml ne order
    assert tensors["blk.0.attn_k.weight.lora_b"] == (8, 128)


def test_adapter_changes_greedy_output_on_the_shared_base(adapter_files: dict[str, Path]) -> None:
    base = LlamaCppModel(DEFAULT_MODEL, n_ctx=N_CTX)
    tuned = LlamaCppModel(DEFAULT_MODEL, n_ctx=N_CTX, adapter=adapter_files["one"])
    assert tuned._loaded is base._loaded, "the base is loaded once for every adapter"
    assert tuned.name == f"{DEFAULT_MODEL}+one"
    assert greedy(tuned) != greedy(base)


def test_two_adapters_and_the_base_alternate_with_their_own_outputs(adapter_files: dict[str, Path]) -> None:
    # no saved prompt states: a restored prefix is read in another batch, and a near tie may flip
    models = {
        "base": LlamaCppModel(DEFAULT_MODEL, n_ctx=N_CTX, state_cache_bytes=0),
        "one": LlamaCppModel(DEFAULT_MODEL, n_ctx=N_CTX, adapter=adapter_files["one"], state_cache_bytes=0),
        "two": LlamaCppModel(DEFAULT_MODEL, n_ctx=N_CTX, adapter=adapter_files["two"], state_cache_bytes=0),
    }
    assert len({id(model._loaded) for model in models.values()}) == 1
    alone = {}
    for key, model in models.items():
        model.reset_cache()
        alone[key] = greedy(model)
    assert len(set(alone.values())) == 3, alone
    # every call follows another adapter's on the same prompt: a KV prefix reused across the switch would
    # change the output (exact equality holds because each switch evaluates the whole prompt again)
    for order in (["base", "one", "two", "one", "base"], ["two", "base", "one", "two"]):
        for key in order:
            assert greedy(models[key]) == alone[key], (order, key)


def test_each_adapter_has_its_own_ram_state_cache(adapter_files: dict[str, Path]) -> None:
    base = LlamaCppModel(DEFAULT_MODEL, n_ctx=1024, state_cache_bytes=32 << 20)
    tuned = LlamaCppModel(DEFAULT_MODEL, n_ctx=1024, adapter=adapter_files["one"])
    loaded = base._loaded
    greedy(base)
    greedy(tuned)
    assert set(loaded.state_caches) >= {None, tuned.adapter_path}
    assert loaded.state_caches[None] is not loaded.state_caches[tuned.adapter_path]
    assert all(len(states.states) >= 1 for states in loaded.state_caches.values())
    again = base.chat(QUESTION, max_tokens=2)  # the switch forgot the context; base's own state is back
    assert again.usage.cached_prompt_tokens >= again.usage.prompt_tokens - 1


def test_switching_forgets_the_kv_prefix_but_staying_reuses_it(adapter_files: dict[str, Path]) -> None:
    base = LlamaCppModel(DEFAULT_MODEL, n_ctx=N_CTX, state_cache_bytes=0)
    tuned = LlamaCppModel(DEFAULT_MODEL, n_ctx=N_CTX, adapter=adapter_files["two"], state_cache_bytes=0)
    base.chat(QUESTION, max_tokens=2)
    again = base.chat(QUESTION, max_tokens=2)
    switched = tuned.chat(QUESTION, max_tokens=2)
    assert again.usage.cached_prompt_tokens > 0
    assert switched.usage.cached_prompt_tokens == 0


def test_lora_path_still_works_through_the_shared_base(adapter_files: dict[str, Path]) -> None:
    old_style = LlamaCppModel(DEFAULT_MODEL, n_ctx=N_CTX, lora_path=str(adapter_files["one"]))
    new_style = LlamaCppModel(DEFAULT_MODEL, n_ctx=N_CTX, adapter=adapter_files["one"])
    assert old_style.name == f"{DEFAULT_MODEL}+one" and old_style._loaded is new_style._loaded
    assert old_style.adapter_path == new_style.adapter_path
    old_style.reset_cache()  # the same adapter twice would reuse the prompt's KV and replay its last token
    first = greedy(old_style)
    new_style.reset_cache()
    assert first == greedy(new_style)


def test_bad_modules_fail_export_with_the_module_name(tmp_path: Path) -> None:
    layout = base_layout(DEFAULT_MODEL)
    n_in, n_out = layout.tensors["blk.0.attn_q.weight"]
    cases = {
        "model.layers.0.self_attn.qq_proj": ((8, n_in), (n_out, 8), "no GGUF tensor name"),
        "model.layers.99.self_attn.q_proj": ((8, n_in), (n_out, 8), "no GGUF tensor name"),
        "model.layers.0.self_attn.q_proj": ((8, n_in + 1), (n_out, 8), "896 x 896"),
    }
    for module, (a_shape, b_shape, message) in cases.items():
        peft_dir = tmp_path / module
        peft_dir.mkdir()
        prefix = f"base_model.model.{module}"
        tensors = {f"{prefix}.lora_A.weight": np.zeros(a_shape), f"{prefix}.lora_B.weight": np.zeros(b_shape)}
        write_safetensors(peft_dir / "adapter_model.safetensors", tensors)
        (peft_dir / "adapter_config.json").write_text(
            json.dumps({"peft_type": "LORA", "r": 8, "lora_alpha": 8})
        )
        with pytest.raises(AdapterExportError, match=message) as error:
            export_gguf_lora(peft_dir, DEFAULT_MODEL, tmp_path / "out.gguf")
        assert module in str(error.value)
    assert not (tmp_path / "out.gguf").exists()
    with pytest.raises(AdapterExportError, match="adapter_config.json is missing"):
        export_gguf_lora(tmp_path / "absent", DEFAULT_MODEL, tmp_path / "out.gguf")


@pytest.fixture
def tmp_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty TINYCREW_HOME whose models/ links the already assembled base (nothing is reassembled)."""
    real = ensure_local(DEFAULT_MODEL)
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    (home / "models" / real.name).symlink_to(real)
    marker = real.with_name(real.name + ".sha256")
    shutil.copy(marker, home / "models" / marker.name)
    monkeypatch.setenv("TINYCREW_HOME", str(home))
    return home


def test_registered_adapter_loads_as_base_plus_name(tmp_home: Path, adapter_files: dict[str, Path]) -> None:
    card = {"data": {"samples": 12}, "hyperparameters": {"r": 8}, "scores": {"bfcl": 0.5}}
    info = register_adapter(adapter_files["one"], "caller-v3", DEFAULT_MODEL, card)
    assert info.path == tmp_home / "models" / "adapters" / "caller-v3" / "adapter.gguf"
    assert json.loads((info.path.parent / "card.json").read_text())["scores"] == {"bfcl": 0.5}
    assert [a.name for a in list_adapters()] == ["caller-v3"] and get_adapter(
        "caller-v3"
    ).base == DEFAULT_MODEL
    with pytest.raises(FileExistsError):
        register_adapter(adapter_files["two"], "caller-v3", DEFAULT_MODEL, {})
    with pytest.raises(ValueError, match="adapter name"):
        register_adapter(adapter_files["two"], "bad+name", DEFAULT_MODEL, {})

    assert split_model_ref(f"{DEFAULT_MODEL}+caller-v3") == (DEFAULT_MODEL, "caller-v3")
    model = load_model(f"{DEFAULT_MODEL}+caller-v3", n_ctx=N_CTX)
    by_path = load_model(f"{DEFAULT_MODEL}+{adapter_files['one']}", n_ctx=N_CTX)
    assert model.name == f"{DEFAULT_MODEL}+caller-v3" and by_path.name == f"{DEFAULT_MODEL}+one"
    assert greedy(model) == greedy(by_path)
    with pytest.raises(KeyError, match="caller-v3"):
        load_model(f"{DEFAULT_MODEL}+caller-v4", n_ctx=N_CTX)


def test_registered_adapter_serves_an_agent_role(tmp_home: Path, adapter_files: dict[str, Path]) -> None:
    """The planner's steps run with its adapter, the other roles' on the plain base, in one graph run."""
    from tinycrew.graphs import Agent
    from tinycrew.tools.builtin import builtin_tools

    register_adapter(adapter_files["two"], "planner-v3", DEFAULT_MODEL, {})
    models = {"planner": f"{DEFAULT_MODEL}+planner-v3", "default": DEFAULT_MODEL}
    agent = Agent(builtin_tools(), models=models, checkpointer="memory", record=False, min_similarity=None)
    assert agent.models["planner"]._loaded is agent.models["default"]._loaded
    result = agent.run("What is 17 times 23?")
    assert set(result.usage) == {DEFAULT_MODEL, f"{DEFAULT_MODEL}+planner-v3"}, result.usage


def tiny_peft_dir(out: Path, **lora: object) -> Path:
    """Real peft on a 2-block model with the 0.5B's shapes: peft's own key format and config file."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(
        hidden_size=896, intermediate_size=4864, num_attention_heads=14, num_key_value_heads=2,
        num_hidden_layers=2, vocab_size=64,
    )  # fmt: skip
    settings = {"r": 8, "lora_alpha": 16, "target_modules": list(PROJECTIONS), "init_lora_weights": False}
    peft_model = get_peft_model(Qwen2ForCausalLM(config), LoraConfig(**{**settings, **lora}))
    peft_model.save_pretrained(out)
    return out


def test_real_peft_adapter_exports_loads_and_changes_output(tmp_path: Path) -> None:
    peft_dir = tiny_peft_dir(tmp_path / "peft")
    assert "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight" in read_safetensors(
        peft_dir / "adapter_model.safetensors"
    )
    out = export_gguf_lora(peft_dir, DEFAULT_MODEL, tmp_path / "real.gguf", dtype="f16")
    meta = read_adapter_metadata(out)
    assert len(meta["tensors"]) == 2 * 7 * 2 and set(meta["tensor_types"].values()) == {"F16"}
    base = LlamaCppModel(DEFAULT_MODEL, n_ctx=N_CTX)
    tuned = LlamaCppModel(DEFAULT_MODEL, n_ctx=N_CTX, adapter=out)
    assert greedy(tuned) != greedy(base)


def test_rslora_and_alpha_pattern_are_folded_into_lora_b(tmp_path: Path) -> None:
    """llama.cpp scales by alpha / r; peft's other scalings must come out the same product."""
    peft_dir = tiny_peft_dir(tmp_path / "peft", use_rslora=True, alpha_pattern={"down_proj": 4})
    weights = read_safetensors(peft_dir / "adapter_model.safetensors")
    meta = read_adapter_metadata(export_gguf_lora(peft_dir, DEFAULT_MODEL, tmp_path / "rs.gguf"))
    from gguf import GGUFReader

    stored = {t.name: np.array(t.data) for t in GGUFReader(str(tmp_path / "rs.gguf")).tensors}
    alpha = meta["adapter.lora.alpha"]
    for module, gguf_name, peft_alpha in (
        ("self_attn.q_proj", "attn_q", 16),
        ("mlp.down_proj", "ffn_down", 4),
    ):
        prefix = f"base_model.model.model.layers.1.{module}"
        expected = (
            weights[f"{prefix}.lora_B.weight"]
            @ weights[f"{prefix}.lora_A.weight"]
            * peft_alpha
            / math.sqrt(8)
        )
        a, b = stored[f"blk.1.{gguf_name}.weight.lora_a"], stored[f"blk.1.{gguf_name}.weight.lora_b"]
        np.testing.assert_allclose(b @ a * alpha / 8, expected, rtol=1e-4, atol=1e-6)


def llama_logits(model: LlamaCppModel, tokens: list[int]) -> np.ndarray:
    """Next-token logits after `tokens`, computed under the model's own adapter."""
    import llama_cpp

    with model._loaded.lock:
        model._loaded.activate(model.adapter_path)
        model.llama.reset()
        model.llama.eval(tokens)
        pointer = llama_cpp.llama_get_logits_ith(model.llama.ctx, -1)
        return np.ctypeslib.as_array(pointer, shape=(model.llama.n_vocab(),)).copy()


@pytest.mark.slow
def test_llama_cpp_applies_the_same_delta_as_peft_on_the_dequantized_base(tmp_path: Path) -> None:
    """Proves names, orientation and scale end to end: peft on transformers' load of the very GGUF."""
    import torch
    from peft import LoraConfig, get_peft_model

    from tinycrew.models import TransformersChatModel

    hf = TransformersChatModel.from_gguf(DEFAULT_MODEL)
    config = LoraConfig(r=8, lora_alpha=16, target_modules=list(PROJECTIONS), init_lora_weights=False)
    peft_model = get_peft_model(hf.model, config)
    with torch.no_grad():
        for name, parameter in peft_model.named_parameters():
            if "lora_B" in name:
                parameter.mul_(0.05)  # moves the logits well past llama.cpp's rounding noise, still a nudge
    base = LlamaCppModel(DEFAULT_MODEL, n_ctx=N_CTX)
    tokens = base.render(QUESTION)
    with torch.no_grad():
        ids = torch.tensor([tokens])
        with peft_model.disable_adapter():
            hf_base = peft_model(input_ids=ids).logits[0, -1].float().numpy()
        hf_tuned = peft_model(input_ids=ids).logits[0, -1].float().numpy()
    peft_model.save_pretrained(tmp_path / "peft")
    out = export_gguf_lora(tmp_path / "peft", DEFAULT_MODEL, tmp_path / "hf.gguf")
    tuned = LlamaCppModel(DEFAULT_MODEL, n_ctx=N_CTX, adapter=out)
    cpp_base = llama_logits(base, tokens)
    hf_delta, cpp_delta = hf_tuned - hf_base, llama_logits(tuned, tokens) - cpp_base
    # llama.cpp quantizes activations, so any perturbation moves its logits by about the HF-vs-llama.cpp
    # gap of the plain base: the adapter's own effect must stand well above that to be compared
    noise = float(np.linalg.norm(hf_base - cpp_base))
    assert np.linalg.norm(hf_delta) > 3 * noise, (np.linalg.norm(hf_delta), noise)
    cosine = float(hf_delta @ cpp_delta / np.linalg.norm(hf_delta) / np.linalg.norm(cpp_delta))
    ratio = float(np.linalg.norm(cpp_delta) / np.linalg.norm(hf_delta))
    print(f"logit change, llama.cpp vs peft: cosine {cosine:.3f}, norm ratio {ratio:.3f}, noise {noise:.1f}")
    assert cosine > 0.9 and 0.8 < ratio < 1.25, (cosine, ratio)
