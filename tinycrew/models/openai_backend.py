"""OpenAI-compatible HTTP backend: any server that speaks /v1/chat/completions (the "cloud")."""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
from tenacity import (
    AsyncRetrying,
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

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


class OpenAIChatModel:
    """Chat through the official `openai` client with tenacity retries (exponential backoff + jitter).

    Example: `OpenAIChatModel("gpt-4o-mini", base_url="https://api.openai.com/v1")`; the key comes
    from `api_key` or the environment variable named by `api_key_env`.
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
    ) -> None:
        self.name = model
        key = api_key or os.environ.get(api_key_env) or "not-needed"
        options = {"base_url": base_url, "api_key": key, "timeout": timeout, "max_retries": 0}
        self._client = openai.OpenAI(**options)
        self._aclient = openai.AsyncOpenAI(**options)
        self._retry_options = {
            "retry": retry_if_exception(_is_retryable),
            "stop": stop_after_attempt(max_attempts),
            "wait": wait_exponential_jitter(multiplier=backoff_initial, max=backoff_max),
        }
        self._base_url = base_url

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
        if grammar is not None:
            raise ValueError("a GBNF grammar needs the llama.cpp backend; use json_schema here")
        request: dict[str, Any] = {"model": self.name, "messages": messages}
        if tools:
            request["tools"] = tools
            if tool_choice in ("auto", "required", "none"):
                request["tool_choice"] = tool_choice
            else:
                request["tool_choice"] = {"type": "function", "function": {"name": tool_choice}}
        if json_schema is not None:
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "response", "schema": json_schema},
            }
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
                    response = await self._aclient.chat.completions.create(**request)
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
        for event in events:
            if event.choices and (delta := event.choices[0].delta.content):
                first = first or time.perf_counter()
                pieces.append(delta)
                yield StreamChunk(delta=delta)
        yield StreamChunk(result=self._streamed_result("".join(pieces), started, first, tools))

    async def astream(
        self, messages: list[Message], tools: list[dict[str, Any]] | None = None, **kwargs: Any
    ) -> AsyncIterator[StreamChunk]:
        """Async `stream`."""
        request = self._request(messages, tools, **kwargs) | {"stream": True}
        started, first, pieces = time.perf_counter(), None, []
        try:
            async for attempt in AsyncRetrying(reraise=False, **self._retry_options):
                with attempt:
                    events = await self._aclient.chat.completions.create(**request)
        except (RetryError, openai.APIError) as error:
            raise self._unavailable(error) from error
        async for event in events:
            if event.choices and (delta := event.choices[0].delta.content):
                first = first or time.perf_counter()
                pieces.append(delta)
                yield StreamChunk(delta=delta)
        yield StreamChunk(result=self._streamed_result("".join(pieces), started, first, tools))

    def _streamed_result(
        self, text: str, started: float, first: float | None, tools: list[dict[str, Any]] | None
    ) -> ChatResult:
        now = time.perf_counter()
        return ChatResult(
            model=self.name,
            content=text,
            tool_calls=parse_tool_calls(text, _names(tools)) if tools else [],
            timings=Timings(ttft_s=(first or now) - started, total_s=now - started),
        )


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
