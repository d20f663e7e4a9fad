"""What one run knows about its switching: cloud spend, signals waiting for the next step, private texts.

`Agent` puts a fresh `RunLedger` in each run's LangGraph config (`configurable["tinycrew_escalation"]`);
the escalating models and the graphs' shared tool hooks find it there (`current_ledger`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tinycrew.switching.policy import EscalationDecision

LEDGER_KEY = "tinycrew_escalation"

TOOL_ERRORS = {"exception", "timeout"}
VALIDATION_ERRORS = {"arguments", "unknown_tool", "refused", "unfounded"}
REPEATS = {"repeated", "duplicate"}


def call_key(name: str, arguments: Mapping[str, Any]) -> str:
    """A call as one comparable string."""
    return f"{name}({json.dumps(arguments, sort_keys=True, default=str)})"


def is_local_only(registry: Any, name: str) -> bool:
    """Whether the registry's tool `name` is marked `@tool(local_only=True)`."""
    if registry is None or name not in registry:
        return False
    return bool(getattr(registry.get(name), "local_only", False))


@dataclass
class RunLedger:
    """One run's switching state (a turn of a thread; a resumed run starts one seeded from its state)."""

    decisions: list[EscalationDecision] = field(default_factory=list)
    cloud_calls: int = 0
    cloud_tokens: int = 0
    cloud_usd: float = 0.0
    pending: dict[str, str] = field(default_factory=dict)
    """Signals from the calls of the last step (tool_error, validation, repeat), for the next step."""
    ran: set[str] = field(default_factory=set)
    """The calls that ran and succeeded (`call_key`)."""
    private: list[str] = field(default_factory=list)
    """Results of local-only tools, which the cloud never sees."""
    cloud_down_until: float = 0.0
    cloud_down: str | None = None
    route: str = "local"
    """"cloud" when the router (or a cascade) sent the whole run to the cloud: every step goes straight
    to the cloud model, within the budgets, and a step the cloud cannot take runs locally."""

    def observe(self, calls: Iterable[Any], registry: Any = None) -> None:
        """Note the outcome of calls (`CallRecord`s): failures and repeats become signals for the next
        step, results of local-only tools become private."""
        calls = list(calls)
        self.observe_private(calls, registry)
        for call in calls:
            kind = getattr(call, "error_kind", None)
            observation = getattr(call, "observation", "") or ""
            if getattr(call, "ok", True) and kind is None:
                self.ran.add(call_key(call.name, call.arguments))
                continue
            what = f"{call.name}: {observation}"[:160]
            if kind in TOOL_ERRORS:
                self.pending.setdefault("tool_error", what)
            elif kind in VALIDATION_ERRORS:
                self.pending.setdefault("validation", what)
            elif kind in REPEATS:
                self.pending.setdefault("repeat", what)

    def observe_private(self, calls: Iterable[Any], registry: Any) -> None:
        """Keep the results of local-only tools among `calls` private."""
        for call in calls:
            text = getattr(call, "observation", "") or ""
            if text and is_local_only(registry, call.name) and text not in self.private:
                self.private.append(text)

    def seed(self, values: Mapping[str, Any], registry: Any, cloud_name: str, spent: bool = True) -> None:
        """Start from a checkpointed state (a resumed run, a later turn): its calls so far and the earlier
        turns' calls (so their local-only results stay private), and with `spent` (a resumed run, whose
        usage is its own) the cloud spend its usage holds."""
        calls = list(values.get("calls") or [])
        for turn in values.get("history") or []:
            calls += list(turn.get("calls") or [])
        self.observe_private(calls, registry)
        if not spent:
            return
        usage = (values.get("usage") or {}).get(cloud_name) or {}
        self.cloud_calls = int(usage.get("calls", 0))
        self.cloud_tokens = int(usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0))
        self.cloud_usd = float(usage.get("cost_usd", 0.0))


def current_ledger() -> RunLedger | None:
    """The ledger of the run whose graph node is running now, or None (outside a run of an Agent with a
    cloud model)."""
    try:
        from langgraph.config import get_config

        config = get_config()
    except (RuntimeError, ImportError):
        return None
    ledger = (config.get("configurable") or {}).get(LEDGER_KEY)
    return ledger if isinstance(ledger, RunLedger) else None


def observe_calls(calls: Iterable[Any], registry: Any = None) -> None:
    """The graphs' tool hooks call this with every call that came back or was sent back; a no-op unless
    the run has a cloud model."""
    ledger = current_ledger()
    if ledger is not None:
        ledger.observe(calls, registry)
