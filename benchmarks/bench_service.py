"""Load test: `tinycrew serve` against llama-cpp-python's own server, same model, same requests.

Both serve the packaged default 0.5B GGUF on 127.0.0.1 (free ports, one server at a time, each stopped
after its turn), with the same threads and context. The same fixed tool-calling requests (three tools,
tool_choice "auto", temperature 0, short max_tokens) go from `--clients` concurrent clients using the
official `openai` AsyncOpenAI client, `--requests` in all. Per server it prints: errors (429s, which
ours sends on purpose when its queue is full and which the client retries after Retry-After, vs any
other error), throughput, p50/p95 latency (first attempt to answer, retries included), and the share
of answers that carry a schema-valid tool call (in `tool_calls`, every call parsing and matching its
tool's JSON schema); then ours/theirs ratios. The last line is the figures as JSON.

llama-cpp-python's server runs through `tinycrew.models.llama_server`, the same server module inside
tinycrew's extra-buffer-type decision (on a CPU with AMX its default load path crashes); nothing else
differs. Its chat handler is the GGUF's own template (no --chat_format), as a user would start it.

    python benchmarks/bench_service.py [--requests 64] [--clients 32] [--max-tokens 64] [--threads 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import openai

from tinycrew.models import DEFAULT_MODEL, ensure_local

TOOLS: list[dict[str, Any]] = [
    {
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
    },
    {
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
    },
    {
        "type": "function",
        "function": {
            "name": "send_email",
            "description": "Send an email.",
            "parameters": {
                "type": "object",
                "properties": {
                    "to": {"type": "string", "description": "recipient address"},
                    "subject": {"type": "string"},
                    "body": {"type": "string"},
                },
                "required": ["to", "subject", "body"],
            },
        },
    },
]
PROMPTS = [
    "What's the weather in Paris?",
    "Add 17 and 25.",
    "Send an email to bob@example.com with the subject Lunch saying: see you at noon.",
    "Is it cold in Oslo right now? Answer in celsius.",
    "What is 3.5 plus 4.25?",
    "Email alice@example.com, subject 'Report', body 'The report is ready.'",
    "How warm is it in Rome, in fahrenheit?",
    "Compute 1200 + 34.",
]
SCHEMAS = {tool["function"]["name"]: tool["function"]["parameters"] for tool in TOOLS}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    name: str
    command: list[str]
    ready_path: str
    env: dict[str, str]
    port: int
    model: str
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 300.0) -> None:
        handle = tempfile.NamedTemporaryFile(prefix=f"bench-{self.name}-", suffix=".log", delete=False)  # noqa: SIM115
        self.log = Path(handle.name)
        self.process = subprocess.Popen(self.command, stdout=handle, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}{self.ready_path}", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"{self.name} did not get ready in {timeout:.0f} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Outcome:
    latency_s: float | None = None
    rejected_429: int = 0
    error: str | None = None
    valid_call: bool = False
    call_in_content: bool = False


@dataclass
class Figures:
    outcomes: list[Outcome] = field(default_factory=list)
    wall_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        done = [o for o in self.outcomes if o.error is None and o.latency_s is not None]
        latencies = sorted(o.latency_s for o in done if o.latency_s is not None)
        answered, n = len(done), len(self.outcomes) or 1
        return {
            "requests": len(self.outcomes),
            "answered": answered,
            "errors_429": sum(o.rejected_429 for o in self.outcomes),
            "errors_other": sum(o.error is not None for o in self.outcomes),
            "throughput_rps": answered / self.wall_s if self.wall_s else 0.0,
            "p50_s": _quantile(latencies, 0.50),
            "p95_s": _quantile(latencies, 0.95),
            "valid_call_share": sum(o.valid_call for o in done) / n,
            "valid_calls_per_s": sum(o.valid_call for o in done) / self.wall_s if self.wall_s else 0.0,
            "call_as_content_share": sum(o.call_in_content for o in done) / n,
        }


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def valid_calls(message: Any) -> bool:
    """The reply carries at least one tool call, and every call names an offered tool and its
    arguments parse as JSON matching that tool's parameters."""
    calls = message.tool_calls or []
    if not calls:
        return False
    for call in calls:
        schema = SCHEMAS.get(call.function.name)
        if schema is None:
            return False
        try:
            jsonschema.validate(json.loads(call.function.arguments), schema)
        except (ValueError, jsonschema.ValidationError):
            return False
    return True


def call_in_content(message: Any) -> bool:
    """A call written as plain text instead of `tool_calls` (what the issue says llama-cpp-python does)."""
    text = message.content or ""
    return not message.tool_calls and ("<tool_call>" in text or '"name"' in text)


