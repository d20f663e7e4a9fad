"""Gate selection on held-out train tasks for run 2's adapters (v2-*), as `tinycrew train --gate-check 12`
picks them: BFCL train entries 24..35 of each category (the teacher ran 0..23) and the first 12 desktop
train tasks, the kinds in turn, that the teacher did not run (run 2 ran the file's first 12)."""

import json
import time

from tinycrew.evals.bfcl_data import CATEGORIES, load_category
from tinycrew.learning.selection import bfcl_gate_cases, choose_gate, desktop_gate_cases
from tinycrew.learning.teacher import desktop_train_tasks
from tinycrew.models import load_model
from tinycrew.trajectories import TrajectoryStore

BASE = "qwen2.5-coder-0.5b-instruct-q4_k_m"
base = load_model(BASE)
entries = [e for c in CATEGORIES for e in load_category(c, None, 36, "train")[24:]]
with TrajectoryStore.open("/work/learn32/out/trajectories.sqlite") as store:
    ran = {s.task for s in store.list_runs()}
desktop = [t for t in desktop_train_tasks(limit=66) if t.request not in ran][:12]  # the kinds in turn
t0 = time.time()
cases = bfcl_gate_cases(entries, base) + desktop_gate_cases(desktop, base)
print(
    f"{len(entries)} bfcl + {len(desktop)} desktop held-out; {len(cases)} cases, "
    f"{sum(bool(c.tools) for c in cases)} offered a tool, {time.time() - t0:.0f} s",
    flush=True,
)
candidates = {"gate": f"{BASE}+v2-gate", "backbone": f"{BASE}+v2-backbone", "base": BASE}
best, scores = choose_gate(candidates, cases)
for label, score in scores.items():
    print(label, score.text(), flush=True)
print("chosen:", best, f"{time.time() - t0:.0f} s")
result = {
    "chosen": best,
    "scores": {k: vars(v) for k, v in scores.items()},
    "cases": [{"id": c.id, "needs_call": c.needs_call, "tools": len(c.tools)} for c in cases],
}
with open("/work/learn33/gate_select.json", "w") as out:
    json.dump(result, out, indent=1)
