"""Tool and ToolResult: validate a model's arguments, run the tool with a timeout, hand back an observation.

Whatever a tool does (raise, hang, return a huge object), the agent gets a ToolResult it can show the
model, never an exception: a crashed run teaches the model nothing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import hashlib
import inspect
import json
import keyword
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

import anyio.to_thread
import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tinycrew.tools.errors import ToolArgumentError, ToolError, format_validation_error, show_value
from tinycrew.tools.schema import SchemaObject, prune_none

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MAX_CHARS = 2000
_ERROR_CHARS = 300

ErrorKind = Literal["arguments", "timeout", "exception", "unknown_tool"]


class ToolResult(BaseModel):
    """The outcome of one tool call; ``content`` is exactly what the model will read."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    ok: bool
    content: str
    value: Any = Field(default=None, exclude=True)
    arguments: dict[str, Any] | None = None
    """The validated arguments the tool ran with, as JSON values (``"5"`` already ``5``); None when
    validation refused them. A record of the call keeps these, not the model's raw text."""
    error: str | None = None
    error_kind: ErrorKind | None = None
    elapsed_s: float = 0.0
    tool: str = ""


def truncate(text: str, max_chars: int | None) -> str:
    """Cut ``text`` to at most ``max_chars`` characters, saying how much was cut.

    >>> truncate("abcdefghijklmnopqrstuvwxyz" * 4, 60)
    'abcdefghijklmnopqrstuvwxyzabc… [truncated, 104 chars in all]'
    """
    if max_chars is None or len(text) <= max_chars:
        return text
    marker = f"… [truncated, {len(text)} chars in all]"
    return text[: max(0, max_chars - len(marker))] + marker


def to_content(value: Any, max_chars: int | None = DEFAULT_MAX_CHARS) -> str:
    """Serialize a tool's return value for the model: str as-is, everything else as compact JSON.

    >>> to_content({"temp": 21.5, "unit": "C"})
    '{"temp":21.5,"unit":"C"}'
    """
    if isinstance(value, str):
        text = value
    elif value is None:
        text = "ok (no output)"
    else:
        text = pydantic_core.to_json(value, fallback=repr).decode()
    return truncate(text, max_chars)


def _short_error(exc: BaseException) -> str:
    message = str(exc) if isinstance(exc, ToolError) else f"{type(exc).__name__}: {exc}".rstrip(": ")
    return truncate(" ".join(message.split()), _ERROR_CHARS)


def _jsonable(args: dict[str, Any]) -> dict[str, Any]:
    """Validated arguments as JSON values (sets become lists, dates strings, ...)."""
    return pydantic_core.to_jsonable_python(args, fallback=repr)


def _plain(value: Any) -> Any:
    """Schema-built nested objects become plain dicts again; user types (pydantic, dataclass) stay."""
    if isinstance(value, SchemaObject):
        return _plain(value.model_dump(by_alias=True, exclude_unset=True))
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _call_text(name: str, args: Mapping[str, Any]) -> str:
    parts = [
        f"{key}={value!r}"
        if key.isidentifier() and not keyword.iskeyword(key)
        else f"**{{{key!r}: {value!r}}}"
        for key, value in args.items()
    ]
    shown = ", ".join(parts)
    return f"{name}({shown})"


