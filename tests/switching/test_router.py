"""The query router: calibration on held-out BFCL requests, its files, its examples from a real store,
the cascade's default check, and `tinycrew router fit`."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import BFCL_ROOT, REPO_ROOT
from tinycrew.agents import CallRecord
from tinycrew.cli import app
from tinycrew.evals.routing import bfcl_queries, bfcl_routing_examples
from tinycrew.graphs import RunResult
from tinycrew.switching import QueryRouter, RoutingExample, examples_from_store, failed_check
from tinycrew.switching.router import threshold_for_share
from tinycrew.trajectories import TrajectoryStore
from tinycrew.trajectories.records import RunInfo


@pytest.fixture(scope="module")
def bfcl_router() -> QueryRouter:
    """Fitted on the scored compiler runs of docs/bfcl, train split only."""
    return QueryRouter.fit(bfcl_routing_examples(REPO_ROOT / "docs" / "bfcl", "compiler", BFCL_ROOT))


def test_calibration_hits_the_target_share_on_held_out_requests(bfcl_router) -> None:
    train = list(bfcl_queries(BFCL_ROOT, "train").values())  # unlabelled: the requests only
    held_out = list(bfcl_queries(BFCL_ROOT, "eval").values())
    assert len(held_out) > 200
    held_out_scores = bfcl_router.scores(held_out)
    for share in (0.2, 0.4):
        threshold = bfcl_router.calibrate(train, share)
        assert abs(float((held_out_scores > threshold).mean()) - share) <= 0.05
    assert bfcl_router.calibrate(None, 0.0) == float("inf")  # nothing goes to the cloud
    assert bfcl_router.decide(held_out[0]).route == "local"


def test_a_router_routes_by_its_neighbours_and_survives_a_round_trip(tmp_path) -> None:
    hard = [f"Integrate the function x^{n} * sin(x) from 0 to {n}" for n in range(2, 8)]
    easy = [
        f"What is the weather in {city} today?"
        for city in ("Paris", "Oslo", "Lima", "Accra", "Hanoi", "Quito")
    ]
    router = QueryRouter.fit(
        [RoutingExample(q, False) for q in hard] + [RoutingExample(q, True) for q in easy], k=3
    )
    assert router.local_failure_rate == 0.5
    router.calibrate(None, 0.5)
    assert router.decide("Integrate x^3 * sin(x) from 0 to 2").route == "cloud"
    assert router.decide("What is the weather in Rome today?").route == "local"
    loaded = QueryRouter.load(router.save(tmp_path / "router"))
    assert loaded.threshold == router.threshold and loaded.k == 3
    assert np.allclose(loaded.scores(hard[:2]), router.scores(hard[:2]))


def test_examples_from_a_store_take_outcome_errors_and_feedback(tmp_path) -> None:
    with TrajectoryStore.open(tmp_path / "traj.sqlite") as store:
        for run_id, outcome in (
            ("good", "success"),
            ("bad", "step_limit"),
            ("liked", "gave_up"),
            ("open", None),
        ):
            store.add_run(RunInfo(run_id=run_id, graph="crew", task=f"task {run_id}"))
            if outcome is not None:
                store.finish_run(run_id, answer="", outcome=outcome)
        store.add_feedback("liked", 1.0)
        examples = {example.query: example.local_ok for example in examples_from_store(store)}
    assert examples == {"task good": True, "task bad": False, "task liked": True}


def test_the_default_check_fails_unrecovered_call_errors_and_step_limits() -> None:
    def result(outcome: str, *calls: CallRecord) -> RunResult:
        return RunResult(run_id="r", graph="crew", status="done", outcome=outcome, calls=list(calls))

    bad = CallRecord(id=1, name="f", ok=False, error_kind="arguments", observation="argument 'x': missing")
    good = CallRecord(id=2, name="f", arguments={"x": 1})
    rejected = CallRecord(id=1, name="send", ok=False, error_kind="rejected")
    assert failed_check(result("success", good)) is None
    assert "arguments" in failed_check(result("success", bad))
    assert failed_check(result("success", bad, good)) is None  # the model fixed it
    assert failed_check(result("success", rejected)) is None  # the user said no: not a failure
    assert "step_limit" in failed_check(result("step_limit"))
    assert failed_check(result("gave_up")) is None  # no tool applies: the cloud would say the same


def test_router_fit_from_a_bfcl_report(tmp_path) -> None:
    out = tmp_path / "router"
    args = ["router", "fit", "--results", str(REPO_ROOT / "docs" / "bfcl"), "--mode", "umi"]
    result = CliRunner().invoke(
        app, [*args, "--bfcl", str(BFCL_ROOT), "--cloud-share", "0.25", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "train split" in result.output and "25%" in result.output
    router = QueryRouter.load(out)
    assert router.cloud_share == 0.25 and len(router) > 150


def test_a_tied_vote_is_split_as_close_to_the_target_as_ties_allow() -> None:
    scores = np.array([1.0] * 6 + [0.0] * 3)
    assert float((scores > threshold_for_share(scores, 0.5)).mean()) == pytest.approx(6 / 9)
    assert float((scores > threshold_for_share(scores, 1.0)).mean()) == 1.0
    assert float((scores > threshold_for_share(scores, 0.0)).mean()) == 0.0
    continuous = np.linspace(0, 1, 101)
    assert float((continuous > threshold_for_share(continuous, 0.3)).mean()) == pytest.approx(0.3, abs=0.01)
