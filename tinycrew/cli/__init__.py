"""The `tinycrew` command line: one typer app, one module per command group.

Errors are mapped in one place, `tinycrew.cli.errors.GuardedGroup`: a user mistake prints one
`error: ... — fix: ...` line with exit status 2; `tinycrew --debug ...` shows the traceback instead.
"""

from __future__ import annotations

import typer

from tinycrew.cli import desktop as desktop_commands
from tinycrew.cli import eval as eval_commands
from tinycrew.cli import models as models_commands
from tinycrew.cli import router as router_commands
from tinycrew.cli import traj as traj_commands
from tinycrew.cli.doctor import doctor_command
from tinycrew.cli.errors import GuardedGroup
from tinycrew.cli.run import run_command
from tinycrew.cli.serve import serve_command
from tinycrew.cli.train import train_command

app = typer.Typer(
    cls=GuardedGroup,
    help="tinycrew: small local models in narrow roles, composed into tool-calling agents.",
    pretty_exceptions_show_locals=False,
)
app.add_typer(models_commands.app, name="models")
app.add_typer(traj_commands.app, name="traj")
app.add_typer(eval_commands.app, name="eval")
app.add_typer(desktop_commands.app, name="desktop")
app.add_typer(router_commands.app, name="router")
app.command("run")(run_command)
app.command("doctor")(doctor_command)
app.command("serve")(serve_command)
app.command("train")(train_command)


@app.callback()
def root(
    debug: bool = typer.Option(
        False, "--debug", envvar="TINYCREW_DEBUG", help="Show the full traceback of any error."
    ),
) -> None:
    """tinycrew: small local models in narrow roles, composed into tool-calling agents.

    Example: `tinycrew --debug run --graph umi "What is 17 times 23?"`
    """


def main() -> None:
    """Entry point of the `tinycrew` console script."""
    app()
