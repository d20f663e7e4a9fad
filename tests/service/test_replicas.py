"""Beyond one machine: two service instances (real uvicorn servers on loopback) share a real Postgres
checkpointer and trajectory store; a run started on replica A stops for approval, and is approved,
finished and scored through replica B, while A reads the same outcome."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.service import runtools
from tests.service.conftest import SEND_TASK, agents_config, run_events, running, wait_for_run
from tests.trajectories.conftest import postgres_server, postgres_url  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow


def test_a_run_started_on_replica_a_is_approved_and_finished_through_replica_b(
    default_model: Any,
    postgres_url: str,  # noqa: F811 - the fixture imported above
) -> None:
    runtools.SENT.clear()
    config = agents_config(default_model, checkpointer=postgres_url, trajectories=postgres_url)
    with running(config, default_model) as a, running(config, default_model) as b:
        started = httpx.post(f"{a.base_url}/v1/runs", json={"input": SEND_TASK, "thread": "team-7"})
        assert started.status_code == 202, started.text
        run_id = started.json()["id"]
        on_a = wait_for_run(a, run_id)
        assert on_a["status"] == "requires_approval"

        on_b = wait_for_run(b, run_id)  # B never saw this run: it reads Postgres
        assert on_b["status"] == "requires_approval" and on_b["agent"] == "ops" and on_b["thread"] == "team-7"
        assert on_b["pending_approval"] == on_a["pending_approval"]
        assert on_b["steps"] == on_a["steps"]
        assert not runtools.SENT

        approved = httpx.post(f"{b.base_url}/v1/runs/{run_id}/approve", json={"decision": "approve"})
        assert approved.status_code == 202, approved.text
        events = run_events(b, run_id)  # B drives it now: its steps stream from B
        assert events[-2][0] == "run" and events[-2][1]["status"] == "completed", events[-2]
        done_b = wait_for_run(b, run_id)
        assert done_b["status"] == "completed" and done_b["answer"]
        assert runtools.SENT and runtools.SENT[0].startswith("Bob"), "the approved call ran once, on B"
        assert len(runtools.SENT) == 1

        assert httpx.post(f"{b.base_url}/v1/runs/{run_id}/feedback", json={"score": 0.5}).status_code == 200
        done_a = wait_for_run(a, run_id)
        assert done_a["status"] == "completed" and done_a["answer"] == done_b["answer"]
        assert [f["score"] for f in done_a["feedback"]] == [0.5]
        assert [step["index"] for step in done_a["steps"]] == list(range(len(done_b["steps"])))

        refused = httpx.post(f"{a.base_url}/v1/runs/{run_id}/approve")
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "run_not_waiting"
