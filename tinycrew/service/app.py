"""The FastAPI app: OpenAI-compatible `/v1/chat/completions` and `/v1/models`, agent runs under
`/v1/runs` (see `tinycrew.service.runs`), `/healthz`, `/readyz` and Prometheus `/metrics`.

`create_app(config, models)` builds it; `tinycrew serve` runs it under uvicorn. Every `/v1` request
is checked in this order: body size (413), API key (401), rate limit (429), request shape (400),
model (404), conversation and tools (400), a place in the model's queue (429), then generation.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sse_starlette import EventSourceResponse
from starlette.types import Receive, Scope, Send

from tinycrew.models import ChatModel
from tinycrew.models.capabilities import capabilities_of
from tinycrew.service.auth import bearer_token, hash_key, key_matches
from tinycrew.service.completion import Completion, Event, Finish
from tinycrew.service.config import ServiceConfig
from tinycrew.service.errors import ServiceError, bad_request, error_body, install_error_handlers
from tinycrew.service.limits import BodySizeLimit
from tinycrew.service.metrics import CONTENT_TYPE, Metrics, MetricsMiddleware
from tinycrew.service.openapi import service_openapi
from tinycrew.service.queueing import ModelQueue, Ticket, admit_or_429
from tinycrew.service.ratelimit import RateLimiter
from tinycrew.service.relevance import Relevance
from tinycrew.service.responses import ChunkWriter, completion_body
from tinycrew.service.runs import ApproveRequest, FeedbackRequest, RunRequest, Runs, public_view
from tinycrew.service.schemas import ChatCompletionRequest, check_unicode, to_plan

logger = logging.getLogger("tinycrew.service")

DISCONNECT_POLL_S = 0.25
"""How often a whole (non-streamed) reply checks that its client is still there."""


@dataclass
class Service:
    """What the routes share: settings, loaded models and their queues, the rate limiter, metrics, runs."""

    config: ServiceConfig
    models: dict[str, ChatModel] = field(default_factory=dict)
    queues: dict[str, ModelQueue] = field(default_factory=dict)
    limiter: RateLimiter = field(init=False)
    relevance: Relevance | None = field(init=False)
    metrics: Metrics = field(init=False)
    runs: Runs = field(init=False)
    ready: bool = False
    started: int = field(default_factory=lambda: int(time.time()))

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.config.rate_per_minute, self.config.rate_burst)
        self.metrics = Metrics(lambda: self.queues)
        self.runs = Runs(self.config, self.metrics)
        floor = self.config.min_tool_similarity
        self.relevance = Relevance(floor) if floor is not None else None

    def add_models(self, models: Sequence[ChatModel]) -> None:
        """Serve these models under their names, each with its own queue."""
        for model in models:
            if not capabilities_of(model).json_schema:
                raise ValueError(
                    f"model {model.name!r} cannot decode under a JSON schema, which every call needs here"
                )
            if model.name in self.models:
                raise ValueError(f"two models are named {model.name!r}; serve each name once")
            self.models[model.name] = model
            self.queues[model.name] = ModelQueue(self.config.queue_size)


def create_app(config: ServiceConfig | None = None, models: Sequence[ChatModel] | None = None) -> FastAPI:
    """The service as an ASGI app. With `models` it serves those (already loaded) models; without, it
    loads `config.models` in the background after start-up (`/readyz` answers 503 until then). Agent
    profiles (`config.agents`) are built after the models; on shutdown, runs in flight get
    `config.shutdown_grace_s` to finish and the rest stay at their last checkpoint.

    Example: `uvicorn.run(create_app(ServiceConfig(queue_size=4)), host="127.0.0.1", port=8000)`.
    """
    config = config or ServiceConfig()
    service = Service(config)
    if models is not None:
        service.add_models(models)

    async def prepare() -> None:
        if not service.models:
            from tinycrew.models import load_model

            loaded = await asyncio.to_thread(lambda: [load_model(name) for name in config.models])
            service.add_models(loaded)
        if service.relevance is not None:
            try:
                await asyncio.to_thread(service.relevance.warm_up)
            except Exception:  # no embeddings: serve on, with "auto" deciding from the reply alone
                logger.warning("the tool relevance check is off: the embedding model failed", exc_info=True)
                service.relevance = None
        await asyncio.to_thread(service.runs.build, service.models)
        service.ready = True

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(prepare())
        task.add_done_callback(lambda t: t.cancelled() or t.exception() is None or _log_failure(t))
        yield
        task.cancel()
        await service.runs.shutdown(config.shutdown_grace_s)
        await asyncio.to_thread(service.runs.close)

    app = FastAPI(title="tinycrew", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.openapi = lambda: service_openapi(app)  # type: ignore[method-assign]
    app.state.service = service
    app.add_middleware(BodySizeLimit, max_bytes=config.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=service.metrics)
    install_error_handlers(app)

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        """Prometheus' text format; with API keys configured it needs one (no rate limit applies)."""
        _check_key(request)
        return Response(service.metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process answers (it may still be loading its models)."""
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        """Models loaded and ready: 200 with each model's queue, else 503."""
        if not service.ready:
            return JSONResponse({"status": "loading"}, status_code=503, headers={"Retry-After": "2"})
        queues = {
            name: {
                "generating": q.generating,
                "waiting": q.waiting,
                "queue_size": q.size,
                "cancelled": q.cancelled,
            }
            for name, q in service.queues.items()
        }
        return JSONResponse({"status": "ready", "models": queues})

    @app.get("/v1/models")
    async def list_models(caller: str = Depends(_guard)) -> dict[str, Any]:
        """The served models, in OpenAI's list shape."""
        return {"object": "list", "data": [_model_card(service, name) for name in service.models]}

    @app.get("/v1/models/{name:path}")
    async def get_model(name: str, caller: str = Depends(_guard)) -> dict[str, Any]:
        """One served model, or 404."""
        if name not in service.models:
            raise _unknown_model(name)
        return _model_card(service, name)

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(
        body: ChatCompletionRequest, request: Request, caller: str = Depends(_guard)
    ) -> Response | dict[str, Any]:
        """OpenAI's chat completion, with tools; streamed as server-sent events when `stream` is true."""
        model, queue = _model(service, body.model)
        plan = to_plan(body, config.max_messages, config.max_tools)
        completion = Completion(
            model, plan, max_parallel_calls=config.max_parallel_calls, relevance=service.relevance
        )
        completion.prompt_tokens = await asyncio.to_thread(_check_prompt, completion)
        ticket = admit_or_429(queue)
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            writer = ChunkWriter(model.name, include_usage=include_usage)
            return _Stream(_sse(service, completion, writer, queue, ticket), ticket, sep="\n", ping=15)
        events = await _whole(completion, queue, ticket, request)
        if events is None:  # the client went away; nobody reads this
            return Response(status_code=499)
        for event in events:
            _count_tokens(service, model.name, event)
        return completion_body(model.name, events)

    @app.get("/v1/agents")
    async def list_agents(caller: str = Depends(_guard)) -> dict[str, Any]:
        """The agent profiles `POST /v1/runs` may run, with their graph, model and tools."""
        _runs(service)
        return {"object": "list", "data": service.runs.cards()}

    @app.post("/v1/runs", status_code=202)
    async def start_run(body: RunRequest, caller: str = Depends(_guard)) -> dict[str, Any]:
        """Start an agent run in the background; 202 with its id and status "queued"."""
        check_unicode(body)
        return await _runs(service).start(body, service.queues)

    @app.get("/v1/runs/{run_id}")
    async def get_run(run_id: str, caller: str = Depends(_guard)) -> dict[str, Any]:
        """A run's status, answer, calls, pending approval, steps (its trajectory) and feedback."""
        runs = _runs(service)
        runs.check_id(run_id)
        return public_view(await runs.state(run_id))

    @app.get("/v1/runs/{run_id}/events", response_model=None)
    async def run_events(run_id: str, caller: str = Depends(_guard)) -> Response:
        """The run's steps as server-sent events: `run` (state), `update`, `token`, ..., `run`, `[DONE]`."""
        runs = _runs(service)
        runs.check_id(run_id)
        if run_id not in runs.live:
            await runs.state(run_id)  # a 404 before the stream starts
        return EventSourceResponse(runs.events(run_id), sep="\n", ping=15)

    @app.post("/v1/runs/{run_id}/approve", status_code=202)
    async def approve_run(
        run_id: str,
        body: Annotated[ApproveRequest | None, Body()] = None,
        caller: str = Depends(_guard),
    ) -> dict[str, Any]:
        """Resume a run waiting for approval ({"decision": "approve" | "reject"}, approve by default), or
        continue one a shutdown stopped; 202 with status "queued"."""
        runs = _runs(service)
        runs.check_id(run_id)
        return await runs.approve(run_id, body or ApproveRequest(), service.queues)

    @app.post("/v1/runs/{run_id}/feedback")
    async def run_feedback(
        run_id: str, body: FeedbackRequest, caller: str = Depends(_guard)
    ) -> dict[str, Any]:
        """Store a score (and comment) on the run's trajectory, for the router and training data."""
        runs = _runs(service)
        runs.check_id(run_id)
        check_unicode(body)
        return await runs.feedback(run_id, body)

    return app


def _runs(service: Service) -> Runs:
    """The runs of a ready service that has agent profiles (404 without any, 503 while loading)."""
    if not service.runs.enabled:
        raise ServiceError(
            404, "No agent is configured on this server, so it serves no runs.", code="no_agents"
        )
    if not service.ready:
        raise ServiceError(
            503, "The agents are still loading. Retry shortly.", type_="server_error", code="model_loading",
            headers={"Retry-After": "2"},
        )  # fmt: skip
    return service.runs


def _count_tokens(service: Service, model: str, event: Event) -> None:
    if isinstance(event, Finish):
        service.metrics.tokens.labels(model, "prompt").inc(event.prompt_tokens)
        service.metrics.tokens.labels(model, "completion").inc(event.completion_tokens)


def _log_failure(task: asyncio.Task[None]) -> None:
    logger.error("the service could not get ready", exc_info=task.exception())


def _check_key(request: Request) -> str | None:
    """The caller's key digest when keys are configured (401 without a matching key), else None."""
    service: Service = request.app.state.service
    if service.config.key_hashes:
        token = bearer_token(request.headers.get("authorization"))
        challenge = {"WWW-Authenticate": "Bearer"}
        if token is None:
            raise ServiceError(
                401,
                "You didn't provide an API key. Send it in an Authorization header: Bearer YOUR_KEY.",
                code="missing_api_key",
                headers=challenge,
            )
        if not key_matches(token, service.config.key_hashes):
            raise ServiceError(401, "Incorrect API key provided.", code="invalid_api_key", headers=challenge)
        return hash_key(token)
    return None


async def _guard(request: Request) -> str:
    """API key (when keys are configured) and rate limit; returns who is calling."""
    service: Service = request.app.state.service
    digest = _check_key(request)
    if digest is not None:
        caller = f"key:{digest}"
    else:
        caller = f"address:{request.client.host if request.client else 'unknown'}"
    wait = service.limiter.check(caller)
    if wait > 0:
        raise ServiceError(
            429,
            "Rate limit reached for requests. Retry later.",
            type_="requests",
            code="rate_limit_exceeded",
            headers={"Retry-After": str(max(1, math.ceil(wait)) if math.isfinite(wait) else 60)},
        )
    return caller


def _model_card(service: Service, name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": service.started, "owned_by": "tinycrew"}


def _unknown_model(name: str) -> ServiceError:
    return ServiceError(404, f"The model `{name}` does not exist.", param="model", code="model_not_found")


def _model(service: Service, name: str) -> tuple[ChatModel, ModelQueue]:
    if not service.ready:
        raise ServiceError(
            503, "The model is still loading. Retry shortly.", type_="server_error", code="model_loading",
            headers={"Retry-After": "2"},
        )  # fmt: skip
    if name not in service.models:
        raise _unknown_model(name)
    return service.models[name], service.queues[name]


def _check_prompt(completion: Completion) -> int:
    """Check that every tool's schema makes a grammar, render the conversation through the model's chat
    template (a refusal is a 400) and check that it fits the context window; the prompt's token count."""
    completion.check()
    model, plan = completion.model, completion.plan
    render = getattr(model, "render", None)
    if render is None:
        return 0
    import jinja2

    try:
        tokens = render(plan.messages, plan.tools if plan.choice != "none" else None)
    except (jinja2.TemplateError, TypeError, ValueError, KeyError, RecursionError) as error:
        raise bad_request(
            f"the model's chat template cannot render these messages: {error}", "messages"
        ) from None
    llama = getattr(model, "llama", None)
    n_ctx = llama.n_ctx() if llama is not None else None
    if n_ctx is not None and len(tokens) >= n_ctx:
        raise ServiceError(
            400,
            f"This model's maximum context length is {n_ctx} tokens; the messages and tools take "
            f"{len(tokens)}.",
            param="messages",
            code="context_length_exceeded",
        )
    return len(tokens)


async def _whole(
    completion: Completion, queue: ModelQueue, ticket: Ticket, request: Request
) -> list[Event] | None:
    """Every event of a non-streamed reply, or None when the client disconnected first (its generation
    is stopped, so the model goes to the next request at once)."""

    async def produce() -> list[Event]:
        async with queue.turn(ticket), aclosing(completion.events()) as events:
            return [event async for event in events]

    task = asyncio.create_task(produce())
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=DISCONNECT_POLL_S)
            if done:
                return task.result()
            if await request.is_disconnected():
                queue.cancelled += 1
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                return None
    finally:
        if not task.done():
            task.cancel()
        ticket.release()


async def _sse(
    service: Service, completion: Completion, writer: ChunkWriter, queue: ModelQueue, ticket: Ticket
) -> AsyncIterator[dict[str, str]]:
    """The stream's `data:` lines, ending with `[DONE]`. A client that disconnects cancels this (the
    generation stops at the next token); a model failure becomes an error event."""
    finished = False
    try:
        async with queue.turn(ticket), aclosing(completion.events()) as events:
            async for event in events:
                _count_tokens(service, writer.model, event)
                for chunk in writer.chunks(event):
                    yield {"data": json.dumps(chunk, ensure_ascii=False)}
        finished = True
        yield {"data": "[DONE]"}
    except Exception:
        finished = True
        service.metrics.errors.labels("stream_error").inc()
        logger.exception("generation failed during a stream")
        body = error_body("The server had an error while generating.", "server_error")
        yield {"data": json.dumps(body)}
    finally:
        if not finished:
            queue.cancelled += 1


class _Stream(EventSourceResponse):
    """An SSE response that gives its queue place back however the response ends (also when the
    client left before the first event)."""

    def __init__(self, content: AsyncIterator[dict[str, str]], ticket: Ticket, **options: Any) -> None:
        super().__init__(content, **options)
        self._ticket = ticket

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._ticket.release()


__all__ = ["Service", "create_app"]
