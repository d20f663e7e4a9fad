"""`tinycrew run "task"`: run an agent on the built-in toolset and print every step."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def _show_update(node: str, changes: dict[str, Any]) -> None:
    """One line (or a few) per graph node, so a user sees what each role did."""
    if not changes:
        return
    if node == "retrieve":
        console.print(f"[dim]tools offered:[/dim] {', '.join(changes.get('tools', []))}")
    elif node == "planner" and "rationale" in changes:
        console.print(f"[cyan]planner[/cyan] {changes['rationale']} -> [bold]{changes['next']}[/bold]")
    elif node in ("planner", "caller", "model") and changes.get("pending"):
        for call in changes["pending"]:
            console.print(f"[magenta]{node}[/magenta] call {call.id}: {call.name}({call.arguments})")
            for rewrite in call.rewrites:  # what a call policy changed (tinycrew.policies)
                console.print(f"  [yellow]rewritten by {rewrite.policy}[/yellow]: {rewrite.reason}")
                console.print(f"    model wrote {rewrite.before} -> ran {rewrite.after}", markup=False)
    elif node in ("executor", "tools"):
        for call in changes.get("calls", [])[-len(changes.get("calls", [])) :]:
            if call.observation:
                colour = "green" if call.ok else "red"
                console.print(f"[{colour}]tool[/{colour}] {call.id}. {call.name} -> {call.observation[:200]}")
    elif node == "joiner" and "next" in changes:
        console.print(f"[cyan]joiner[/cyan] -> {'replan' if changes['next'] == 'planner' else 'finish'}")


def run_command(
    task: str = typer.Argument(..., help="what the agent should do"),
    graph: str = typer.Option("compiler", help="compiler | umi | react"),
    model: str = typer.Option(None, help="packaged model name or .gguf path (default: the packaged 0.5B)"),
    record: bool = typer.Option(True, help="record the trajectory under TINYCREW_HOME"),
    checkpointer: str = typer.Option("sqlite", help='"sqlite", "memory", a path or a postgresql:// URL'),
) -> None:
    """Run an agent on the built-in tools (calculate, day_of_week, current_time, convert_units).

    Example: `tinycrew run "What is 17 times 23?" --graph compiler`
    """
    from tinycrew.graphs import Agent
    from tinycrew.tools.builtin import builtin_tools

    agent = Agent(builtin_tools(), graph=graph, models=model, record=record, checkpointer=checkpointer)  # type: ignore[arg-type]
    console.print(f"[bold]{graph}[/bold] on {agent.models['default'].name}: {task}")
    result = None
    seen_calls = 0
    for kind, value in agent.stream(task, tokens=False):
        if kind == "update":
            for node, changes in value.items():
                if node in ("executor", "tools") and changes:
                    changes = {"calls": changes.get("calls", [])[seen_calls:]}
                    seen_calls += len(changes["calls"])
                _show_update(node, changes or {})
        elif kind == "result":
            result = value
    assert result is not None
    console.print(f"\n[bold]answer:[/bold] {result.answer}")
    table = Table(title=f"run {result.run_id} ({result.outcome}, {len(result.calls)} tool calls)")
    for column in ("model", "calls", "prompt tokens", "completion tokens", "seconds"):
        table.add_column(column)
    for name, usage in result.usage.items():
        table.add_row(
            name,
            f"{usage.get('calls', 0):.0f}",
            f"{usage.get('prompt_tokens', 0):.0f}",
            f"{usage.get('completion_tokens', 0):.0f}",
            f"{usage.get('seconds', 0):.1f}",
        )
    console.print(table)
