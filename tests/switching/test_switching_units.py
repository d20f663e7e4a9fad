"""The parts of switching that need no model: policy, privacy guard, usage split, store accounting."""

from __future__ import annotations

from tinycrew.agents import RoleStep
from tinycrew.graphs.state import step_record, usage_of
from tinycrew.models import ChatResult, StreamChunk, Usage
from tinycrew.models.types import Timings
from tinycrew.switching import (
    WITHHELD,
    Escalation,
    EscalationDecision,
    EscalationPolicy,
    Signals,
    guard_messages,
)
from tinycrew.trajectories import Recorder, StepRecord, TrajectoryStore


def test_policy_reasons_follow_thresholds_and_switches() -> None:
    signals = Signals(min_logprob=-3.0, mean_logprob=-0.2, tool_error="f: boom")
    assert EscalationPolicy().reasons(signals) == ["tool_error: f: boom"]
    assert EscalationPolicy(on_tool_error=False).reasons(signals) == []
    fired = EscalationPolicy(min_logprob=-2.5, mean_logprob=-0.5, on_tool_error=False).reasons(signals)
    assert fired == ["min_logprob -3.000 <= -2.5"]
    assert EscalationPolicy(min_logprob=0.0, on_tool_error=False).reasons(Signals()) == []  # no logprobs


ARGS = {"to": "ana@example.com"}


def test_guard_withholds_local_only_results_and_redacts() -> None:
    secret = "Balance of account 7 is 1,234 EUR; last login from Lisbon at 09:14 on 2024-05-02 by ana"
    messages = [
        {"role": "user", "content": "Mail ana@example.com the balance."},
        {"role": "tool", "content": secret},
        {"role": "user", "content": "Earlier: Call: balance() -> " + " ".join(secret.split())[:80] + "…"},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "1", "function": {"arguments": ARGS}}]},
    ]  # fmt: skip
    guarded, cut = guard_messages(
        messages, [secret], redact=lambda text: text.replace("ana@example.com", "[EMAIL]")
    )
    assert cut == 2 and guarded[1]["content"] == WITHHELD
    assert guarded[2]["content"] == "Earlier: Call: balance() -> " + WITHHELD
    assert "ana@example.com" not in str(guarded) and messages[0]["content"].startswith("Mail ana@")


CLOUD = {"prompt_tokens": 90, "completion_tokens": 20, "seconds": 2.0, "cost_usd": 0.5}


def _step(escalated: bool) -> RoleStep:
    decision = EscalationDecision(
        step=0, role="caller", local_model="small", cloud_model="big", reasons=["min_logprob -1.000 <= 0"],
        escalated=escalated, stayed_local=None if escalated else "budget: 1 of 1 cloud calls used",
        local={"prompt_tokens": 100, "completion_tokens": 10, "seconds": 1.0},
        cloud=CLOUD if escalated else {},
    )  # fmt: skip
    total = (
        Usage(prompt_tokens=190, completion_tokens=30)
        if escalated
        else Usage(prompt_tokens=100, completion_tokens=10)
    )
    result = ChatResult(
        model="big" if escalated else "small", content="x", usage=total,
        timings=Timings(total_s=3.0 if escalated else 1.0), escalation=decision.model_dump(mode="json"),
    )  # fmt: skip
    return RoleStep(role="caller", model="small", messages=[{"role": "user", "content": "hi"}], result=result)


def test_an_escalated_step_costs_each_model_its_share(tmp_path) -> None:
    usage = usage_of(_step(True))
    assert usage["big"] == {
        "prompt_tokens": 90,
        "completion_tokens": 20,
        "seconds": 2.0,
        "calls": 1,
        "cost_usd": 0.5,
    }
    assert usage["small"] == {"prompt_tokens": 100, "completion_tokens": 10, "seconds": 1.0, "calls": 1}
    assert usage["role:caller"]["prompt_tokens"] == 190 and usage["role:caller"]["cost_usd"] == 0.5
    with TrajectoryStore.open(tmp_path / "t.sqlite") as store:
        recorder = Recorder(store)
        recorder.start_run("r", "umi", "task")
        for index, escalated in enumerate((True, False)):
            recorder.record_step(StepRecord.model_validate(step_record("r", index, _step(escalated))))
        first, second = store.get_run("r").steps
        assert first.escalated and first.model == "big" and first.cost_usd == 0.5
        assert not second.escalated and second.escalation_reason.startswith("stayed local (budget")
        stats = store.stats()
    assert stats.escalations == 1 and stats.cost_usd == 0.5
    assert (
        stats.usage_by_model["big"]["prompt_tokens"] == 90
        and stats.usage_by_model["small"]["prompt_tokens"] == 200
    )
    assert stats.usage_by_role["caller"] == {
        "steps": 2, "prompt_tokens": 290, "completion_tokens": 40, "seconds": 4.0, "cost_usd": 0.5
    }  # fmt: skip


class Scripted:
    """A stand-in chat model answering from a script (an exception is raised)."""

    def __init__(self, name: str, *replies: object) -> None:
        self.name, self.replies, self.seen = name, list(replies), []

    async def achat(self, messages, **options) -> ChatResult:
        self.seen.append(messages)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return ChatResult(
            model=self.name, content=str(reply), usage=Usage(prompt_tokens=5, completion_tokens=2)
        )

    async def astream(self, messages, **options):
        result = await self.achat(messages, **options)
        yield StreamChunk(delta=result.content)
        yield StreamChunk(result=result)


