"""`tinycrew desktop ...`: the desktop assistant of issue #25 (docs/desktop.md).

Without a subcommand it serves the web UI (`tinycrew.cli.desktop_ui`); `demo` runs one request end to
end in the terminal; `eval` scores the default desktop agent on a task file (`tinycrew.cli.desktop_eval`).
"""

from __future__ import annotations

import typer

from tinycrew.cli.desktop_eval import eval_command
from tinycrew.cli.desktop_ui import demo_command, ui_callback

app = typer.Typer(help="The desktop assistant: its web UI, a terminal demo, its eval.")
app.callback(invoke_without_command=True)(ui_callback)
app.command("demo")(demo_command)
app.command("eval")(eval_command)
