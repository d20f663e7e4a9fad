"""The public Agent: tools + a graph + models per role, run/stream/resume with checkpoints."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, StreamMode
from pydantic import BaseModel, Field, model_validator

from tinycrew.agents import CallRecord
from tinycrew.agents.crew_planner import EXTEND_BELOW
from tinycrew.graphs.checkpoint import (
    CheckpointerSpec,
    memory_checkpointer,
    open_checkpointer,
    state_checkpointer,
)
from tinycrew.graphs.common import clock_text
from tinycrew.graphs.compiler import build_compiler
from tinycrew.graphs.crew import build_crew
from tinycrew.graphs.react import build_react
from tinycrew.graphs.state import MIN_TOOL_SIMILARITY, ROLE_PREFIX, GraphContext, Limits
from tinycrew.graphs.umi import build_umi
from tinycrew.models import ChatModel, ModelSpec, load_model
from tinycrew.models.capabilities import MissingCapabilityError, capabilities_of
from tinycrew.policies import CallPolicy, PolicyPipeline, default_policies
from tinycrew.switching import (
    LEDGER_KEY,
    CloudConfig,
    Escalation,
    EscalationDecision,
    EscalationPolicy,
    FixedRoute,
    QueryRouter,
    RunLedger,
    cloud_model,
)
from tinycrew.switching.cascade import Check, as_check
from tinycrew.tools import Tool, ToolRegistry

GraphName = Literal["crew", "umi", "compiler", "react"]
BUILDERS = {"crew": build_crew, "umi": build_umi, "compiler": build_compiler, "react": build_react}
ModelRef = ChatModel | ModelSpec | str | None
T = TypeVar("T")
StreamModes = StreamMode | Sequence[StreamMode] | None


CONSTRAINED_NEEDS: dict[str, dict[str, tuple[str, ...]]] = {
    "crew": {"planner": ("grammar",), "caller": ("constrained_tools",), "joiner": ("grammar", "json_schema")},
    "umi": {"planner": ("grammar", "json_schema"), "caller": ("constrained_tools",)},
    "compiler": {"planner": ("grammar",), "joiner": ("grammar", "json_schema")},
}
"""What `Agent(constrained=True)` needs of each role's model: any one of the listed capabilities."""


class RunResult(BaseModel):
    """What a run (one turn of a thread) produced: the answer, the calls, its ids, what each model cost."""

    run_id: str
    graph: str
    thread: str = ""
    """The conversation the run is a turn of (the LangGraph thread id); a run without one is its own
    thread, named by its run id."""
    status: Literal["done", "interrupted"]
    answer: str | None = None
    outcome: str | None = None
    calls: list[CallRecord] = Field(default_factory=list)
    pending_approval: list[dict[str, Any]] = Field(default_factory=list)
    usage: dict[str, dict[str, float]] = Field(default_factory=dict)
    """Per model: prompt_tokens, completion_tokens, seconds, calls, and cost_usd for a priced cloud model."""
    usage_by_role: dict[str, dict[str, float]] = Field(default_factory=dict)
    """With a cloud model: the same per role (tokens, seconds of every attempt; cost_usd of the cloud's)."""
    escalations: list[EscalationDecision] = Field(default_factory=list)
    """With a cloud model: the escalation decision of each model step of this call (`run` or `resume`),
    its signals, and what the local and the cloud attempt cost."""
    cost_usd: float = 0.0
    """What the run's cloud calls cost (US dollars, at the cloud model's prices)."""
    route: dict[str, Any] | None = None
    """With a router or a cascade: where the run went and why ({"route": "cloud", "score": 0.71,
    "threshold": 0.42}, or {"route": "cloud", "cascade": reason}); None for a plain run."""
    cascaded_from: str | None = None
    """A cascade's cloud run: the id of the local run whose result failed the check."""
    tools: list[str] = Field(default_factory=list)
    elapsed_s: float = 0.0
    task: str | None = None
    """The request this run (turn) answered."""

    @model_validator(mode="after")
    def _own_thread(self) -> RunResult:
        self.thread = self.thread or self.run_id
        return self


