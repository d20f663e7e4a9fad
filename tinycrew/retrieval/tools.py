"""ToolRAG: pick the few tools relevant to a request out of a large pool (TinyAgent's tool retrieval).

A small model's prompt cannot hold hundreds of tool schemas, so the agent shows it only the top-k
tools whose indexed text is closest to the request.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from tinycrew.retrieval.embedding import embed_queries, embed_texts, embedding_space
from tinycrew.retrieval.intents import split_request
from tinycrew.retrieval.lexical import LexicalIndex
from tinycrew.retrieval.store import open_collection
from tinycrew.retrieval.tool_text import (
    DOC_VERSION,
    ToolLike,
    function_schema,
    tool_document,
    tool_schema_hash,
)

logger = logging.getLogger(__name__)

_BATCH = 512
_MIN_CANDIDATES = 50
DEFAULT_LEXICAL_WEIGHT = 0.4
"""Share of TF-IDF similarity in the fused score. Chosen on the *train* split of BFCL
(`tinycrew.evals.bfcl_data.split_of(id) == "train"`, 810 of the 1000 questions), jointly with
`PART_BASELINE_RANK`, as the best train recall@5 over 0.1, 0.2, ..., 0.7 (`benchmarks/bench_retrieval.py
--sweep`); the eval split is only reported."""
PART_BASELINE_RANK = 10
"""A part of a multi-part request promotes a tool only by how far the tool's score for that part rises
above the part's 10th best score, i.e. only its top 9 can gain: a part that asks for nothing ("Can you
help me?") has no tool standing out, so it promotes little. Chosen on the train split from 1 (parts off),
5, 10, 20, jointly with the lexical weight, with the int8 backend (`--sweep`; 20 was within 0.001)."""
NAMED_TOOL_BONUS = 1.0
"""Added to a tool's fused score for a text (the request or a part) that names the tool verbatim
(`LexicalIndex.mentioned`: "use the 'get_current_time' function"): more than any fused score without it,
so a tool the user names comes first, before look-alikes that only describe the same thing."""


@dataclass(frozen=True)
class IndexResult:
    """What `ToolRetriever.index` did: tools (re-)embedded and tools left as they were."""

    upserted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


class _Snapshot(NamedTuple):
    """The in-memory copy of a collection that queries score: TF-IDF index and embedding matrix."""

    lexical: LexicalIndex
    embeddings: np.ndarray


@dataclass
class _SnapshotHolder:
    """Holds the current snapshot; shared by a retriever and its `with_settings` views, so that a
    change made through any of them invalidates the copy all of them score."""

    snapshot: _Snapshot | None = None


class ScoredTool(NamedTuple):
    """A retrieved tool: its cosine distance to the query (0 = same direction) and its ranking score.

    For a request with one part, `score` is the fused similarity (1 - w) * (1 - distance) + w * lexical
    similarity, w the retriever's `lexical_weight`, plus `NAMED_TOOL_BONUS` when the request names the
    tool verbatim. For a request of several parts (see `split_request`), it adds what the tool
    contributes to covering parts that the tools ranked before it left uncovered; scores never increase
    down the list.
    """

    name: str
    distance: float
    score: float


def _check_settings(lexical_weight: float, part_baseline_rank: int) -> None:
    """Raise ValueError for a lexical weight outside [0, 1] or a part baseline rank below 1."""
    if not 0.0 <= lexical_weight <= 1.0:
        raise ValueError(f"lexical_weight must be within [0, 1], got {lexical_weight}")
    if part_baseline_rank < 1:
        raise ValueError(f"part_baseline_rank must be at least 1, got {part_baseline_rank}")


class ToolRetriever:
    """Tool index on ChromaDB: persistent under `store_path`, or in memory when it is None.

    Each tool is stored under its name with its schema hash, so re-indexing the same pool re-embeds
    only the tools whose schema changed.
    """

    def __init__(
        self,
        store_path: str | Path | None = None,
        collection: str = "tools",
        lexical_weight: float = DEFAULT_LEXICAL_WEIGHT,
        part_baseline_rank: int = PART_BASELINE_RANK,
    ) -> None:
        """Open (or create) the collection `collection` in the store at `store_path`.

        `lexical_weight` in [0, 1] mixes TF-IDF word overlap into the ranking (0: embeddings only, but
        a tool named verbatim still comes first, see `NAMED_TOOL_BONUS`);
        `part_baseline_rank` (>= 1) is how deep into its own ranking a part of a request can promote
        tools (1: parts promote nothing; see `PART_BASELINE_RANK`).
        """
        _check_settings(lexical_weight, part_baseline_rank)
        self._collection = open_collection(store_path, collection)
        self._lexical_weight = lexical_weight
        self._part_baseline_rank = part_baseline_rank
        self._cache = _SnapshotHolder()

    def __len__(self) -> int:
        """Number of indexed tools."""
        return self._collection.count()

    def names(self) -> list[str]:
        """Names of all indexed tools (in no particular order)."""
        return list(self._collection.get(include=[])["ids"])

    def index(self, tools: Iterable[ToolLike | Mapping[str, Any]]) -> IndexResult:
        """Add or update tools; only those that are new or whose schema hash changed are embedded.

        Raises ValueError when two different schemas share one name.
        """
        pending: dict[str, tuple[dict[str, Any], str]] = {}
        for tool in tools:
            schema = function_schema(tool)
            digest = tool_schema_hash(tool)
            name = schema["name"]
            if name in pending and pending[name][1] != digest:
                raise ValueError(f"two different tools are named {name!r}")
            pending[name] = (schema, digest)
        if not pending:
            return IndexResult()

        stored: dict[str, Mapping[str, Any]] = {}
        names = list(pending)
        for start in range(0, len(names), _BATCH):
            got = self._collection.get(ids=names[start : start + _BATCH], include=["metadatas"])
            stored.update(zip(got["ids"], got["metadatas"] or [], strict=True))

        space = embedding_space()
        changed = [
            name
            for name, (_, digest) in pending.items()
            if name not in stored
            or stored[name].get("schema_hash") != digest
            or stored[name].get("doc_version") != DOC_VERSION
            or stored[name].get("embedding_space", "minilm-l6-v2") != space
        ]
        changed_set = set(changed)
        unchanged = [name for name in names if name not in changed_set]
        for start in range(0, len(changed), _BATCH):
            batch = changed[start : start + _BATCH]
            documents = [tool_document(pending[name][0]) for name in batch]
            self._collection.upsert(
                ids=batch,
                documents=documents,
                embeddings=embed_texts(documents),
                metadatas=[
                    {"schema_hash": pending[n][1], "doc_version": DOC_VERSION, "embedding_space": space}
                    for n in batch
                ],
            )
        if changed:
            self._cache.snapshot = None
        logger.info("tool index: %d upserted, %d unchanged", len(changed), len(unchanged))
        return IndexResult(upserted=changed, unchanged=unchanged)

    def remove(self, names: Iterable[str]) -> None:
        """Remove tools by name; unknown names are ignored."""
        ids = list(dict.fromkeys(names))
        if ids:
            self._collection.delete(ids=ids)
            self._cache.snapshot = None

    def with_settings(
        self, *, lexical_weight: float | None = None, part_baseline_rank: int | None = None
    ) -> ToolRetriever:
        """The same index ranked with other settings (None keeps this retriever's).

        The view shares this retriever's collection and in-memory copy: a tool indexed or removed
        through either is seen by both, and neither reloads the pool. Useful to compare settings, or
        to give agents different settings over one index.
        """
        view = copy.copy(self)
        if lexical_weight is not None:
            view._lexical_weight = lexical_weight
        if part_baseline_rank is not None:
            view._part_baseline_rank = part_baseline_rank
        _check_settings(view._lexical_weight, view._part_baseline_rank)
        return view

    def _snapshot(self) -> _Snapshot:
        """TF-IDF index and embedding matrix of the stored tools: the in-memory copy that queries score.

        Rebuilt after this retriever (or a `with_settings` view of it) changed the collection, or when
        its size changed under it (another instance or process added or removed tools); a schema
        another instance changed in place, which keeps the size, shows here only in a new instance.
        Scoring a thousand tools exactly from memory takes well under a millisecond, less than asking
        ChromaDB's approximate index for candidates.
        """
        snapshot = self._cache.snapshot
        if snapshot is None or len(snapshot.lexical) != self._collection.count():
            got = self._collection.get(include=["documents", "embeddings"])
            embeddings = got["embeddings"]
            snapshot = _Snapshot(
                LexicalIndex(got["ids"], [doc or "" for doc in got["documents"] or []]),
                np.asarray(embeddings, dtype=np.float32)
                if embeddings is not None and len(embeddings)
                else np.zeros((0, 0), dtype=np.float32),
            )
            self._cache.snapshot = snapshot
        return snapshot

    def retrieve_scored(self, query: str, k: int = 5, min_similarity: float = -1.0) -> list[ScoredTool]:
        """The k tools that best match `query`, best first, with distances and ranking scores.

        When no tool's cosine similarity to the request or to any of its parts reaches `min_similarity`,
        none comes back: the request is about no tool (agents use
        `tinycrew.graphs.state.MIN_TOOL_SIMILARITY`). Otherwise the k best are kept whatever their own
        similarity: on the desktop train split a per-tool floor withheld a needed tool from 18 of 57
        requests ("Create a note 'Packing' with ..." lost create_note, cosine 0.15), this rule from 4.

        Every tool is scored, exactly, from the embeddings and documents read out of ChromaDB (cached in
        memory, see `_snapshot`): with one part, that is a sort by fused score (see `ScoredTool`).
        With several (see `split_request`), tools are picked greedily: each pick maximises the fused
        score for the whole request plus, summed over the parts, how far the tool's fused score for the
        part exceeds the best score any earlier pick reached for it (at least the part's
        `part_baseline_rank`-th best score). A part already served by a near-duplicate so stops pulling
        in more of the same, and each thing the request asks for gets a slot.
        """
        if k <= 0:
            return []
        lexical, embeddings = self._snapshot()
        if not len(lexical):
            return []
        texts = self._texts(query)
        vectors = embed_queries(texts)
        weight = self._lexical_weight
        similarity = vectors @ embeddings.T  # (texts, tools): cosine, all vectors unit length
        fused = (1.0 - weight) * similarity
        if weight > 0.0:
            fused += weight * lexical.scores_many(texts)
        for row, text in enumerate(texts):
            fused[row, lexical.mentioned(text)] += NAMED_TOOL_BONUS
        n_candidates = min(max(k, _MIN_CANDIDATES), len(lexical))
        candidates = np.argpartition(-fused[0], n_candidates - 1)[:n_candidates]
        if len(texts) == 1:
            best = candidates[np.argsort(-fused[0][candidates], kind="stable")][:k]
            ranked = [
                ScoredTool(lexical.ids[i], 1.0 - float(similarity[0, i]), float(fused[0, i])) for i in best
            ]
        else:
            depth = min(self._part_baseline_rank, len(lexical))
            part_tops = np.argpartition(-fused[1:], depth - 1, axis=1)[:, : depth - 1]
            candidates = np.union1d(candidates, part_tops.ravel())
            ranked = self._cover_parts(lexical.ids, candidates, similarity[0], fused, k)
        # the floor says whether the request is about any tool at all, not which tools: a needed tool
        # whose own similarity is low (a long request, quoted text) is still offered by its rank
        return ranked if similarity.max() >= min_similarity else []

    def _texts(self, query: str) -> list[str]:
        """What a query is scored as: the request alone, or the request then each of its parts."""
        parts = split_request(query) if self._part_baseline_rank > 1 else [query]
        return [query, *parts] if len(parts) > 1 else [query]

    def _cover_parts(
        self,
        ids: list[str],
        candidates: np.ndarray,
        similarity: np.ndarray,
        fused: np.ndarray,
        k: int,
    ) -> list[ScoredTool]:
        """Greedy selection for a multi-part request (see `retrieve_scored`) among `candidates`.

        `fused` has the whole request's row first, then one row per part, over all tools. Marginal gains
        only shrink as parts get covered, so each pick's score is at most the previous one's: the list
        stays sorted by score.
        """
        depth = min(self._part_baseline_rank, fused.shape[1])
        covered = -np.partition(-fused[1:], depth - 1, axis=1)[:, depth - 1]
        whole = fused[0, candidates]
        per_part = fused[1:, candidates]  # (parts, candidates)
        taken = np.zeros(len(candidates), dtype=bool)
        chosen: list[ScoredTool] = []
        for _ in range(min(k, len(candidates))):
            gain = whole + np.maximum(per_part - covered[:, None], 0.0).sum(axis=0)
            gain[taken] = -np.inf
            j = int(np.argmax(gain))
            taken[j] = True
            covered = np.maximum(covered, per_part[:, j])
            i = int(candidates[j])
            chosen.append(ScoredTool(ids[i], 1.0 - float(similarity[i]), float(gain[j])))
        return chosen

    def similarities(self, query: str, names: Iterable[str]) -> list[float]:
        """Cosine similarity of each named tool to `query` or to the closest of its parts: what
        `min_similarity` compares. Raises ValueError for a name that is not indexed."""
        lexical, embeddings = self._snapshot()
        names = list(names)
        if unknown := [name for name in names if name not in lexical]:
            raise ValueError(f"not indexed: {', '.join(map(repr, unknown))}")
        vectors = embed_queries(self._texts(query))
        rows = embeddings[[lexical.position(name) for name in names]]
        return [float(value) for value in (vectors @ rows.T).max(axis=0)]

    def retrieve(self, query: str, k: int = 5, min_similarity: float = -1.0) -> list[str]:
        """Names of the k tools that best match `query`, best first (see `retrieve_scored`)."""
        return [hit.name for hit in self.retrieve_scored(query, k, min_similarity)]
