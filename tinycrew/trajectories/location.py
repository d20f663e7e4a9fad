"""Where the default trajectory store lives: `trajectories.sqlite` under TINYCREW_HOME."""

from __future__ import annotations

from pathlib import Path

from tinycrew.paths import tinycrew_home

STORE_FILENAME = "trajectories.sqlite"

__all__ = ["STORE_FILENAME", "default_store_path", "tinycrew_home"]


def default_store_path() -> Path:
    """The SQLite file that `TrajectoryStore.open(None)` uses."""
    return tinycrew_home() / STORE_FILENAME