def merged_config(
    config: RunnableConfig | None, ours: dict[str, Any], recursion_limit: int
) -> RunnableConfig:
    """The caller's `config` (callbacks, tags, metadata, run_name, its own configurable keys) with ours
    laid over it: our configurable keys (thread_id, run_id, stream_tokens) win where they collide; the
    caller's recursion_limit wins over ours."""
    merged: dict[str, Any] = dict(config or {})
    merged["configurable"] = {**(merged.get("configurable") or {}), **ours}
    merged.setdefault("recursion_limit", recursion_limit)
    return merged  # type: ignore[return-value]


def _modes(stream_mode: StreamModes) -> list[str] | None:
    if stream_mode is None:
        return None
    return [stream_mode] if isinstance(stream_mode, str) else list(stream_mode)


def _registry(tools: ToolRegistry | Iterable[Tool | Callable[..., Any]]) -> ToolRegistry:
    return tools if isinstance(tools, ToolRegistry) else ToolRegistry(tools)


def _check_constrained(graph: str, models: dict[str, ChatModel]) -> None:
    """Refuse, before any run, a role whose model cannot constrain its output (`constrained=True`)."""
    if graph not in CONSTRAINED_NEEDS:
        raise ValueError(f"constrained=True is not available for the {graph} graph: it reads free text")
    for role, needs in CONSTRAINED_NEEDS[graph].items():
        model = models.get(role) or models["default"]
        if not any(getattr(capabilities_of(model), need) for need in needs):
            why = "constrained=True needs so that every output parses"
            raise MissingCapabilityError(role, model.name, " or ".join(needs), why)


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _run_blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to the end from sync code, also inside a running event loop (Jupyter, a FastAPI
    handler): there it runs on a fresh loop in a worker thread while this thread waits."""
    if not _loop_running():
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="tinycrew-run") as pool:
        return pool.submit(asyncio.run, coroutine).result()


class Agent:
    """Small models in narrow roles, composed by LangGraph.

    Example:
        agent = Agent(tools=[get_weather])
        result = agent.run("What is the weather in Paris?")
        print(result.answer, result.calls)

    `graph` is "crew" (the default: α-UMi roles over an LLMCompiler DAG, `tinycrew.graphs.crew`) or one
    of the baselines "umi", "compiler", "react". `models` is one model for every role or
    `{role: model}` (roles: gate, planner, caller, summarizer, joiner, react; "default" fills the rest).
    A model is a ChatModel, a ModelSpec, a packaged name or a .gguf path. `checkpointer` is "sqlite" (default,
    under TINYCREW_HOME), "memory", a path, a postgresql:// URL or a LangGraph saver. `record=True` writes
    every step to the trajectory store. `min_similarity` withholds tools unrelated to the request (cosine
    below it, see `tinycrew.graphs.state.MIN_TOOL_SIMILARITY`); None offers every tool retrieval picks.
    `policies` check or change each planned call before it runs (`tinycrew.policies`); None runs the lossless
    defaults (schema coercion, loop protection), and every change is recorded on the call. Every role runs on
    every backend, under the strongest constraint its model supports (see `tinycrew.models.capabilities`);
    `constrained=True` refuses, here, a model that cannot constrain a role's output, so that every output
    parses. `run`, `resume` and `stream` also work inside a running event loop (Jupyter, a FastAPI handler).
    `now` (a datetime, or a function returning one per turn) is the clock every role is told after the
    request ("Current date and time: Thursday 2026-12-03 09:00"), so relative dates can be resolved and
    runs are reproducible; None tells no time.

    `examples` (crew only: a `tinycrew.retrieval.ExampleRetriever` of solved requests whose plans are in
    the crew planner's line format, or the path of its store) shows the planner the `example_k` solved
    requests most like each new one, before its fixed worked examples, and offers their tools beside
    ToolRAG's (see docs/graphs.md). `lookups=True` (crew only, opt-in: it guesses) runs, for a value of
    a parameter whose description names the tool it comes from ("addresses from get_email_address"),
    that tool on the value as a call of its own and passes its result (`tinycrew.graphs.lookups`).
    `extend_below` (crew): where the planner ended its plan with a probability under it, it is asked
    for one more call, kept only when its values are written in the request (`extend_plan`); None never.
    `second_opinion` (crew): where the plan calls a tool more than once and has a value the request
    does not write, the compiler planner's plan is used instead if it invents fewer (`ask_second_opinion`).

    With a `cloud` model, `router` (a `QueryRouter` or the folder `tinycrew router fit` wrote) sends a
    request it predicts the local graph would fail to the cloud model for every step, and `cascade`
    (True, or a check `result -> reason | None`) re-runs on the cloud a local run whose result fails the
    check; `cascade=EscalationPolicy(...)` re-runs one that had a step the policy would escalate, and
    `cascade=AgreementCheck(other_agent)` one where a second local agent made other calls. With a
    router or a cascade and no `escalation=`, no single step escalates: the whole run switches.
    `RunResult.route` says what happened (see docs/switching.md).

    `run(task, thread=...)` adds a turn to a conversation whose roles see the earlier turns; each turn
    is its own recorded run. `agent.graph` is the compiled LangGraph graph (a subgraph, state reads);
    `stream(..., stream_mode=...)` passes LangGraph's stream modes through, `config=` merges callbacks,
    tags, metadata and configurable keys into the run's config, and `tools` may hold LangChain tools.
    """

    def __init__(
        self,
        tools: ToolRegistry | Iterable[Tool | Callable[..., Any]],
        graph: GraphName = "crew",
        models: ModelRef | dict[str, ModelRef] = None,
        *,
        top_k: int = 6,
        retriever: Any = None,
        min_similarity: float | None = MIN_TOOL_SIMILARITY,
        checkpointer: CheckpointerSpec = "sqlite",
        record: bool = True,
        store: Any = None,
        limits: Limits | None = None,
        answer: bool = True,
        policies: Sequence[CallPolicy] | None = None,
        constrained: bool = False,
        cloud: CloudConfig | ChatModel | dict[str, Any] | None = None,
        escalation: EscalationPolicy | None = None,
        now: datetime | Callable[[], datetime] | None = None,
        router: QueryRouter | FixedRoute | str | Path | None = None,
        cascade: bool | Check | EscalationPolicy = False,
        examples: Any = None,
        example_k: int = 3,
        lookups: bool = False,
        extend_below: float | None = EXTEND_BELOW,
        second_opinion: bool = True,
    ) -> None:
        if graph not in BUILDERS:
            raise ValueError(f"unknown graph {graph!r}: choose one of {', '.join(BUILDERS)}")
        if examples is not None and graph != "crew":
            raise ValueError(f"examples= are read by the crew planner; graph {graph!r} takes none")
        if lookups and graph != "crew":
            raise ValueError(f"lookups= is a crew graph option; graph {graph!r} has none")
        if isinstance(examples, str | Path):
            from tinycrew.retrieval.examples import ExampleRetriever

            examples = ExampleRetriever(examples)
        self.graph_name = graph
        self.now = now
        self.registry = _registry(tools)
        bindings = dict(models) if isinstance(models, dict) else {"default": models}
        bindings.setdefault("default", None)
        self.models = {role: load_model(ref) for role, ref in bindings.items()}
        if constrained:
            _check_constrained(graph, self.models)
        if escalation is not None and cloud is None:
            raise ValueError(
                "escalation= needs a cloud model: Agent(tools, cloud=CloudConfig(...), escalation=...)"
            )
        if (router is not None or cascade) and cloud is None:
            raise ValueError(
                "router= and cascade= need a cloud model: Agent(tools, cloud=CloudConfig(...), ...)"
            )
        self.router = QueryRouter.load(router) if isinstance(router, str | Path) else router
        self.cascade = as_check(cascade)
        if escalation is None and (router is not None or cascade):  # the whole run switches, no step
            base = cascade if isinstance(cascade, EscalationPolicy) else EscalationPolicy()
            escalation = base.for_steps_of_a_cascade()
        logprobs = getattr(self.cascade, "needs_logprobs", False)
        self.escalation = (
            None if cloud is None else Escalation(cloud_model(cloud), escalation, logprobs=logprobs)
        )
        if retriever is None and (len(self.registry) > top_k or min_similarity is not None):
            from tinycrew.retrieval import ToolRetriever

            retriever = ToolRetriever(None)
            retriever.index(list(self.registry))
        self.recorder = None
        if record:
            from tinycrew.trajectories import Recorder, TrajectoryStore

            self.recorder = Recorder(store if store is not None else TrajectoryStore.open(None))
        self.context = GraphContext(
            models=self.models,
            registry=self.registry,
            limits=limits or Limits(),
            recorder=self.recorder,
            retriever=retriever,
            top_k=top_k,
            min_similarity=min_similarity,
            answer=answer,
            examples=examples,
            example_k=example_k,
            policies=PolicyPipeline(default_policies() if policies is None else list(policies)),
            escalation=self.escalation,
            lookups=lookups,
            extend_below=extend_below,
            second_opinion=second_opinion,
        )
        self._builder = BUILDERS[graph](self.context)
        self._checkpointer = checkpointer
        self._memory = memory_checkpointer()
        # Compiled once (a few ms: LangGraph inspects every node); each run only swaps the saver in.
        self._graph = self._builder.compile(checkpointer=self._memory, name=f"tinycrew_{graph}")
        self._state_graph: CompiledStateGraph | None = None

    @property
    def graph(self) -> CompiledStateGraph:
        """The compiled LangGraph graph, with the agent's checkpoints: use it as a node of a parent
        graph, or read a thread with `agent.graph.get_state({"configurable": {"thread_id": thread}})`
        (and `get_state_history`, `aget_state`, ...). Runs through it directly, or as a subgraph, are
        checkpointed (by the parent's saver, in a parent) but not recorded: only `run`/`stream` record.
        With SQLite or Postgres it holds a synchronous saver on the same database, opened on first use.
        """
        if self._state_graph is None:
            saver = state_checkpointer(self._checkpointer, self._memory)
            self._state_graph = (
                self._graph if saver is self._memory else self._graph.copy({"checkpointer": saver})
            )
        return self._state_graph

    def _config(
        self,
        thread: str,
        run_id: str | None = None,
        stream_tokens: bool = False,
        config: RunnableConfig | None = None,
    ) -> RunnableConfig:
        ours: dict[str, Any] = {"thread_id": thread, "stream_tokens": stream_tokens}
        if run_id is not None:
            ours["run_id"] = run_id
        return merged_config(config, ours, 4 * self.context.limits.max_steps + 20)

    def _role_models(self) -> dict[str, str]:
        models = {role: model.name for role, model in self.models.items()}
        if self.escalation is not None:
            models["cloud"] = self.escalation.cloud.name
        return models

    async def _ledger(self, graph: Any, thread: str, resuming: bool, fresh: bool) -> RunLedger | None:
        """With a cloud model, the run's switching ledger. A later turn of a thread starts knowing the
        local-only results of earlier turns; a resumed run also what it spent on the cloud so far."""
        if self.escalation is None:
            return None
        ledger = RunLedger()
        if not fresh:
            snapshot = await graph.aget_state(self._config(thread))
            ledger.seed(snapshot.values or {}, self.registry, self.escalation.cloud.name, spent=resuming)
        return ledger

    async def _result(
        self, graph: Any, thread: str, run_id: str, started: float, ledger: RunLedger | None = None
    ) -> RunResult:
        snapshot = await graph.aget_state(self._config(thread))
        values = snapshot.values
        pending = [
            item
            for task in snapshot.tasks
            for intr in task.interrupts
            for item in intr.value.get("calls", [])
        ]
        status = "interrupted" if snapshot.next else "done"
        usage = values.get("usage", {})
        by_model = {name: counts for name, counts in usage.items() if not name.startswith(ROLE_PREFIX)}
        by_role = {
            name[len(ROLE_PREFIX) :]: counts for name, counts in usage.items() if name.startswith(ROLE_PREFIX)
        }
        result = RunResult(
            run_id=run_id,
            graph=self.graph_name,
            thread=thread,
            status=status,
            answer=values.get("answer"),
            outcome=values.get("outcome"),
            calls=values.get("calls", []),
            pending_approval=pending,
            usage=by_model,
            usage_by_role=by_role,
            escalations=[] if ledger is None else list(ledger.decisions),
            cost_usd=sum(counts.get("cost_usd", 0.0) for counts in by_model.values()),
            tools=values.get("tools", []),
            elapsed_s=time.perf_counter() - started,
            task=values.get("task"),
        )
        if status == "done" and self.recorder is not None:
            self.recorder.finish_run(
                run_id, answer=result.answer, outcome=result.outcome or "error", cost=result.usage
            )
        return result

    async def _begin(
        self,
        graph: Any,
        thread: str,
        task: str | None,
        run_id: str,
        fresh: bool,
        extra: dict[str, Any] | None = None,
    ) -> Any:
        """The graph's input: a new turn of `thread` (refused while its last turn is unfinished, which
        `resume` must end first), or None to resume turn `run_id` where it stopped."""
        if task is not None:
            if not fresh:
                snapshot = await graph.aget_state(self._config(thread))
                if snapshot.next:
                    waiting = snapshot.values.get("run_id", thread)
                    raise ValueError(
                        f"thread {thread!r} has an unfinished turn, run {waiting!r} (waiting for approval, "
                        f"or stopped by a crash): end it with agent.resume({waiting!r}, thread={thread!r})"
                    )
            if self.recorder is not None:
                metadata = {"thread": thread, **(extra or {})}
                models = self._role_models()
                self.recorder.start_run(run_id, self.graph_name, task, models=models, metadata=metadata)
            clock = self.now() if callable(self.now) else self.now
            told = {} if clock is None else {"now": clock_text(clock)}
            return {"task": task, "run_id": run_id, **told}
        snapshot = await graph.aget_state(self._config(thread))
        if not snapshot.values:
            hint = "" if thread != run_id else "; a turn of a conversation resumes with thread=<its thread>"
            raise ValueError(f"no run {run_id!r} to resume in thread {thread!r}{hint}")
        latest = snapshot.values.get("run_id", thread)
        if latest != run_id:
            raise ValueError(
                f"run {run_id!r} is not the latest turn of thread {thread!r}: that is {latest!r}"
            )
        return None

    async def _drive(
        self,
        task: str | None,
        run_id: str | None,
        thread: str | None,
        *,
        decision: Any = None,
        tokens: bool = False,
        stream_mode: StreamModes = None,
        config: RunnableConfig | None = None,
        route: dict[str, Any] | None = None,
        cascaded_from: str | None = None,
    ) -> AsyncIterator[tuple[str, Any]]:
        fresh = run_id is None and thread is None
        run_id = run_id or uuid.uuid4().hex
        thread = thread or run_id
        modes = _modes(stream_mode)
        graph_modes = modes or ["updates", "custom"]
        if route is None and task is not None and self.router is not None:
            route = self.router.decide(task).as_dict()
        async with open_checkpointer(self._checkpointer, self._memory) as saver:
            graph = self._graph if saver is self._memory else self._graph.copy({"checkpointer": saver})
            started = time.perf_counter()
            before = None if fresh or task is None else await graph.aget_state(self._config(thread))
            extra = {
                key: value for key, value in (("route", route), ("cascaded_from", cascaded_from)) if value
            }
            payload = await self._begin(graph, thread, task, run_id, fresh, extra)
            if payload is None and decision is not None:
                payload = Command(resume=decision)
            run_config = self._config(thread, run_id, tokens and "custom" in graph_modes, config)
            ledger = await self._ledger(graph, thread, task is None, fresh)
            if ledger is not None:
                ledger.route = (route or {}).get("route", "local")
                run_config["configurable"][LEDGER_KEY] = ledger
            async for mode, chunk in graph.astream(payload, run_config, stream_mode=graph_modes):
                if modes is None:
                    yield ("token" if mode == "custom" else "update"), chunk
                else:
                    yield mode, chunk
            result = await self._result(graph, thread, run_id, started, ledger)
        result.route, result.cascaded_from = route, cascaded_from
        why = None
        if self.cascade is not None and task is not None and (route or {}).get("route") != "cloud":
            why = self.cascade(result)
            if inspect.isawaitable(why):  # a check that runs something itself (AgreementCheck)
                why = await why
        if why is None:
            yield "result", result
            return
        # The cascade: the same request again, every step on the cloud, as a new run; a turn of a
        # conversation forks the thread from where the failed turn began, so the cloud sees no trace of it.
        yield ("update" if modes is None else "custom"), {"cascade": {"from_run": run_id, "reason": why}}
        fork = None if before is None else before.config["configurable"].get("checkpoint_id")
        forked = config
        if fork:
            forked = {
                **(config or {}),
                "configurable": {**((config or {}).get("configurable") or {}), "checkpoint_id": fork},
            }
        async for event in self._drive(
            task,
            None,
            None if fresh else thread,
            tokens=tokens,
            stream_mode=stream_mode,
            config=forked,
            route={"route": "cloud", "cascade": why},
            cascaded_from=run_id,
        ):
            yield event

    async def arun(
        self,
        task: str,
        run_id: str | None = None,
        *,
        thread: str | None = None,
        config: RunnableConfig | None = None,
    ) -> RunResult:
        """Run a task to the end (or to an approval interrupt). With `thread`, the task is the next turn
        of that conversation: the roles see the earlier turns (requests, calls, results, answers). Each
        turn is its own recorded run (`run_id`, new unless given); without `thread` the run is its own
        thread, named by its run id. `config` (callbacks, tags, metadata, configurable keys) is merged
        into the config the graph runs with; our configurable keys win where they collide."""
        return await self._last(self._drive(task, run_id, thread, config=config))

    def run(
        self,
        task: str,
        run_id: str | None = None,
        *,
        thread: str | None = None,
        config: RunnableConfig | None = None,
    ) -> RunResult:
        """Blocking `arun`; inside a running event loop it runs on a worker thread."""
        return _run_blocking(self.arun(task, run_id, thread=thread, config=config))

    async def aresume(
        self,
        run_id: str,
        decision: Any = None,
        *,
        thread: str | None = None,
        config: RunnableConfig | None = None,
    ) -> RunResult:
        """Continue a run: after an approval interrupt pass "approve" or "reject"; after a crash, nothing.
        A turn of a conversation needs its `thread` (only the thread's latest turn can be resumed); a run
        without one is found by its run id."""
        return await self._last(self._drive(None, run_id, thread, decision=decision, config=config))

    def resume(
        self,
        run_id: str,
        decision: Any = None,
        *,
        thread: str | None = None,
        config: RunnableConfig | None = None,
    ) -> RunResult:
        """Blocking `aresume`; inside a running event loop it runs on a worker thread."""
        return _run_blocking(self.aresume(run_id, decision, thread=thread, config=config))

    async def astream(
        self,
        task: str,
        run_id: str | None = None,
        tokens: bool = True,
        *,
        thread: str | None = None,
        stream_mode: StreamModes = None,
        config: RunnableConfig | None = None,
    ) -> AsyncIterator[tuple[str, Any]]:
        """Yield ("update", {node: changes}), ("token", {"role", "token"}), then ("result", RunResult).

        With `stream_mode` (LangGraph's "updates", "values", "messages", "custom", "debug", ... or a
        list of them), yield `(mode, chunk)` as LangGraph streams them, then ("result", RunResult); role
        tokens come as "custom" chunks when `tokens` and "custom" is asked for. `thread` and `config`
        as in `arun`."""
        events = self._drive(task, run_id, thread, tokens=tokens, stream_mode=stream_mode, config=config)
        async for event in events:
            yield event

    async def astream_resume(
        self,
        run_id: str,
        decision: Any = None,
        tokens: bool = True,
        *,
        thread: str | None = None,
        stream_mode: StreamModes = None,
        config: RunnableConfig | None = None,
    ) -> AsyncIterator[tuple[str, Any]]:
        """`aresume`, streamed as `astream` streams a new run (a service relays an approved run's steps)."""
        events = self._drive(
            None, run_id, thread, decision=decision, tokens=tokens, stream_mode=stream_mode, config=config
        )
        async for event in events:
            yield event

    def stream(
        self,
        task: str,
        run_id: str | None = None,
        tokens: bool = True,
        *,
        thread: str | None = None,
        stream_mode: StreamModes = None,
        config: RunnableConfig | None = None,
    ) -> Iterator[tuple[str, Any]]:
        """Blocking `astream`, driven on a private event loop (on a worker thread when this thread
        already runs one)."""
        loop = asyncio.new_event_loop()
        pool = concurrent.futures.ThreadPoolExecutor(1, "tinycrew-stream") if _loop_running() else None

        def drive(awaitable: Awaitable[T]) -> T:
            if pool is None:
                return loop.run_until_complete(awaitable)
            return pool.submit(loop.run_until_complete, awaitable).result()

        events = self.astream(task, run_id, tokens, thread=thread, stream_mode=stream_mode, config=config)
        try:
            while True:
                try:
                    yield drive(events.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            drive(events.aclose())
            loop.close()
            if pool is not None:
                pool.shutdown()

    @staticmethod
    async def _last(events: AsyncIterator[tuple[str, Any]]) -> RunResult:
        result = None
        async for kind, value in events:
            if kind == "result":
                result = value
        assert result is not None
        return result
