"""Canonical JSON: equal payloads give equal text (and so equal blob hashes) whatever their key order."""

from __future__ import annotations

import json
from typing import Any


def canonical_json(value: Any) -> str:
    """Serialise `value` with sorted keys and no whitespace, so that equal values give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def compact_json(value: Any) -> str:
    """Serialise `value` keeping its key order (what the blob table stores, for readable exports)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
