"""`tinycrew desktop` (the web UI) and `tinycrew desktop demo` (one request end to end, in the terminal).

The web UI lives in the repository's demos/desktop_assistant/ (ARCHITECTURE: nothing imports demos), so
`tinycrew desktop` loads that folder's app.py by its file location, as a plugin is loaded, and serves it
with uvicorn in this process on 127.0.0.1; an installation without the demos folder gets one error line
saying where the UI comes from. The terminal demo needs no UI: it is the desktop toolset and the default
agent, printed step by step.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import socket
import sys
import tempfile
import threading
import webbrowser
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from tinycrew.cli.errors import UserError
from tinycrew.cli.run import check_model

if TYPE_CHECKING:
    from tinycrew.graphs import Agent, RunResult

console = Console()
DEFAULT_PORT = 8765
DEMO_REQUEST = "Create a note called groceries with eggs and milk, and remind me tomorrow at 9 to buy them"
DEMOS_ENV = "TINYCREW_DEMOS"
"""A folder holding desktop_assistant/app.py, for an installation that is not a source checkout."""
MODEL_HELP = "packaged model name or .gguf path (default: the packaged 0.5B)"
SHOWN_LINES = 30
"""Lines of each written file the demo prints."""


def default_root() -> Path:
    """The per-user sandbox the UI works in (e.g. ~/.local/share/tinycrew/desktop), seeded on first start."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("tinycrew")) / "desktop"


def demo_app_file() -> Path:
    """demos/desktop_assistant/app.py of the checkout tinycrew runs from (or under $TINYCREW_DEMOS)."""
    import tinycrew

    checkout = Path(tinycrew.__file__).resolve().parent.parent / "demos"
    folders = [Path(os.environ[DEMOS_ENV]).expanduser()] if os.environ.get(DEMOS_ENV) else []
    for folder in [*folders, checkout]:
        if (folder / "desktop_assistant" / "app.py").is_file():
            return folder / "desktop_assistant" / "app.py"
    raise UserError(
        f"the desktop web UI is not in this installation: {checkout / 'desktop_assistant' / 'app.py'} is "
        "missing (the UI ships in the repository's demos/ folder, not in the tinycrew package)",
        fix=f"run it from a source checkout (`pip install -e .` in a clone of tinycrew), or set {DEMOS_ENV} "
        "to a checkout's demos folder; `tinycrew desktop demo` works without it",
    )


def load_demo_app(path: Path) -> ModuleType:
    """Load the UI's app.py by its location (no import of a demos package), as module tinycrew_desktop_ui."""
    spec = importlib.util.spec_from_file_location("tinycrew_desktop_ui", path)
    if spec is None or spec.loader is None:
        raise UserError(f"cannot load {path}", fix="check that the file is the desktop UI's app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # FastAPI and pydantic resolve the module's annotations through it
    spec.loader.exec_module(module)
    return module


def parse_now(now: str | None) -> datetime | None:
    """--now as a datetime (None: the wall clock)."""
    if now is None:
        return None
    try:
        return datetime.fromisoformat(now)
    except ValueError as error:
        problem = f"--now {now!r} is not an ISO 8601 date and time"
        raise UserError(problem, fix="e.g. --now 2026-12-03T09:00") from error


def ensure_sandbox(root: Path) -> tuple[Path, bool]:
    """The sandbox root, seeded with the demo data when it does not exist or is empty; True if seeded."""
    from tinycrew.tools.desktop import seed_sandbox

    root = root.expanduser()
    if root.exists() and not root.is_dir():
        raise UserError(f"--root {root} is a file", fix="give a folder (it is created and seeded if missing)")
    if root.is_dir() and any(root.iterdir()):
        return root.resolve(), False
    return seed_sandbox(root), True


def bind_loopback(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1 (port 0: a free one), bound before uvicorn so the URL is known.

    It listens at once: a client that reads the printed URL is queued until uvicorn serves, not refused.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as error:
        sock.close()
        problem = f"cannot listen on 127.0.0.1:{port}: {error.strerror}"
        raise UserError(problem, fix="--port 0 picks a free port") from error
    sock.listen()
    return sock


def ui_callback(
    ctx: typer.Context,
    root: Annotated[
        Path | None,
        typer.Option(
            envvar="TINYCREW_DESKTOP_ROOT",
            help="sandbox the tools work in, seeded when empty (default ~/.local/share/tinycrew/desktop)",
        ),
    ] = None,
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="TCP port on 127.0.0.1; 0 picks a free one")
    ] = DEFAULT_PORT,
    model: Annotated[str | None, typer.Option(help=MODEL_HELP)] = None,
    approval: Annotated[
        bool, typer.Option("--approval/--no-approval", help="ask before side effects")
    ] = True,
    open_browser: Annotated[
        bool, typer.Option("--open", help="open the page in the default browser")
    ] = False,
    now: Annotated[
        str | None, typer.Option(help="fixed clock for relative dates, e.g. 2026-12-03T09:00")
    ] = None,
    trajectories: Annotated[
        str | None,
        typer.Option(help="trajectory store: a path or postgresql:// URL (default under TINYCREW_HOME)"),
    ] = None,
) -> None:
    """The desktop assistant (issue #25): without a subcommand, serve its web UI on 127.0.0.1.

    Example: `tinycrew desktop --open` (sandbox ~/.local/share/tinycrew/desktop, http://127.0.0.1:8765);
    `tinycrew desktop --root /tmp/box --port 0 --no-approval`; `tinycrew desktop demo` in the terminal.
    """
    if ctx.invoked_subcommand is not None:
        return
    check_model(model, "--model")
    clock = parse_now(now)
    app_file = demo_app_file()
    root, seeded = ensure_sandbox(root or default_root())
    ui = load_demo_app(app_file)
    import uvicorn

    settings = ui.Settings(root=root, model=model, approval=approval, now=clock, trajectories=trajectories)
    app = ui.create_app(settings)
    sock = bind_loopback(port)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    if seeded:
        console.print(f"[dim]seeded {escape(str(root))} with the demo contacts, files and mail[/dim]")
    line = f"desktop assistant: {url}  (sandbox {escape(str(root))}; the model loads meanwhile)"
    console.print(line, soft_wrap=True)  # one line, whatever the width: scripts and tests read the URL
    console.print("[dim]Ctrl-C stops it[/dim]")
    sys.stdout.flush()
    if open_browser:
        threading.Timer(1.0, webbrowser.open, [url]).start()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2))
    server.run(sockets=[sock])


