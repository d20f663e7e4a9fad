"""What a chat backend can do, so that each role asks for the strongest constraint it supports.

Roles fall back in one defined order: a GBNF grammar, then a JSON-schema constraint
(`response_format`), then native `tools` with `tool_choice`, then free text read leniently with one
validation retry. A configuration that truly needs a capability (say `Agent(constrained=True)`, which
promises outputs that always parse) is refused when the `Agent` is built, naming role, model and
capability.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Capabilities(BaseModel):
    """The features a backend declares; a model without a declaration is read as having none of them."""

    model_config = ConfigDict(frozen=True)

    grammar: bool = False
    """`grammar=` (GBNF) constrains the output."""
    json_schema: bool = False
    """`json_schema=` constrains the output to the schema."""
    tools: bool = False
    """`tools=` with `tool_choice` ("required" or a name) returns parsed tool calls."""
    constrained_tools: bool = False
    """Those tool calls are decoded under the tools' schemas, so they always parse and validate."""
    logprobs: bool = False
    """`logprobs=True` returns the log-probability of each generated token."""
    adapters: bool = False
    """LoRA adapters can be applied to a shared base."""
    streaming: bool = True
    """`stream`/`astream` deliver text as it is generated."""

    def names(self) -> list[str]:
        """The capabilities that are on, e.g. ['grammar', 'logprobs']."""
        return [name for name, on in self.model_dump().items() if on]


NONE = Capabilities(streaming=False)


def capabilities_of(model: Any) -> Capabilities:
    """The model's declared `capabilities`, or none for a model that declares nothing."""
    declared = getattr(model, "capabilities", None)
    return declared if isinstance(declared, Capabilities) else NONE


class MissingCapabilityError(ValueError):
    """A configuration needs a capability that the model bound to a role does not have."""

    def __init__(self, role: str, model: str, capability: str, why: str) -> None:
        super().__init__(
            f"the {role} role's model {model!r} cannot do {capability}, which {why}; "
            "bind that role to a model that can (e.g. the llama.cpp backend) or drop the option"
        )
        self.role, self.model, self.capability = role, model, capability
