"""Redaction of exported text: a hook type and a built-in that masks e-mail addresses and phone numbers."""

from __future__ import annotations

import re
from collections.abc import Callable

Redactor = Callable[[str], str]

EMAIL_MASK = "[EMAIL]"
PHONE_MASK = "[PHONE]"

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# A run of digit groups joined by spaces, dots or dashes, optionally "+country" and "(area)".
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]?\d{2,4}){1,4}(?![\w:])"
)
# dates, ZIP+4, IPv4 addresses, decimals such as coordinates (one dot and nothing else)
_NOT_PHONE = re.compile(
    r"\d{4}-\d{2}-\d{2}|\d{2}[./-]\d{2}[./-]\d{4}|^\d{5}-\d{4}$|^\d{1,3}(?:\.\d{1,3}){3}$|^\d+\.\d+$"
)


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(ch.isdigit() for ch in text)
    international = text.startswith(("+", "("))
    separated = any(ch in text for ch in " .-")
    if 7 <= digits <= 15 and (international or separated) and not _NOT_PHONE.search(text):
        return PHONE_MASK
    return text


def redact_pii(text: str) -> str:
    """Mask e-mail addresses and phone numbers (7-15 digits written with +, (), spaces, dots or dashes).

    Plain digit runs, ISO dates and decimals are left alone so that tool arguments keep their meaning.
    """
    return _PHONE.sub(_phone, _EMAIL.sub(EMAIL_MASK, text))
