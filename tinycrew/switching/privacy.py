"""The privacy guard: what a cloud model may see of a prompt."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from tinycrew.trajectories.redact import Redactor

WITHHELD = "[withheld: result of a local-only tool]"
PREFIX_CHARS = 60
"""A withheld result is also found by its first this many characters (whitespace folded), to the end of
the line: prompts show long results cut (a thread's earlier turns fold and cut them)."""


def _patterns(private: Iterable[str]) -> list[re.Pattern[str]]:
    patterns = []
    for text in sorted({text for text in private if text.strip()}, key=len, reverse=True):
        folded = " ".join(text.split())
        patterns.append(re.compile(re.escape(text)))
        if folded != text:
            patterns.append(re.compile(re.escape(folded)))
        if len(folded) > PREFIX_CHARS:
            patterns.append(re.compile(re.escape(folded[:PREFIX_CHARS]) + r"[^\n]*"))
    return patterns


def _clean(text: str, patterns: list[re.Pattern[str]], redact: Redactor | None) -> tuple[str, int]:
    cut = 0
    for pattern in patterns:
        text, n = pattern.subn(WITHHELD, text)
        cut += n
    return (redact(text) if redact is not None else text), cut


def guard_messages(
    messages: list[dict[str, Any]], private: Iterable[str], redact: Redactor | None
) -> tuple[list[dict[str, Any]], int]:
    """`messages` as the cloud may see them: every local-only result replaced by `WITHHELD`, then
    `redact` over every text (contents and tool-call arguments); and how many results were cut out."""
    patterns = _patterns(private)
    guarded, cut = [], 0
    for message in messages:
        message = dict(message)
        content = message.get("content")
        if isinstance(content, str):
            message["content"], n = _clean(content, patterns, redact)
            cut += n
        elif isinstance(content, list):  # content parts
            parts = []
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    text, n = _clean(part["text"], patterns, redact)
                    part, cut = {**part, "text": text}, cut + n
                parts.append(part)
            message["content"] = parts
        if message.get("tool_calls"):
            calls = []
            for call in message["tool_calls"]:
                function = dict(call.get("function") or {})
                arguments = function.get("arguments")
                if not isinstance(arguments, str):
                    arguments = json.dumps(arguments)
                function["arguments"], n = _clean(arguments, patterns, redact)
                calls.append({**call, "function": function})
                cut += n
            message["tool_calls"] = calls
        guarded.append(message)
    return guarded, cut
