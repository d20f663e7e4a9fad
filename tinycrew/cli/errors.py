"""User mistakes at the edge: one line naming the problem and the fix, exit status 2.

The root group, `GuardedGroup`, wraps every command's callback in one place: the exceptions a user can
cause (an unknown graph or model, a model file that is not there, a path that cannot be read, a missing
extra, a database that cannot be reached, a bad option value found by the command itself) become
`error: <problem> — fix: <fix>` on stderr and exit status 2. Anything else is a bug: one line saying
so, exit status 1. `tinycrew --debug ...` (or TINYCREW_DEBUG=1) prints the traceback before that line.
typer's own usage errors (unknown option, missing argument) are found while parsing, before any
callback, and typer reports them itself (exit status 2).

Commands raise `UserError` for the mistakes they find themselves, e.g.
`raise UserError("unknown graph 'nope'", fix="use one of umi, compiler, react")`.
"""

from __future__ import annotations

import functools
import sqlite3
import sys
import traceback
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

USER_ERROR_EXIT = 2
INTERNAL_ERROR_EXIT = 1

# module (top-level import name) -> the extra that installs it
EXTRA_OF_MODULE: dict[str, str] = {
    "transformers": "train",
    "torch": "train",
    "peft": "train",
    "accelerate": "train",
    "fastapi": "service",
    "uvicorn": "service",
    "sse_starlette": "service",
    "regex": "service",
    "langchain_core": "interop",
    "mcp": "interop",
    "psycopg": "postgres",
    "matplotlib": "eval",
}

err_console = Console(stderr=True, soft_wrap=True)


def _click_class(name: str) -> type[Exception]:
    """click's exception class `name` as this typer uses it (newer typer releases vendor their own click)."""
    return next(cls for cls in typer.BadParameter.__mro__ if cls.__name__ == name)


ClickException = _click_class("ClickException")
UsageError = _click_class("UsageError")


class UserError(ClickException):  # type: ignore[misc,valid-type]
    """A mistake the user can fix: `problem` says what is wrong, `fix` what to do instead.

    A ClickException with exit status 2, so a sub-app invoked on its own (as tests do) still reports it.

    Example: `raise UserError("no run 'x1' in trajectories.sqlite", fix="see `tinycrew traj list`")`
    """

    exit_code = USER_ERROR_EXIT

    def __init__(self, problem: str, fix: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix

    def format_message(self) -> str:
        """The one line printed for this error (without the `error:` prefix)."""
        return _with_fix(self.problem, self.fix)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _with_fix(problem: str, fix: str | None) -> str:
    problem = _one_line(problem)
    return problem if not fix else f"{problem} — fix: {_one_line(fix)}"


def _model_errors() -> tuple[type[BaseException], ...]:
    from tinycrew.models.openai_backend import ModelUnavailableError
    from tinycrew.models.registry import ModelNotAvailableError

    return ModelNotAvailableError, ModelUnavailableError


def describe_user_error(error: BaseException) -> str | None:
    """The one line (problem and fix, no prefix) for a mistake a user can make; None for anything else.

    Example: `describe_user_error(FileNotFoundError(2, "No such file or directory", "t.py"))` gives
    "cannot use t.py: No such file or directory — fix: check the path".
    """
    if isinstance(error, UserError):
        return error.format_message()
    if isinstance(error, ClickException):  # typer.BadParameter raised by a command's own checks
        return _one_line(error.format_message())  # type: ignore[attr-defined]
    if isinstance(error, _model_errors()):
        message = str(error)
        if "does not exist" in message:
            return _with_fix(
                message, "pass the path of an existing .gguf file or a packaged name (`tinycrew models list`)"
            )
        return _one_line(message)
    if isinstance(error, KeyError) and error.args and str(error.args[0]).startswith("unknown "):
        return _one_line(str(error.args[0]))  # get_spec: "unknown model 'x': use a packaged name ..."
    if isinstance(error, ModuleNotFoundError) and error.name:
        top = error.name.split(".")[0]
        extra = EXTRA_OF_MODULE.get(top)
        fix = f"pip install 'tinycrew[{extra}]'" if extra else f"pip install {top}"
        return _with_fix(f"{top} is not installed", fix)
    if isinstance(error, OSError) and error.filename is not None:  # a path that cannot be read or made
        fixes: dict[type[OSError], str] = {
            PermissionError: "check the file's permissions",
            IsADirectoryError: "give a file, not a folder",
            FileExistsError: "a file stands where a folder is needed: check the path",
        }
        problem = f"cannot use {error.filename}: {error.strerror or error}"
        return _with_fix(problem, fixes.get(type(error), "check the path"))
    if isinstance(error, sqlite3.OperationalError) and "unable to open" in str(error):
        return _with_fix(
            f"cannot open the SQLite database ({error})",
            "check the --store / --checkpointer path and that its folder exists and is writable",
        )
    if type(error).__module__.startswith("psycopg") and type(error).__name__ == "OperationalError":
        return _with_fix(
            f"cannot reach the PostgreSQL database: {error}",
            "check the postgresql:// URL and that the server is running",
        )
    if isinstance(error, ValueError):  # our own checks (Agent's unknown graph, pydantic validation, ...)
        return _one_line(str(error))
    return None


def report(error: BaseException, debug: bool = False) -> int:
    """Print the one-line report of `error` on stderr (after its traceback when `debug`) and return the
    exit status it deserves: 2 for a user mistake, 1 for a bug."""
    if debug:
        traceback.print_exception(error, file=sys.stderr)
    line = describe_user_error(error)
    if line is not None:
        err_console.print(f"[red]error:[/red] {escape(line)}", highlight=False)
        return USER_ERROR_EXIT
    what = _one_line(f"{type(error).__name__}: {error}")
    hint = "see the traceback above" if debug else "rerun with --debug for the traceback"
    err_console.print(
        f"[red]error:[/red] {escape(what)} — this is a bug in tinycrew: {hint} and report it", highlight=False
    )
    return INTERNAL_ERROR_EXIT


def _guarded(callback: Callable[..., Any], debug: bool) -> Callable[..., Any]:
    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except Exception as error:
            raise typer.Exit(report(error, debug)) from None

    return run


def _guard_tree(command: Any, debug: bool) -> None:
    """Wrap the callback of `command` and of every command below it (once per built command tree)."""
    original = getattr(command, "_tinycrew_callback", None) or command.callback
    if original is not None:
        command._tinycrew_callback = original
        command.callback = _guarded(original, debug)
    for sub in getattr(command, "commands", {}).values():
        _guard_tree(sub, debug)


class GuardedGroup(TyperGroup):
    """The root command group: before a command runs, every command's callback is wrapped so that an
    exception from its body is reported by `report` (one line, exit status 2 for a user mistake).
    click's own usage errors (unknown option, missing argument, bad type) come from parsing, outside
    the callbacks, and typer keeps showing them itself (exit status 2)."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        """Guard every command's callback (with --debug: tracebacks too), then run the command."""
        debug = bool(ctx.params.get("debug"))
        for sub in self.commands.values():
            _guard_tree(sub, debug)
        return super().invoke(ctx)
