"""Agent runs over HTTP: `POST /v1/runs` starts a configured agent graph with server-side tools,
`GET /v1/runs/{id}` reads its state and trajectory, `GET /v1/runs/{id}/events` streams its steps,
`POST /v1/runs/{id}/approve` resumes it after an approval interrupt (or after a shutdown stopped it),
`POST /v1/runs/{id}/feedback` scores it.

Nothing about a run lives only in this process once it has started: the graph's state is in the
LangGraph checkpointer and its steps, end and feedback are in the trajectory store (run id = the id
the API returns). So any instance sharing those two (Postgres) can read, approve and finish a run
another started. What an instance keeps in memory is only the run segment it is driving now (its
events, for `/events` subscribers).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import aclosing, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field

from tinycrew.service.config import AgentProfile, MCPServer, ServiceConfig
from tinycrew.service.errors import ServiceError
from tinycrew.service.queueing import ModelQueue, Ticket, admit_or_429

if TYPE_CHECKING:
    from tinycrew.graphs import Agent
    from tinycrew.models import ChatModel
    from tinycrew.service.metrics import Metrics
    from tinycrew.tools import Tool
    from tinycrew.trajectories import RunRecord, TrajectoryStore

logger = logging.getLogger("tinycrew.service")

AGENT_KEY = "tinycrew_agent"
"""The checkpoint metadata key naming the agent profile a thread runs under (any instance reads it)."""
STOPPED = "stopped"
"""The outcome a shutdown writes on a run it left at its last checkpoint; finishing it overwrites it."""
INTERNAL_KEYS = frozenset({"open_step", "open_steps", "messages"})
"""State channels left out of streamed updates: recording rows and prompts (the trajectory has them)."""
ID_PATTERN = r"^[A-Za-z0-9][\w.:-]{0,127}$"

RunStatus = Literal["queued", "running", "requires_approval", "completed", "failed", "stopped"]


class RunRequest(BaseModel):
    """`POST /v1/runs`: the task, the agent profile (`agent`, or `model` as OpenAI clients name it),
    and optionally the conversation (`thread`) this run is the next turn of."""

    model_config = ConfigDict(extra="forbid")

    input: str = Field(min_length=1, max_length=32_000)
    agent: str | None = Field(default=None, max_length=64)
    model: str | None = Field(default=None, max_length=256)
    thread: str | None = Field(default=None, pattern=ID_PATTERN)


class ApproveRequest(BaseModel):
    """`POST /v1/runs/{id}/approve`: run the waiting side-effecting calls ("approve") or not ("reject")."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"] = "approve"


class FeedbackRequest(BaseModel):
    """`POST /v1/runs/{id}/feedback`: a score for the whole run (e.g. 1 good, 0 bad), used by the
    router and for training data; `source` says who gave it."""

    model_config = ConfigDict(extra="forbid")

    score: float = Field(ge=-1e6, le=1e6, allow_inf_nan=False)
    comment: str | None = Field(default=None, max_length=4000)
    source: str = Field(default="user", pattern=r"^[\w.:-]{1,64}$")


def run_not_found(run_id: str) -> ServiceError:
    """The 404 for a run id no instance knows."""
    return ServiceError(404, f"No run found with id '{run_id}'.", param="run_id", code="run_not_found")


def conflict(message: str, code: str) -> ServiceError:
    """A 409: the run or thread is not in a state that allows the request."""
    return ServiceError(409, message, code=code)


def load_tools(paths: Iterable[str]) -> list[Tool]:
    """The tools behind import paths `"module:name"` (a Tool, a @tool or plain function, a ToolRegistry,
    a list of them) and `"module:name()"` (a factory returning one of those).

    Example: `load_tools(["tinycrew.tools.builtin:builtin_tools()"])`.
    """
    from tinycrew.tools import Tool, ToolRegistry, function_to_tool

    found: list[Tool] = []

    def add(value: Any, path: str) -> None:
        if isinstance(value, Tool):
            found.append(value)
        elif isinstance(value, ToolRegistry):
            found.extend(value)
        elif isinstance(value, list | tuple):
            for item in value:
                add(item, path)
        elif callable(value):
            found.append(function_to_tool(value))
        else:
            raise ValueError(f"{path} is a {type(value).__name__}, not a tool, a registry or a list of tools")

    for path in paths:
        factory = path.endswith("()")
        module_name, _, attribute = path.removesuffix("()").partition(":")
        value: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            value = getattr(value, part)
        if factory:
            value = value()
        add(value, path)
    return found


