"""The escalating model: a role's local model whose steps the cloud model redoes when the policy says so.

`GraphContext.model(role)` hands it out for every role of every graph when the agent has a cloud
model, so no graph has code of its own for switching. After each local step it gathers the signals
(`Signals`): the step's own (its token logprobs, an output that breaks its constraint, a call that
repeats one that ran) and those the run's previous step left (a failed, invalid or refused call, a
role output that could not be read). When the policy fires, within the run's budgets, the same
request goes to the cloud model through the privacy guard; the cloud's result replaces the local one
and the next step is local again. A cloud that fails (down, slow, 429/5xx after tenacity's retries)
leaves the step with its local result and the reason recorded.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from tinycrew.models import ChatModel, ChatResult, StreamChunk, Usage
from tinycrew.models.capabilities import capabilities_of
from tinycrew.models.types import Message, Timings
from tinycrew.switching.cloud import cost_usd
from tinycrew.switching.ledger import RunLedger, call_key, current_ledger
from tinycrew.switching.policy import EscalationDecision, EscalationPolicy, Signals
from tinycrew.switching.privacy import guard_messages
from tinycrew.trajectories.redact import redact_pii


class Escalation:
    """An agent's switching set-up: the cloud model, the policy, and the escalating model per role."""

    def __init__(
        self, cloud: ChatModel, policy: EscalationPolicy | None = None, *, logprobs: bool = False
    ) -> None:
        self.cloud = cloud
        self.policy = policy or EscalationPolicy()
        self.logprobs = logprobs
        """Ask the local models for logprobs even when the policy has no confidence threshold (a
        cascade check reads them)."""
        self.unscoped = RunLedger()
        """The ledger of steps run outside an Agent run (a subgraph, `agent.graph.invoke`)."""
        self._wrapped: dict[tuple[str, int], EscalatingModel] = {}

    def wrap(self, role: str, local: ChatModel) -> EscalatingModel:
        """The escalating model for `role` over its local model (one per role and model)."""
        key = (role, id(local))
        if key not in self._wrapped:
            self._wrapped[key] = EscalatingModel(local, self, role)
        return self._wrapped[key]

    def ledger(self) -> RunLedger:
        return current_ledger() or self.unscoped


def _usage(result: ChatResult | None) -> dict[str, float]:
    if result is None:
        return {"prompt_tokens": 0, "completion_tokens": 0, "seconds": 0.0}
    return {
        "prompt_tokens": result.usage.prompt_tokens,
        "completion_tokens": result.usage.completion_tokens,
        "seconds": result.timings.total_s,
    }


def _constraint(result: ChatResult, options: dict[str, Any]) -> str | None:
    """Why an output breaks the constraint it was asked for (a truncated or unparsable JSON, a missing
    or unreadable call), or None. Grammars are not re-checked: the backend decoded under them."""
    choice = options.get("tool_choice", "auto")
    if options.get("tools") and choice not in ("auto", "none"):
        if not result.tool_calls:
            return "no tool call where one was required"
        if any("__raw__" in call.arguments for call in result.tool_calls):
            return "tool call arguments are not JSON"
    if options.get("json_schema") is not None and options.get("grammar") is None:
        try:
            json.loads(result.content, strict=False)
        except json.JSONDecodeError as error:
            return f"output is not the JSON asked for ({error.msg})"
    return None


