"""What a service instance serves and how much it accepts: models, keys, limits.

One object, so that the CLI, tests and an embedding application configure the service the same way.
"""

from __future__ import annotations

import ipaddress

from pydantic import BaseModel, ConfigDict, Field

from tinycrew.models.packaged import DEFAULT_MODEL

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class InsecureBindError(ValueError):
    """Serving beyond this machine without an API key: anyone who can reach the port could use it."""


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine.

    Example: `is_loopback("127.0.0.1")` and `is_loopback("::1")` are True, `is_loopback("0.0.0.0")` False.
    """
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name other than localhost: it may resolve to anything
        return False


class ServiceConfig(BaseModel):
    """Settings of one service instance (`tinycrew serve` builds one from its options).

    Example: `ServiceConfig(models=["qwen2.5-coder-0.5b-instruct-q4_k_m"], queue_size=4)`.
    """

    model_config = ConfigDict(frozen=True)

    models: list[str] = Field(default_factory=lambda: [DEFAULT_MODEL], min_length=1)
    """Packaged names or .gguf paths, loaded when `create_app` is given no model objects."""
    key_hashes: frozenset[str] = frozenset()
    """sha256 hex digests of the accepted API keys; empty means no key is asked for (loopback only)."""
    queue_size: int = Field(default=8, ge=1)
    """Requests one model admits at once: the one generating plus those waiting; more get 429."""
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    """A larger request body gets 413."""
    max_messages: int = Field(default=256, ge=1)
    max_tools: int = Field(default=128, ge=1)
    max_parallel_calls: int = Field(default=4, ge=1)
    """Most tool calls one reply may hold when `parallel_tool_calls` is true."""
    rate_per_minute: float = Field(default=120.0, ge=0)
    """Requests each API key (or, without keys, each client address) may make per minute; 0 is no limit."""
    rate_burst: int = Field(default=30, ge=1)
    """How many requests a key may make at once before the per-minute rate applies."""
    min_tool_similarity: float | None = 0.2
    """With `tool_choice="auto"`, tools whose embedding similarity to the user's request is below this
    are not considered (the agents' `MIN_TOOL_SIMILARITY`); if none is left the reply is text. None
    turns the check off."""

    def check_bind(self, host: str) -> None:
        """Refuse to serve beyond loopback without an API key.

        Example: `ServiceConfig().check_bind("0.0.0.0")` raises InsecureBindError.
        """
        if not self.key_hashes and not is_loopback(host):
            raise InsecureBindError(
                f"refusing to serve on {host} without an API key: anyone who can reach it could use the model"
            )
