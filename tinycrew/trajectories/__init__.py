"""Trajectories: record every role step of every run, query them, export them as training data.

store = TrajectoryStore.open()            # SQLite under $TINYCREW_HOME, or a postgresql:// URL
recorder = Recorder(store)
recorder.start_run(run_id, graph="umi", task=task, retrieved_tools=[...], models={...})
recorder.record_step(StepRecord(run_id=run_id, index=0, role="planner", model=..., messages=[...]))
recorder.finish_run(run_id, answer="...", outcome="success")
"""

from tinycrew.trajectories.export import (
    ExportResult,
    build_samples,
    decode_row,
    export_trajectories,
    to_dataset,
)
from tinycrew.trajectories.location import default_store_path, tinycrew_home
from tinycrew.trajectories.recorder import Recorder
from tinycrew.trajectories.records import (
    Feedback,
    RunFilter,
    RunInfo,
    RunRecord,
    RunSummary,
    StepRecord,
    StoreStats,
)
from tinycrew.trajectories.redact import Redactor, redact_pii
from tinycrew.trajectories.samples import (
    backbone_sample,
    chat_message,
    dedupe_samples,
    is_alternating_chat,
    openai_samples,
    role_samples,
)
from tinycrew.trajectories.store import TrajectoryError, TrajectoryStore, new_run_id

__all__ = [
    "ExportResult",
    "Feedback",
    "Recorder",
    "Redactor",
    "RunFilter",
    "RunInfo",
    "RunRecord",
    "RunSummary",
    "StepRecord",
    "StoreStats",
    "TrajectoryError",
    "TrajectoryStore",
    "backbone_sample",
    "build_samples",
    "chat_message",
    "decode_row",
    "dedupe_samples",
    "default_store_path",
    "export_trajectories",
    "is_alternating_chat",
    "new_run_id",
    "openai_samples",
    "redact_pii",
    "role_samples",
    "tinycrew_home",
    "to_dataset",
]
