"""Query-level routing (RouteLLM): before a run, predict whether the local graph will fail on a request.

The router is a nearest-neighbour vote over the MiniLM embeddings of requests whose local outcome is
known (recorded trajectories, or scored evaluation runs): a request whose closest past requests mostly
failed locally goes to the cloud. Its threshold is calibrated the way RouteLLM calibrates: on a sample
of (unlabelled) requests, the score above which exactly the target share of them would go to the cloud,
so "send 30% of queries to the cloud" means that on traffic like the sample.

Why neighbours and not a trained classifier: a few hundred labelled requests are all a user has at
first, the embedding space is the one ToolRAG already uses, and a vote can be explained (the request's
neighbours and their outcomes).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from tinycrew.retrieval.embedding import embed_texts, embedding_space

Route = Literal["local", "cloud"]
ROUTER_FILE = "router.json"
VECTORS_FILE = "router.npy"


@dataclass(frozen=True)
class RoutingExample:
    """A request and whether the local graph handled it."""

    query: str
    local_ok: bool


@dataclass(frozen=True)
class RouteDecision:
    """The router's decision for one request: its score (the predicted chance that the local graph
    fails), the threshold it was compared with, and the route."""

    route: Route
    score: float
    threshold: float

    def as_dict(self) -> dict[str, Any]:
        """The decision as recorded on a `RunResult` and in the trajectory store."""
        return {"route": self.route, "score": round(self.score, 4), "threshold": round(self.threshold, 4)}


class QueryRouter:
    """A k-nearest-neighbour router over request embeddings (see the module doc).

    >>> router = QueryRouter.fit(examples, k=10)            # doctest: +SKIP
    >>> router.calibrate(sample_queries, cloud_share=0.3)    # doctest: +SKIP
    >>> router.decide("Book a table for two at 8").route     # doctest: +SKIP
    'local'
    """

    def __init__(
        self,
        vectors: np.ndarray,
        failed: np.ndarray,
        *,
        k: int = 10,
        threshold: float = 0.5,
        cloud_share: float | None = None,
        space: str | None = None,
        queries: Sequence[str] = (),
    ) -> None:
        if len(vectors) != len(failed):
            raise ValueError("one outcome per vector")
        if len(vectors) == 0:
            raise ValueError("a router needs at least one example with a known outcome")
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.failed = np.asarray(failed, dtype=np.float32)
        self.k = max(1, min(k, len(self.vectors)))
        self.threshold = threshold
        self.cloud_share = cloud_share
        self.space = space or embedding_space()
        self.queries = list(queries)

    @classmethod
    def fit(cls, examples: Iterable[RoutingExample], *, k: int = 10) -> QueryRouter:
        """A router from requests with known local outcomes (duplicates of a request are kept: each is
        an observation). Its threshold is 0.5 (a majority of failing neighbours) until `calibrate`."""
        examples = list(examples)
        vectors = embed_texts([example.query for example in examples])
        failed = np.array([0.0 if example.local_ok else 1.0 for example in examples], dtype=np.float32)
        return cls(vectors, failed, k=k, queries=[example.query for example in examples])

    def __len__(self) -> int:
        return len(self.vectors)

    @property
    def local_failure_rate(self) -> float:
        """The share of the examples the local graph failed."""
        return float(self.failed.mean())

    def scores(self, queries: Sequence[str]) -> np.ndarray:
        """For each request, the similarity-weighted share of its k nearest examples that failed."""
        if not queries:
            return np.zeros(0, dtype=np.float32)
        return self._scores(embed_texts(list(queries)))

    def _scores(self, vectors: np.ndarray, exclude_self: bool = False) -> np.ndarray:
        similarity = vectors @ self.vectors.T
        if exclude_self:  # leave-one-out: an example is not its own neighbour
            np.fill_diagonal(similarity, -np.inf)
        k = min(self.k, self.vectors.shape[0] - (1 if exclude_self else 0))
        nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        weights = np.clip(np.take_along_axis(similarity, nearest, axis=1), 1e-3, None)
        return (weights * self.failed[nearest]).sum(axis=1) / weights.sum(axis=1)

    def score(self, query: str) -> float:
        """The predicted chance (0..1) that the local graph fails on `query`."""
        return float(self.scores([query])[0])

    def calibrate(self, queries: Sequence[str] | None, cloud_share: float) -> float:
        """Set the threshold so that `cloud_share` (0..1) of `queries` score above it, and return it.
        Without queries the router's own examples are the sample, each scored without itself."""
        if not 0.0 <= cloud_share <= 1.0:
            raise ValueError(f"cloud_share must be between 0 and 1, not {cloud_share}")
        if queries:
            sample = self.scores(queries)
        elif len(self.vectors) > 1:
            sample = self._scores(self.vectors, exclude_self=True)
        else:
            sample = self.failed
        self.threshold = threshold_for_share(sample, cloud_share)
        self.cloud_share = cloud_share
        return self.threshold

    def decide(self, query: str) -> RouteDecision:
        """Where `query` should run: "cloud" when its score is above the threshold."""
        score = self.score(query)
        return RouteDecision("cloud" if score > self.threshold else "local", score, self.threshold)

    def cloud_share_of(self, queries: Sequence[str]) -> float:
        """The share of `queries` this router sends to the cloud (to check a calibration)."""
        if not queries:
            return 0.0
        return float((self.scores(queries) > self.threshold).mean())

    # -- files ----------------------------------------------------------------------------------------

    def save(self, folder: str | Path) -> Path:
        """Write the router to `folder` (router.json + router.npy) and return the folder."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / VECTORS_FILE, self.vectors)
        meta = {
            "k": self.k,
            "threshold": self.threshold,
            "cloud_share": self.cloud_share,
            "space": self.space,
            "failed": self.failed.astype(int).tolist(),
            "queries": self.queries,
        }
        (folder / ROUTER_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> QueryRouter:
        """A router written by `save`. Refuses one whose vectors come from another embedding model."""
        folder = Path(folder)
        meta = json.loads((folder / ROUTER_FILE).read_text(encoding="utf-8"))
        space = embedding_space()
        if meta.get("space") not in (None, space):
            raise ValueError(
                f"the router in {folder} was fitted on {meta['space']} embeddings, this process makes "
                f"{space}: fit it again here (tinycrew router fit)"
            )
        return cls(
            np.load(folder / VECTORS_FILE),
            np.array(meta["failed"], dtype=np.float32),
            k=int(meta["k"]),
            threshold=float(meta["threshold"]),
            cloud_share=meta.get("cloud_share"),
            space=meta.get("space"),
            queries=meta.get("queries", []),
        )


class FixedRoute:
    """A router that sends every request the same way: the all-cloud baseline (every step of every run on
    the cloud model, with the local roles' prompts), or all-local."""

    def __init__(self, route: Route) -> None:
        self.route = route

    def decide(self, query: str) -> RouteDecision:
        """Always this router's route."""
        return RouteDecision(self.route, 1.0 if self.route == "cloud" else 0.0, 0.5)


def threshold_for_share(scores: np.ndarray, cloud_share: float) -> float:
    """The threshold whose share of `scores` strictly above it is closest to `cloud_share` (scores tie
    often: a vote of k neighbours takes few values, so an exact quantile can send none or all of a tie)."""
    if cloud_share == 0.0:
        return float("inf")
    ordered = np.sort(np.asarray(scores, dtype=np.float64))
    candidates = np.concatenate([[-1.0], np.unique(ordered)])
    above = 1.0 - np.searchsorted(ordered, candidates, side="right") / len(ordered)
    return float(candidates[int(np.argmin(np.abs(above - cloud_share)))])


def examples_from_store(store: Any, *, graph: str | None = None) -> list[RoutingExample]:
    """Requests and local outcomes from a trajectory store's finished runs. A run counts as handled
    locally when it ended in "success" with no failed step, no validation error and no escalation, and
    no negative feedback; feedback, when given, decides (mean score > 0 is success). Runs that escalated
    a step say little about the local graph alone and are left out."""
    from tinycrew.trajectories.records import RunFilter

    examples = []
    for run in store.list_runs(RunFilter(graph=graph) if graph else None):
        if run.finished_at is None or not run.task or run.n_escalations:
            continue
        if run.n_feedback and run.mean_score is not None:
            ok = run.mean_score > 0
        else:
            ok = run.outcome == "success" and not run.n_errors and not run.n_validation_errors
        examples.append(RoutingExample(run.task, ok))
    return examples
