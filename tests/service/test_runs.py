"""`/v1/runs`: an agent graph with server-side tools run through the service, its steps streamed as
server-sent events, an approval interrupt resumed over HTTP, feedback stored on its trajectory, bad
input refused with 4xx in OpenAI's error shape, and a shutdown that finishes or checkpoints runs."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.service import runtools
from tests.service.conftest import (
    PRICE_TASK,
    SEND_TASK,
    RunningServer,
    agents_config,
    run_events,
    running,
    wait_for_run,
)
from tinycrew.service.config import AgentProfile, MCPServer
from tinycrew.trajectories import TrajectoryStore

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def agents_server(default_model: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server with the OPS agent, checkpoints and trajectories in SQLite files of its own."""
    home = tmp_path_factory.mktemp("runs")
    config = agents_config(default_model, str(home / "checkpoints.sqlite"), str(home / "trajectories.sqlite"))
    with running(config, default_model) as server:
        yield server


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """The OpenAI error object of a refused request, after checking its status and shape."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert "Traceback" not in error["message"]
    return error


def test_a_run_waits_for_approval_streams_its_steps_and_takes_feedback(agents_server: RunningServer) -> None:
    base = agents_server.base_url
    runtools.SENT.clear()
    started = httpx.post(f"{base}/v1/runs", json={"input": SEND_TASK, "agent": "ops", "thread": "bob-1"})
    assert started.status_code == 202, started.text
    run = started.json()
    assert run["object"] == "run" and run["status"] == "queued" and run["thread"] == "bob-1"
    assert run["agent"] == "ops" and run["graph"] == "umi"

    events = run_events(agents_server, run["id"])  # replayed from the start, then live, then [DONE]
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "message" and events[-1][1] == "[DONE]"
    assert "update" in kinds and "token" in kinds
    final = events[-2][1]
    assert events[-2][0] == "run" and final["status"] == "requires_approval"
    assert [call["name"] for call in final["pending_approval"]] == ["send_message"]
    interrupt = [data for kind, data in events if kind == "update" and "__interrupt__" in data]
    assert interrupt, "the approval interrupt is streamed as an update"
    assert not runtools.SENT, "a side-effecting call waits for approval"

    waiting = wait_for_run(agents_server, run["id"])
    assert waiting["status"] == "requires_approval" and waiting["answer"] is None
    assert waiting["steps"] and waiting["steps"][0]["role"] == "planner"
    busy = httpx.post(f"{base}/v1/runs", json={"input": "And Alice too.", "agent": "ops", "thread": "bob-1"})
    assert error_of(busy, 409)["code"] == "thread_busy"

    approved = httpx.post(f"{base}/v1/runs/{run['id']}/approve", json={"decision": "approve"})
    assert approved.status_code == 202 and approved.json()["status"] == "queued"
    done = wait_for_run(agents_server, run["id"])
    assert done["status"] == "completed", done
    assert done["answer"] and done["outcome"]
    sent = [call for call in done["calls"] if call["name"] == "send_message"]
    assert sent and sent[0]["ok"] and sent[0]["observation"] == "sent"
    assert runtools.SENT and runtools.SENT[0].startswith("Bob")
    assert len(done["steps"]) > len(waiting["steps"]), "the trajectory holds the steps after approval"

    again = httpx.post(f"{base}/v1/runs/{run['id']}/approve")
    assert error_of(again, 409)["code"] == "run_not_waiting"

    rated = httpx.post(f"{base}/v1/runs/{run['id']}/feedback", json={"score": 1, "comment": "right person"})
    assert rated.status_code == 200, rated.text
    assert rated.json()["object"] == "run.feedback" and rated.json()["score"] == 1.0
    feedback = httpx.get(f"{base}/v1/runs/{run['id']}").json()["feedback"]
    assert [(f["score"], f["comment"], f["source"]) for f in feedback] == [(1.0, "right person", "user")]

    ended = run_events(agents_server, run["id"])  # a run not in flight: its state, then [DONE]
    assert [kind for kind, _ in ended] == ["run", "message"] and ended[0][1]["status"] == "completed"


def test_a_rejected_call_never_runs(agents_server: RunningServer) -> None:
    base = agents_server.base_url
    runtools.SENT.clear()
    run = httpx.post(f"{base}/v1/runs", json={"input": SEND_TASK, "model": "ops"}).json()
    state = wait_for_run(agents_server, run["id"])
    assert state["status"] == "requires_approval"
    for _ in range(3):  # the planner may try again; every attempt waits and is rejected
        response = httpx.post(f"{base}/v1/runs/{run['id']}/approve", json={"decision": "reject"})
        assert response.status_code == 202, response.text
        state = wait_for_run(agents_server, run["id"])
        if state["status"] != "requires_approval":
            break
    assert state["status"] == "completed"
    assert not runtools.SENT, "a rejected call never runs"
    assert any(call["error_kind"] == "rejected" for call in state["calls"])


def test_bad_input_is_4xx_in_openai_shape(agents_server: RunningServer, serve: Any) -> None:
    base = agents_server.base_url
    unknown = "0123456789abcdef0123456789abcdef"
    as_json = {"content-type": "application/json"}
    feedback = f"{base}/v1/runs/{unknown}/feedback"
    cases = [
        (httpx.post(f"{base}/v1/runs", json={"agent": "ops"}), 400, "input"),
        (httpx.post(f"{base}/v1/runs", json={"input": ""}), 400, "input"),
        (httpx.post(f"{base}/v1/runs", json={"input": "hi", "tools": []}), 400, "tools"),
        (httpx.post(f"{base}/v1/runs", json={"input": "hi", "thread": "a b/c"}), 400, "thread"),
        (httpx.post(f"{base}/v1/runs", json={"input": "hi", "agent": "ops", "model": "x"}), 400, "agent"),
        (httpx.post(f"{base}/v1/runs", json={"input": 3}), 400, "input"),
        (httpx.post(f"{base}/v1/runs", content=b"{not json", headers=as_json), 400, None),
        (httpx.post(f"{base}/v1/runs", json=["input"]), 400, None),
        (httpx.post(f"{base}/v1/runs", json={"input": "hi", "agent": "nobody"}), 404, "agent"),
        (httpx.get(f"{base}/v1/runs/{unknown}"), 404, "run_id"),
        (httpx.get(f"{base}/v1/runs/{unknown}/events"), 404, "run_id"),
        (httpx.get(f"{base}/v1/runs/..%2F..%2Fetc"), 404, None),
        (httpx.post(f"{base}/v1/runs/{unknown}/approve"), 404, "run_id"),
        (httpx.post(f"{base}/v1/runs/{unknown}/approve", json={"decision": "maybe"}), 400, "decision"),
        (httpx.post(f"{base}/v1/runs/{unknown}/feedback", json={"score": 1}), 404, "run_id"),
        (httpx.post(f"{base}/v1/runs/{unknown}/feedback", json={"score": "good"}), 400, "score"),
        (httpx.post(f"{base}/v1/runs/{unknown}/feedback", json={}), 400, "score"),
        (httpx.post(feedback, content=b'{"score": NaN}', headers=as_json), 400, None),
        (httpx.delete(f"{base}/v1/runs"), 405, None),
    ]  # fmt: skip
    for response, status, param in cases:
        error = error_of(response, status)
        if param is not None:
            assert error["param"] == param, (response.request.url, error)

    with serve() as plain:  # no agent profile: no runs
        refused = httpx.post(f"{plain.base_url}/v1/runs", json={"input": "hi"})
        assert error_of(refused, 404)["code"] == "no_agents"


def test_agents_list_their_tools_including_mounted_mcp_servers(default_model: Any, tmp_path: Path) -> None:
    demo = MCPServer(
        command=sys.executable,
        args=["-m", "tests.tools.mcp_demo_server", "stdio"],
        cwd=str(REPO),
        env={"PYTHONPATH": str(REPO)},
    )
    profiles = [
        AgentProfile(name="ops", graph="umi", tools=["tests.service.runtools:lookup_price"]),
        AgentProfile(name="desk", tools=["tinycrew.tools.builtin:builtin_tools()"], mcp=[demo]),
    ]
    config = agents_config(default_model, "memory", str(tmp_path / "t.sqlite"))
    config = config.model_copy(update={"agents": profiles})
    with running(config, default_model) as server:
        cards = httpx.get(f"{server.base_url}/v1/agents").json()["data"]
    by_name = {card["id"]: card for card in cards}
    assert by_name["ops"]["tools"] == ["lookup_price"] and by_name["ops"]["graph"] == "umi"
    assert by_name["desk"]["graph"] == "crew", "the crew graph is the default"
    assert {"add", "greet", "explode"} <= set(by_name["desk"]["tools"])
    assert len(by_name["desk"]["tools"]) > 3, "the builtin toolset is there too"


def test_shutdown_finishes_runs_in_grace_or_leaves_them_checkpointed(
    default_model: Any, tmp_path: Path
) -> None:
    checkpoints, trajectories = str(tmp_path / "checkpoints.sqlite"), str(tmp_path / "trajectories.sqlite")
    patient = agents_config(default_model, checkpoints, trajectories, shutdown_grace_s=300)
    with running(patient, default_model, stop_timeout=600) as server:
        finishing = httpx.post(f"{server.base_url}/v1/runs", json={"input": PRICE_TASK}).json()
        stopping = server
    assert not stopping.thread.is_alive(), "the server waited for the run, then stopped"
    # the server is gone; the run finished during the grace period, as the store says
    with TrajectoryStore.open(trajectories) as store:
        record = store.get_run(finishing["id"])
    assert record is not None and record.outcome not in (None, "stopped"), record

    hasty = agents_config(default_model, checkpoints, trajectories, shutdown_grace_s=0)
    with running(hasty, default_model) as server:
        run = httpx.post(f"{server.base_url}/v1/runs", json={"input": PRICE_TASK}).json()
        with httpx.stream("GET", f"{server.base_url}/v1/runs/{run['id']}/events", timeout=600) as stream:
            for line in stream.iter_lines():  # the planner's step is checkpointed once its update comes
                if line.startswith('data: {"planner"'):
                    break
    with running(hasty, default_model) as server:  # a new instance on the same files
        stopped = wait_for_run(server, run["id"])
        assert stopped["status"] == "stopped", stopped
        assert stopped["steps"], "the steps before the shutdown are in the trajectory"
        continued = httpx.post(f"{server.base_url}/v1/runs/{run['id']}/approve")
        assert continued.status_code == 202, continued.text
        done = wait_for_run(server, run["id"])
    assert done["status"] == "completed", done
    assert done["answer"]


def test_serve_refuses_bad_agent_settings_in_one_line() -> None:
    from tests.service.test_serve_cli import _error_line

    assert "cannot load the tools 'nomod:x'" in _error_line(["serve", "--tools", "nomod:x"])
    price = "tests.service.runtools:lookup_price"
    assert "unknown graph 'nope'" in _error_line(["serve", "--tools", price, "--graph", "nope"])
    assert "not an import path" in _error_line(["serve", "--tools", "no path"])
