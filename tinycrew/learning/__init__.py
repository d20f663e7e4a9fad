"""The learning loop (issue 26): datasets per role from recorded runs, two-stage LoRA training (GLPFT).

Heavy dependencies (datasets, torch, transformers, peft: the `train` extra) load when used.
"""

from tinycrew.learning.datasets import (
    DatasetConfig,
    LearningDatasets,
    build_datasets,
    load_tokenizer,
    prepare_datasets,
)
from tinycrew.learning.selection import GateCase, GateScore, choose_gate, score_gate
from tinycrew.learning.synthetic import (
    SyntheticTask,
    load_synthetic_tasks,
    save_synthetic_tasks,
    synthesize_tasks,
)
from tinycrew.learning.teacher import (
    EvalSplitError,
    TeacherReport,
    TeacherTask,
    bfcl_train_tasks,
    collect_teacher_runs,
    desktop_train_tasks,
    synthetic_teacher_tasks,
    unverified_tasks,
    verified_runs,
)
from tinycrew.learning.train import StepLog, TrainConfig, dataset_loss, load_base, train_lora, train_stages

__all__ = [
    "DatasetConfig",
    "EvalSplitError",
    "GateCase",
    "GateScore",
    "LearningDatasets",
    "StepLog",
    "SyntheticTask",
    "TeacherReport",
    "TeacherTask",
    "TrainConfig",
    "bfcl_train_tasks",
    "build_datasets",
    "choose_gate",
    "dataset_loss",
    "collect_teacher_runs",
    "desktop_train_tasks",
    "load_base",
    "load_synthetic_tasks",
    "load_tokenizer",
    "prepare_datasets",
    "save_synthetic_tasks",
    "score_gate",
    "synthesize_tasks",
    "synthetic_teacher_tasks",
    "train_lora",
    "train_stages",
    "unverified_tasks",
    "verified_runs",
]
