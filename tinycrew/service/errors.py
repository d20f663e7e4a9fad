"""Errors in OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, and the handlers that
make every failure look like that: a client written for OpenAI reads ours the same way, and no
response ever carries a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger("tinycrew.service")


def error_body(message: str, type_: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    """The JSON body of an error response, exactly as OpenAI writes it.

    Example: `error_body("bad", "invalid_request_error", "messages")["error"]["param"]` is "messages".
    A lone surrogate echoed from the request (a model name, a field name) is written as `\\ud800`,
    so that the body always encodes as UTF-8.
    """
    return {
        "error": {"message": _printable(message), "type": type_, "param": _printable(param), "code": code}
    }


def _printable(text: str | None) -> str | None:
    return None if text is None else text.encode("utf-8", "backslashreplace").decode("utf-8")


class ServiceError(Exception):
    """A request the service refuses: status, OpenAI error fields, and extra headers (Retry-After).

    Example: `raise ServiceError(400, "messages must not be empty", param="messages")`.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """This error as OpenAI's error object."""
        return error_body(self.message, self.type, self.param, self.code)

    def response(self) -> JSONResponse:
        """This error as an HTTP response."""
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def bad_request(message: str, param: str | None = None, code: str | None = "invalid_value") -> ServiceError:
    """A 400 for input the client must fix.

    Example: `raise bad_request("n must be 1", param="n")`.
    """
    return ServiceError(400, message, param=param, code=code)


_TYPE_TAGS = frozenset({"str", "int", "float", "bool", "list", "dict", "none", "bytes"})


def _is_type_tag(part: str) -> bool:
    """A union member's name in a pydantic location (`literal['auto']`, `str`, `NamedToolChoice`), not a
    field: OpenAI's parameters are lower-case snake_case."""
    return part in _TYPE_TAGS or any(char in part for char in "[]'-") or part[:1].isupper()


def param_path(loc: tuple[Any, ...] | list[Any]) -> str | None:
    """A pydantic error location as OpenAI names parameters: ("body", "messages", 0, "role") ->
    "messages[0].role" (union members' tags left out)."""
    path = ""
    for part in loc:
        if part == "body" and not path:
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        elif not _is_type_tag(str(part)):
            path += f".{part}" if path else str(part)
    return path or None


def _validation_message(error: dict[str, Any]) -> tuple[str, str | None]:
    param = param_path(error.get("loc", ()))
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return f"Unrecognized request argument supplied: {param}", param
    if kind == "json_invalid":
        return "The request body is not valid JSON.", None
    if kind == "missing" and param is None:
        return "The request body must be a JSON object.", None
    message = str(error.get("msg", "invalid value"))
    return (f"{param}: {message}" if param else message), param


def install_error_handlers(app: FastAPI) -> None:
    """Every refusal in OpenAI's error shape: our own errors, FastAPI's validation (400, not 422),
    unknown routes and methods, and anything unexpected (500, the traceback only in the log)."""

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, error: ServiceError) -> JSONResponse:
        return error.response()

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = list(error.errors())
        message, param = _validation_message(errors[0]) if errors else ("invalid request", None)
        return JSONResponse(
            error_body(message, "invalid_request_error", param, "invalid_value"), status_code=400
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code)
        message = str(error.detail) if error.detail else "request refused"
        if error.status_code == 404:
            message = f"Unknown request URL: {request.method} {request.url.path}."
        return JSONResponse(
            error_body(message, "invalid_request_error", None, code),
            status_code=error.status_code,
            headers=getattr(error, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(
            error_body("The server had an error while processing your request.", "server_error"),
            status_code=500,
        )
