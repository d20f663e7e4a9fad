"""Shared fixtures: the packaged models, assembled once per machine into TINYCREW_HOME."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

# One llama.cpp thread in tests: on a shared 2-core machine a second spinning thread makes decoding
# several times slower as soon as anything else runs (measured: 12.5 s vs 1.8 s for 64 tokens).
os.environ.setdefault("TINYCREW_THREADS", "1")
# The same for torch (the transformers backend, training): `make test` runs two pytest workers, and
# torch's OpenMP threads spin while they wait for a core the other worker holds.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# pytest-xdist workers start with COLUMNS=80 and LINES=24, and a rich Console made at import time keeps
# them, whatever width a test's CliRunner asks for later; a worker should see what a plain run sees.
for variable in ("COLUMNS", "LINES"):
    os.environ.pop(variable, None)

REPO_ROOT = Path(__file__).resolve().parent.parent
BFCL_ROOT = REPO_ROOT.parent / "shared" / "bfcl"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def default_model():  # noqa: ANN201 - LlamaCppModel, imported lazily
    """The packaged default 0.5B model, loaded once for the whole session."""
    from tinycrew.models.llama_backend import LlamaCppModel

    return LlamaCppModel(n_ctx=4096)


def stop_process(process: subprocess.Popen, timeout: float) -> None:
    """Stop a child server: SIGTERM (servers shut down gracefully), then SIGKILL after `timeout` s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class ServerProcess:
    """A started `python -m llama_cpp.server` child and how to reach it."""

    def __init__(self, process: subprocess.Popen[bytes], base_url: str, model: str) -> None:
        self.process, self.base_url, self.model = process, base_url, model

    def stop(self) -> None:
        stop_process(self.process, timeout=20)


def start_llama_server(model_path: Path, alias: str, timeout: float = 180.0) -> ServerProcess:
    """Start a real OpenAI-compatible llama.cpp server on a free 127.0.0.1 port and wait until it answers."""
    port = free_port()
    command = [
        sys.executable, "-m", "tinycrew.models.llama_server", "--model", str(model_path),
        "--model_alias", alias, "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096",
    ]  # fmt: skip
    log = tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited: {Path(log.name).read_text()[-2000:]}")
        try:
            if httpx.get(f"{base_url}/models", timeout=2).status_code == 200:
                return ServerProcess(process, base_url, alias)
        except httpx.HTTPError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError("llama_cpp.server did not answer in time")


@pytest.fixture(scope="session")
def teacher_server() -> Iterator[ServerProcess]:
    """The packaged 1.5B model behind a real OpenAI-compatible server: the "cloud" of the tests."""
    from tinycrew.models import TEACHER_MODEL, ensure_local

    server = start_llama_server(ensure_local(TEACHER_MODEL), alias=TEACHER_MODEL)
    try:
        yield server
    finally:
        server.stop()
