"""A recording loopback proxy in front of the real llama.cpp server: what the "cloud" received."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.conftest import ServerProcess
from tinycrew.trajectories import TrajectoryStore


class RecordingProxy:
    """An HTTP server on 127.0.0.1 that records every request body and forwards it to `target` (a real
    hop: the agent talks HTTP to this proxy, the proxy to the server). `fail_with` answers every request
    with that status instead; `stop_after(n)` stops listening once n requests were answered."""

    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.bodies: list[dict[str, Any]] = []
        self.fail_with: int | None = None
        self.stop_after: int | None = None
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._forward(None)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._forward(raw)

            def _forward(self, raw: bytes | None) -> None:
                if raw is not None:
                    with proxy._lock:
                        proxy.bodies.append(json.loads(raw or b"{}"))
                if proxy.fail_with is not None:
                    status, body, kind = (
                        proxy.fail_with,
                        b'{"error": {"message": "injected"}}',
                        "application/json",
                    )
                else:
                    reply = httpx.request(
                        self.command,
                        proxy.target + self.path,
                        content=raw,
                        headers={"Content-Type": "application/json"},
                        timeout=600,
                    )
                    status, body = reply.status_code, reply.content
                    kind = reply.headers.get("content-type", "application/json")
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
                with proxy._lock:
                    done = proxy.stop_after is not None and len(proxy.bodies) >= proxy.stop_after
                if done:
                    threading.Thread(target=proxy.stop, daemon=True).start()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        self._stopped = False

    @property
    def url(self) -> str:
        """The proxy's OpenAI-compatible base URL (the server's path, /v1)."""
        return self.base_url + "/v1"

    def received(self) -> str:
        """Every request body received so far, as one JSON text."""
        with self._lock:
            return json.dumps(self.bodies, ensure_ascii=False)

    def stop(self) -> None:
        """Stop listening: later connections are refused."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(teacher_server: ServerProcess) -> Iterator[RecordingProxy]:
    """A fresh recording proxy in front of the session's llama.cpp server (the 1.5B "cloud")."""
    target = teacher_server.base_url.removesuffix("/v1")
    recording = RecordingProxy(target)
    try:
        yield recording
    finally:
        recording.stop()


@pytest.fixture
def store(tmp_path):
    """A fresh SQLite trajectory store."""
    with TrajectoryStore.open(tmp_path / "traj.sqlite") as opened:
        yield opened
