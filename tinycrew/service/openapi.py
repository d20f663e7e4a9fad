"""The service's OpenAPI document (`GET /openapi.json`) as the service really answers.

FastAPI already describes each request body from its pydantic model (`ChatCompletionRequest`,
`RunRequest`, ...). What it gets wrong for this service is the errors: it announces 422 with its own
validation shape, while every refusal here is OpenAI's error object with 400, 401, 404, ... This
rewrites each operation's error responses to that shape, and declares the optional bearer key.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Error",
    "description": "OpenAI's error object.",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}

_WHY = {
    "400": "Malformed request (OpenAI's error object, `param` names the field).",
    "401": "API keys are configured and none or a wrong one came.",
    "404": "Unknown model, run or agent.",
    "409": "The run's state does not allow this request.",
    "413": "The request body is over the size limit.",
    "429": "Rate limit reached, or the model's queue is full (`Retry-After`).",
    "503": "Models still loading, or the service is shutting down (`Retry-After`).",
}
_OPEN = frozenset({"/healthz", "/readyz"})
"""Routes that need no key and refuse nothing."""


def _errors(path: str, method: str) -> list[str]:
    if path in _OPEN:
        return []
    if path == "/metrics":
        return ["401"]
    codes = ["400", "401", "404", "429", "503"]
    if method == "post":
        codes.append("413")
    if path.startswith("/v1/runs/") and method == "post":
        codes.append("409")
    return sorted(codes)


def service_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document for `app` with this service's error responses (cached on the app).

    Example: `create_app().openapi()["paths"]["/v1/chat/completions"]["post"]["responses"]["400"]`.
    """
    if app.openapi_schema is not None:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        description="OpenAI-compatible chat completions with schema-valid tool calls, and agent runs.",
        routes=app.routes,
    )
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas["Error"] = ERROR_SCHEMA
    components["securitySchemes"] = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "Needed only when the server has API keys configured.",
        }
    }
    error_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for code in _errors(path, method):
                responses[code] = {"description": _WHY[code], "content": error_ref}
            if path not in _OPEN:
                operation["security"] = [{}, {"bearer": []}]
    app.openapi_schema = document
    return document


__all__ = ["ERROR_SCHEMA", "service_openapi"]
