"""The desktop assistant's web UI: one FastAPI app and one static page, served on 127.0.0.1 only.

`tinycrew desktop` loads this file by its location (it is no package of tinycrew: nothing in tinycrew
imports demos) and serves `create_app(...)`; run it by hand with
`python demos/desktop_assistant/app.py --root /tmp/sandbox --port 8765`.

The page is a pure function of one event log: every change (a run starting, the plan, each call, an
approval asked for, the trajectory) is an event with an id; `GET /api/events` (SSE) replays the log and
then follows it, so a reload or a second tab shows the same conversation. Tokens are events too, for
the live view, but a replay skips them. One run drives the model at a time (llama.cpp runs one
generation per model); a second request waits its turn.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field
from sse_starlette.sse import EventSourceResponse

HERE = Path(__file__).resolve().parent
PAGE = HERE / "static" / "index.html"
LOOPBACK = ("127.0.0.1", "::1", "localhost")
TEXT_CUT = 400
"""Characters of a prompt or a response the trajectory view shows (the store keeps them whole)."""

ToolFactory = Callable[[Path, datetime | None, bool], Iterable[Any]]


def desktop_toolset(root: Path, now: datetime | None, approval: bool) -> list[Any]:
    """The 16 desktop tools on `root`; relative dates count from `now` (None: the wall clock)."""
    from tinycrew.tools.desktop import desktop_tools

    return desktop_tools(root, now=now, approval=approval)


@dataclass
class Settings:
    """What one UI serves: the sandbox, the model, whether side effects wait for approval, the clock."""

    root: Path
    model: Any = None
    """A packaged model name, a .gguf path, a loaded ChatModel, or None (the packaged 0.5B)."""
    approval: bool = True
    now: datetime | None = None
    """A fixed clock for relative dates (reproducible runs); None reads the wall clock per request."""
    trajectories: str | Path | None = None
    """The trajectory store (path or postgresql:// URL); None: the default under TINYCREW_HOME."""
    tools: ToolFactory = desktop_toolset
    cloud: Any = None
    """A `tinycrew.switching.CloudConfig` (or chat model) that may redo doubtful local steps."""


class Message(BaseModel):
    """A user's request, as the next turn of a conversation (`thread`)."""

    text: str = Field(min_length=1, max_length=4000)
    thread: str | None = Field(default=None, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")


class Decision(BaseModel):
    """The user's answer to an approval request."""

    decision: str = Field(pattern="^(approve|reject)$")


@dataclass
class EventLog:
    """Every event the page has been sent, with increasing ids, and a way to wait for the next one."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    last_id: int = 0
    _tick: asyncio.Event = field(default_factory=asyncio.Event)

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        self.last_id += 1
        text = json.dumps(jsonable_encoder(data), ensure_ascii=False, default=str)
        self.entries.append({"id": self.last_id, "event": kind, "data": text})
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()

    def drop_tokens(self, run_id: str) -> None:
        """Forget a finished segment's tokens: a replay never shows them and they are most of the log."""
        marker = f'"run_id": "{run_id}"'
        self.entries = [e for e in self.entries if not (e["event"] == "token" and marker in e["data"])]

    async def follow(self, after: int) -> AsyncIterator[dict[str, Any]]:
        """The events after id `after` (without old tokens), then each new one as it comes."""
        replay_until = self.last_id
        index = 0
        while True:
            tick = self._tick
            entries = self.entries
            while index < len(entries):
                entry = entries[index]
                index += 1
                if entry["id"] <= after or (entry["event"] == "token" and entry["id"] <= replay_until):
                    continue
                after = entry["id"]
                yield {"id": str(entry["id"]), "event": entry["event"], "data": entry["data"]}
            await tick.wait()
            if self.entries is not entries:  # tokens were dropped: find our place again
                index = next((i for i, e in enumerate(self.entries) if e["id"] > after), len(self.entries))


def _short(text: Any, limit: int = TEXT_CUT) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _prompt_summary(messages: list[dict[str, Any]]) -> str:
    """The part of a prompt that differs between steps: its last user (or tool) message."""
    for message in reversed(messages):
        if message.get("role") in ("user", "tool") and message.get("content"):
            return _short(message["content"])
    return _short(messages[-1].get("content") if messages else "")


def _calls(items: Iterable[Any]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        data = jsonable_encoder(item)
        out.append(
            {
                "id": data.get("id"),
                "name": data.get("name"),
                "arguments": data.get("arguments", {}),
                "ok": data.get("ok"),
                "observation": _short(data.get("observation"), 600) if "observation" in data else None,
                "error_kind": data.get("error_kind"),
                "depends_on": data.get("depends_on", []),
                "rewrites": [
                    {"policy": r.get("policy"), "reason": r.get("reason")} for r in data.get("rewrites", [])
                ],
            }
        )
    return out


def _plan_nodes(plan: Iterable[Any]) -> list[dict[str, Any]]:
    """The crew planner's nodes (tool, purpose, depends_on), or a compiler plan's calls, for the DAG."""
    nodes = []
    for item in plan:
        data = jsonable_encoder(item)
        nodes.append(
            {
                "id": data.get("id"),
                "tool": data.get("tool") or data.get("name"),
                "purpose": data.get("purpose") or "",
                "depends_on": data.get("depends_on", []),
                "arguments": data.get("arguments"),
            }
        )
    return nodes


class Assistant:
    """The agent behind the page: one model, one sandbox, conversations as LangGraph threads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.events = EventLog()
        self.turn = asyncio.Lock()
        self.runs: dict[str, dict[str, Any]] = {}
        """run id -> {"thread", "agent", "status", "task"} for every run of this server."""
        self.model: Any = None
        self.store: Any = None
        self.agent: Any = None
        self.model_name = ""
        self.ready = asyncio.Event()
        self.load_error: str | None = None

    def load(self) -> None:
        """Load the model, open the trajectory store and build the agent (blocking: seconds)."""
        from tinycrew.graphs import Agent
        from tinycrew.graphs.checkpoint import memory_checkpointer
        from tinycrew.models import load_model
        from tinycrew.tools.desktop import AGENT_OPTIONS
        from tinycrew.trajectories import TrajectoryStore

        settings = self.settings
        self.model = load_model(settings.model)
        self.model_name = getattr(self.model, "name", str(settings.model))
        self.store = TrajectoryStore.open(settings.trajectories)
        # Without a fixed clock the tools read the wall clock per call: a server runs for days. The roles
        # are not told the time: the tools read dates in the user's words (docs/desktop.md, "Dates").
        self.agent = Agent(
            list(settings.tools(settings.root, settings.now, settings.approval)),
            models=self.model,
            checkpointer=memory_checkpointer(),
            store=self.store,
            cloud=settings.cloud,
            **AGENT_OPTIONS,
        )

    def info(self) -> dict[str, Any]:
        return {
            "root": str(self.settings.root),
            "model": self.model_name,
            "approval": self.settings.approval,
            "now": self.settings.now.isoformat() if self.settings.now else None,
            "ready": self.ready.is_set(),
            "error": self.load_error,
            "cloud": None if self.settings.cloud is None else getattr(self.settings.cloud, "model", "cloud"),
        }

    # -- runs --------------------------------------------------------------------------------------------

    def start(self, text: str, thread: str | None) -> dict[str, str]:
        """Begin a turn of `thread` (a new conversation when None); its events follow on /api/events."""
        if not self.ready.is_set():
            raise HTTPException(503, self.load_error or "the model is still loading")
        thread = thread or uuid.uuid4().hex[:12]
        busy = [r for r in self.runs.values() if r["thread"] == thread and r["status"] != "done"]
        if busy:
            raise HTTPException(409, "this conversation has an unfinished turn: approve or reject it first")
        run_id = uuid.uuid4().hex
        self.runs[run_id] = {"thread": thread, "status": "queued", "task": text}
        self.events.publish("run", {"run_id": run_id, "thread": thread, "task": text, "status": "queued"})
        events = self.agent.astream(text, run_id, thread=thread)
        asyncio.get_running_loop().create_task(self._drive(run_id, events))
        return {"run_id": run_id, "thread": thread}

    def decide(self, run_id: str, decision: str) -> dict[str, str]:
        """Resume a run waiting for approval with the user's decision."""
        run = self.runs.get(run_id)
        if run is None:
            raise HTTPException(404, f"no run {run_id}")
        if run["status"] != "waiting":
            raise HTTPException(409, f"run {run_id} is not waiting for approval (it is {run['status']})")
        run["status"] = "queued"
        self.events.publish("decision", {"run_id": run_id, "thread": run["thread"], "decision": decision})
        events = self.agent.astream_resume(run_id, decision, thread=run["thread"])
        asyncio.get_running_loop().create_task(self._drive(run_id, events))
        return {"run_id": run_id, "decision": decision}

    async def _drive(self, run_id: str, events: AsyncIterator[tuple[str, Any]]) -> None:
        """Run one segment (start or resume to the end or the next approval) and publish what it does."""
        run = self.runs[run_id]
        base = {"run_id": run_id, "thread": run["thread"]}
        try:
            async with self.turn:
                run["status"] = "running"
                self.events.publish("run", {**base, "task": run["task"], "status": "running"})
                async with contextlib.aclosing(events) as stream:  # type: ignore[type-var]
                    async for kind, value in stream:
                        if kind == "token":
                            self.events.publish("token", {**base, **jsonable_encoder(value)})
                        elif kind == "update":
                            for node, changes in (value or {}).items():
                                self._publish_update(base, node, changes)
                        elif kind == "result":
                            self._publish_result(base, run, value)
        except Exception as error:  # a failed run is shown, not hidden: the page says what went wrong
            run["status"] = "done"
            message = f"{type(error).__name__}: {error}"
            self.events.publish("run", {**base, "task": run["task"], "status": "failed", "error": message})
        finally:
            self.events.drop_tokens(run_id)
            await self._publish_trajectory(base)

    def _publish_update(self, base: dict[str, str], node: str, changes: Any) -> None:
        """One graph node's changes as the page's events: a step line, the plan, calls."""
        if not isinstance(changes, dict):
            return
        step: dict[str, Any] = {**base, "node": node}
        if node == "retrieve" and "tools" in changes:
            self.events.publish("step", {**step, "text": "tools offered: " + ", ".join(changes["tools"])})
        elif node == "gate" and "next" in changes:
            text = "a tool is needed" if changes["next"] == "planner" else "no tool: answers directly"
            self.events.publish("step", {**step, "text": text})
        elif node == "planner" and changes.get("plan"):
            nodes = _plan_nodes(changes["plan"])
            self.events.publish("plan", {**base, "nodes": nodes})
            lines = [
                f"{n['id']}. {n['tool']}" + "".join(f" after ${dep}" for dep in n["depends_on"])
                for n in nodes
            ]
            self.events.publish("step", {**step, "text": "plan: " + "; ".join(lines)})
        elif node == "planner" and changes.get("rationale"):
            self.events.publish("step", {**step, "text": f"{changes['rationale']} -> {changes.get('next')}"})
        elif node == "planner" and changes.get("next") in ("end", "summarizer"):
            self.events.publish("step", {**step, "text": "no call planned"})
        if changes.get("pending"):
            for call in _calls(changes["pending"]):
                self.events.publish("call", {**base, **call, "state": "written"})
                args = json.dumps(call["arguments"], ensure_ascii=False)
                self.events.publish("step", {**step, "text": f"call {call['id']}: {call['name']}({args})"})
        if node in ("executor", "tools", "caller") and changes.get("calls"):
            for call in _calls(changes["calls"]):
                state = "ok" if call["ok"] else (call["error_kind"] or "failed")
                self.events.publish("call", {**base, **call, "state": state})
            if node in ("executor", "tools"):
                for call in _calls(changes["calls"]):
                    self.events.publish(
                        "step", {**step, "text": f"{call['id']}. {call['name']} -> {call['observation']}"}
                    )
        if node == "joiner" and "next" in changes:
            text = "replan" if changes["next"] == "planner" else "finish"
            self.events.publish("step", {**step, "text": text})
        if node == "summarizer" and changes.get("answer"):
            self.events.publish("step", {**step, "text": "answer written"})

    def _publish_result(self, base: dict[str, str], run: dict[str, Any], result: Any) -> None:
        waiting = result.status == "interrupted" and bool(result.pending_approval)
        run["status"] = "waiting" if waiting else "done"
        self.events.publish(
            "run",
            {
                **base,
                "task": run["task"],
                "status": run["status"],
                "answer": result.answer,
                "outcome": result.outcome,
                "pending_approval": jsonable_encoder(result.pending_approval),
                "calls": _calls(result.calls),
                "usage": result.usage,
                "usage_by_role": result.usage_by_role,
                "escalations": jsonable_encoder(result.escalations),
                "cost_usd": result.cost_usd,
                "elapsed_s": round(result.elapsed_s, 2),
            },
        )
        if waiting:
            self.events.publish("approval", {**base, "calls": jsonable_encoder(result.pending_approval)})

    async def _publish_trajectory(self, base: dict[str, str]) -> None:
        steps = await asyncio.to_thread(self.trajectory, base["run_id"])
        self.events.publish("trajectory", {**base, "steps": steps})

    def trajectory(self, run_id: str) -> list[dict[str, Any]]:
        """The recorded steps of a run, summarised for the trajectory view (the store has them whole)."""
        if self.store is None:
            return []
        record = self.store.get_run(run_id)
        if record is None:
            return []
        cloud = self.info()["cloud"]
        return [
            {
                "index": step.index,
                "role": step.role,
                "model": step.model,
                "where": "cloud" if step.escalated or (cloud and step.model == cloud) else "local",
                "escalation_reason": step.escalation_reason,
                "prompt": _prompt_summary(step.messages),
                "response": _short(step.raw_output),
                "call": step.parsed_call,
                "observation": _short(step.observation, 200) if step.observation else None,
                "error": step.error or step.validation_error,
                "prompt_tokens": step.prompt_tokens,
                "completion_tokens": step.completion_tokens,
                "latency_s": round(step.latency_s, 2),
            }
            for step in record.steps
        ]


def create_app(settings: Settings) -> FastAPI:
    """The UI's FastAPI app; the model loads in the background after start-up (`/api/info` says when)."""
    settings.root = Path(settings.root).expanduser().resolve()
    assistant = Assistant(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async def load() -> None:
            try:
                await asyncio.to_thread(assistant.load)
                assistant.ready.set()
                assistant.events.publish("ready", assistant.info())
            except Exception as error:  # shown on the page and by /api/info
                assistant.load_error = f"{type(error).__name__}: {error}"
                assistant.events.publish("ready", assistant.info())

        loading = asyncio.get_running_loop().create_task(load())
        yield
        loading.cancel()
        if assistant.store is not None:
            assistant.store.close()

    app = FastAPI(title="tinycrew desktop assistant", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.assistant = assistant

    @app.middleware("http")
    async def loopback_only(request: Request, call_next: Callable[[Request], Any]) -> Any:
        """Refuse a client that is not this machine, whatever address the server was bound to."""
        client = request.client.host if request.client else ""
        if client not in LOOPBACK and client != "testclient":
            return JSONResponse({"detail": "the desktop assistant serves this machine only"}, status_code=403)
        return await call_next(request)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(PAGE, media_type="text/html")

    @app.get("/api/info")
    async def info() -> dict[str, Any]:
        return assistant.info()

    @app.post("/api/messages")
    async def message(body: Message) -> dict[str, str]:
        return assistant.start(body.text, body.thread)

    @app.post("/api/runs/{run_id}/decision")
    async def decision(run_id: str, body: Decision) -> dict[str, str]:
        return assistant.decide(run_id, body.decision)

    @app.get("/api/runs/{run_id}/trajectory")
    async def trajectory(run_id: str) -> list[dict[str, Any]]:
        return await asyncio.to_thread(assistant.trajectory, run_id)

    @app.get("/api/events")
    async def events(request: Request) -> EventSourceResponse:
        last = request.headers.get("last-event-id", "0")
        return EventSourceResponse(assistant.events.follow(int(last) if last.isdigit() else 0), ping=15)

    return app


def main(argv: list[str] | None = None) -> None:
    """Serve the UI from this file alone (what `tinycrew desktop` does, without the sandbox seeding)."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="the sandbox folder the tools work in")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--model", default=None, help="packaged model name or .gguf path")
    parser.add_argument("--no-approval", action="store_true", help="side effects run without asking")
    args = parser.parse_args(argv)
    app = create_app(Settings(root=args.root, model=args.model, approval=not args.no_approval))
    uvicorn.run(app, host="127.0.0.1", port=args.port, timeout_graceful_shutdown=2)


if __name__ == "__main__":
    main()
