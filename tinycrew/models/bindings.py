"""Role bindings: one model for every role, or a model per role (say a base with a LoRA adapter per role).

The evaluation runners take either, so a trained set of role adapters is scored the way the agent runs
it: `run_bfcl({"default": base, "caller": "<base>+caller-v1"}, ...)`.
"""

from __future__ import annotations

from collections.abc import Mapping

from tinycrew.models.protocol import ChatModel
from tinycrew.models.spec import ModelSpec

ModelRef = ChatModel | ModelSpec | str | None
Bound = ChatModel | dict[str, ChatModel]


def load_bindings(models: ModelRef | Mapping[str, ModelRef]) -> Bound:
    """A chat model, or for a mapping a role -> chat model dict that always has a "default"."""
    from tinycrew.models import load_model

    if not isinstance(models, Mapping):
        return load_model(models)
    bound = {role: load_model(ref) for role, ref in models.items()}
    bound.setdefault("default", load_model(None))
    return bound


def default_of(bound: Bound) -> ChatModel:
    """The model of the roles no binding names (the only one when there is one)."""
    return bound["default"] if isinstance(bound, dict) else bound


def bindings_name(bound: Bound) -> str:
    """A label for reports: the model's name, or `default=<name>, caller=<name>, ...`."""
    if not isinstance(bound, dict):
        return getattr(bound, "name", type(bound).__name__)
    names = {role: getattr(model, "name", type(model).__name__) for role, model in bound.items()}
    if len(set(names.values())) == 1:
        return names["default"]
    others = sorted(role for role in names if role != "default")
    return ", ".join(f"{role}={names[role]}" for role in ["default", *others])
