"""Does a reply open a tool call? Read from its first characters, as `tinycrew.agents.gate` does, but
decided as soon as the text can no longer become a call opening (one token for most text answers),
and watched for in the rest of a text reply too, so that a call never goes out as plain content.

The openings are those of the templates we serve (Qwen's `<tool_call>`, fenced or bare JSON
`{"name": ...}`, Llama's `<|python_tag|>` and `<function`, Mistral's `[TOOL_CALLS]`); `regex`'s partial
matching tells "not yet" from "no".
"""

from __future__ import annotations

from enum import Enum

import regex

_TAG = r"<tool_call>|<\|python_tag\|>|\[TOOL_CALLS\]|<function"
_JSON_CALL = r'\[?\s*\{\s*"(?:name|function)"\s*:'
_FENCED_CALL = r"```[A-Za-z_]*\s*" + _JSON_CALL
_START = regex.compile(rf"\s*(?:{_TAG}|{_FENCED_CALL}|{_JSON_CALL})")
_ANYWHERE = regex.compile(rf"(?:{_TAG}|{_FENCED_CALL}|{_JSON_CALL})")
_CANDIDATE = regex.compile(r"[<\[{`]")

TEXT_GRAMMAR = r"root ::= [^{\[<`\x00-\x20] [^\x00]*"
"""GBNF for a text reply that cannot open with a call (nor with whitespace); used where a small model
imitates the calls it sees in the conversation instead of answering."""
TAG_STOPS = ["<tool_call>", "<|python_tag|>", "[TOOL_CALLS]"]
"""Stop sequences that end a text-only reply where a call would begin."""


class Opening(Enum):
    """What the start of a reply is, so far."""

    CALL = "call"
    TEXT = "text"
    UNDECIDED = "undecided"


def classify_start(text: str) -> Opening:
    """Whether a reply that starts with `text` opens a tool call, is text, or cannot be told yet.

    >>> classify_start('```json\\n{"name": "get_weather"'), classify_start("Hello"), classify_start("```")
    (<Opening.CALL: 'call'>, <Opening.TEXT: 'text'>, <Opening.UNDECIDED: 'undecided'>)
    """
    match = _START.match(text, partial=True)
    if match is None:
        return Opening.TEXT
    return Opening.UNDECIDED if match.partial else Opening.CALL


def find_call(text: str, start: int = 0) -> tuple[int, bool] | None:
    """The first position at or after `start` where a call opens (`(position, True)`) or may be
    opening, the text ending before it can tell (`(position, False)`); None when there is neither.

    >>> find_call('Sure. <tool_call>{"name": "f"}'), find_call("a < b"), find_call("see ``")
    ((6, True), None, (4, False))
    """
    for candidate in _CANDIDATE.finditer(text, pos=start):
        match = _ANYWHERE.match(text, candidate.start(), partial=True)
        if match is not None:
            return candidate.start(), not match.partial
    return None
