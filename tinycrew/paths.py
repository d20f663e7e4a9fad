"""Where tinycrew keeps its files: one root, TINYCREW_HOME, shared by every subpackage."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_dir


def tinycrew_home() -> Path:
    """The cache root: `$TINYCREW_HOME`, else the user's cache dir (e.g. ~/.cache/tinycrew)."""
    root = Path(os.environ.get("TINYCREW_HOME") or user_cache_dir("tinycrew")).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root
