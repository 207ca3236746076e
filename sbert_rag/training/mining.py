"""Hard-negative mining: documents a retriever ranks high for a query that are not judged relevant.

Owns choosing negatives from candidate rankings: the dense model's (a full query x document
score matrix), BM25's, or both interleaved; a rank window (skip the very top, where unjudged
relevant documents hide; stop at ``rank_end``); a margin against the positive (drop a candidate
the model scores within ``margin`` of the query's best positive: probably a false negative); and
seeded sampling. When fewer than ``num_negatives`` candidates of the window pass the margin (a
query whose positive the model ranks low), the next passing candidates below the window are
taken, so hard queries are not dropped from training. Positives are never negatives. Deliberately does not embed or index anything
itself: callers hand in dense scores (``dense_document_scores``) and a ``BM25Index``.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sbert_rag.config import parse_enum
from sbert_rag.errors import ConfigError, InvalidInputError
from sbert_rag.retrieval.bm25 import BM25Index


class MiningMethod(str, enum.Enum):
    """Which retriever proposes the candidates."""

    DENSE = "dense"  # the current model
    BM25 = "bm25"  # lexical matches
    BOTH = "both"  # dense and BM25 rankings interleaved (dense first)


class Sampling(str, enum.Enum):
    """How the negatives are picked among the candidates that pass the filters."""

    TOP = "top"  # the highest-ranked ones
    RANDOM = "random"  # uniformly at random (seeded)


@dataclass(frozen=True)
class MiningConfig:
    """Options of :func:`mine_hard_negatives`.

    Attributes:
        num_negatives: negatives per query, >= 1.
        method: ``"dense"``, ``"bm25"`` or ``"both"``.
        rank_start: candidates ranked above this (0-based) are skipped; they are often
            relevant but unjudged.
        rank_end: candidates from rank ``rank_start`` up to (not including) this are eligible;
            below it only when the window has too few that pass the margin.
        margin: drop a candidate whose dense score is above ``best positive score - margin``;
            None = no margin filter. Needs dense scores.
        sampling: ``"top"`` or ``"random"``.
        seed: seeds the random sampling.
    """

    num_negatives: int = 1
    method: MiningMethod = MiningMethod.DENSE
    rank_start: int = 0
    rank_end: int = 30
    margin: float | None = 0.05
    sampling: Sampling = Sampling.RANDOM
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", parse_enum(MiningMethod, self.method, "method"))
        object.__setattr__(self, "sampling", parse_enum(Sampling, self.sampling, "sampling"))
        if isinstance(self.num_negatives, bool) or not isinstance(self.num_negatives, int) or self.num_negatives < 1:
            raise ConfigError(f"num_negatives must be an integer >= 1; got {self.num_negatives!r}")
        if not 0 <= self.rank_start < self.rank_end:
            raise ConfigError(f"need 0 <= rank_start < rank_end; got {self.rank_start} and {self.rank_end}")
        if self.rank_end - self.rank_start < self.num_negatives:
            raise ConfigError(
                f"the rank window [{self.rank_start}, {self.rank_end}) holds fewer than num_negatives={self.num_negatives} "
                "candidates; widen it"
            )


def dense_document_scores(
    query_vectors: npt.NDArray[np.float32],
    passage_vectors: npt.NDArray[np.float32],
    passage_doc: Sequence[int],
    n_docs: int,
) -> npt.NDArray[np.float32]:
    """Cosine of each query with each document, a document scoring as its best passage (chunk).

    Args:
        query_vectors: (n_queries, dim), unit rows.
        passage_vectors: (n_passages, dim), unit rows.
        passage_doc: for each passage, the index of its document in [0, n_docs).
        n_docs: number of documents.

    Returns:
        float32 (n_queries, n_docs); a document without passages scores -inf.
    """
    sims = np.asarray(query_vectors, dtype=np.float32) @ np.asarray(passage_vectors, dtype=np.float32).T
    out = np.full((sims.shape[0], n_docs), -np.inf, dtype=np.float32)
    np.maximum.at(out.T, np.asarray(passage_doc, dtype=np.int64), sims.T)  # max over each document's passages
    return out


def mine_hard_negatives(
    query_ids: Sequence[str],
    queries: Sequence[str],
    positives: Mapping[str, Collection[str]],
    doc_ids: Sequence[str],
    config: MiningConfig | None = None,
    *,
    dense_scores: npt.NDArray[np.float32] | None = None,
    bm25: BM25Index | None = None,
) -> dict[str, list[str]]:
    """Pick hard negatives for each query.

    Args:
        query_ids: ids of the queries to mine for.
        queries: their texts (for BM25), same order.
        positives: query id -> ids of its relevant documents (never returned as negatives).
        doc_ids: the corpus ids; the columns of ``dense_scores`` and the ids of ``bm25``.
        config: options; None = defaults.
        dense_scores: (len(query_ids), len(doc_ids)) similarity of each query to each document
            (``dense_document_scores``); needed for ``dense``, ``both`` and any margin.
        bm25: a BM25 index over ``doc_ids``; needed for ``bm25`` and ``both``.

    Returns:
        Query id -> exactly ``num_negatives`` document ids, best-ranked first (for ``top``) or in
        sampled order; a query for which too few candidates pass the filters in the whole
        ranking (dense: every document; BM25: its top ``4 * rank_end``) is left out.

    Raises:
        ConfigError: the method or margin needs dense scores or BM25 that were not given.
        InvalidInputError: lengths or shapes disagree.
    """
    cfg = config or MiningConfig()
    if len(query_ids) != len(queries):
        raise InvalidInputError(f"got {len(query_ids)} query ids but {len(queries)} queries")
    needs_dense = cfg.method is not MiningMethod.BM25 or cfg.margin is not None
    if needs_dense and dense_scores is None:
        raise ConfigError(
            f"mining method {cfg.method.value!r} with margin {cfg.margin} needs dense_scores; pass them or use "
            "method='bm25' with margin=None"
        )
    if dense_scores is not None and dense_scores.shape != (len(query_ids), len(doc_ids)):
        raise InvalidInputError(
            f"dense_scores must be (queries={len(query_ids)}, documents={len(doc_ids)}); got {dense_scores.shape}"
        )
    if cfg.method is not MiningMethod.DENSE and bm25 is None:
        raise ConfigError(f"mining method {cfg.method.value!r} needs a BM25 index over the corpus")
    column = {d: i for i, d in enumerate(doc_ids)}
    lexical = _bm25_rankings(bm25, queries, 4 * cfg.rank_end) if cfg.method is not MiningMethod.DENSE else None
    rng = random.Random(cfg.seed)
    out: dict[str, list[str]] = {}
    for row, qid in enumerate(query_ids):
        judged = set(positives.get(qid, ()))
        rankings: list[list[str]] = []
        if dense_scores is not None and cfg.method is not MiningMethod.BM25:
            rankings.append(_dense_ranking(dense_scores[row], doc_ids, len(doc_ids)))
        if lexical is not None:
            rankings.append(lexical[row])
        # ranks count every document, judged or not, so the window means the same for every query
        window = _interleave([r[cfg.rank_start:cfg.rank_end] for r in rankings])
        below = _interleave([r[cfg.rank_end:] for r in rankings])
        ceiling = None
        if cfg.margin is not None and dense_scores is not None:
            pos_cols = [column[d] for d in judged if d in column]
            if pos_cols:
                ceiling = float(dense_scores[row, pos_cols].max()) - cfg.margin

        def passes(doc: str) -> bool:
            return doc not in judged and (ceiling is None or float(dense_scores[row, column[doc]]) <= ceiling)

        pool = [d for d in window if passes(d)]
        if len(pool) < cfg.num_negatives:
            extra = [d for d in below if d not in set(window) and passes(d)]
            pool += extra[: cfg.num_negatives - len(pool)]
        if len(pool) < cfg.num_negatives:
            continue
        if cfg.sampling is Sampling.RANDOM:
            out[qid] = rng.sample(pool, cfg.num_negatives)
        else:
            out[qid] = pool[: cfg.num_negatives]
    return out


def _dense_ranking(scores: npt.NDArray[np.float32], doc_ids: Sequence[str], depth: int) -> list[str]:
    depth = min(depth, len(doc_ids))
    top = np.argpartition(-scores, depth - 1)[:depth]
    order = top[np.lexsort((top, -scores[top]))]  # best first; ties by corpus order
    return [doc_ids[i] for i in order]


def _bm25_rankings(bm25: BM25Index | None, queries: Sequence[str], depth: int) -> list[list[str]]:
    assert bm25 is not None  # checked by the caller
    hits = bm25.search(list(queries), min(depth, len(bm25)), allow_no_match=True)
    return [[h.id for h in row] for row in hits]


def _interleave(rankings: list[list[str]]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for i in range(max((len(r) for r in rankings), default=0)):
        for ranking in rankings:
            if i < len(ranking) and ranking[i] not in seen:
                seen.add(ranking[i])
                out.append(ranking[i])
    return out