class EscalatingModel:
    """A ChatModel that is the role's local model, escalating steps to the cloud (see module doc).

    It reports the local model's name and capabilities, so prompts and constraints are exactly those of
    the local model; other attributes are the local model's.
    """

    def __init__(self, local: ChatModel, escalation: Escalation, role: str) -> None:
        self.local = local
        self.escalation = escalation
        self.role = role
        self.name = local.name
        self.capabilities = capabilities_of(local)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.local, name)

    @property
    def policy(self) -> EscalationPolicy:
        return self.escalation.policy

    def report_failure(self, signal: str, detail: str) -> None:
        """A role could not use this model's last output (its reader failed): the next step, the role's
        retry, has the signal (`constraint`)."""
        self.escalation.ledger().pending.setdefault(signal, detail[:160])

    def _local_options(self, options: dict[str, Any]) -> dict[str, Any]:
        thresholds = (self.policy.min_logprob, self.policy.mean_logprob)
        confidence = self.escalation.logprobs or any(value is not None for value in thresholds)
        if confidence and self.capabilities.logprobs:
            return {**options, "logprobs": True}
        return options

    # -- the protocol -------------------------------------------------------------------------------

    async def achat(
        self, messages: list[Message], tools: list[dict[str, Any]] | None = None, **options: Any
    ) -> ChatResult:
        """The local step, then (when the policy fires) the cloud's redo of it."""
        if tools is not None:
            options["tools"] = tools
        routed = await self._routed(messages, options)
        if routed is not None:
            return routed
        started = time.perf_counter()
        try:
            local = await self.local.achat(messages, **self._local_options(options))
        except Exception as error:  # an output the backend could not even parse: a constraint failure
            return await self._after(messages, options, None, error, started)
        return await self._after(messages, options, local, None, started)

    async def astream(
        self, messages: list[Message], tools: list[dict[str, Any]] | None = None, **options: Any
    ) -> AsyncIterator[StreamChunk]:
        """Local tokens as they come; a step the cloud redoes then streams the cloud's text as one chunk."""
        if tools is not None:
            options["tools"] = tools
        routed = await self._routed(messages, options)
        if routed is not None:
            if routed.content:
                yield StreamChunk(delta=routed.content)
            yield StreamChunk(result=routed)
            return
        started = time.perf_counter()
        local: ChatResult | None = None
        failure: Exception | None = None
        try:
            async for chunk in self.local.astream(messages, **self._local_options(options)):
                if chunk.delta:
                    yield StreamChunk(delta=chunk.delta)
                local = chunk.result or local
        except Exception as error:
            failure = error
        result = await self._after(messages, options, local, failure, started)
        if result.escalation and result.escalation.get("escalated") and result.content:
            yield StreamChunk(delta=result.content)
        yield StreamChunk(result=result)

    def chat(self, messages: list[Message], **options: Any) -> ChatResult:
        """Blocking `achat` (the roles use the async forms)."""
        import asyncio

        return asyncio.run(self.achat(messages, **options))

    def stream(self, messages: list[Message], **options: Any) -> Iterator[StreamChunk]:
        """Blocking: the whole result as one chunk."""
        yield StreamChunk(result=self.chat(messages, **options))

    # -- the decision -------------------------------------------------------------------------------

    def _signals(
        self, ledger: RunLedger, local: ChatResult | None, failure: Exception | None, options: dict[str, Any]
    ) -> Signals:
        pending = dict(ledger.pending)
        ledger.pending.clear()
        constraint = pending.get("constraint")
        repeat = pending.get("repeat")
        if failure is not None:
            constraint = f"{type(failure).__name__}: {failure}"[:160]
        elif local is not None:
            constraint = _constraint(local, options) or constraint
            again = [call for call in local.tool_calls if call_key(call.name, call.arguments) in ledger.ran]
            if again:
                repeat = f"{again[0].name} was already called with these arguments"
        return Signals(
            constraint=constraint,
            tool_error=pending.get("tool_error"),
            validation=pending.get("validation"),
            repeat=repeat,
            min_logprob=None if local is None else local.min_logprob,
            mean_logprob=None if local is None else local.mean_logprob,
        )

    def _blocked(self, ledger: RunLedger, options: dict[str, Any], routed: bool = False) -> str | None:
        """Why a step whose signals fired (or of a run routed to the cloud) may not go to the cloud."""
        policy, cloud = self.policy, self.escalation.cloud
        if not routed and policy.roles is not None and self.role not in policy.roles:
            return f"role {self.role} does not escalate"
        if time.monotonic() < ledger.cloud_down_until:
            return f"cloud unavailable earlier in this run: {ledger.cloud_down}"
        if policy.max_cloud_calls is not None and ledger.cloud_calls >= policy.max_cloud_calls:
            return f"budget: {ledger.cloud_calls} of {policy.max_cloud_calls} cloud calls used"
        if policy.max_cloud_tokens is not None and ledger.cloud_tokens >= policy.max_cloud_tokens:
            return f"budget: {ledger.cloud_tokens} of {policy.max_cloud_tokens} cloud tokens used"
        if policy.max_cloud_usd is not None and ledger.cloud_usd >= policy.max_cloud_usd:
            return f"budget: ${ledger.cloud_usd:.6f} of ${policy.max_cloud_usd:g} spent"
        can = capabilities_of(cloud)
        if options.get("grammar") is not None and not can.grammar:
            return "the cloud model takes no grammar"
        if options.get("json_schema") is not None and not (can.json_schema or can.grammar):
            return "the cloud model takes no JSON schema"
        return None

    async def _routed(self, messages: list[Message], options: dict[str, Any]) -> ChatResult | None:
        """In a run routed to the cloud, the cloud's result for this step without a local attempt; None
        when the run is local, or when this step may not or could not go to the cloud (then it runs
        locally and the decision says why)."""
        escalation = self.escalation
        ledger = escalation.ledger()
        if ledger.route != "cloud":
            return None
        decision = EscalationDecision(
            step=len(ledger.decisions),
            role=self.role,
            local_model=self.name,
            cloud_model=escalation.cloud.name,
            signals={},
            reasons=["routed"],
            local={},
        )
        decision.stayed_local = self._blocked(ledger, options, routed=True)
        result = None
        if decision.stayed_local is None:
            result = await self._cloud(ledger, decision, messages, options)
        if result is None:
            ledger.pending["routed"] = decision.stayed_local or "the cloud did not answer"
            return None
        ledger.decisions.append(decision)
        return result.model_copy(update={"escalation": decision.model_dump(mode="json")})

    async def _after(
        self,
        messages: list[Message],
        options: dict[str, Any],
        local: ChatResult | None,
        failure: Exception | None,
        started: float,
    ) -> ChatResult:
        escalation, policy = self.escalation, self.policy
        ledger = escalation.ledger()
        routed_but_local = ledger.pending.pop("routed", None)
        signals = self._signals(ledger, local, failure, options)
        decision = EscalationDecision(
            step=len(ledger.decisions),
            role=self.role,
            local_model=self.name,
            cloud_model=escalation.cloud.name,
            signals=signals.present(),
            reasons=policy.reasons(signals),
            local=_usage(local) if local is not None else {"seconds": time.perf_counter() - started},
        )
        ledger.decisions.append(decision)
        cloud_result = None
        if routed_but_local is not None:  # the run is routed to the cloud, but this step could not go
            decision.reasons, decision.stayed_local = ["routed"], routed_but_local
        elif decision.reasons:
            decision.stayed_local = self._blocked(ledger, options)
            if decision.stayed_local is None:
                cloud_result = await self._cloud(ledger, decision, messages, options)
        if cloud_result is None:
            if local is None:
                assert failure is not None
                raise failure  # the local model failed and the cloud did not take over: as without a cloud
            return local.model_copy(update={"escalation": decision.model_dump(mode="json")})
        return self._combined(local, cloud_result, decision)

    async def _cloud(
        self,
        ledger: RunLedger,
        decision: EscalationDecision,
        messages: list[Message],
        options: dict[str, Any],
    ) -> ChatResult | None:
        policy, cloud = self.policy, self.escalation.cloud
        guarded, withheld = guard_messages(messages, ledger.private, redact_pii if policy.redact else None)
        decision.withheld = withheld
        if withheld and policy.local_only == "stay_local":
            decision.stayed_local = f"privacy: the prompt holds {withheld} local-only tool result(s)"
            return None
        request = {key: value for key, value in options.items() if key != "logprobs"}
        started = time.perf_counter()
        try:
            result = await cloud.achat(guarded, **request)
        except Exception as error:  # down, slow, 429/5xx after every retry, a rejected request
            ledger.cloud_down_until = time.monotonic() + policy.cooldown_s
            ledger.cloud_down = f"{type(error).__name__}: {error}"[:300]
            decision.stayed_local = f"cloud failed: {ledger.cloud_down}"
            return None
        seconds = result.timings.total_s or (time.perf_counter() - started)
        spent = cost_usd(cloud, result.usage)
        ledger.cloud_calls += 1
        ledger.cloud_tokens += result.usage.total_tokens
        ledger.cloud_usd += spent
        decision.escalated = True
        decision.cloud = {
            "prompt_tokens": result.usage.prompt_tokens,
            "completion_tokens": result.usage.completion_tokens,
            "seconds": seconds,
            "cost_usd": spent,
        }
        return result

    def _combined(
        self, local: ChatResult | None, cloud: ChatResult, decision: EscalationDecision
    ) -> ChatResult:
        """The cloud's output, carrying the tokens and time of both attempts (the decision says which
        share was the cloud's)."""
        before = local.usage if local is not None else Usage()
        usage = Usage(
            prompt_tokens=before.prompt_tokens + cloud.usage.prompt_tokens,
            completion_tokens=before.completion_tokens + cloud.usage.completion_tokens,
            cached_prompt_tokens=before.cached_prompt_tokens,
        )
        local_s = float(decision.local.get("seconds", 0.0))
        timings = Timings(
            ttft_s=local_s + cloud.timings.ttft_s, total_s=local_s + float(decision.cloud["seconds"])
        )
        return cloud.model_copy(
            update={"usage": usage, "timings": timings, "escalation": decision.model_dump(mode="json")}
        )
