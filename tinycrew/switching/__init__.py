"""Local/cloud switching: step-level escalation, the privacy guard, cost accounting (issue 23).

`Agent(tools, cloud=CloudConfig(...), escalation=EscalationPolicy(...))`: after each local role step
the policy may have the cloud model redo it (see `tinycrew.switching.escalating`); every decision is on
`RunResult.escalations` and in the trajectory store. Query-level routing (`QueryRouter`, fitted by
`tinycrew router fit`) sends a whole request to the cloud before it runs; a cascade re-runs on the
cloud a local run that fails a check (`Agent(..., router=..., cascade=True)`), or one with a step the
policy would escalate (`cascade=EscalationPolicy(...)`: escalation for the whole run).
"""

from tinycrew.switching.cascade import (
    AgreementCheck,
    Check,
    UnsureCheck,
    calibrate_cascade,
    call_set,
    failed_check,
    unsure_step,
)
from tinycrew.switching.cloud import CloudConfig, cloud_model, cost_usd
from tinycrew.switching.escalating import EscalatingModel, Escalation
from tinycrew.switching.ledger import LEDGER_KEY, RunLedger, current_ledger, observe_calls
from tinycrew.switching.policy import EscalationDecision, EscalationPolicy, Signals
from tinycrew.switching.privacy import WITHHELD, guard_messages
from tinycrew.switching.router import (
    FixedRoute,
    QueryRouter,
    RouteDecision,
    RoutingExample,
    examples_from_store,
)

__all__ = [
    "AgreementCheck",
    "LEDGER_KEY",
    "WITHHELD",
    "Check",
    "CloudConfig",
    "EscalatingModel",
    "Escalation",
    "EscalationDecision",
    "EscalationPolicy",
    "FixedRoute",
    "QueryRouter",
    "RouteDecision",
    "RoutingExample",
    "RunLedger",
    "Signals",
    "UnsureCheck",
    "calibrate_cascade",
    "call_set",
    "cloud_model",
    "cost_usd",
    "current_ledger",
    "examples_from_store",
    "failed_check",
    "guard_messages",
    "observe_calls",
    "unsure_step",
]
