"""Dates as people say them ("tomorrow at 10", "next Friday") resolved against a given clock.

Small models copy the user's words far more reliably than they do date arithmetic, so the desktop tools
take phrases and resolve them here, against the toolset's ``now`` so that runs are reproducible.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import dateparser

# "at 10" alone is read by dateparser as nothing at all (it keeps the current time): make it "at 10:00".
_BARE_HOUR = re.compile(
    r"\bat\s+(\d{1,2})\b(?!\s*[:.h]\d|\s*(?:am|pm|a\.m\.|p\.m\.|o'?clock))", re.IGNORECASE
)
_OCLOCK = re.compile(r"\b(\d{1,2})\s*o'?clock\b", re.IGNORECASE)
_FOR_DURATION = re.compile(
    r"^\s*(?:for\s+)?(\d+(?:\.\d+)?|an?|one|two|three)\s*(minutes?|mins?|hours?|hrs?|h)\s*$", re.IGNORECASE
)
_AFTER_NOON = re.compile(r"\b(?:tonight|evening|afternoon)\b", re.IGNORECASE)
"""Day parts after noon: "tonight at 8" is 20:00 (dateparser reads the bare hour as 08:00)."""
_MORNING_MARK = re.compile(r"\b(?:am|a\.m\.|morning)\b", re.IGNORECASE)
_WORDS = {"a": 1.0, "an": 1.0, "one": 1.0, "two": 2.0, "three": 3.0}


def resolve_when(text: str, now: datetime) -> datetime:
    """A date/time phrase or ISO 8601 string as a datetime, relative phrases counted from ``now``.

    ISO 8601 ("2026-12-04T10:00", "2026-12-04") is read exactly; anything else goes to ``dateparser``
    (English, future dates preferred). A phrase without a time keeps midnight for weekdays and dates
    ("Friday") and the current time for "today"/"tomorrow". An hour from 1 to 11 said with "tonight",
    "evening" or "afternoon" (and no "am") is after noon. The result has ``now``'s time zone (or none).

    >>> resolve_when("tomorrow at 10", datetime(2026, 12, 3, 9, 30))
    datetime.datetime(2026, 12, 4, 10, 0)
    >>> resolve_when("tonight at 8", datetime(2026, 12, 3, 9, 30))
    datetime.datetime(2026, 12, 3, 20, 0)
    """
    phrase = (text or "").strip()
    if not phrase:
        raise ValueError("no date given; write one like '2026-12-04T10:00' or 'tomorrow at 10'")
    try:
        value = datetime.fromisoformat(phrase)
    except ValueError:
        value = None
    if value is None:
        cleaned = _OCLOCK.sub(r"\1:00", phrase)
        cleaned = _BARE_HOUR.sub(lambda m: f"at {m.group(1)}:00", cleaned)
        base = now.replace(tzinfo=None)
        value = dateparser.parse(
            cleaned,
            languages=["en"],
            settings={
                "RELATIVE_BASE": base,
                "PREFER_DATES_FROM": "future",
                "RETURN_AS_TIMEZONE_AWARE": False,
            },
        )
        if value is None:
            raise ValueError(
                f"cannot read the date {phrase!r}; write it like '2026-12-04T10:00', 'tomorrow at 10', "
                "'next Friday 3pm' or 'in 2 hours'"
            )
        if _AFTER_NOON.search(phrase) and not _MORNING_MARK.search(phrase) and 1 <= value.hour < 12:
            value += timedelta(hours=12)
    if now.tzinfo is not None and value.tzinfo is None:
        value = value.replace(tzinfo=now.tzinfo)
    elif now.tzinfo is None and value.tzinfo is not None:
        value = value.astimezone().replace(tzinfo=None)
    return value


def resolve_end(text: str, start: datetime, now: datetime) -> datetime:
    """The end of something that starts at ``start``: a date phrase, a time on the start's day ("11:00"
    after a start tomorrow at 10 means tomorrow at 11), or a duration ("1 hour", "for 30 minutes").
    """
    phrase = (text or "").strip()
    duration = _FOR_DURATION.match(phrase)
    if duration:
        amount = _WORDS.get(duration.group(1).lower()) or float(duration.group(1))
        unit = duration.group(2).lower()
        return start + (timedelta(hours=amount) if unit.startswith("h") else timedelta(minutes=amount))
    end = resolve_when(phrase, now)
    if end <= start:
        same_day = datetime.combine(start.date(), end.time(), tzinfo=end.tzinfo)
        if same_day > start:
            return same_day
    return end
