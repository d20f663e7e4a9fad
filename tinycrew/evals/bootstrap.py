"""A paired bootstrap interval for the accuracy change between two runs scored on the same entries.

Pairing matters: before and after answer the same entries, so resampling entries (not each run apart)
gives the interval of the change itself, the way the learning loop reports its gain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PairedDelta:
    """Accuracy before and after (fractions), their difference and its bootstrap interval."""

    n: int
    before: float
    after: float
    low: float
    high: float
    confidence: float

    @property
    def delta(self) -> float:
        """after - before, in accuracy points as a fraction (0.1 = ten points)."""
        return self.after - self.before

    def text(self) -> str:
        """E.g. `41.0% -> 52.0% (+11.0 points, 95% CI +4.0 .. +18.0, n=100)`."""
        return (
            f"{self.before:.1%} -> {self.after:.1%} ({self.delta * 100:+.1f} points, "
            f"{self.confidence:.0%} CI {self.low * 100:+.1f} .. {self.high * 100:+.1f}, n={self.n})"
        )


def paired_bootstrap(
    before: Sequence[bool],
    after: Sequence[bool],
    *,
    resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedDelta:
    """Percentile interval of mean(after) - mean(before) over entries resampled with replacement.

    Example: `paired_bootstrap([True, False, False], [True, True, False]).text()`.
    """
    if len(before) != len(after):
        raise ValueError(f"paired scores need equal lengths, got {len(before)} and {len(after)}")
    if not before:
        raise ValueError("no entries to compare")
    differences = np.asarray(after, dtype=float) - np.asarray(before, dtype=float)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(differences), size=(resamples, len(differences)))
    means = differences[picks].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return PairedDelta(
        n=len(differences),
        before=float(np.mean(before)),
        after=float(np.mean(after)),
        low=float(low),
        high=float(high),
        confidence=confidence,
    )
