"""API keys: read from a file or `TINYCREW_API_KEYS`, kept only as sha256 digests, checked in constant
time. A key is long and random, so an unsalted sha256 is enough to keep it out of memory dumps and
lets a key file hold digests (`sha256:<hex>`) instead of keys."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from pathlib import Path

ENV_VAR = "TINYCREW_API_KEYS"
_DIGEST = re.compile(r"^sha256:([0-9a-f]{64})$")


def hash_key(key: str) -> str:
    """The sha256 hex digest a key is stored as.

    Example: `hash_key("sk-test")` == "6e6a4e..." (64 hex characters).
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def parse_keys(text: str, separator: str | None = None) -> frozenset[str]:
    """Key digests from text: one key per line (or per `separator`), `#` comments and blanks skipped,
    `sha256:<hex>` taken as an already hashed key.

    Example: `parse_keys("sk-a\\n# old\\nsha256:" + "0" * 64)` holds two digests.
    """
    items = text.split(separator) if separator else text.splitlines()
    digests = set()
    for item in items:
        item = item.strip()
        if not item or item.startswith("#"):
            continue
        match = _DIGEST.match(item.lower())
        digests.add(match[1] if match else hash_key(item))
    return frozenset(digests)


def load_key_hashes(
    key_file: str | Path | None = None, environ: dict[str, str] | None = None
) -> frozenset[str]:
    """The digests of the keys in `key_file` and in `TINYCREW_API_KEYS` (comma-separated).

    Example: `load_key_hashes("keys.txt")`; a file with no key in it is an error, not an open server.
    """
    environ = dict(os.environ) if environ is None else environ
    digests: set[str] = set(parse_keys(environ.get(ENV_VAR, ""), separator=","))
    if key_file is not None:
        from_file = parse_keys(Path(key_file).read_text(encoding="utf-8"))
        if not from_file:
            raise ValueError(f"{key_file} holds no API key (one key, or sha256:<hex>, per line)")
        digests |= from_file
    return frozenset(digests)


def key_matches(presented: str, digests: frozenset[str]) -> bool:
    """Whether `presented` is one of the keys, comparing its digest with every stored digest in
    constant time (no early exit, so timing does not tell which digest was close).

    Example: `key_matches("sk-a", parse_keys("sk-a"))` is True.
    """
    candidate = hash_key(presented).encode("ascii")
    found = False
    for digest in digests:
        found |= hmac.compare_digest(candidate, digest.encode("ascii"))
    return found


def bearer_token(authorization: str | None) -> str | None:
    """The key in an `Authorization: Bearer <key>` header, or None.

    Example: `bearer_token("Bearer sk-a")` == "sk-a".
    """
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
