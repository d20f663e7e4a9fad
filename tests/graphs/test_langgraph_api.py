"""At home in LangGraph (issue #27, item 4): `Agent.graph` as a subgraph and for state reads, LangGraph's
stream modes, a caller's config (callbacks, tags, metadata) and LangChain tools, on the packaged 0.5B."""

from __future__ import annotations

import asyncio
from typing import Any, TypedDict
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.tools import tool as lc_tool
from langgraph.graph import END, START, StateGraph

from tests.trajectories.conftest import postgres_server, postgres_url  # noqa: F401 - fixtures
from tinycrew.agents import CallRecord
from tinycrew.graphs import Agent, RunResult
from tinycrew.graphs.checkpoint import memory_checkpointer
from tinycrew.tools.builtin import builtin_tools

pytestmark = pytest.mark.slow

KOFI = "kofi.mensah@example.com"
TASK = "What is Kofi's email address?"
looked_up: list[str] = []


@lc_tool
def find_email(name: str) -> str:
    """Look up the email address of a colleague.

    Args:
        name: The colleague's first name, e.g. "Ana".
    """
    looked_up.append(name)
    return {"kofi": KOFI, "ana": "ana@example.com"}[name.strip().lower()]


class Recorded(BaseCallbackHandler):
    """A LangChain callback handler that keeps every chain start (name, root or not, tags, metadata)."""

    def __init__(self) -> None:
        self.starts: list[tuple[str, bool, list[str], dict[str, Any]]] = []
        self.ends = 0

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.starts.append(
            (kwargs.get("name") or "", parent_run_id is None, list(tags or []), dict(metadata or {}))
        )

    def on_chain_end(
        self, outputs: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        self.ends += 1


class Run(TypedDict):
    agent: Agent
    events: list[tuple[str, Any]]
    handler: Recorded
    result: RunResult


@pytest.fixture(scope="module")
def run(default_model, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """One umi run (calls only) with a LangChain tool, streamed in three LangGraph modes with a callback
    handler, tags and metadata, checkpointed to SQLite: every test below reads it."""
    checkpoints = tmp_path_factory.mktemp("api") / "checkpoints.sqlite"
    agent = Agent(
        [find_email], "umi", default_model, checkpointer=str(checkpoints), record=False, answer=False
    )
    handler = Recorded()
    config = {
        "callbacks": [handler],
        "tags": ["tinycrew-test"],
        "metadata": {"who": "test"},
        "configurable": {"thread_id": "not-ours", "user_id": "u1"},
    }
    modes = ["values", "updates", "custom"]
    events = list(agent.stream(TASK, thread="api", stream_mode=modes, config=config))
    return Run(agent=agent, events=events, handler=handler, result=events[-1][1])


def test_a_langchain_tool_is_called_by_a_real_model_run(run: Run) -> None:
    assert looked_up[:1] == ["Kofi"]
    assert [(c.name, c.arguments, c.observation) for c in run["result"].calls][:1] == [
        ("find_email", {"name": "Kofi"}, KOFI)
    ]


def test_stream_modes_pass_through_then_the_result(run: Run) -> None:
    kinds = [kind for kind, _ in run["events"]]
    assert set(kinds) == {"values", "updates", "custom", "result"} and kinds[-1] == "result"
    values = [chunk for kind, chunk in run["events"] if kind == "values"]
    # the input first, as LangGraph streams it (with the empty usage of its reducer channel)
    assert values[0] == {"task": TASK, "run_id": run["result"].run_id, "usage": {}}
    assert values[-1]["calls"] == run["result"].calls and values[-1]["history"] == []
    nodes = [node for kind, chunk in run["events"] if kind == "updates" for node in chunk]
    assert nodes[:3] == ["retrieve", "planner", "caller"] and nodes[-1] == "summarizer"
    tokens = [chunk for kind, chunk in run["events"] if kind == "custom"]
    assert {token["role"] for token in tokens} >= {"planner", "caller"}


def test_a_callback_handler_in_the_config_sees_the_run(run: Run) -> None:
    handler = run["handler"]
    names = [name for name, *_ in handler.starts]
    assert names[0] == "tinycrew_umi" and handler.starts[0][1], "the graph is the root run"
    assert {"retrieve", "planner", "caller", "executor", "summarizer"} <= set(names)
    assert handler.ends == len(handler.starts)


def test_tags_and_metadata_reach_the_run_and_our_configurable_keys_win(run: Run) -> None:
    _, _, tags, metadata = run["handler"].starts[0]
    assert "tinycrew-test" in tags and metadata["who"] == "test"
    assert metadata["thread_id"] == "api" and metadata["run_id"] == run["result"].run_id
    assert all("tinycrew-test" in tags for _, _, tags, _ in run["handler"].starts)


def test_the_graph_reads_the_thread_after_a_run(run: Run) -> None:
    agent, result = run["agent"], run["result"]
    config = {"configurable": {"thread_id": "api"}}
    history = list(agent.graph.get_state_history(config))  # newest first, from the SQLite file
    assert history[0].values["calls"] == result.calls and history[0].next == ()
    assert history[-1].next == ("__start__",) and "task" not in history[-1].values
    assert ("retrieve",) in [snapshot.next for snapshot in history]
    assert asyncio.run(agent.graph.aget_state(config)).values["run_id"] == result.run_id


class Parent(TypedDict, total=False):
    task: str
    calls: list[CallRecord]
    report: str


def test_the_graph_is_a_node_of_a_parent_graph(default_model) -> None:
    agent = Agent(builtin_tools(), "umi", default_model, checkpointer="memory", record=False, answer=False)

    def report(state: Parent) -> dict[str, str]:
        return {"report": " ".join(call.observation for call in state["calls"])}

    parent = StateGraph(Parent)
    parent.add_node("agent", agent.graph)
    parent.add_node("report", report)
    parent.add_edge(START, "agent")
    parent.add_edge("agent", "report")
    parent.add_edge("report", END)
    # our records (CallRecord) are restored from a checkpoint only by a saver that allows them
    graph = parent.compile(checkpointer=memory_checkpointer())
    config = {"configurable": {"thread_id": "parent"}}
    out = asyncio.run(graph.ainvoke({"task": "What is 1234 times 5678?"}, config))
    assert "7006652" in out["report"].split()
    assert set(out) == {"task", "calls", "report"}, "only the parent's keys come back"
    assert graph.get_state(config).values["report"] == out["report"]


@pytest.fixture(params=["sqlite", "postgres"])
def checkpoints(request: pytest.FixtureRequest, tmp_path) -> str:
    """Where an agent checkpoints: a SQLite file, or a fresh database on a real PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "checkpoints.sqlite")
    return str(request.getfixturevalue("postgres_url"))


def test_the_graph_and_the_runs_share_the_database(default_model, checkpoints: str) -> None:
    agent = Agent([find_email], "umi", default_model, checkpointer=checkpoints, record=False)
    config = {"configurable": {"thread_id": "shared"}}
    found = CallRecord(id=1, name="find_email", arguments={"name": "Kofi"}, observation=KOFI)
    # a turn stopped before its caller, written through the graph's saver, sync then async
    agent.graph.update_state(config, {"task": TASK, "turn_task": TASK, "run_id": "r1"}, as_node="retrieve")
    asyncio.run(agent.graph.aupdate_state(config, {"calls": [found], "next": "caller"}, as_node="planner"))
    assert agent.graph.get_state(config).next == ("caller",)
    assert asyncio.run(agent.graph.aget_state(config)).values["calls"] == [found]
    assert len(list(agent.graph.get_state_history(config))) == 2  # one checkpoint per update
    # the run's own saver (opened per run) reads the same database, before any model runs
    with pytest.raises(ValueError, match="thread 'shared' has an unfinished turn, run 'r1'"):
        agent.run("Now send him the message 'hello'.", thread="shared")
