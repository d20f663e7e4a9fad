"""Role bindings as the evaluation runners take them: one model, or a model per role."""

from __future__ import annotations

from tinycrew.models import DEFAULT_MODEL, OpenAIChatModel
from tinycrew.models.bindings import bindings_name, default_of, load_bindings


def test_one_model_is_its_own_default_and_name() -> None:
    remote = OpenAIChatModel("teacher", base_url="http://127.0.0.1:9/v1")
    assert load_bindings(remote) is remote
    assert default_of(remote) is remote and bindings_name(remote) == "teacher"


def test_a_mapping_gets_a_default_and_a_name_per_role() -> None:
    caller = OpenAIChatModel("caller-model", base_url="http://127.0.0.1:9/v1")
    bound = load_bindings({"caller": caller, "joiner": caller})
    assert isinstance(bound, dict) and bound["caller"] is caller
    assert default_of(bound).name == DEFAULT_MODEL
    assert bindings_name(bound) == f"default={DEFAULT_MODEL}, caller=caller-model, joiner=caller-model"
    assert bindings_name({"default": caller, "caller": caller}) == "caller-model"