async def one_request(
    client: openai.AsyncOpenAI, model: str, prompt: str, args: Any, deadline: float
) -> Outcome:
    outcome = Outcome()
    started = time.perf_counter()
    while True:
        try:
            reply = await client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": prompt}],
                tools=TOOLS,  # type: ignore[arg-type]
                tool_choice="auto",
                temperature=0.0,
                max_tokens=args.max_tokens,
            )
        except openai.RateLimitError as error:
            outcome.rejected_429 += 1
            wait = float(error.response.headers.get("retry-after", "1") or 1)
            if time.monotonic() + wait > deadline:
                outcome.error = "429 until the deadline"
                return outcome
            await asyncio.sleep(wait)
            continue
        except openai.APIError as error:  # any other status, a timeout, a dropped connection
            outcome.error = f"{type(error).__name__}: {str(error)[:200]}"
            return outcome
        outcome.latency_s = time.perf_counter() - started
        message = reply.choices[0].message
        outcome.valid_call = valid_calls(message)
        outcome.call_in_content = call_in_content(message)
        return outcome


async def load(server: Server, args: Any) -> Figures:
    """`args.requests` requests (the prompts in turn) from `args.clients` concurrent clients."""
    client = openai.AsyncOpenAI(
        base_url=server.base_url, api_key="bench", max_retries=0, timeout=args.deadline
    )
    # one warm-up request: the model is loaded and its prompt cache holds the tools
    await one_request(client, server.model, PROMPTS[0], args, time.monotonic() + args.deadline)
    work: asyncio.Queue[str] = asyncio.Queue()
    for i in range(args.requests):
        work.put_nowait(PROMPTS[i % len(PROMPTS)])
    figures = Figures()
    deadline = time.monotonic() + args.deadline

    async def worker() -> None:
        while not work.empty():
            prompt = work.get_nowait()
            figures.outcomes.append(await one_request(client, server.model, prompt, args, deadline))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(args.clients)))
    figures.wall_s = time.perf_counter() - started
    await client.close()
    return figures


def servers(args: Any) -> list[Server]:
    threads = str(args.threads)
    env = {**os.environ, "TINYCREW_THREADS": threads, "HF_HUB_OFFLINE": "1"}
    ours_port, theirs_port = free_port(), free_port()
    tinycrew = Path(sys.executable).with_name("tinycrew")
    ours = Server(
        "tinycrew",
        [str(tinycrew), "serve", "--port", str(ours_port), "--rate-limit", "0", "--log-level", "warning"],
        "/readyz",
        env,
        ours_port,
        DEFAULT_MODEL,
    )
    theirs = Server(
        "llama-cpp-python",
        [
            sys.executable,
            "-m",
            "tinycrew.models.llama_server",
            "--model",
            str(ensure_local(DEFAULT_MODEL)),
            "--model_alias",
            DEFAULT_MODEL,
            "--host",
            "127.0.0.1",
            "--port",
            str(theirs_port),
            "--n_ctx",
            "8192",
            "--n_threads",
            threads,
            "--n_threads_batch",
            threads,
        ],  # fmt: skip
        "/v1/models",
        env,
        theirs_port,
        DEFAULT_MODEL,
    )
    return [ours, theirs]


def _ratio(a: float, b: float) -> float | None:
    return a / b if b and a == a and b == b else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=int(os.environ.get("TINYCREW_THREADS", "1")))
    parser.add_argument("--deadline", type=float, default=900.0, help="seconds each server's load may take")
    args = parser.parse_args()

    results: dict[str, dict[str, Any]] = {}
    for server in servers(args):
        print(f"starting {server.name} on 127.0.0.1:{server.port} ...", flush=True)
        try:
            server.start()
            results[server.name] = asyncio.run(load(server, args)).summary()
        finally:
            server.stop()
        s = results[server.name]
        print(
            f"{server.name:>17}: {s['answered']}/{s['requests']} answered, 429s {s['errors_429']}, "
            f"other errors {s['errors_other']}, {s['throughput_rps']:.3f} req/s, "
            f"p50 {s['p50_s']:.2f} s, p95 {s['p95_s']:.2f} s, schema-valid tool call "
            f"{s['valid_call_share']:.0%} ({s['valid_calls_per_s']:.3f}/s; call written as content "
            f"{s['call_as_content_share']:.0%})",
            flush=True,
        )
    ours, theirs = results["tinycrew"], results["llama-cpp-python"]
    ratios = {
        "throughput": _ratio(ours["throughput_rps"], theirs["throughput_rps"]),
        "p50": _ratio(ours["p50_s"], theirs["p50_s"]),
        "p95": _ratio(ours["p95_s"], theirs["p95_s"]),
        "valid_call_share": _ratio(ours["valid_call_share"], theirs["valid_call_share"]),
        "valid_calls_per_s": _ratio(ours["valid_calls_per_s"], theirs["valid_calls_per_s"]),
    }
    shown = ", ".join(f"{k} {v:.2f}" if v is not None else f"{k} n/a" for k, v in ratios.items())
    print(f"ours/theirs: {shown}")
    figures: dict[str, Any] = {"requests": args.requests, "clients": args.clients, "threads": args.threads}
    for prefix, values in (("ours", ours), ("llama_cpp", theirs)):
        for key in (
            "errors_429", "errors_other", "throughput_rps", "p50_s", "p95_s", "valid_call_share",
            "valid_calls_per_s",
        ):  # fmt: skip
            figures[f"{prefix}_{key}"] = values[key]
    figures["llama_cpp_call_as_content_share"] = theirs["call_as_content_share"]
    for key, value in ratios.items():
        figures[f"ratio_{key}"] = value
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
