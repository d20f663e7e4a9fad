"""OpenAI-compatible HTTP backend: any server that speaks /v1/chat/completions (the "cloud")."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal

import openai
from tenacity import (
    AsyncRetrying,
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from tinycrew.models.capabilities import Capabilities
from tinycrew.models.grammar import tool_call_schema
from tinycrew.models.toolcall_parsing import parse_tool_calls
from tinycrew.models.types import (
    ChatResult,
    Message,
    StreamChunk,
    Timings,
    TokenLogprob,
    ToolCall,
    ToolChoice,
    Usage,
)


class ModelUnavailableError(RuntimeError):
    """The endpoint could not be reached or kept failing after every retry."""


class ModelRequestError(ValueError):
    """The endpoint rejected the request (a 4xx other than 429): retrying would not help."""


def _is_retryable(error: BaseException) -> bool:
    """Connection errors, timeouts, 429 and 5xx are transient; other 4xx are the caller's fault."""
    if isinstance(error, openai.APIConnectionError | openai.RateLimitError | openai.InternalServerError):
        return True
    return isinstance(error, openai.APIStatusError) and error.status_code >= 500


Dialect = Literal["openai", "llama.cpp"]
"""How a server takes constraints. "openai": `response_format` json_schema and native tools (OpenAI,
vLLM, Ollama). "llama.cpp": a GBNF `grammar` field, `response_format` json_object with a schema, and a
tool call decoded under its schema (llama.cpp's server and `python -m llama_cpp.server`)."""

DIALECT_CAPABILITIES: dict[str, Capabilities] = {
    "openai": Capabilities(json_schema=True, tools=True, logprobs=True),
    "llama.cpp": Capabilities(
        grammar=True, json_schema=True, tools=True, constrained_tools=True, logprobs=True
    ),
}


