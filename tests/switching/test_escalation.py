"""Step-level escalation against a real OpenAI-compatible server (the packaged 1.5B behind llama.cpp's
server, reached through a recording proxy), with the packaged 0.5B as the local model."""

from __future__ import annotations

import pytest

from tinycrew import tool
from tinycrew.graphs import Agent, Limits
from tinycrew.switching import WITHHELD, CloudConfig, EscalationPolicy

pytestmark = pytest.mark.slow

TASK = "What is the status of order A-17?"
SECRET = "zebra-quartz-omega"
QUIET = {"on_constraint": False, "on_tool_error": False, "on_validation": False, "on_repeat": False}


@tool
def order_status(order_id: str) -> str:
    """Look up the shipping status of a customer order.

    Args:
        order_id: The order number, e.g. "B-2".
    """
    return f"Order {order_id} shipped on 2024-05-02."


@tool(local_only=True)
def vault_code(vault: str) -> str:
    """Read the access code of a vault.

    Args:
        vault: The vault's name, e.g. "north".
    """
    return f"The code of vault {vault} is {SECRET}."


def cloud(proxy, teacher_server, **options) -> CloudConfig:
    settings = {"timeout": 300.0, "max_attempts": 2, "backoff_initial": 0.05, "backoff_max": 0.2}
    return CloudConfig(
        base_url=proxy.url,
        model=teacher_server.model,
        dialect="llama.cpp",
        input_price_per_m=1.0,
        output_price_per_m=2.0,
        **(settings | options),
    )


def agent(default_model, tools, store, **options) -> Agent:
    return Agent(
        tools, graph="react", models=default_model, min_similarity=None, checkpointer="memory", store=store,
        **options,
    )  # fmt: skip


def test_threshold_zero_escalates_every_step_and_a_very_low_one_none(
    default_model, teacher_server, proxy, store
) -> None:
    short = Limits(max_steps=3)  # the 0.5B alone calls order_status again and again up to the limit
    plain = agent(default_model, [order_status], store, limits=short).run(TASK)
    never = agent(
        default_model, [order_status], store, cloud=cloud(proxy, teacher_server),
        escalation=EscalationPolicy(min_logprob=-1e9, mean_logprob=-1e9, **QUIET), limits=short,
    ).run(TASK)  # fmt: skip
    assert proxy.bodies == []  # nothing left the machine
    assert never.escalations and not any(d.escalated or d.reasons for d in never.escalations)
    assert never.calls == plain.calls and never.status == plain.status  # the same run as without a cloud
    # the answer at the step limit is a long repetition; KV-prefix reuse may move where 512 tokens cut it
    assert (never.answer or "")[:200] == (plain.answer or "")[:200]
    assert "min_logprob" in never.escalations[0].signals

    always = agent(
        default_model, [order_status], store, cloud=cloud(proxy, teacher_server),
        escalation=EscalationPolicy(min_logprob=0.0),
    ).run(TASK)  # fmt: skip
    assert always.status == "done" and always.escalations
    assert all(d.escalated and "min_logprob" in "; ".join(d.reasons) for d in always.escalations)
    assert len(proxy.bodies) == len(always.escalations)
    spent = always.usage[teacher_server.model]
    assert spent["calls"] == len(always.escalations) and spent["cost_usd"] > 0
    assert always.cost_usd == pytest.approx(sum(d.cost_usd for d in always.escalations))
    assert always.usage[default_model.name]["calls"] == len(always.escalations)  # the local attempts
    assert always.usage_by_role["react"]["cost_usd"] == pytest.approx(always.cost_usd)

    run = store.get_run(always.run_id)
    assert run is not None and all(step.escalated for step in run.steps)
    assert all(step.model == teacher_server.model for step in run.steps)
    assert all("min_logprob" in (step.escalation_reason or "") for step in run.steps)
    stats = store.stats()
    assert stats.escalations == len(run.steps) and stats.cost_usd == pytest.approx(always.cost_usd)
    assert stats.usage_by_model[default_model.name]["prompt_tokens"] > 0
    assert stats.usage_by_model[teacher_server.model]["cost_usd"] == pytest.approx(always.cost_usd)


def test_a_budget_of_one_cloud_call_stops_escalation(default_model, teacher_server, proxy, store) -> None:
    result = agent(
        default_model, [order_status], store, cloud=cloud(proxy, teacher_server),
        escalation=EscalationPolicy(min_logprob=0.0, max_cloud_calls=1),
    ).run(TASK)  # fmt: skip
    first, *later = result.escalations
    assert first.escalated and len(proxy.bodies) == 1
    assert later, "the run should have a step after the first"
    assert all(not d.escalated and d.stayed_local.startswith("budget: 1 of 1") for d in later)
    steps = store.get_run(result.run_id).steps
    assert [step.escalated for step in steps] == [True] + [False] * len(later)
    assert "stayed local (budget" in (steps[-1].escalation_reason or "")


def test_a_cloud_stopped_mid_run_leaves_the_steps_local_with_the_reason(
    default_model, teacher_server, proxy, store
) -> None:
    proxy.stop_after = 1  # the server answers the first escalation, then stops listening
    result = agent(
        default_model, [order_status], store, cloud=cloud(proxy, teacher_server),
        escalation=EscalationPolicy(min_logprob=0.0, cooldown_s=0),
    ).run(TASK)  # fmt: skip
    assert result.status == "done" and result.answer
    first, *later = result.escalations
    assert first.escalated and later
    assert all(d.stayed_local.startswith("cloud failed: ModelUnavailableError") for d in later)
    steps = store.get_run(result.run_id).steps
    assert len(steps) == len(result.escalations)  # no step lost
    assert "cloud failed" in (steps[-1].escalation_reason or "")


def test_429_answers_back_off_then_stay_local(default_model, teacher_server, proxy, store) -> None:
    proxy.fail_with = 429
    result = agent(
        default_model, [order_status], store, cloud=cloud(proxy, teacher_server, max_attempts=3),
        escalation=EscalationPolicy(min_logprob=0.0, cooldown_s=600), limits=Limits(max_steps=3),
    ).run(TASK)  # fmt: skip
    assert result.status == "done" and result.answer
    assert len(proxy.bodies) == 3  # three tries of the first step, then the run stays local (cooldown)
    first, *later = result.escalations
    assert "429" in first.stayed_local and "after 3 attempts" in first.stayed_local
    assert all(d.stayed_local.startswith("cloud unavailable earlier in this run") for d in later)
    assert result.usage.keys() == {default_model.name} and result.cost_usd == 0


@pytest.mark.parametrize("mode", ["withhold", "stay_local"])
def test_a_local_only_result_never_reaches_the_cloud(
    default_model, teacher_server, proxy, store, mode
) -> None:
    result = agent(
        default_model, [vault_code], store, cloud=cloud(proxy, teacher_server),
        escalation=EscalationPolicy(min_logprob=0.0, local_only=mode),
    ).run("Read me the access code of the north vault.")  # fmt: skip
    assert any(call.name == "vault_code" and SECRET in call.observation for call in result.calls)
    assert proxy.bodies, "the first step (before the tool ran) escalates"
    assert SECRET not in proxy.received()
    after = result.escalations[-1]  # a step whose prompt holds the tool's result
    if mode == "withhold":
        assert after.escalated and after.withheld >= 1 and WITHHELD in proxy.received()
    else:
        assert not after.escalated and after.stayed_local.startswith("privacy")
