"""Source lookups (opt-in, `Agent(lookups=True)`, crew graph): a value for a parameter whose description
names the tool it comes from ("recipients: e-mail addresses (get_email_address gives a contact's)") is
passed through that tool as a call of its own, and the call that needs it waits for it.

Why: the 0.5B planner and caller never plan or choose a lookup themselves. Offered `get_email_address`
beside `forward_email`, the caller wrote `recipients=["Ananya"]` or an invented address in 20 of 20 train
requests tried (docs/desktop.md, "Source lookups"). With this option `["Ananya"]` becomes a recorded
`get_email_address(name="Ananya")` call and `recipients=[<its result>]` with a dependency on it.

It guesses, so it is off by default: a value the source tool does not know (an address the user typed,
a phone number) is kept as written and the failed probe is not recorded; a value that was right as
written but that the source tool also matches is replaced (docs/graphs.md has the case).
"""

from __future__ import annotations

import re
from typing import Any

from tinycrew.agents import CallRecord, PlannedCall
from tinycrew.agents.common import Rewrite
from tinycrew.graphs.execution import run_call
from tinycrew.tools import ToolRegistry

_REFERENCE = re.compile(r"^\$\d+$")


def sourced_parameters(registry: ToolRegistry, name: str) -> dict[str, str]:
    """Parameter -> the tool its description names, for the parameters of tool `name` whose source is
    a registered tool that takes exactly one required string and needs no approval."""
    properties = registry.get(name).parameters.get("properties", {})
    found: dict[str, str] = {}
    for parameter, schema in properties.items():
        description = str(schema.get("description", ""))
        for other in registry.names():
            if other != name and re.search(rf"(?<![\w.\-]){re.escape(other)}(?![\w\-])", description):
                if _lookup_parameter(registry, other) is not None:
                    found[parameter] = other
                break
    return found


def _lookup_parameter(registry: ToolRegistry, name: str) -> str | None:
    """The one required string parameter of tool `name` when it is a lookup we may run unasked."""
    tool = registry.get(name)
    parameters = tool.parameters
    required = parameters.get("required", [])
    if tool.side_effect or len(required) != 1:
        return None
    return (
        required[0] if parameters.get("properties", {}).get(required[0], {}).get("type") == "string" else None
    )


async def look_up_sources(
    registry: ToolRegistry, call: PlannedCall, known: list[CallRecord], next_id: int
) -> tuple[PlannedCall, list[CallRecord]]:
    """`call` with each value of a sourced parameter (`sourced_parameters`) replaced by the result of
    the source tool run on it, and the lookup calls that ran (ids from `next_id`, `call` depending on
    them). A value that already is a result of that tool, a `$N` reference, or one the tool fails on
    is kept as written. The same lookup is run once per run."""
    sources = sourced_parameters(registry, call.name)
    if not sources:
        return call, []
    arguments = dict(call.arguments)
    lookups: list[CallRecord] = []
    needed: list[int] = []
    for parameter, source in sources.items():
        if parameter not in arguments:  # left out: the tool's default applies, nothing to look up
            continue
        value = arguments[parameter]
        items = value if isinstance(value, list) else [value]
        resolved: list[Any] = []
        for item in items:
            record = None
            if isinstance(item, str) and item.strip() and not _REFERENCE.match(item.strip()):
                record = await _lookup(registry, source, item.strip(), [*known, *lookups], next_id)
            if record is None:
                resolved.append(item)
                continue
            if record.id == next_id:
                lookups.append(record)
                next_id += 1
            needed.append(record.id)
            resolved.append(record.observation.strip())
        arguments[parameter] = resolved if isinstance(value, list) else resolved[0]
    if not needed:
        return call, []
    rewrite = Rewrite(
        policy="lookups",
        before=call.arguments,
        after=arguments,
        reason="values looked up by call " + ", ".join(str(number) for number in sorted(set(needed))),
    )
    update = {
        "arguments": arguments,
        "depends_on": sorted({*call.depends_on, *needed}),
        "rewrites": [*call.rewrites, rewrite],
        "model_arguments": call.model_arguments if call.model_arguments is not None else call.arguments,
    }
    return call.model_copy(update=update), lookups


async def _lookup(
    registry: ToolRegistry, source: str, item: str, known: list[CallRecord], next_id: int
) -> CallRecord | None:
    """The call of `source` that gives `item`'s value: one already made (by argument, or whose result
    is `item` itself, which then needs no lookup: None), else a new one when it succeeds."""
    parameter = _lookup_parameter(registry, source)
    assert parameter is not None
    for done in known:
        if done.name == source and done.ok:
            if done.observation.strip() == item:
                return None
            if str(done.arguments.get(parameter, "")).strip().casefold() == item.casefold():
                return done
    planned = PlannedCall(id=next_id, name=source, arguments={parameter: item})
    record = await run_call(registry, planned, planned.arguments)
    if not record.ok or record.observation.strip() == item:
        return None
    return record
