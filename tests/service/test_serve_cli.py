"""`tinycrew serve`: its refusals (one error line, exit status 2, before any model loads) and a real
server started by the command, answering the official client with a key and refusing it without."""

from __future__ import annotations

import os
from pathlib import Path

import openai
import pytest
from typer.testing import CliRunner

from tests.service.conftest import serve_command
from tinycrew.cli import app

runner = CliRunner()


def _error_line(args: list[str], env: dict[str, str] | None = None) -> str:
    result = runner.invoke(app, args, env={"COLUMNS": "200", "TINYCREW_API_KEYS": "", **(env or {})})
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output
    return lines[0]


def test_without_a_key_serve_refuses_to_bind_beyond_loopback(tmp_path: Path) -> None:
    line = _error_line(["serve", "--host", "0.0.0.0"])
    assert "refusing to serve on 0.0.0.0 without an API key" in line
    assert "fix: give --api-key-file FILE or set TINYCREW_API_KEYS, or bind --host 127.0.0.1" in line
    empty = tmp_path / "keys.txt"
    empty.write_text("# no key yet\n")
    assert "holds no API key" in _error_line(["serve", "--host", "0.0.0.0", "--api-key-file", str(empty)])
    assert "cannot use" in _error_line(["serve", "--api-key-file", str(tmp_path / "missing.txt")])
    assert "model file /missing.gguf does not exist" in _error_line(["serve", "--model", "/missing.gguf"])


@pytest.mark.slow
def test_serve_runs_the_service_with_a_key(tmp_path: Path) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text("sk-from-file\n")
    env = {**os.environ, "TINYCREW_API_KEYS": "sk-from-env", "TINYCREW_THREADS": "1"}
    args = ["--api-key-file", str(keys), "--log-level", "warning"]
    with serve_command(args, env, tmp_path / "serve.log") as base_url:
        for key in ("sk-from-file", "sk-from-env"):
            client = openai.OpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0)
            assert [m.id for m in client.models.list().data] == ["qwen2.5-coder-0.5b-instruct-q4_k_m"]
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{base_url}/v1", api_key="sk-nope", max_retries=0).models.list()
    assert (
        "serving qwen2.5-coder-0.5b-instruct-q4_k_m on http://127.0.0.1"
        in (tmp_path / "serve.log").read_text()
    )
