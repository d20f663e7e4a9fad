"""LangGraph state machines composing the roles: umi, compiler (parallel DAG), react (baseline)."""

from tinycrew.graphs.agent import Agent, RunResult
from tinycrew.graphs.compiler import build_compiler
from tinycrew.graphs.react import build_react
from tinycrew.graphs.state import GraphContext, Limits, RunState
from tinycrew.graphs.umi import build_umi

__all__ = [
    "Agent",
    "GraphContext",
    "Limits",
    "RunResult",
    "RunState",
    "build_compiler",
    "build_react",
    "build_umi",
]
