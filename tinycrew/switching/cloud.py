"""The cloud model: any OpenAI-compatible endpoint, with its key from the environment and its prices."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from tinycrew.models import ChatModel, OpenAIChatModel, Usage
from tinycrew.models.openai_backend import Dialect


class CloudConfig(BaseModel):
    """Where the cloud model is and what it costs; `build()` gives the `OpenAIChatModel` that calls it.

    Example (OpenAI): `CloudConfig(base_url="https://api.openai.com/v1", model="gpt-4o-mini",
    input_price_per_m=0.15, output_price_per_m=0.60)`, the key read from `$OPENAI_API_KEY`. A llama.cpp
    server (`python -m llama_cpp.server`) takes `dialect="llama.cpp"`, which sends GBNF grammars, so
    grammar-constrained roles can escalate too.
    """

    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    """The environment variable holding the key (the key itself never sits in a config)."""
    input_price_per_m: float = Field(default=0.0, ge=0)
    """USD per million prompt tokens."""
    output_price_per_m: float = Field(default=0.0, ge=0)
    """USD per million completion tokens."""
    dialect: Dialect = "openai"
    timeout: float = Field(default=30.0, gt=0)
    """Seconds one request may take; a slower answer counts as a failure (retried, then local)."""
    max_attempts: int = Field(default=3, ge=1)
    """Tries per request, with exponential backoff and jitter between them (tenacity)."""
    backoff_initial: float = 0.5
    backoff_max: float = 4.0
    temperature: float | None = 0.0

    def build(self) -> OpenAIChatModel:
        """The client: the project's OpenAI-compatible backend with these settings."""
        return OpenAIChatModel(
            self.model,
            base_url=self.base_url,
            api_key_env=self.api_key_env,
            timeout=self.timeout,
            max_attempts=self.max_attempts,
            backoff_initial=self.backoff_initial,
            backoff_max=self.backoff_max,
            dialect=self.dialect,
            temperature=self.temperature,
            input_price_per_m=self.input_price_per_m,
            output_price_per_m=self.output_price_per_m,
        )


def cloud_model(cloud: CloudConfig | ChatModel | dict[str, Any]) -> ChatModel:
    """A ChatModel from a `CloudConfig` (or its dict) or a model given as is."""
    if isinstance(cloud, dict):
        cloud = CloudConfig.model_validate(cloud)
    return cloud.build() if isinstance(cloud, CloudConfig) else cloud


def cost_usd(model: ChatModel, usage: Usage) -> float:
    """What `usage` cost on `model`: its `cost_usd(usage)` when it has prices, else 0."""
    price = getattr(model, "cost_usd", None)
    return float(price(usage)) if callable(price) else 0.0
