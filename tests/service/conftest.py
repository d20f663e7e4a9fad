"""A real uvicorn server on a free 127.0.0.1 port, in a thread of the test process, serving the
session's default model (loaded once): the official `openai` client talks to it over HTTP."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import uvicorn

from tests.conftest import free_port, stop_process
from tinycrew.service import ServiceConfig, create_app
from tinycrew.service.app import Service
from tinycrew.service.config import AgentProfile

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
ADD = {
    "type": "function",
    "function": {
        "name": "add",
        "description": "Add two numbers.",
        "parameters": {
            "type": "object",
            "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
            "required": ["a", "b"],
        },
    },
}


class RunningServer:
    """A started server: its URL, its service state, and clients for it."""

    def __init__(self, base_url: str, service: Service) -> None:
        self.base_url, self.service = base_url, service
        self.thread: threading.Thread | None = None

    def client(self, api_key: str = "unused", **options: Any) -> openai.OpenAI:
        """The official client, without retries (a 429 must reach the test)."""
        return openai.OpenAI(base_url=f"{self.base_url}/v1", api_key=api_key, max_retries=0, **options)

    def post(self, path: str, **options: Any) -> httpx.Response:
        return httpx.post(f"{self.base_url}{path}", timeout=120, **options)


@contextmanager
def running(config: ServiceConfig, model: Any, stop_timeout: float = 60.0) -> Iterator[RunningServer]:
    """Serve `model` with `config` until the block ends; the server is always stopped (waiting up to
    `stop_timeout` seconds for its shutdown, which lets runs in flight finish)."""
    app = create_app(config, models=[model])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the service did not get ready")
            time.sleep(0.1)
        started = RunningServer(base_url, app.state.service)
        started.thread = thread
        yield started
    finally:
        server.should_exit = True
        thread.join(timeout=stop_timeout)


@pytest.fixture(scope="session")
def serve(default_model: Any) -> Callable[..., Any]:
    """`with serve(queue_size=1) as server:` runs the default model with those settings."""

    def start(**settings: Any) -> Any:
        return running(ServiceConfig(models=[default_model.name], **settings), default_model)

    return start


@pytest.fixture(scope="module")
def server(serve: Callable[..., Any]) -> Iterator[RunningServer]:
    """One server with the default settings, shared by a test module."""
    with serve() as started:
        yield started


OPS = AgentProfile(
    name="ops",
    graph="umi",
    tools=["tests.service.runtools:send_message", "tests.service.runtools:lookup_price"],
)
"""The agent profile of the run tests: one side-effecting tool (approval) and one read-only tool."""
SEND_TASK = "Send Bob the message 'lunch at noon'."
PRICE_TASK = "What is the price of an apple?"
ENDED = ("requires_approval", "completed", "failed", "stopped")


def agents_config(model: Any, checkpointer: str, trajectories: str, **settings: Any) -> ServiceConfig:
    """Settings serving `model` with the OPS agent on the given checkpointer and trajectory store (no
    rate limit unless set: the tests poll run states)."""
    settings.setdefault("rate_per_minute", 0)
    return ServiceConfig(
        models=[model.name], agents=[OPS], checkpointer=checkpointer, trajectories=trajectories, **settings
    )


def wait_for_run(server: RunningServer, run_id: str, timeout: float = 600.0) -> dict[str, Any]:
    """Poll `GET /v1/runs/{id}` until the run stops moving (waits for approval, ends or was stopped)."""
    deadline = time.monotonic() + timeout
    while True:
        state = httpx.get(f"{server.base_url}/v1/runs/{run_id}", timeout=30).json()
        if state["status"] in ENDED:
            return state
        assert time.monotonic() < deadline, state
        time.sleep(0.25)


def run_events(server: RunningServer, run_id: str) -> list[tuple[str, Any]]:
    """Every SSE message of `GET /v1/runs/{id}/events` as (event, data), data parsed unless `[DONE]`."""
    events: list[tuple[str, Any]] = []
    name = "message"
    with httpx.stream("GET", f"{server.base_url}/v1/runs/{run_id}/events", timeout=600) as stream:
        assert stream.status_code == 200, stream.read()
        for line in stream.iter_lines():
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data = line[len("data: ") :]
                events.append((name, data if data == "[DONE]" else json.loads(data)))
                name = "message"
    return events


@contextmanager
def serve_command(args: list[str], env: dict[str, str], log: Path) -> Iterator[str]:
    """`tinycrew serve ARGS` as a child process, its output in `log`, until `/readyz` answers; yields
    its base URL and always stops it."""
    script = Path(sys.executable).with_name("tinycrew")
    command = str(script) if script.is_file() else shutil.which("tinycrew")
    assert command, "the tinycrew console script is not installed next to this python"
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [command, "serve", "--port", str(port), *args], env=env, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 180
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "tinycrew serve did not get ready"
                time.sleep(0.2)
            yield base_url
        finally:
            stop_process(process, timeout=30)
