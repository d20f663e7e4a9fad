"""Entry by entry, what changed between two BFCL runs (say default against opt-in call policies): the
entries whose score or calls differ, per mode and category, optionally on one split only; and how one
mode of a run stands against the others (`mode_standing`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tinycrew.evals.bfcl_data import Split, split_of
from tinycrew.evals.bootstrap import PairedDelta, paired_bootstrap
from tinycrew.evals.runner import BfclReport, EntryResult


@dataclass
class EntryChange:
    """One entry both runs scored, whose score or scored calls differ."""

    mode: str
    category: str
    id: str
    before: EntryResult
    after: EntryResult

    @property
    def kind(self) -> str:
        """ "gained" (wrong -> right), "lost" (right -> wrong) or "changed" (same score, other calls)."""
        if self.before.ok == self.after.ok:
            return "changed"
        return "gained" if self.after.ok else "lost"

    def line(self) -> str:
        """One markdown bullet: the entry, the change, both runs' calls."""
        return (
            f"- {self.mode} {self.id}: {self.kind}; before `{_calls(self.before)}` ({self.before.reason}), "
            f"after `{_calls(self.after)}` ({self.after.reason})"
        )


def _calls(entry: EntryResult) -> Any:
    return entry.calls if entry.calls is not None else entry.output[:120]


def _graph(mode: str) -> str:
    """The graph a mode label names: "umi+repairs" (a merged report's label) is a run of umi."""
    return mode.split("+", 1)[0]


def compare_reports(before: BfclReport, after: BfclReport, split: Split | None = None) -> list[EntryChange]:
    """Entries of the same mode run in both reports (on `split` only, when given) whose score or calls
    differ, in `after`'s order. Modes are matched by name, or else by graph when `before` ran that graph
    under one policy set only, so `umi` (default policies) and `umi+repairs` compare directly."""
    earlier = {(cell.mode, entry.id): entry for cell in before.cells for entry in cell.entries}
    by_graph: dict[tuple[str, str], list[EntryResult]] = {}
    for cell in before.cells:
        for entry in cell.entries:
            by_graph.setdefault((_graph(cell.mode), entry.id), []).append(entry)
    changes = []
    for cell in after.cells:
        for entry in cell.entries:
            if split is not None and split_of(entry.id) != split:
                continue
            old = earlier.get((cell.mode, entry.id))
            if old is None and len(same := by_graph.get((_graph(cell.mode), entry.id), [])) == 1:
                old = same[0]
            if old is not None and (old.ok != entry.ok or old.calls != entry.calls):
                changes.append(EntryChange(cell.mode, cell.category, entry.id, old, entry))
    return changes


def change_counts(changes: list[EntryChange]) -> dict[str, dict[str, int]]:
    """Per mode, how many entries were gained, lost or changed."""
    counts: dict[str, dict[str, int]] = {}
    for change in changes:
        row = counts.setdefault(change.mode, {"gained": 0, "lost": 0, "changed": 0})
        row[change.kind] += 1
    return counts


@dataclass
class CategoryStanding:
    """One category: the candidate mode's accuracy beside every other mode's."""

    category: str
    candidate: float
    others: dict[str, float]

    @property
    def best_other(self) -> tuple[str, float]:
        """The strongest other mode on this category and its accuracy (first in report order on a tie)."""
        return max(self.others.items(), key=lambda item: item[1])

    @property
    def gap(self) -> float:
        """Candidate minus the best other mode, in accuracy (negative: the candidate is behind)."""
        return self.candidate - self.best_other[1]


@dataclass
class Standing:
    """How one mode of a report stands against the others: per category, on the mean over categories,
    and paired over every entry (issue 27's question: is the default graph at least as good as each
    single-pattern graph everywhere)."""

    mode: str
    categories: list[CategoryStanding]
    paired: dict[str, PairedDelta]

    def mean(self, mode: str) -> float:
        """Unweighted mean over categories of `mode`'s accuracy (each category counts once)."""
        values = [row.candidate if mode == self.mode else row.others[mode] for row in self.categories]
        return sum(values) / len(values)

    def lines(self) -> list[str]:
        """The standing as printable lines: a row per category, the means, the paired intervals."""
        out = [f"{'category':<18} {self.mode:>8}  best other          gap"]
        for row in self.categories:
            name, best = row.best_other
            out.append(
                f"{row.category:<18} {row.candidate:>8.1%}  {name:<9} {best:>7.1%}  {row.gap * 100:+6.1f}"
            )
        others = ", ".join(f"{mode} {self.mean(mode):.1%}" for mode in self.paired)
        out.append(f"{'mean':<18} {self.mean(self.mode):>8.1%}  ({others})")
        out += [f"{self.mode} vs {mode}: {delta.text()}" for mode, delta in self.paired.items()]
        return out


def mode_standing(report: BfclReport, mode: str, split: Split | None = None) -> Standing:
    """`mode` against every other mode of `report`, on the categories all of them ran (on `split`'s
    entries only, when given). The paired bootstrap pairs the same entry across modes, so the interval
    says whether the difference is more than the luck of which entries were drawn."""
    if mode not in report.modes:
        raise ValueError(f"mode {mode!r} is not in the report; it has {report.modes}")
    others = [other for other in report.modes if other != mode]
    if not others:
        raise ValueError("the report has one mode only; nothing to stand against")

    def entries(name: str, category: str) -> list[EntryResult]:
        return [e for e in report.cell(name, category).entries if split is None or split_of(e.id) == split]

    def accuracy(results: list[EntryResult]) -> float:
        return sum(e.ok for e in results) / len(results) if results else 0.0

    ran = {(cell.mode, cell.category) for cell in report.cells}
    rows: list[CategoryStanding] = []
    scores: dict[str, tuple[list[bool], list[bool]]] = {name: ([], []) for name in others}
    for category in report.categories:
        if any((name, category) not in ran for name in report.modes):
            continue
        own = entries(mode, category)
        mine = {e.id: e.ok for e in own}
        theirs = {other: entries(other, category) for other in others}
        others_accuracy = {other: accuracy(results) for other, results in theirs.items()}
        rows.append(CategoryStanding(category, accuracy(own), others_accuracy))
        for other, results in theirs.items():
            for entry in results:
                if entry.id in mine:
                    scores[other][0].append(entry.ok)
                    scores[other][1].append(mine[entry.id])
    paired = {other: paired_bootstrap(before, after) for other, (before, after) in scores.items() if before}
    return Standing(mode=mode, categories=rows, paired=paired)