class Tool:
    """A callable the model may use: name, description, argument model, JSON schema, timeout, side effects.

    Build one with ``@tool`` (from a typed function) or ``tool_from_schema`` (from a JSON schema);
    ``fn=None`` makes a dry-run tool that only validates.
    """

    def __init__(
        self,
        *,
        name: str,
        description: str,
        args_model: type[BaseModel],
        parameters: dict[str, Any],
        fn: Callable[..., Any] | None = None,
        side_effect: bool = False,
        timeout: float | None = DEFAULT_TIMEOUT_S,
        max_chars: int | None = DEFAULT_MAX_CHARS,
        prune_nulls: bool = False,
        idempotent: bool = True,
        local_only: bool = False,
    ) -> None:
        if (
            not isinstance(name, str)
            or not name.strip()
            or any(ch.isspace() for ch in name)
            or len(name) > 128
        ):
            raise ValueError(f"tool name must be 1-128 characters without spaces, got {name!r}")
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout of tool {name!r} must be positive or None, got {timeout!r}")
        if parameters.get("type") != "object":
            raise ValueError(f"parameters of tool {name!r} must be an object schema, got {parameters!r}")
        self.name = name
        self.description = description
        self.args_model = args_model
        self.parameters = parameters
        self.fn = fn
        self.side_effect = side_effect
        self.idempotent = idempotent
        """False for a tool whose result may differ between two calls with the same arguments (a coin
        flip, a random number, "the next item"): loop protection then lets such calls repeat."""
        self.local_only = local_only
        """True: the tool's results never reach a cloud model (see `tinycrew.switching`)."""
        self.timeout = timeout
        self.max_chars = max_chars
        self._prune_nulls = prune_nulls

    def __repr__(self) -> str:
        kind = "dry-run" if self.fn is None else "callable"
        return f"Tool(name={self.name!r}, {kind}, side_effect={self.side_effect}, timeout={self.timeout})"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the underlying function directly, without validation or timeout (for tests and reuse)."""
        if self.fn is None:
            raise TypeError(f"tool {self.name!r} is a dry-run tool and has no function to call")
        return self.fn(*args, **kwargs)

    def openai_schema(self) -> dict[str, Any]:
        """The tool in OpenAI function-calling format."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }

    def schema_hash(self) -> str:
        """A stable sha256 of the OpenAI schema: equal hashes mean the model saw the same tool."""
        text = json.dumps(self.openai_schema(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()

    def validate_args(self, raw: Mapping[str, Any] | str | bytes | None) -> dict[str, Any]:
        """Parse and validate model-produced arguments (a dict or a JSON string) into Python values.

        Raises ToolArgumentError with a short message fit to show the model.
        """
        data = _parse_raw(raw)
        try:
            model = self.args_model.model_validate(data)
        except ValidationError as exc:
            raise ToolArgumentError(format_validation_error(exc, self.parameters)) from None
        except Exception as exc:  # a custom validator that raised something pydantic does not wrap
            raise ToolArgumentError(f"arguments rejected: {_short_error(exc)}") from None
        fields = type(model).model_fields
        args = {
            (fields[key].alias or key): _plain(getattr(model, key))
            for key in fields
            if key in model.model_fields_set
        }
        return prune_none(args, self.parameters) if self._prune_nulls else args

    def canonical_arguments(self, raw: Mapping[str, Any] | str | bytes | None) -> dict[str, Any]:
        """The validated arguments as JSON values, as a call record keeps them: two calls that would
        run alike (``{"n": "5"}`` and ``{"n": 5}``) compare equal. Raises ToolArgumentError."""
        return _jsonable(self.validate_args(raw))

    async def arun(self, raw_args: Mapping[str, Any] | str | bytes | None) -> ToolResult:
        """Validate and run; every failure (arguments, exception, timeout) comes back as ``ok=False``."""
        start = time.perf_counter()
        try:
            args = self.validate_args(raw_args)
        except ToolArgumentError as exc:
            content = f"invalid arguments for {self.name}: {exc.message}"
            return self._failure("arguments", exc.message, content, start)
        ran_with = _jsonable(args)
        if self.fn is None:
            content = truncate(f"ok (dry run): {_call_text(self.name, args)}", self.max_chars)
            return self._success(content, args, ran_with, start)
        scope = asyncio.timeout(self.timeout)
        try:
            async with scope:
                value = await self._invoke(args)
            content = to_content(value, self.max_chars)
        except TimeoutError as exc:
            if not scope.expired():
                return self._failure("exception", _short_error(exc), None, start, ran_with)
            message = f"timed out after {self.timeout:g}s"
            return self._failure("timeout", message, None, start, ran_with)
        except Exception as exc:  # a tool's failure is an observation, not a crash
            return self._failure("exception", _short_error(exc), None, start, ran_with)
        return self._success(content, value, ran_with, start)

    def run(self, raw_args: Mapping[str, Any] | str | bytes | None) -> ToolResult:
        """Synchronous ``arun``; inside a running event loop it runs the call on a worker thread."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.arun(raw_args))
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, self.arun(raw_args)).result()

    async def _invoke(self, args: dict[str, Any]) -> Any:
        assert self.fn is not None
        if inspect.iscoroutinefunction(self.fn):
            return await self.fn(**args)
        # Like asyncio.to_thread, but a timed-out call's thread is abandoned rather than awaited:
        # asyncio.run would otherwise wait for it when the loop closes, defeating the timeout.
        value = await anyio.to_thread.run_sync(functools.partial(self.fn, **args), abandon_on_cancel=True)
        if inspect.isawaitable(value):
            value = await value
        return value

    def _success(self, content: str, value: Any, arguments: dict[str, Any], start: float) -> ToolResult:
        return ToolResult(
            ok=True,
            content=content,
            value=value,
            arguments=arguments,
            elapsed_s=_since(start),
            tool=self.name,
        )

    def _failure(
        self,
        kind: ErrorKind,
        message: str,
        content: str | None,
        start: float,
        arguments: dict[str, Any] | None = None,
    ) -> ToolResult:
        return ToolResult(
            ok=False,
            content=content or f"error: {message}",
            arguments=arguments,
            error=message,
            error_kind=kind,
            elapsed_s=_since(start),
            tool=self.name,
        )


def _since(start: float) -> float:
    return round(time.perf_counter() - start, 6)


def _parse_raw(raw: Mapping[str, Any] | str | bytes | None) -> dict[str, Any]:
    data: Any = raw
    if raw is None:
        return {}
    if isinstance(raw, (str, bytes, bytearray)):
        text = raw.decode() if isinstance(raw, (bytes, bytearray)) else raw
        if not text.strip():
            return {}
        try:
            data = json.loads(text)
            if isinstance(data, str) and data.strip().startswith("{"):
                data = json.loads(data)  # doubly encoded, a common small-model slip
        except json.JSONDecodeError as exc:
            raise ToolArgumentError(
                f"arguments are not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
            ) from None
    if isinstance(data, Mapping):
        return dict(data)
    raise ToolArgumentError(f"arguments must be a JSON object, got {show_value(data)}")
