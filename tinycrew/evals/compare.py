"""Entry by entry, what changed between two BFCL runs (say default against opt-in call policies): the
entries whose score or calls differ, per mode and category, optionally on one split only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tinycrew.evals.bfcl_data import Split, split_of
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
