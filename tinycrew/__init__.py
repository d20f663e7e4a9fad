"""tinycrew: small local language models in narrow roles, composed by LangGraph into tool-calling agents."""

from tinycrew.graphs import Agent, RunResult
from tinycrew.models import ChatModel, ModelSpec, OpenAIChatModel, load_model
from tinycrew.switching import CloudConfig, EscalationPolicy
from tinycrew.tools import Tool, ToolRegistry, tool

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "ChatModel",
    "CloudConfig",
    "EscalationPolicy",
    "ModelSpec",
    "OpenAIChatModel",
    "RunResult",
    "Tool",
    "ToolRegistry",
    "__version__",
    "load_model",
    "tool",
]
