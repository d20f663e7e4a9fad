"""Where stores open: the default file, sqlite:/// URLs and plain paths, in WAL mode."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import platformdirs
import pytest

from tinycrew.trajectories import TrajectoryStore, default_store_path


def test_default_store_under_tinycrew_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINYCREW_HOME", str(tmp_path / "home"))
    with TrajectoryStore.open(None) as store:
        assert store.dialect == "sqlite"
    path = tmp_path / "home" / "trajectories.sqlite"
    assert default_store_path() == path and path.exists()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_default_store_falls_back_to_user_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TINYCREW_HOME", raising=False)
    assert default_store_path() == Path(platformdirs.user_cache_dir("tinycrew")) / "trajectories.sqlite"


def test_sqlite_urls_and_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with TrajectoryStore.open(f"sqlite:///{tmp_path}/abs.sqlite"):  # sqlite:////abs/path
        pass
    assert (tmp_path / "abs.sqlite").exists()
    monkeypatch.chdir(tmp_path)
    with TrajectoryStore.open("sqlite:///rel/store.sqlite"):
        pass
    assert (tmp_path / "rel" / "store.sqlite").exists()
    with TrajectoryStore.open(tmp_path / "plain.sqlite"):
        pass
    assert os.path.exists(tmp_path / "plain.sqlite")
    with pytest.raises(ValueError, match="sqlite:///path"):
        TrajectoryStore.open("sqlite://")


def test_display_url_masks_the_password(tmp_path: Path) -> None:
    with TrajectoryStore.open(tmp_path / "x.sqlite") as store:
        assert store.display_url == str(tmp_path / "x.sqlite")
        store.url = "postgresql://app:s3cret@db.internal:5432/traj"
        assert store.display_url == "postgresql://app:***@db.internal:5432/traj"
