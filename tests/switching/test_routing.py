"""Query-level routing and the cascade against a real OpenAI-compatible server (the packaged 1.5B behind
llama.cpp's server, through a recording proxy), with the packaged 0.5B as the local model."""

from __future__ import annotations

import pytest

from tests.switching.test_escalation import cloud, order_status
from tinycrew.graphs import Agent
from tinycrew.switching import AgreementCheck, EscalationPolicy, QueryRouter, RoutingExample
from tinycrew.tools import tool

pytestmark = pytest.mark.slow

HARD = "What is the status of order A-17?"


def crew(default_model, store, **options) -> Agent:
    return Agent(
        [order_status], models=default_model, checkpointer="memory", store=store, answer=False, **options
    )


def test_the_router_sends_a_request_it_expects_to_fail_to_the_cloud_for_every_step(
    default_model, teacher_server, proxy, store
) -> None:
    examples = [RoutingExample(f"What is the status of order A-{n}?", False) for n in range(10, 16)]
    examples += [RoutingExample(f"Tell me a joke about {thing}", True) for thing in ("cats", "tea", "rain")]
    router = QueryRouter.fit(examples, k=3)
    router.calibrate(None, 0.5)
    agent = crew(default_model, store, cloud=cloud(proxy, teacher_server), router=router)

    routed = agent.run(HARD)
    assert routed.route is not None and routed.route["route"] == "cloud" and routed.route["score"] > 0.5
    assert routed.escalations and all(d.reasons == ["routed"] for d in routed.escalations)
    sent = [d for d in routed.escalations if d.escalated]
    assert sent and len(proxy.bodies) == len(sent)
    assert routed.usage[teacher_server.model]["calls"] == len(sent)
    local_calls = routed.usage.get(default_model.name, {}).get("calls", 0)
    assert local_calls == len(routed.escalations) - len(sent)  # only steps the cloud could not take
    assert [call.arguments for call in routed.calls] == [{"order_id": "A-17"}]
    assert store.get_run(routed.run_id).metadata["route"]["route"] == "cloud"

    before = len(proxy.bodies)
    easy = agent.run("Tell me a joke about dogs")
    assert easy.route["route"] == "local" and len(proxy.bodies) == before


def test_a_cascade_reruns_a_failed_turn_on_the_cloud_and_the_thread_keeps_only_the_rerun(
    default_model, teacher_server, proxy, store
) -> None:
    def check(result) -> str | None:  # a user's check: order B-9 must be looked up by a person
        return "B-9 needs a second look" if any("B-9" in str(c.arguments) for c in result.calls) else None

    agent = crew(default_model, store, cloud=cloud(proxy, teacher_server), cascade=check)
    first = agent.run(HARD, thread="support")
    assert first.route is None and first.cascaded_from is None and proxy.bodies == []

    second = agent.run("What is the status of order B-9?", thread="support")
    assert second.cascaded_from is not None and second.cascaded_from != second.run_id
    assert second.route == {"route": "cloud", "cascade": "B-9 needs a second look"}
    assert proxy.bodies and all(d.reasons == ["routed"] for d in second.escalations)
    failed = store.get_run(second.cascaded_from)
    assert failed is not None and failed.finished_at is not None
    assert store.get_run(second.run_id).metadata["cascaded_from"] == second.cascaded_from

    state = agent.graph.get_state({"configurable": {"thread_id": "support"}}).values
    assert state["run_id"] == second.run_id
    assert [turn["task"] for turn in state["history"]] == [HARD]  # the failed turn is gone


def test_a_cascade_policy_reruns_a_run_with_an_unsure_step_on_the_cloud(
    default_model, teacher_server, proxy, store
) -> None:
    sure = crew(
        default_model, store, cloud=cloud(proxy, teacher_server), cascade=EscalationPolicy(min_logprob=-1e9)
    )
    kept = sure.run(HARD)
    assert kept.route is None and kept.cascaded_from is None and proxy.bodies == []
    assert kept.escalations and all("min_logprob" in d.signals for d in kept.escalations)  # logprobs asked

    unsure = crew(
        default_model, store, cloud=cloud(proxy, teacher_server), cascade=EscalationPolicy(min_logprob=0)
    )
    redone = unsure.run(HARD)
    assert redone.cascaded_from is not None
    assert redone.route["route"] == "cloud" and "was unsure: min_logprob" in redone.route["cascade"]
    assert all(d.reasons == ["routed"] for d in redone.escalations)
    sent = [d for d in redone.escalations if d.escalated]
    assert sent and len(proxy.bodies) == len(sent)  # the local attempt sent no step of its own
    local_attempt = store.get_run(redone.cascaded_from)
    assert local_attempt is not None and local_attempt.finished_at is not None


def test_tinycrew_run_whole_run_sends_an_unsure_request_to_the_cloud(teacher_server, proxy, tmp_path) -> None:
    from typer.testing import CliRunner

    from tinycrew.cli import app

    args = [
        "run",
        "What is 17 times 23?",
        "--no-record",
        "--checkpointer",
        "memory",
        "--cloud-url",
        proxy.url,
    ]
    args += ["--cloud-model", teacher_server.model, "--cloud-dialect", "llama.cpp", "--min-logprob", "0"]
    result = CliRunner().invoke(app, [*args, "--whole-run"], env={"TINYCREW_HOME": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert "to the cloud: step 0 (" in result.output and "was unsure: min_logprob" in result.output
    assert "391" in result.output and proxy.bodies
    refused = CliRunner().invoke(app, ["run", "What is 17 times 23?", "--whole-run"])
    assert refused.exit_code != 0 and "--whole-run needs a cloud model" in refused.output


@tool
def shipping_state(order_id: str) -> str:
    """Look up the shipping status of a customer order.

    Args:
        order_id: The order number, e.g. "B-2".
    """
    return f"Order {order_id} shipped on 2024-05-02."


def test_an_agreement_cascade_keeps_agreeing_runs_local_and_sends_the_others(
    default_model, teacher_server, proxy, store
) -> None:
    def second(tools) -> Agent:
        return Agent(tools, models=default_model, checkpointer="memory", record=False, answer=False)

    same = crew(
        default_model,
        store,
        cloud=cloud(proxy, teacher_server),
        cascade=AgreementCheck(second([order_status])),
    )
    kept = same.run(HARD)
    assert (
        kept.route is None and kept.task == HARD and proxy.bodies == []
    )  # the same graph agrees with itself

    other = AgreementCheck(second([shipping_state]))  # the same request, a tool of another name: other calls
    redone = crew(default_model, store, cloud=cloud(proxy, teacher_server), cascade=other).run(HARD)
    assert redone.cascaded_from is not None and proxy.bodies
    assert redone.route["cascade"].startswith("the crew graph made other calls: shipping_state(")
