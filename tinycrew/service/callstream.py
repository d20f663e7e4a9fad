"""Reads the JSON a call grammar produces, one call `{"name", "arguments"}` or a list of them, and hands
back each call as soon as its object closes, so a stream can send it while the next is decoded."""

from __future__ import annotations

import json
from typing import Any


class CallReader:
    """Feed text deltas; get the calls whose JSON object is complete.

    >>> reader = CallReader()
    >>> reader.feed('[{"name": "f", "arguments": {"a": "}"}}, {"na')
    [{'name': 'f', 'arguments': {'a': '}'}}]
    >>> reader.feed('me": "g", "arguments": {}}]')
    [{'name': 'g', 'arguments': {}}]
    """

    def __init__(self) -> None:
        self.text = ""
        self._depth = 0
        self._base: int | None = None  # depth at which a call object opens: 0 (one call) or 1 (a list)
        self._start: int | None = None
        self._in_string = False
        self._escaped = False

    def feed(self, delta: str) -> list[dict[str, Any]]:
        """The calls completed by `delta`, in order."""
        done: list[dict[str, Any]] = []
        offset = len(self.text)
        self.text += delta
        for i, char in enumerate(delta, start=offset):
            if self._in_string:
                if self._escaped:
                    self._escaped = False
                elif char == "\\":
                    self._escaped = True
                elif char == '"':
                    self._in_string = False
                continue
            if char == '"':
                self._in_string = True
            elif char in "[{":
                if self._base is None:
                    self._base = 1 if char == "[" else 0
                if char == "{" and self._depth == self._base:
                    self._start = i
                self._depth += 1
            elif char in "]}":
                self._depth -= 1
                if char == "}" and self._depth == self._base and self._start is not None:
                    call = json.loads(self.text[self._start : i + 1], strict=False)  # raw newlines allowed
                    self._start = None
                    if isinstance(call, dict) and isinstance(call.get("name"), str):
                        done.append({"name": call["name"], "arguments": call.get("arguments") or {}})
        return done
