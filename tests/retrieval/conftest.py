"""Fixtures for retrieval tests: a small realistic tool pool with obvious right answers."""

from __future__ import annotations

from typing import Any

import pytest


def fn(name: str, description: str, **params: str) -> dict[str, Any]:
    """A BFCL-style function schema with string parameters."""
    return {
        "name": name,
        "description": description,
        "parameters": {
            "type": "dict",
            "properties": {p: {"type": "string", "description": d} for p, d in params.items()},
            "required": list(params),
        },
    }


@pytest.fixture
def tool_pool() -> list[dict[str, Any]]:
    """Twelve everyday tools, each the one clear answer to one of the test requests."""
    return [
        fn(
            "weather.get_forecast",
            "Get the weather forecast (temperature, rain) for a city.",
            city="City name",
        ),
        fn("send_email", "Send an email message to a recipient.", to="Recipient address", body="Message"),
        fn("calendar.create_event", "Create a meeting in the user's calendar.", title="Title", start="Start"),
        fn(
            "convertCurrency",
            "Convert an amount of money between currencies.",
            amount="Amount",
            to="Currency",
        ),
        fn(
            "translate_text", "Translate text into another language.", text="Text", language="Target language"
        ),
        fn("music.play_song", "Play a song by an artist on the speaker.", song="Song title", artist="Artist"),
        fn("flights.book", "Book a flight ticket between two airports.", origin="From", destination="To"),
        fn("get_stock_price", "Get the latest share price of a listed company.", ticker="Stock ticker"),
        fn("recipes.search", "Find cooking recipes by ingredient.", ingredient="Main ingredient"),
        fn("set_timer", "Start a countdown timer.", minutes="Duration in minutes"),
        fn("maps.directions", "Driving directions between two places.", origin="Start", destination="End"),
        fn("math.factorial", "Compute the factorial of a non-negative integer.", n="The integer"),
    ]


@pytest.fixture
def tool_requests() -> list[tuple[str, str]]:
    """(request, the one right tool of `tool_pool`) pairs."""
    return REQUESTS


# (request, the one right tool)
REQUESTS = [
    ("Will it rain in Berlin tomorrow?", "weather.get_forecast"),
    ("Email Bob that the report is ready", "send_email"),
    ("How many euros is 300 US dollars?", "convertCurrency"),
    ("Say 'good morning' in Japanese", "translate_text"),
    ("Put on Bohemian Rhapsody by Queen", "music.play_song"),
    ("What is Apple's share price right now?", "get_stock_price"),
    ("What can I cook with chickpeas?", "recipes.search"),
    ("What is 10 factorial?", "math.factorial"),
]