async def test_a_failed_local_step_is_redone_and_streams_the_cloud_text() -> None:
    local = Scripted("small", ValueError("unparsable call"), "local text")
    cloud = Scripted("big", "cloud text")
    model = Escalation(cloud, EscalationPolicy(max_cloud_calls=1)).wrap("caller", local)
    chunks = [chunk async for chunk in model.astream([{"role": "user", "content": "mail a@b.example"}])]
    assert [chunk.delta for chunk in chunks[:-1]] == ["cloud text"] and chunks[
        -1
    ].result.content == "cloud text"
    assert chunks[-1].result.escalation["reasons"] == ["constraint: ValueError: unparsable call"]
    assert cloud.seen == [[{"role": "user", "content": "mail [EMAIL]"}]]  # redacted on the way out
    quiet = await model.achat([{"role": "user", "content": "hi"}])  # no signal: stays local
    assert quiet.content == "local text" and quiet.escalation["escalated"] is False


def _decision(step: int, signals: dict, escalated: bool = False, reasons: list[str] | None = None):
    return EscalationDecision(
        step=step, role="caller", local_model="small", cloud_model="big", signals=signals,
        reasons=reasons or [], escalated=escalated,
    )  # fmt: skip


def test_unsure_check_fails_a_run_with_a_step_the_policy_would_escalate() -> None:
    from tinycrew.graphs.agent import RunResult
    from tinycrew.switching.cascade import UnsureCheck, as_check

    sure = _decision(0, {"min_logprob": -0.4, "mean_logprob": -0.01})
    unsure = _decision(1, {"min_logprob": -2.2, "mean_logprob": -0.3})
    check = as_check(EscalationPolicy(min_logprob=-1.5))
    assert isinstance(check, UnsureCheck) and check.needs_logprobs
    run = RunResult(run_id="r", graph="crew", status="done", outcome="answered", escalations=[sure, unsure])
    assert check(run) == "step 1 (caller) was unsure: min_logprob -2.200 <= -1.5"
    assert UnsureCheck(EscalationPolicy(min_logprob=-3.0))(run) is None
    redone = run.model_copy(update={"escalations": [sure, unsure.model_copy(update={"escalated": True})]})
    assert check(redone) is None  # the cloud already redid that step: its local doubt is gone
    routed = _decision(0, {}, reasons=["routed"])
    assert check(run.model_copy(update={"escalations": [routed]})) is None
    failed = run.model_copy(update={"escalations": [sure], "outcome": "step_limit"})
    assert check(failed) == "the run ended with outcome 'step_limit'"  # failed_check still applies


def test_a_cascade_policy_escalates_no_single_step_but_keeps_budgets_and_privacy() -> None:
    policy = EscalationPolicy(min_logprob=-1.5, max_cloud_calls=3, local_only="stay_local", redact=False)
    steps = policy.for_steps_of_a_cascade()
    signals = Signals(min_logprob=-9.0, constraint="bad", tool_error="t", validation="v", repeat="r")
    assert steps.reasons(signals) == [] and policy.reasons(signals)
    assert (steps.max_cloud_calls, steps.local_only, steps.redact) == (3, "stay_local", False)


def test_calibrate_cascade_sends_the_target_share_of_runs_and_counts_other_signals_as_sent() -> None:
    from tinycrew.graphs.agent import RunResult
    from tinycrew.switching import UnsureCheck, calibrate_cascade

    def run(*least: float, validation: str | None = None):
        steps = [_decision(i, {"min_logprob": value}) for i, value in enumerate(least)]
        if validation:
            steps.append(_decision(len(steps), {"validation": validation, "min_logprob": -0.01}))
        return steps

    runs = [run(-0.1, -0.05), run(-0.5), run(-2.0, -0.3), run(-4.0), run(-0.2, validation="bad date")]
    policy = calibrate_cascade(EscalationPolicy(), runs, 0.4)
    assert -4.0 < policy.min_logprob < -2.0
    sent = [
        UnsureCheck(policy)(RunResult(run_id="r", graph="crew", status="done", escalations=r)) for r in runs
    ]
    assert [why is not None for why in sent] == [False, False, False, True, True]
    assert calibrate_cascade(EscalationPolicy(), runs, 0.8).min_logprob >= -0.5
    everything = calibrate_cascade(EscalationPolicy(), runs, 1.0)
    assert all(
        UnsureCheck(everything)(RunResult(run_id="r", graph="c", status="done", escalations=r)) for r in runs
    )
    assert calibrate_cascade(EscalationPolicy(), runs, 0.0).min_logprob is None  # only other signals send


def test_unsure_check_reads_only_the_policy_roles() -> None:
    from tinycrew.switching import unsure_step

    steps = [_decision(0, {"min_logprob": -5.0}).model_copy(update={"role": "gate"})]
    assert unsure_step(steps, EscalationPolicy(min_logprob=-1.0)) is not None
    assert unsure_step(steps, EscalationPolicy(min_logprob=-1.0, roles=["caller"])) is None


def test_call_set_compares_the_calls_that_ran_in_any_order() -> None:
    from tinycrew.agents import CallRecord
    from tinycrew.switching import call_set

    a = CallRecord(id=1, name="f", arguments={"x": 1, "y": [1, 2]})
    b = CallRecord(id=2, name="g", arguments={})
    invalid = CallRecord(id=3, name="f", arguments={"x": "one"}, ok=False, error_kind="arguments")
    assert call_set([a, b]) == call_set([b.model_copy(update={"id": 7}), invalid, a])
    assert call_set([a]) != call_set([a.model_copy(update={"arguments": {"y": [1, 2], "x": 2}})])
    assert call_set([]) == call_set([invalid])
