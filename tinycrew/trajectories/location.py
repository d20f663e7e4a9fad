"""Where the default trajectory store lives: $TINYCREW_HOME, else the user's cache dir for tinycrew."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

STORE_FILENAME = "trajectories.sqlite"


def tinycrew_home() -> Path:
    """The directory tinycrew keeps its state in: $TINYCREW_HOME, else platformdirs' user cache dir."""
    env = os.environ.get("TINYCREW_HOME")
    return Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("tinycrew"))


def default_store_path() -> Path:
    """The SQLite file that `TrajectoryStore.open(None)` uses."""
    return tinycrew_home() / STORE_FILENAME
