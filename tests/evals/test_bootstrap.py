"""The paired bootstrap interval of an accuracy change."""

from __future__ import annotations

import pytest

from tinycrew.evals.bootstrap import paired_bootstrap


def test_identical_runs_have_a_zero_width_interval_at_zero() -> None:
    scores = [True, False, True, True]
    result = paired_bootstrap(scores, scores)
    assert result.delta == 0 and result.low == 0 and result.high == 0


def test_a_consistent_gain_has_an_interval_above_zero_and_a_mixed_one_spans_zero() -> None:
    before = [False] * 30 + [True] * 20
    gained = [True] * 15 + [False] * 15 + [True] * 20
    result = paired_bootstrap(before, gained)
    assert result.delta == pytest.approx(0.3) and 0 < result.low < 0.3 < result.high
    assert "+30.0 points" in result.text() and "n=50" in result.text()
    swapped = [True] * 10 + [False] * 20 + [False] * 10 + [True] * 10  # 10 gained, 10 lost
    mixed = paired_bootstrap(before, swapped)
    assert mixed.delta == 0 and mixed.low < 0 < mixed.high


def test_unpaired_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="equal lengths"):
        paired_bootstrap([True], [True, False])
