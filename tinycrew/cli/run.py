"""`tinycrew run "task"`: run an agent on the built-in toolset and print every step."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tinycrew.cli.errors import UserError

if TYPE_CHECKING:
    from tinycrew.graphs import RunResult

console = Console()


def _show_update(node: str, changes: dict[str, Any]) -> None:
    """One line (or a few) per graph node, so a user sees what each role did."""
    if not changes:
        return
    if node == "retrieve":
        console.print(f"[dim]tools offered:[/dim] {', '.join(changes.get('tools', []))}")
    elif node == "gate" and "next" in changes:
        decision = "a tool is needed" if changes["next"] == "planner" else "no tool: answers directly"
        console.print(f"[cyan]gate[/cyan] {decision}")
    elif node == "planner" and changes.get("plan"):
        for step in changes["plan"]:  # the crew planner's DAG (tinycrew.agents.crew_planner)
            console.print(f"[cyan]plan[/cyan] {escape(f'{step.id}. {step.purpose}')}")
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


def check_graph(graph: str) -> None:
    """Refuse an unknown graph name before any model is loaded.

    Example: `check_graph("umi")` returns; `check_graph("nope")` raises UserError naming the graphs.
    """
    from tinycrew.graphs.agent import BUILDERS

    if graph not in BUILDERS:
        raise UserError(f"unknown graph {graph!r}", fix=f"use --graph {' | '.join(BUILDERS)}")


def check_model(model: str | None, option: str) -> None:
    """Refuse an unknown model name or a .gguf path that is not a file, before anything is loaded.

    Example: `check_model("/missing.gguf", "--model")` raises UserError("model file /missing.gguf ...");
    `"<base>+<adapter>"` checks both parts.
    """
    from tinycrew.models import PathSource, get_spec
    from tinycrew.models.adapters import resolve_adapter, split_model_ref

    base, adapter = split_model_ref(model) if model else (model, None)
    try:
        spec = get_spec(base)
    except KeyError as error:
        raise UserError(f"{option}: {error.args[0]}", fix="`tinycrew models list` shows the names") from error
    if isinstance(spec.source, PathSource) and not spec.source.path.is_file():
        raise UserError(
            f"{option}: model file {spec.source.path} does not exist",
            fix="give the path of a .gguf file, or a packaged name (`tinycrew models list`)",
        )
    if adapter is not None:
        try:
            resolve_adapter(adapter, spec.name)
        except (KeyError, ValueError) as error:
            fix = "`<base>+<adapter>` takes a registered adapter (`tinycrew train` registers them) or a .gguf"
            raise UserError(f"{option}: {error.args[0]}", fix=fix) from error


def usage_table(result: RunResult) -> Table:
    """What each model of a run cost, in a table that fits 80 columns (a model name is never cut).

    Example: `Console().print(usage_table(agent.run("What is 17 times 23?")))`
    """
    table = Table(title=f"run {result.run_id} ({result.outcome}, {len(result.calls)} tool calls)")
    table.add_column("model", no_wrap=True, min_width=min(40, max((len(n) for n in result.usage), default=5)))
    priced = any(usage.get("cost_usd") for usage in result.usage.values())
    for column in ("calls", "tokens in", "tokens out", "time", *(["USD"] if priced else [])):
        table.add_column(column, justify="right", no_wrap=True)
    rows = [*result.usage.items(), *((f"role {role}", u) for role, u in result.usage_by_role.items())]
    for name, usage in rows:
        table.add_row(
            escape(name),
            f"{usage.get('calls', 0):.0f}",
            f"{usage.get('prompt_tokens', 0):.0f}",
            f"{usage.get('completion_tokens', 0):.0f}",
            f"{usage.get('seconds', 0):.1f} s",
            *([f"{usage.get('cost_usd', 0):.6f}"] if priced else []),
        )
    if result.escalations:
        escalated = sum(decision.escalated for decision in result.escalations)
        table.caption = (
            f"{escalated} of {len(result.escalations)} steps redone by the cloud, ${result.cost_usd:.6f}"
        )
    return table


def run_command(
    task: str = typer.Argument(..., help="what the agent should do"),
    graph: str = typer.Option("crew", help="crew (the default agent) | umi | compiler | react"),
    model: str = typer.Option(None, help="packaged model name or .gguf path (default: the packaged 0.5B)"),
    record: bool = typer.Option(True, help="record the trajectory under TINYCREW_HOME"),
    checkpointer: str = typer.Option("sqlite", help='"sqlite", "memory", a path or a postgresql:// URL'),
    cloud_url: str = typer.Option(None, help="OpenAI-compatible base URL of a cloud model to escalate to"),
    cloud_model: str = typer.Option(None, help="the cloud model's name (with --cloud-url)"),
    cloud_key_env: str = typer.Option("OPENAI_API_KEY", help="environment variable holding the cloud's key"),
    cloud_dialect: str = typer.Option("openai", help='"openai" or "llama.cpp" (a llama.cpp server)'),
    price_in: float = typer.Option(0.0, help="cloud USD per 1M prompt tokens"),
    price_out: float = typer.Option(0.0, help="cloud USD per 1M completion tokens"),
    min_logprob: float = typer.Option(
        None, help="escalate a step whose least sure token is at or below this"
    ),
    mean_logprob: float = typer.Option(None, help="escalate a step whose mean token logprob is at or below"),
    max_cloud_calls: int = typer.Option(None, help="at most this many cloud calls per run"),
    whole_run: bool = typer.Option(
        False, help="an unsure step sends the whole request to the cloud (a cascade), not that step alone"
    ),
) -> None:
    """Run an agent on the built-in tools (calculate, day_of_week, current_time, convert_units).

    Example: `tinycrew run "What is 17 times 23?"` (the crew graph; `--graph umi` for another);
    `--cloud-url ... --cloud-model ... --min-logprob -1.5` escalates unsure steps, `--whole-run` the
    whole request instead.
    """
    check_graph(graph)
    check_model(model, "--model")
    from tinycrew.graphs import Agent
    from tinycrew.tools.builtin import builtin_tools

    switching: dict[str, Any] = {}
    if cloud_url or cloud_model:
        if not (cloud_url and cloud_model):
            raise UserError("--cloud-url and --cloud-model go together", fix="give both, or neither")
        from tinycrew.switching import CloudConfig, EscalationPolicy

        cloud = {"base_url": cloud_url, "model": cloud_model, "api_key_env": cloud_key_env}
        prices = {"dialect": cloud_dialect, "input_price_per_m": price_in, "output_price_per_m": price_out}
        policy = EscalationPolicy(
            min_logprob=min_logprob, mean_logprob=mean_logprob, max_cloud_calls=max_cloud_calls
        )
        switching = {
            "cloud": CloudConfig.model_validate(cloud | prices),
            "cascade" if whole_run else "escalation": policy,
        }
    elif whole_run:
        raise UserError("--whole-run needs a cloud model", fix="give --cloud-url and --cloud-model")
    agent = Agent(
        builtin_tools(), graph=graph, models=model, record=record, checkpointer=checkpointer, **switching
    )  # type: ignore[arg-type]
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
            if "cascade" in value:  # the local run was unsure: the cloud runs the request again
                console.print(f"[yellow]to the cloud:[/yellow] {escape(value['cascade']['reason'])}")
                seen_calls = 0
        elif kind == "result":
            result = value
    assert result is not None
    for decision in result.escalations:  # local/cloud switching (tinycrew.switching)
        if decision.reasons:
            what = "redone by the cloud" if decision.escalated else f"stayed local ({decision.stayed_local})"
            why = "; ".join(decision.reasons)
            console.print(
                f"[yellow]step {decision.step} {decision.role}[/yellow] {escape(what)}: {escape(why)}"
            )
    console.print(f"\n[bold]answer:[/bold] {result.answer}")
    console.print(usage_table(result))
