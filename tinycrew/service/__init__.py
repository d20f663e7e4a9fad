"""The tool-calling service: an OpenAI-compatible HTTP API in front of local models (issue #24).

`create_app(config, models)` builds the FastAPI app; `tinycrew serve` runs it. See docs/service.md.
"""

from tinycrew.service.app import create_app
from tinycrew.service.auth import hash_key, load_key_hashes
from tinycrew.service.config import InsecureBindError, ServiceConfig, is_loopback

__all__ = ["InsecureBindError", "ServiceConfig", "create_app", "hash_key", "is_loopback", "load_key_hashes"]
