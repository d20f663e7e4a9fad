"""Run 2's adapters, the gate served as the gate check chose (the base): BFCL eval 150, desktop 30."""

import json
from pathlib import Path

from rich.console import Console

from tinycrew.evals.bootstrap import paired_bootstrap
from tinycrew.learning.pipeline import TrainPlan, _bfcl_eval, _desktop_eval, role_bindings

report = json.loads(Path("/work/learn32/out/report.json").read_text())
plan = TrainPlan(**report["plan"])
chosen = json.loads(Path("/work/learn33/gate_select.json").read_text())["chosen"]
after = role_bindings(plan.base, report["adapters"], chosen)
print("bindings:", after, flush=True)
console = Console(force_terminal=False, width=150)
out = Path("/work/learn33/eval")
for task_set, scorer in (("bfcl", _bfcl_eval), ("desktop", _desktop_eval)):
    before = scorer(plan, plan.base, plan.out / "eval" / task_set / "before", console)
    after_scores = scorer(plan, after, out / task_set / f"after-gate-{chosen}", console)
    ids = sorted(set(before) & set(after_scores))
    delta = paired_bootstrap([before[i] for i in ids], [after_scores[i] for i in ids])
    print(f"{task_set} eval split: {delta.text()}", flush=True)
