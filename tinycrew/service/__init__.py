"""The tool-calling service: an OpenAI-compatible HTTP API in front of local models (issue #24).

`create_app(config, models)` builds the FastAPI app; `tinycrew serve` runs it. Agent profiles
(`AgentProfile`, `MCPServer`) make `/v1/runs` serve whole agent runs. See docs/service.md.
"""

from tinycrew.service.app import create_app
from tinycrew.service.auth import hash_key, load_key_hashes
from tinycrew.service.config import AgentProfile, InsecureBindError, MCPServer, ServiceConfig, is_loopback
from tinycrew.service.runs import load_tools

__all__ = [
    "AgentProfile",
    "InsecureBindError",
    "MCPServer",
    "ServiceConfig",
    "create_app",
    "hash_key",
    "is_loopback",
    "load_key_hashes",
    "load_tools",
]
