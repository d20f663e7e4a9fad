"""Split a request into its parts, so that each thing it asks for can claim tools of its own.

One embedding of "Find the GCD of 96 and 128, and then the LCM of 15 and 25. Also convert 5 km to
miles" averages three intents; the nearest tools are then near-duplicates of the strongest one and the
others go missing. Retrieving for each sentence or clause as well lets every intent be covered. The
split is purely textual (sentence ends, and clauses opened by "then", "also", "after that", ...); parts
that carry no intent ("Can you help me?") do no harm, because `ToolRetriever` only lets a part promote
tools that match it better than most of the pool.
"""

from __future__ import annotations

import re

MAX_PARTS = 8
"""At most this many parts (the rest joins the last one): each part costs one more forward pass."""
MIN_PART_WORDS = 3
"""A shorter piece ("2.", "Then,") is joined to its neighbour: alone it says nothing."""

# a sentence ends at . ? ! or ; followed by space and (after an optional quote or bracket) a capital or digit
_SENTENCE_END = re.compile(r"(?<=[.?!;])[\"')\]]?\s+(?=[\"'(\[]?[A-Z0-9])")
# a clause that starts a new request inside a sentence: ", then ...", ", and also ...", " and then ..."
_CLAUSE_START = re.compile(
    r"(?:,\s+(?:and\s+)?(?:then|also|after that|afterwards|additionally|finally|lastly)"
    r"|\s+and\s+(?:then|also))\b,?\s+",
    re.IGNORECASE,
)


def split_request(text: str, max_parts: int = MAX_PARTS) -> list[str]:
    """The sentences and request clauses of `text`, in order; `[text]` (stripped) when it has one part.

    Pieces under `MIN_PART_WORDS` words are joined to the previous piece (or the next, at the start);
    beyond `max_parts`, the remaining pieces are joined to the last part.
    """
    if max_parts < 1:
        raise ValueError(f"max_parts must be at least 1, got {max_parts}")
    stripped = text.strip()
    body = stripped.strip("\"'").strip()
    pieces = [
        clause.strip()
        for sentence in _SENTENCE_END.split(body)
        for clause in _CLAUSE_START.split(sentence)
        if clause.strip()
    ]
    parts: list[str] = []
    for piece in pieces:
        if parts and (len(piece.split()) < MIN_PART_WORDS or len(parts[-1].split()) < MIN_PART_WORDS):
            parts[-1] = f"{parts[-1]} {piece}"
        else:
            parts.append(piece)
    if len(parts) > max_parts:
        parts = [*parts[: max_parts - 1], " ".join(parts[max_parts - 1 :])]
    return parts if len(parts) > 1 else [stripped]
