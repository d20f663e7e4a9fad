"""Local/cloud switching: step-level escalation, the privacy guard, cost accounting (issue 23).

`Agent(tools, cloud=CloudConfig(...), escalation=EscalationPolicy(...))`: after each local role step
the policy may have the cloud model redo it (see `tinycrew.switching.escalating`); every decision is on
`RunResult.escalations` and in the trajectory store. Query-level routing and cascades will live here too.
"""

from tinycrew.switching.cloud import CloudConfig, cloud_model, cost_usd
from tinycrew.switching.escalating import EscalatingModel, Escalation
from tinycrew.switching.ledger import LEDGER_KEY, RunLedger, current_ledger, observe_calls
from tinycrew.switching.policy import EscalationDecision, EscalationPolicy, Signals
from tinycrew.switching.privacy import WITHHELD, guard_messages

__all__ = [
    "LEDGER_KEY",
    "WITHHELD",
    "CloudConfig",
    "EscalatingModel",
    "Escalation",
    "EscalationDecision",
    "EscalationPolicy",
    "RunLedger",
    "Signals",
    "cloud_model",
    "cost_usd",
    "current_ledger",
    "guard_messages",
    "observe_calls",
]
