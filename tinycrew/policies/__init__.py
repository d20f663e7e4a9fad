"""Call policies: the one place where a planned call may be checked or changed between the model and the
tool. By default only lossless ones run; every change is recorded on the call (docs/policies.md)."""

from tinycrew.policies.base import (
    ACCEPT,
    Accept,
    CallContext,
    CallPolicy,
    Checked,
    Decision,
    PolicyPipeline,
    Replace,
    SendBack,
    describe,
    refusal,
)
from tinycrew.policies.defaults import LoopProtection, SchemaCoercion
from tinycrew.policies.repairs import (
    CompleteUSPlaces,
    ConvertUnits,
    DropUnfoundedOptions,
    FillStatedOptions,
    OverusedNumbers,
    PercentAsFraction,
    default_policies,
    repair_policies,
)

POLICY_SETS = ("default", "repairs")
"""The named policy sets the BFCL harness can run: the lossless defaults, or every opt-in repair."""


def policy_set(name: str, graph: str = "umi") -> list[CallPolicy]:
    """The policies of a named set (see `POLICY_SETS`) for a graph."""
    if name == "default":
        return default_policies()
    if name == "repairs":
        return repair_policies(graph)
    raise ValueError(f"unknown policy set {name!r}; expected one of {POLICY_SETS}")


__all__ = [
    "ACCEPT",
    "POLICY_SETS",
    "Accept",
    "CallContext",
    "CallPolicy",
    "Checked",
    "CompleteUSPlaces",
    "ConvertUnits",
    "Decision",
    "DropUnfoundedOptions",
    "FillStatedOptions",
    "LoopProtection",
    "OverusedNumbers",
    "PercentAsFraction",
    "PolicyPipeline",
    "Replace",
    "SchemaCoercion",
    "SendBack",
    "default_policies",
    "describe",
    "policy_set",
    "refusal",
    "repair_policies",
]