def _mcp_toolset(server: MCPServer) -> Any:
    from tinycrew.tools import from_mcp

    if server.url is not None:
        return from_mcp(url=server.url, side_effect=server.side_effect)
    return from_mcp(
        server.command, server.args, env=server.env or None, cwd=server.cwd, side_effect=server.side_effect
    )


def _encode(value: Any) -> Any:
    """A streamed update as JSON: pydantic records and dataclasses as objects, anything else as text."""
    try:
        return jsonable_encoder(value)
    except (TypeError, ValueError):
        return repr(value)


def _update_payload(update: Any) -> Any:
    if not isinstance(update, dict):
        return _encode(update)
    payload: dict[str, Any] = {}
    for node, changes in update.items():
        if isinstance(changes, dict):
            changes = {key: value for key, value in changes.items() if key not in INTERNAL_KEYS}
        payload[node] = _encode(changes)
    return payload


def _epoch(value: Any) -> int | None:
    return None if value is None else int(value.timestamp())


@dataclass
class LiveRun:
    """The segment of a run this instance drives now (from start or approval to the end or the next
    interrupt): its status and the events so far, which `/events` replays to late subscribers."""

    run_id: str
    thread: str
    agent: str
    input: str | None
    status: RunStatus = "queued"
    events: list[dict[str, str]] = field(default_factory=list)
    finished: bool = False
    task: asyncio.Task[None] | None = None
    created: float = field(default_factory=time.time)
    _tick: asyncio.Event = field(default_factory=asyncio.Event)

    def publish(self, event: str, data: Any) -> None:
        """Add one SSE message and wake every subscriber."""
        import json

        self.events.append({"event": event, "data": json.dumps(data, ensure_ascii=False, default=str)})
        self._wake()

    def close(self) -> None:
        """No more events: subscribers end once they have read them all."""
        self.finished = True
        self._wake()

    def _wake(self) -> None:
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()

    async def follow(self) -> AsyncIterator[dict[str, str]]:
        """Every event from the first, then new ones as they come, until the segment ends."""
        index = 0
        while True:
            tick = self._tick
            while index < len(self.events):
                yield self.events[index]
                index += 1
            if self.finished:
                return
            await tick.wait()


