"""The `tinycrew` command line: one typer app, one module per command group."""

from __future__ import annotations

import typer

from tinycrew.cli import eval as eval_commands
from tinycrew.cli import models as models_commands
from tinycrew.cli import traj as traj_commands
from tinycrew.cli.run import run_command

app = typer.Typer(help="tinycrew: small local models in narrow roles, composed into tool-calling agents.")
app.add_typer(models_commands.app, name="models")
app.add_typer(traj_commands.app, name="traj")
app.add_typer(eval_commands.app, name="eval")
app.command("run")(run_command)


def main() -> None:
    """Entry point of the `tinycrew` console script."""
    app()
