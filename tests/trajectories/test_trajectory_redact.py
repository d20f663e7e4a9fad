"""The built-in PII redactor masks e-mails and phone numbers and leaves other numbers alone."""

from __future__ import annotations

import pytest

from tinycrew.trajectories import redact_pii


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to jane.doe+tag@mail.example.co.uk now", "write to [EMAIL] now"),
        ("call +1 415 555 2671", "call [PHONE]"),
        ("(415) 555-2671", "[PHONE]"),
        ("415.555.2671 or 030 1234567", "[PHONE] or [PHONE]"),
        ("+491701234567", "[PHONE]"),
        ('{"to": "a@b.io", "tel": "+44 20 7946 0958"}', '{"to": "[EMAIL]", "tel": "[PHONE]"}'),
    ],
)
def test_masks(text: str, expected: str) -> None:
    assert redact_pii(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "on 2024-01-02 at 10:30:00",
        "order 1234567 costs 12.50 EUR",
        '{"lat": 37.7749295, "lon": -122.4194155}',
        "host 192.168.10.10, version 1.2.3, zip 94103-1234",
        "no personal data here",
    ],
)
def test_leaves_other_text(text: str) -> None:
    assert redact_pii(text) == text