class Runs:
    """The agent profiles of one service instance and the run segments it drives."""

    def __init__(self, config: ServiceConfig, metrics: Metrics | None = None) -> None:
        self.config = config
        self.metrics = metrics
        self.agents: dict[str, Agent] = {}
        self.profiles: dict[str, AgentProfile] = {profile.name: profile for profile in config.agents}
        self.model_of: dict[str, str] = {}
        self.store: TrajectoryStore | None = None
        self.live: dict[str, LiveRun] = {}
        self._toolsets: list[Any] = []
        self._stopping = False

    @property
    def enabled(self) -> bool:
        """Whether any agent profile is configured (else every /v1/runs route answers 404)."""
        return bool(self.profiles)

    def build(self, models: dict[str, ChatModel]) -> None:
        """Open the trajectory store and build each profile's Agent on the served models (blocking: call
        it on a worker thread at start-up). MCP servers are connected here."""
        if not self.profiles:
            return
        from tinycrew.graphs import Agent
        from tinycrew.graphs.checkpoint import memory_checkpointer
        from tinycrew.trajectories import TrajectoryStore

        self.store = TrajectoryStore.open(self.config.trajectories)
        spec = self.config.checkpointer
        checkpointer: Any = memory_checkpointer() if spec == "memory" else spec
        for profile in self.profiles.values():
            model_name = profile.model or next(iter(models))
            if model_name not in models:
                raise ValueError(f"agent {profile.name!r} names model {model_name!r}, which is not served")
            tools = load_tools(profile.tools)
            for server in profile.mcp:
                toolset = _mcp_toolset(server)
                self._toolsets.append(toolset)
                tools.extend(toolset)
            agent = Agent(
                tools,
                graph=profile.graph,  # type: ignore[arg-type]
                models=models[model_name],
                top_k=profile.top_k,
                min_similarity=profile.min_similarity,
                checkpointer=checkpointer,
                record=True,
                store=self.store,
            )
            agent.graph  # noqa: B018 - open the state reader's connection now, not in a request
            self.agents[profile.name] = agent
            self.model_of[profile.name] = model_name

    def close(self) -> None:
        """Disconnect MCP servers and close the trajectory store (after `shutdown`)."""
        for toolset in self._toolsets:
            try:
                toolset.close()
            except Exception:
                logger.warning("an MCP server did not close cleanly", exc_info=True)
        self._toolsets.clear()
        if self.store is not None:
            self.store.close()

    # -- requests ---------------------------------------------------------------------------------------

    def cards(self) -> list[dict[str, Any]]:
        """The agent profiles as `GET /v1/agents` lists them."""
        return [
            {
                "id": name,
                "object": "agent",
                "graph": profile.graph,
                "model": self.model_of.get(name, profile.model),
                "tools": self.agents[name].registry.names() if name in self.agents else [],
            }
            for name, profile in self.profiles.items()
        ]

    def _profile(self, body: RunRequest) -> str:
        if body.agent is not None and body.model is not None and body.agent != body.model:
            raise ServiceError(
                400,
                "Give the agent as `agent` or as `model`, not two different names.",
                param="agent",
                code="invalid_value",
            )
        name = body.agent if body.agent is not None else body.model
        profile = self.config.agent(name)
        if profile is None:
            message = f"The agent `{name}` does not exist."
            raise ServiceError(404, message, param="agent", code="agent_not_found")
        return profile.name

    def _admit(self, queue: ModelQueue) -> Ticket:
        if self._stopping:
            message = "The server is shutting down. Retry on another instance."
            raise ServiceError(
                503, message, type_="server_error", code="shutting_down", headers={"Retry-After": "5"}
            )
        if sum(not live.finished for live in self.live.values()) >= self.config.max_runs:
            message = f"{self.config.max_runs} runs are already in progress here. Retry later."
            raise ServiceError(
                429, message, type_="requests", code="too_many_runs", headers={"Retry-After": "10"}
            )
        return admit_or_429(queue)

    async def _thread_owner(self, thread: str) -> tuple[str | None, Any]:
        """The profile a thread last ran under (from its latest checkpoint's metadata) and that checkpoint."""
        agent = next(iter(self.agents.values()))
        saved = await agent.graph.checkpointer.aget_tuple({"configurable": {"thread_id": thread}})
        if saved is None:
            return None, None
        return saved.metadata.get(AGENT_KEY), saved

    async def start(self, body: RunRequest, queues: dict[str, ModelQueue]) -> dict[str, Any]:
        """Admit a run and drive it in the background; its state (status "queued") at once."""
        name = self._profile(body)
        agent = self.agents[name]
        if body.thread is not None:
            if any(live.thread == body.thread and not live.finished for live in self.live.values()):
                raise conflict(f"Thread '{body.thread}' has a run in progress.", "thread_busy")
            owner, _ = await self._thread_owner(body.thread)
            if owner is not None and owner != name:
                raise conflict(f"Thread '{body.thread}' belongs to agent `{owner}`.", "thread_agent_mismatch")
            snapshot = await agent.graph.aget_state({"configurable": {"thread_id": body.thread}})
            if snapshot.next:
                waiting = snapshot.values.get("run_id", body.thread)
                message = f"Thread '{body.thread}' has an unfinished run, '{waiting}': approve it first."
                raise conflict(message, "thread_busy")
        queue = queues[self.model_of[name]]
        ticket = self._admit(queue)
        run_id = uuid.uuid4().hex
        live = LiveRun(run_id, body.thread or run_id, name, body.input)
        events = agent.astream(body.input, run_id, thread=body.thread, config=self._config(name))
        self._launch(live, queue, ticket, events, before=(0, 0, 0))
        return self._queued_view(live)

    async def approve(
        self, run_id: str, body: ApproveRequest, queues: dict[str, ModelQueue]
    ) -> dict[str, Any]:
        """Resume a run waiting for approval with the decision (or continue one a shutdown stopped, when
        the decision is "approve"); its state (status "queued") at once."""
        live = self.live.get(run_id)
        if live is not None and not live.finished:
            raise conflict(f"Run '{run_id}' is {live.status} on this instance.", "run_active")
        view = await self.state(run_id)
        status = view["status"]
        decision: str | None = body.decision
        if status == STOPPED:
            if body.decision != "approve":
                raise conflict(
                    f"Run '{run_id}' was stopped, not waiting for approval: approve continues it.",
                    "run_not_waiting",
                )
            decision = None
        elif status != "requires_approval":
            raise conflict(f"Run '{run_id}' is {status}: it is not waiting for approval.", "run_not_waiting")
        name = view["agent"]
        if name not in self.agents:
            raise conflict(
                f"Run '{run_id}' ran under agent `{name}`, which this instance does not serve.",
                "agent_not_served",
            )
        agent = self.agents[name]
        queue = queues[self.model_of[name]]
        ticket = self._admit(queue)
        live = LiveRun(run_id, view["thread"], name, view["input"])
        events = agent.astream_resume(run_id, decision, thread=view["thread"], config=self._config(name))
        before = (
            view["usage_totals"]["prompt_tokens"],
            view["usage_totals"]["completion_tokens"],
            view["usage_totals"]["escalations"],
        )
        self._launch(live, queue, ticket, events, before=before)
        return self._queued_view(live)

    async def feedback(self, run_id: str, body: FeedbackRequest) -> dict[str, Any]:
        """Store a score on the run's trajectory; the stored feedback."""
        from tinycrew.trajectories import TrajectoryError

        assert self.store is not None
        try:
            stored = await asyncio.to_thread(
                self.store.add_feedback, run_id, body.score, body.comment, body.source
            )
        except TrajectoryError:
            raise run_not_found(run_id) from None
        return {
            "id": stored.id,
            "object": "run.feedback",
            "run_id": run_id,
            "score": stored.score,
            "comment": stored.comment,
            "source": stored.source,
            "created_at": _epoch(stored.created_at),
        }

    async def events(self, run_id: str) -> AsyncIterator[dict[str, str]]:
        """The SSE messages of a run: its state, then (if this instance drives it) every step so far and
        each new one, then its state at the end of the segment; always `data: [DONE]` last."""
        import json

        live = self.live.get(run_id)
        if live is None or live.finished:
            view = await self.state(run_id)
            yield {"event": "run", "data": json.dumps(_public(view), default=str)}
        else:
            if not live.events:
                yield {"event": "run", "data": json.dumps(self._queued_view(live), default=str)}
            async for event in live.follow():
                yield event
        yield {"data": "[DONE]"}

    def check_id(self, run_id: str) -> None:
        """Refuse ids no run can have (404 before touching a database)."""
        import re

        if not re.match(ID_PATTERN, run_id):
            raise run_not_found(run_id)

    # -- state ------------------------------------------------------------------------------------------

    def _config(self, name: str) -> dict[str, Any]:
        return {"metadata": {AGENT_KEY: name}}

    def _queued_view(self, live: LiveRun) -> dict[str, Any]:
        return {
            "id": live.run_id,
            "object": "run",
            "agent": live.agent,
            "graph": self.profiles[live.agent].graph,
            "thread": live.thread,
            "status": live.status,
            "input": live.input,
            "created_at": int(live.created),
        }

    async def _record(self, run_id: str) -> RunRecord | None:
        if self.store is None:
            return None
        return await asyncio.to_thread(self.store.get_run, run_id)

    async def state(self, run_id: str) -> dict[str, Any]:
        """A run's state from the checkpointer and its trajectory from the store (any instance's run).

        The status: "queued"/"running" while this instance drives it; "requires_approval" when its
        checkpoint waits at an approval interrupt; "completed" or "failed" once it ended; "stopped" when
        a shutdown left it at its last checkpoint; "running" otherwise (another instance drives it).
        """
        live = self.live.get(run_id)
        record = await self._record(run_id)
        if record is None and live is None:
            raise run_not_found(run_id)
        thread = live.thread if live is not None else str(record.metadata.get("thread") or run_id)  # type: ignore[union-attr]
        name = live.agent if live is not None else None
        owner, _ = await self._thread_owner(thread)
        name = name or owner or self._guess_agent(record)
        values: dict[str, Any] = {}
        pending: list[dict[str, Any]] = []
        waiting = False
        if name in self.agents:
            snapshot = await self.agents[name].graph.aget_state({"configurable": {"thread_id": thread}})
            if snapshot.values.get("run_id", thread) == run_id:
                values = snapshot.values
                waiting = bool(snapshot.next)
                pending = [
                    item
                    for task in snapshot.tasks
                    for intr in task.interrupts
                    for item in intr.value.get("calls", [])
                ]
        status: RunStatus
        if live is not None and not live.finished:
            status = live.status
        elif record is None:
            status = live.status if live is not None else "failed"
        elif record.outcome == STOPPED and waiting:
            status = STOPPED
        elif record.outcome == "error" and record.error is not None:
            status = "failed"
        elif record.outcome is not None:
            status = "completed"
        elif pending:
            status = "requires_approval"
        else:
            status = "running"
        calls = [_encode(call) for call in values.get("calls", [])]
        view: dict[str, Any] = {
            "id": run_id,
            "object": "run",
            "agent": name,
            "graph": record.graph if record is not None else self.profiles[name].graph,
            "thread": thread,
            "status": status,
            "input": record.task if record is not None else live.input,  # type: ignore[union-attr]
            "answer": (record.answer if record is not None else None) or values.get("answer"),
            "outcome": None if record is None or record.outcome == STOPPED else record.outcome,
            "error": record.error if record is not None and status == "failed" else None,
            "pending_approval": _encode(pending) if status == "requires_approval" else [],
            "calls": calls,
            "usage": _encode(values.get("usage", {})),
            "created_at": _epoch(record.started_at) if record is not None else int(live.created),  # type: ignore[union-attr]
            "finished_at": _epoch(record.finished_at) if record is not None and status != STOPPED else None,
            "steps": [_step(step) for step in record.steps] if record is not None else [],
            "feedback": [
                {
                    "id": f.id,
                    "score": f.score,
                    "comment": f.comment,
                    "source": f.source,
                    "created_at": _epoch(f.created_at),
                }
                for f in record.feedback
            ]
            if record is not None
            else [],
            "usage_totals": {
                "prompt_tokens": record.prompt_tokens if record is not None else 0,
                "completion_tokens": record.completion_tokens if record is not None else 0,
                "escalations": record.n_escalations if record is not None else 0,
            },
        }
        return view

    def _guess_agent(self, record: RunRecord | None) -> str | None:
        """A run without the agent in its checkpoint: the one profile with its graph, if there is one."""
        if record is None:
            return None
        same = [name for name, profile in self.profiles.items() if profile.graph == record.graph]
        return same[0] if len(same) == 1 else None

    # -- driving ----------------------------------------------------------------------------------------

    def _launch(
        self,
        live: LiveRun,
        queue: ModelQueue,
        ticket: Ticket,
        events: AsyncIterator[tuple[str, Any]],
        before: tuple[int, int, int],
    ) -> None:
        self.live[live.run_id] = live
        live.task = asyncio.create_task(self._drive(live, queue, ticket, events, before))
        if self.metrics is not None:
            self.metrics.runs_active.inc()

    async def _drive(
        self,
        live: LiveRun,
        queue: ModelQueue,
        ticket: Ticket,
        events: AsyncIterator[tuple[str, Any]],
        before: tuple[int, int, int],
    ) -> None:
        """Take the model's turn, run the segment, publish its events; on failure record the error, on
        cancellation (shutdown) mark the run stopped at its last checkpoint."""
        status: RunStatus = "failed"
        try:
            async with queue.turn(ticket), aclosing(events) as stream:
                live.status = "running"
                live.publish("run", self._queued_view(live))
                async for kind, value in stream:
                    if kind == "result":
                        status = "requires_approval" if value.status == "interrupted" else "completed"
                    elif kind == "token":
                        live.publish("token", _encode(value))
                    else:
                        live.publish("update", _update_payload(value))
        except asyncio.CancelledError:
            status = STOPPED
            await self._finish(live, STOPPED, "the server shut down; approve the run to continue it")
            raise
        except Exception as error:
            logger.exception("run %s failed", live.run_id)
            status = "failed"
            if self.metrics is not None:
                self.metrics.errors.labels("run_failed").inc()
            await self._finish(live, "error", f"{type(error).__name__}: {error}")
        finally:
            ticket.release()
            live.status = status
            live.finished = True
            try:
                view = await self.state(live.run_id)
                live.publish("run", _public(view))
                self._count(live, view, before)
            except Exception:
                logger.warning("could not read run %s after its segment", live.run_id, exc_info=True)
                live.publish("run", {**self._queued_view(live), "status": status})
            live.close()
            if self.live.get(live.run_id) is live:
                del self.live[live.run_id]
            if self.metrics is not None:
                self.metrics.runs_active.dec()
                self.metrics.runs.labels(live.agent, status).inc()

    async def _finish(self, live: LiveRun, outcome: str, error: str) -> None:
        """Write the run's end (an unknown run: it never started, nothing to write)."""
        from tinycrew.trajectories import TrajectoryError

        if self.store is None:
            return
        with suppress(TrajectoryError):
            await asyncio.to_thread(
                self.store.finish_run, live.run_id, answer=None, outcome=outcome, error=error
            )

    def _count(self, live: LiveRun, view: dict[str, Any], before: tuple[int, int, int]) -> None:
        if self.metrics is None:
            return
        totals = view["usage_totals"]
        model = self.model_of[live.agent]
        self.metrics.tokens.labels(model, "prompt").inc(max(0, totals["prompt_tokens"] - before[0]))
        self.metrics.tokens.labels(model, "completion").inc(max(0, totals["completion_tokens"] - before[1]))
        self.metrics.escalations.inc(max(0, totals["escalations"] - before[2]))

    async def shutdown(self, grace_s: float) -> None:
        """Refuse new runs, give those in flight `grace_s` seconds to finish, then cancel the rest: each
        stays at its last checkpoint, marked stopped, and `approve` on any instance continues it."""
        self._stopping = True
        tasks = [live.task for live in self.live.values() if live.task is not None and not live.task.done()]
        if not tasks:
            return
        _, waiting = await asyncio.wait(tasks, timeout=grace_s)
        for task in waiting:
            task.cancel()
        if waiting:
            logger.warning("stopping %d run(s) at their last checkpoint", len(waiting))
            await asyncio.gather(*waiting, return_exceptions=True)


def _public(view: dict[str, Any]) -> dict[str, Any]:
    """A run's state as the API returns it (without the counters kept for metrics)."""
    return {key: value for key, value in view.items() if key != "usage_totals"}


def _step(step: Any) -> dict[str, Any]:
    return {
        "index": step.index,
        "role": step.role,
        "model": step.model,
        "output": step.raw_output,
        "call": step.parsed_call,
        "observation": step.observation,
        "error": step.error,
        "validation_error": step.validation_error,
        "rewrites": step.rewrites,
        "prompt_tokens": step.prompt_tokens,
        "completion_tokens": step.completion_tokens,
        "latency_s": step.latency_s,
        "escalated": step.escalated,
        "created_at": _epoch(step.created_at),
    }


public_view = _public
__all__ = ["ApproveRequest", "FeedbackRequest", "LiveRun", "RunRequest", "Runs", "load_tools", "public_view"]
