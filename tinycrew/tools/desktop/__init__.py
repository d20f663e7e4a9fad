"""The desktop toolset of issue #25: 16 tools over real files in a sandbox root.

Contacts (vCard), calendar and reminders (iCalendar), files and PDFs, e-mail (a Maildir outbox, never
sent), OpenStreetMap links, Markdown notes, an SMS log and a meeting link. ``desktop_tools(root)`` builds
them; ``seed_sandbox(root)`` fills a root with the demo data. See docs/desktop.md.
"""

from tinycrew.tools.desktop.dates import resolve_when
from tinycrew.tools.desktop.sandbox import SandboxError
from tinycrew.tools.desktop.seed import seed_sandbox
from tinycrew.tools.desktop.toolset import (
    DEFAULT_MEETING_URL,
    DESKTOP_TOOL_NAMES,
    OPENER_TOOLS,
    SIDE_EFFECT_TOOLS,
    desktop_tools,
)

AGENT_OPTIONS: dict[str, object] = {"lookups": True}
"""How the desktop assistant (terminal demo, web UI, `tinycrew desktop eval`) configures its `Agent`
beyond the defaults: a name given for an address, a phone number or a file is looked up by the tool the
parameter names, as a call of its own (`tinycrew.graphs.lookups`; measured in docs/desktop.md)."""

__all__ = [
    "AGENT_OPTIONS",
    "DEFAULT_MEETING_URL",
    "DESKTOP_TOOL_NAMES",
    "OPENER_TOOLS",
    "SIDE_EFFECT_TOOLS",
    "SandboxError",
    "desktop_tools",
    "resolve_when",
    "seed_sandbox",
]
