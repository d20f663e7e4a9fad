"""Server-side tools the run tests mount by import path (`tests.service.runtools:send_message`)."""

from __future__ import annotations

from tinycrew.tools import tool

SENT: list[str] = []
"""What send_message sent, in this process (every replica of a test runs in it)."""


@tool(side_effect=True)
def send_message(to: str, text: str) -> str:
    """Send a short message to a colleague.

    Args:
        to: The colleague's first name.
        text: The message.
    """
    SENT.append(f"{to}: {text}")
    return "sent"


@tool
def lookup_price(item: str) -> float:
    """The price in euros of an item in the shop.

    Args:
        item: The item name, e.g. "apple".
    """
    return {"apple": 0.5, "bread": 2.25}.get(item.lower().strip(), 1.0)
