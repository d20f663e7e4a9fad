"""`tinycrew serve --engine`: the model runs in an external OpenAI-compatible engine (here a real
llama.cpp server on 127.0.0.1 with the packaged 0.5B), and the service still answers the official
`openai` client with schema-valid tool calls, streamed or not, and with text where no tool fits."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import jsonschema
import openai
import pytest
from typer.testing import CliRunner

from tests.conftest import ServerProcess, free_port, start_llama_server
from tests.service.conftest import ADD, WEATHER, serve_command
from tinycrew.cli import app
from tinycrew.models import DEFAULT_MODEL, ensure_local

pytestmark = pytest.mark.slow

SCHEMAS = {tool["function"]["name"]: tool["function"]["parameters"] for tool in (WEATHER, ADD)}


@pytest.fixture(scope="module")
def engine() -> Iterator[ServerProcess]:
    """The packaged 0.5B behind llama-cpp-python's own server: the engine the service hands work to."""
    server = start_llama_server(ensure_local(DEFAULT_MODEL), alias=DEFAULT_MODEL)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def service(engine: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`tinycrew serve --engine <the engine> --model <its alias>` as a child process; its base URL."""
    log = tmp_path_factory.mktemp("engine") / "serve.log"
    args = ["--engine", engine.base_url, "--model", engine.model, "--log-level", "warning"]
    with serve_command(args, {**os.environ}, log) as base_url:
        yield f"{base_url}/v1"
    assert "Traceback" not in log.read_text()


def valid_calls(calls) -> list[tuple[str, dict]]:  # noqa: ANN001 - the client's tool-call objects
    """(name, arguments) of each call; each must parse as JSON and match its tool's schema."""
    out = []
    for call in calls or []:
        arguments = json.loads(call.function.arguments)
        jsonschema.validate(arguments, SCHEMAS[call.function.name])
        out.append((call.function.name, arguments))
    return out


def test_a_call_from_the_engine_parses_and_matches_the_schema(service: str) -> None:
    client = openai.OpenAI(base_url=service, api_key="unused", max_retries=0)
    assert [model.id for model in client.models.list().data] == [DEFAULT_MODEL]
    reply = client.chat.completions.create(
        model=DEFAULT_MODEL,
        messages=[{"role": "user", "content": "What's the weather in Paris?"}],
        tools=[WEATHER, ADD],
        max_tokens=48,
        temperature=0,
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls", choice.message
    name, arguments = valid_calls(choice.message.tool_calls)[0]
    assert name == "get_weather" and arguments["city"] == "Paris"


def test_a_streamed_call_from_the_engine_arrives_as_tool_call_deltas(service: str) -> None:
    client = openai.OpenAI(base_url=service, api_key="unused", max_retries=0)
    stream = client.chat.completions.create(
        model=DEFAULT_MODEL,
        messages=[{"role": "user", "content": "Add 2 and 3."}],
        tools=[WEATHER, ADD],
        tool_choice="required",
        max_tokens=48,
        temperature=0,
        stream=True,
    )
    names, arguments, finish = {}, {}, None
    for chunk in stream:
        choice = chunk.choices[0]
        for delta in choice.delta.tool_calls or []:
            if delta.function.name:
                names[delta.index] = delta.function.name
            arguments[delta.index] = arguments.get(delta.index, "") + (delta.function.arguments or "")
        finish = choice.finish_reason or finish
    assert finish == "tool_calls"
    assert names[0] == "add"
    parsed = json.loads(arguments[0])
    jsonschema.validate(parsed, ADD["function"]["parameters"])
    assert sorted([parsed["a"], parsed["b"]]) == [2, 3]


def test_a_request_no_tool_fits_gets_text_from_the_engine(service: str) -> None:
    client = openai.OpenAI(base_url=service, api_key="unused", max_retries=0)
    reply = client.chat.completions.create(
        model=DEFAULT_MODEL,
        messages=[{"role": "user", "content": "Say hello"}],
        tools=[WEATHER],
        max_tokens=16,
        temperature=0,
    )
    choice = reply.choices[0]
    assert choice.message.tool_calls is None
    assert "hello" in choice.message.content.lower()


def test_an_engine_that_does_not_answer_or_lacks_the_model_is_one_error_line(engine: ServerProcess) -> None:
    runner = CliRunner()
    env = {"COLUMNS": "200", "TINYCREW_API_KEYS": ""}
    down = f"http://127.0.0.1:{free_port()}/v1"
    for args, expected in (
        (["serve", "--engine", down, "--model", "x"], f"--engine: {down} did not list its models"),
        (["serve", "--engine", engine.base_url, "--model", "nope"], "--engine serves no model named nope"),
    ):
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 2, result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and expected in lines[0], result.output