# -- the terminal demo ---------------------------------------------------------------------------------


def _snapshot(root: Path) -> dict[Path, tuple[int, int]]:
    files = (path for path in root.rglob("*") if path.is_file())
    return {path: (path.stat().st_size, path.stat().st_mtime_ns) for path in files}


def _show_written(root: Path, before: dict[Path, tuple[int, int]]) -> list[Path]:
    """Print every file the run created or changed: its path and its content."""
    after = _snapshot(root)
    written = sorted(path for path, stamp in after.items() if before.get(path) != stamp)
    for path in written:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            lines = [f"({path.stat().st_size} bytes of binary data)"]
        more = [f"... ({len(lines) - SHOWN_LINES} more lines)"] if len(lines) > SHOWN_LINES else []
        body = escape("\n".join(lines[:SHOWN_LINES] + more))
        console.print(Panel(body, title=f"[bold]wrote[/bold] {escape(str(path))}", title_align="left"))
    if not written:
        console.print("[yellow]no file was written[/yellow]")
    return written


def _decide(result: RunResult, yes: bool) -> str:
    """Show the calls waiting for approval and take the user's decision (or approve, visibly, with --yes)."""
    console.print("[bold yellow]approval needed[/bold yellow] before these calls run:")
    for call in result.pending_approval:
        arguments = ", ".join(f"{key}={value!r}" for key, value in call.get("arguments", {}).items())
        console.print(f"  {call.get('id')}. {escape(str(call.get('name')))}({escape(arguments)})")
    if yes or not sys.stdin.isatty():
        why = "--yes" if yes else "no terminal to ask in"
        console.print(f"approve? [bold green]yes[/bold green] [dim](answered automatically: {why})[/dim]")
        return "approve"
    return "approve" if typer.confirm("approve?", default=True) else "reject"


async def _drive(agent: Agent, request: str, yes: bool) -> RunResult:
    from tinycrew.cli.run import _show_update

    async def segment(events: Any) -> RunResult:
        result = None
        async for kind, value in events:
            if kind == "update":
                for node, changes in value.items():
                    _show_update(node, changes if isinstance(changes, dict) else {})
            elif kind == "result":
                result = value
        assert result is not None
        return result

    result = await segment(agent.astream(request, tokens=False))
    while result.status == "interrupted" and result.pending_approval:
        decision = _decide(result, yes)
        result = await segment(agent.astream_resume(result.run_id, decision, tokens=False))
    return result


def demo_command(
    request: Annotated[str, typer.Argument(help="what to ask the assistant")] = DEMO_REQUEST,
    root: Annotated[
        Path | None, typer.Option(help="sandbox folder (default: a fresh temporary one, kept afterwards)")
    ] = None,
    model: Annotated[str | None, typer.Option(help=MODEL_HELP)] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="approve side effects without asking")] = False,
    now: Annotated[
        str | None, typer.Option(help="fixed clock for relative dates, e.g. 2026-12-03T08:00")
    ] = None,
) -> None:
    """Run one sample request end to end on a fresh sandbox: the plan, the approval, the files written.

    Example: `tinycrew desktop demo` (asks before writing; `--yes` approves by itself);
    `tinycrew desktop demo "Email Odile the hedgehog survey" --root /tmp/box`.
    """
    from tinycrew.graphs import Agent
    from tinycrew.tools.desktop import AGENT_OPTIONS, desktop_tools, seed_sandbox

    check_model(model, "--model")
    clock = parse_now(now)
    root = seed_sandbox(root if root is not None else Path(tempfile.mkdtemp(prefix="tinycrew-desktop-")))
    console.print(f"[bold]sandbox[/bold] {escape(str(root))} (seeded: contacts, documents, notes, mail)")
    stamp = (clock or datetime.now()).strftime("%A %Y-%m-%d %H:%M")
    console.print(f"[bold]request[/bold] {escape(request)}  [dim](clock: {stamp})[/dim]")
    console.print("[dim]loading the model and the tools...[/dim]")
    # the roles are not told the time: the tools read dates in the user's words against `clock`
    agent = Agent(desktop_tools(root, now=clock), models=model, checkpointer="memory", **AGENT_OPTIONS)
    before = _snapshot(root)
    result = asyncio.run(_drive(agent, request, yes))
    if result.answer:
        console.print(Panel(escape(result.answer), title="[bold]answer[/bold]", title_align="left"))
    _show_written(root, before)
    seconds = sum(usage.get("seconds", 0.0) for usage in result.usage.values())
    console.print(f"[dim]{len(result.calls)} calls, {seconds:.1f} s of model time, run {result.run_id}[/dim]")
    console.print("\nNext, the web UI (chat, the plan as a graph, live steps, approvals, the trajectory):")
    console.print(f"  tinycrew desktop --root {escape(str(root))} --open", soft_wrap=True)
    console.print(
        f"[dim]  (in this checkout .venv/bin/tinycrew; it serves http://127.0.0.1:{DEFAULT_PORT}/ on this "
        "machine only)[/dim]"
    )