class OpenAIChatModel:
    """Chat through the official `openai` client with tenacity retries (exponential backoff + jitter).

    Example: `OpenAIChatModel("gpt-4o-mini", base_url="https://api.openai.com/v1")`; the key comes
    from `api_key` or the environment variable named by `api_key_env`. For a llama.cpp server,
    `OpenAIChatModel("qwen", base_url="http://127.0.0.1:8080/v1", dialect="llama.cpp")` sends GBNF
    grammars and schema-constrained tool calls, so every role runs as constrained as in-process.
    `capabilities` overrides what the dialect declares (say, a server without logprobs);
    `temperature` is sent when a call gives none (None: the server's default, often 0.2 or 1.0).
    `input_price_per_m`/`output_price_per_m` (USD per million prompt/completion tokens) price its calls
    (`cost_usd`), for the cost accounting of local/cloud switching (`tinycrew.switching`).
    """

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 60.0,
        max_attempts: int = 4,
        backoff_initial: float = 0.5,
        backoff_max: float = 8.0,
        dialect: Dialect = "openai",
        capabilities: Capabilities | None = None,
        temperature: float | None = None,
        input_price_per_m: float = 0.0,
        output_price_per_m: float = 0.0,
    ) -> None:
        if dialect not in DIALECT_CAPABILITIES:
            raise ValueError(f"unknown dialect {dialect!r}: choose one of {', '.join(DIALECT_CAPABILITIES)}")
        self.name = model
        self.dialect = dialect
        self.capabilities = capabilities or DIALECT_CAPABILITIES[dialect]
        self.temperature = temperature
        key = api_key or os.environ.get(api_key_env) or "not-needed"
        options = {"base_url": base_url, "api_key": key, "timeout": timeout, "max_retries": 0}
        self._client = openai.OpenAI(**options)
        self._options = options
        self._aclients: dict[asyncio.AbstractEventLoop, openai.AsyncOpenAI] = {}
        self._retry_options = {
            "retry": retry_if_exception(_is_retryable),
            "stop": stop_after_attempt(max_attempts),
            "wait": wait_exponential_jitter(multiplier=backoff_initial, max=backoff_max),
        }
        self._base_url = base_url
        self.base_url = base_url
        self.input_price_per_m = input_price_per_m
        self.output_price_per_m = output_price_per_m

    def _async_client(self) -> openai.AsyncOpenAI:
        """The async client of the running event loop. Its pooled connections belong to the loop that
        opened them, and every blocking `Agent.run` runs on a fresh loop: one client for all loops
        failed the second run's first request with "Event loop is closed". Clients of closed loops are
        let go, and built on a plain httpx client: openai's own one closes itself when collected, on
        whatever loop then runs, which failed (and logged) once per finished run."""
        loop = asyncio.get_running_loop()
        client = self._aclients.get(loop)
        if client is None:
            for closed in [known for known in self._aclients if known.is_closed()]:
                del self._aclients[closed]
            http = openai.DefaultAsyncHttpxClient(timeout=self._options["timeout"])
            client = self._aclients[loop] = openai.AsyncOpenAI(**self._options, http_client=http)
        return client

    def cost_usd(self, usage: Usage) -> float:
        """What a call with this usage costs at the configured prices (USD)."""
        return (
            usage.prompt_tokens * self.input_price_per_m + usage.completion_tokens * self.output_price_per_m
        ) / 1e6

    def _request(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        *,
        tool_choice: ToolChoice = "auto",
        json_schema: dict[str, Any] | None = None,
        grammar: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: list[str] | None = None,
        logprobs: bool = False,
    ) -> dict[str, Any]:
        if grammar is not None and not self.capabilities.grammar:
            raise ValueError(
                f"model {self.name!r} ({self.dialect} dialect) takes no GBNF grammar; use json_schema, "
                'or dialect="llama.cpp" for a llama.cpp server'
            )
        request: dict[str, Any] = {"model": self.name, "messages": messages}
        if tools:
            request["tools"] = tools
            if tool_choice in ("auto", "required", "none"):
                request["tool_choice"] = tool_choice
            else:
                request["tool_choice"] = {"type": "function", "function": {"name": tool_choice}}
            if self.dialect == "llama.cpp" and tool_choice not in ("auto", "none"):
                # the server's own tool_choice handling is unconstrained for "required": decode the
                # call under its schema instead, and read it back from the content
                chosen = [t for t in tools if (t.get("function") or t)["name"] == tool_choice] or tools
                request["tool_choice"] = "auto"
                json_schema = tool_call_schema(chosen)
        if grammar is not None:
            request["extra_body"] = {"grammar": grammar}
        elif json_schema is not None and self.dialect == "llama.cpp":
            request["response_format"] = {"type": "json_object", "schema": json_schema}
        elif json_schema is not None:
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "response", "schema": json_schema},
            }
        temperature = self.temperature if temperature is None else temperature
        for key, value in (("max_tokens", max_tokens), ("temperature", temperature), ("stop", stop)):
            if value is not None:
                request[key] = value
        if logprobs:
            request["logprobs"] = True
        return request

    def _unavailable(self, error: BaseException) -> ModelUnavailableError | ModelRequestError:
        where = f"model {self.name!r} at {self._base_url or 'the default OpenAI endpoint'}"
        if not isinstance(error, RetryError):
            return ModelRequestError(f"{where} rejected the request: {type(error).__name__}: {error}")
        cause = error.last_attempt.exception()
        attempts = error.last_attempt.attempt_number
        return ModelUnavailableError(
            f"{where} failed after {attempts} attempts: {type(cause).__name__}: {cause}"
        )

    def _result(self, response: Any, started: float, tool_names: set[str]) -> ChatResult:
        choice = response.choices[0]
        message = choice.message
        content = message.content or ""
        calls = [
            ToolCall(id=call.id, name=call.function.name, arguments=_loads(call.function.arguments))
            for call in message.tool_calls or []
        ]
        if not calls and tool_names:
            calls = parse_tool_calls(content, tool_names)
        usage = response.usage
        elapsed = time.perf_counter() - started
        token_logprobs = None
        if choice.logprobs is not None and choice.logprobs.content:
            token_logprobs = [TokenLogprob(token=t.token, logprob=t.logprob) for t in choice.logprobs.content]
        return ChatResult(
            model=self.name,
            content=content,
            tool_calls=calls,
            finish_reason=choice.finish_reason or "stop",
            usage=Usage(
                prompt_tokens=usage.prompt_tokens if usage else 0,
                completion_tokens=usage.completion_tokens if usage else 0,
            ),
            timings=Timings(ttft_s=elapsed, total_s=elapsed),
            logprobs=token_logprobs,
        )

    def chat(
        self, messages: list[Message], tools: list[dict[str, Any]] | None = None, **kwargs: Any
    ) -> ChatResult:
        """One completion; retries transient failures, then raises `ModelUnavailableError`."""
        request = self._request(messages, tools, **kwargs)
        started = time.perf_counter()
        try:
            for attempt in Retrying(reraise=False, **self._retry_options):
                with attempt:
                    response = self._client.chat.completions.create(**request)
        except (RetryError, openai.APIError) as error:
            raise self._unavailable(error) from error
        return self._result(response, started, _names(tools))

    async def achat(
        self, messages: list[Message], tools: list[dict[str, Any]] | None = None, **kwargs: Any
    ) -> ChatResult:
        """Async `chat` on the async client."""
        request = self._request(messages, tools, **kwargs)
        started = time.perf_counter()
        try:
            async for attempt in AsyncRetrying(reraise=False, **self._retry_options):
                with attempt:
                    response = await self._async_client().chat.completions.create(**request)
        except (RetryError, openai.APIError) as error:
            raise self._unavailable(error) from error
        return self._result(response, started, _names(tools))

    def stream(
        self, messages: list[Message], tools: list[dict[str, Any]] | None = None, **kwargs: Any
    ) -> Iterator[StreamChunk]:
        """Text deltas as they arrive; the last chunk carries the full result."""
        request = self._request(messages, tools, **kwargs) | {"stream": True}
        started, first, pieces = time.perf_counter(), None, []
        try:
            for attempt in Retrying(reraise=False, **self._retry_options):
                with attempt:
                    events = self._client.chat.completions.create(**request)
        except (RetryError, openai.APIError) as error:
            raise self._unavailable(error) from error
        calls: dict[int, dict[str, str]] = {}
        for event in events:
            if not event.choices:
                continue
            _collect_call_deltas(calls, event.choices[0].delta.tool_calls)
            if delta := event.choices[0].delta.content:
                first = first or time.perf_counter()
                pieces.append(delta)
                yield StreamChunk(delta=delta)
        yield StreamChunk(result=self._streamed_result("".join(pieces), started, first, tools, calls))

    async def astream(
        self, messages: list[Message], tools: list[dict[str, Any]] | None = None, **kwargs: Any
    ) -> AsyncIterator[StreamChunk]:
        """Async `stream`."""
        request = self._request(messages, tools, **kwargs) | {"stream": True}
        started, first, pieces = time.perf_counter(), None, []
        try:
            async for attempt in AsyncRetrying(reraise=False, **self._retry_options):
                with attempt:
                    events = await self._async_client().chat.completions.create(**request)
        except (RetryError, openai.APIError) as error:
            raise self._unavailable(error) from error
        calls: dict[int, dict[str, str]] = {}
        async for event in events:
            if not event.choices:
                continue
            _collect_call_deltas(calls, event.choices[0].delta.tool_calls)
            if delta := event.choices[0].delta.content:
                first = first or time.perf_counter()
                pieces.append(delta)
                yield StreamChunk(delta=delta)
        yield StreamChunk(result=self._streamed_result("".join(pieces), started, first, tools, calls))

    def _streamed_result(
        self,
        text: str,
        started: float,
        first: float | None,
        tools: list[dict[str, Any]] | None,
        streamed_calls: dict[int, dict[str, str]],
    ) -> ChatResult:
        now = time.perf_counter()
        calls = [
            ToolCall(id=call["id"] or f"call_{index}", name=call["name"], arguments=_loads(call["arguments"]))
            for index, call in sorted(streamed_calls.items())
        ]
        if not calls and tools:
            calls = parse_tool_calls(text, _names(tools))
        return ChatResult(
            model=self.name,
            content=text,
            tool_calls=calls,
            finish_reason="tool_calls" if calls else "stop",
            timings=Timings(ttft_s=(first or now) - started, total_s=now - started),
        )


def _collect_call_deltas(calls: dict[int, dict[str, str]], deltas: Any) -> None:
    """Merge streamed tool-call fragments (OpenAI sends the id and name once, the arguments in pieces)."""
    for delta in deltas or []:
        call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
        call["id"] = delta.id or call["id"]
        if delta.function is not None:
            call["name"] = delta.function.name or call["name"]
            call["arguments"] += delta.function.arguments or ""


def _names(tools: list[dict[str, Any]] | None) -> set[str]:
    return {(tool.get("function") or tool)["name"] for tool in tools or []}


def _loads(arguments: str | dict[str, Any] | None) -> dict[str, Any]:
    if isinstance(arguments, dict):
        return arguments
    try:
        value = json.loads(arguments or "{}")
    except json.JSONDecodeError:
        return {"__raw__": arguments}
    return value if isinstance(value, dict) else {"__raw__": arguments}
