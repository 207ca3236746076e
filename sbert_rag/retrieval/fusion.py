"""Pure fusion of ranked hit lists: reciprocal-rank fusion, weighted normalised scores, chunk -> doc.

Owns the arithmetic that turns several rankings of one query into one, and chunk hits into
document hits. Functions take and return ``Hit`` lists and never touch an index or a model, so
they are tested on hand-made rankings. Weights are always explicit numbers, one per ranking.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sbert_rag.config import parse_enum
from sbert_rag.errors import ConfigError, InvalidInputError
from sbert_rag.types import Hit


class FusionMethod(str, enum.Enum):
    """How rankings are combined."""

    RRF = "rrf"  # sum of weight / (rrf_k + rank): uses ranks only
    SCORE = "score"  # sum of weight * normalised score: uses score gaps


class Normalization(str, enum.Enum):
    """How one ranking's scores are put on a common scale before weighting."""

    MINMAX = "minmax"  # (s - min) / (max - min) over the list: best 1, worst 0
    ZSCORE = "zscore"  # (s - mean) / std over the list


class Aggregation(str, enum.Enum):
    """How a document's chunk hits become one document score."""

    MAX = "max"  # best chunk
    # All retrieved chunks add up. With cosine scores (mostly positive) this ranks long documents
    # first: 25.25 nDCG@10 against 70.72 for max on SciFact dev (docs/retrieval.md).
    SUM = "sum"


@dataclass(frozen=True)
class FusionConfig:
    """Options of hybrid fusion.

    The defaults are the ones tuned on SciFact dev (docs/retrieval.md): normalised score fusion
    with min-max scaling, dense weight 0.5 and BM25 weight 0.5 over 100 candidates each.

    Attributes:
        method: ``"score"`` (weighted normalised scores) or ``"rrf"`` (reciprocal rank).
        dense_weight: weight of the dense ranking, >= 0.
        bm25_weight: weight of the BM25 ranking, >= 0; not both zero.
        normalization: score scaling for ``"score"``.
        rrf_k: the rank offset of RRF (60 in Cormack et al. 2009), >= 0.
        depth: candidates taken from each retriever (after chunk aggregation) before fusing.
        aggregation: chunk -> document score, ``"max"`` or ``"sum"``.
    """

    method: FusionMethod = FusionMethod.SCORE
    dense_weight: float = 0.5
    bm25_weight: float = 0.5
    normalization: Normalization = Normalization.MINMAX
    rrf_k: float = 60.0
    depth: int = 100
    aggregation: Aggregation = Aggregation.MAX

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", parse_enum(FusionMethod, self.method, "method"))
        object.__setattr__(self, "normalization", parse_enum(Normalization, self.normalization, "normalization"))
        object.__setattr__(self, "aggregation", parse_enum(Aggregation, self.aggregation, "aggregation"))
        _check_weights([self.dense_weight, self.bm25_weight], ConfigError)
        if not self.rrf_k >= 0:
            raise ConfigError(f"rrf_k must be >= 0; got {self.rrf_k!r}")
        if isinstance(self.depth, bool) or not isinstance(self.depth, int) or self.depth < 1:
            raise ConfigError(f"depth must be an integer >= 1; got {self.depth!r}")


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[Hit]], weights: Sequence[float] | None = None, rrf_k: float = 60.0
) -> list[Hit]:
    """Fuse rankings by weighted reciprocal rank: ``score(d) = sum_i w_i / (rrf_k + rank_i(d))``.

    A document absent from a ranking gets nothing from it. Ranks are positions in each list
    (1-based), whatever ``Hit.rank`` says. Cormack, Clarke and Buettcher, SIGIR 2009.

    Args:
        rankings: hit lists, best first; ids unique within a list.
        weights: one weight >= 0 per list; ``None`` means 1.0 each.
        rrf_k: rank offset; larger values flatten the head of each list.

    Returns:
        All ids seen, best first; ties keep first-seen order. ``source`` is ``"rrf"``.

    Raises:
        InvalidInputError: weights do not match the rankings, are negative or all zero, or an id
            repeats within a list.
    """
    weights = _weights(rankings, weights)
    fused: dict[str, float] = {}
    for hits, weight in zip(rankings, weights):
        _check_unique(hits)
        for position, hit in enumerate(hits, start=1):
            fused[hit.id] = fused.get(hit.id, 0.0) + weight / (rrf_k + position)
    return _ranked(fused, "rrf")


def score_fusion(
    rankings: Sequence[Sequence[Hit]],
    weights: Sequence[float] | None = None,
    normalization: Normalization | str = Normalization.MINMAX,
) -> list[Hit]:
    """Fuse rankings by a weighted sum of normalised scores (convex combination when weights sum to 1).

    Each list is scaled on its own (min-max: best 1, worst 0; or z-score). A document absent
    from a list gets that list's lowest normalised score, as if ranked just below its last hit.
    A list whose scores are all equal (one hit, or ties) has no worst hit: its hits get 1 and
    documents absent from it 0, so a lone keyword match keeps its weight. An empty list
    contributes nothing.

    Args:
        rankings: hit lists with comparable scores within each list; ids unique within a list.
        weights: one weight >= 0 per list; ``None`` means 1.0 each.
        normalization: ``"minmax"`` or ``"zscore"``.

    Returns:
        All ids seen, best first; ties keep first-seen order. ``source`` is ``"score"``.

    Raises:
        InvalidInputError: as for ``reciprocal_rank_fusion``, or a score is not finite.
    """
    weights = _weights(rankings, weights)
    how = parse_enum(Normalization, normalization, "normalization")
    normalised = [_normalise(hits, how) for hits in rankings]
    ids = list(dict.fromkeys(h.id for hits in rankings for h in hits))
    fused = {d: 0.0 for d in ids}
    for (scores, floor), weight in zip(normalised, weights):
        for d in ids:
            fused[d] += weight * scores.get(d, floor)
    return _ranked(fused, "score")


def aggregate_chunks(
    hits: Sequence[Hit], doc_of: Mapping[str, str], how: Aggregation | str = Aggregation.MAX
) -> list[Hit]:
    """Turn chunk hits into document hits.

    Args:
        hits: chunk hits of one query, best first.
        doc_of: chunk id -> document id; ids not in it are their own document.
        how: ``"max"`` (document score is its best chunk's) or ``"sum"`` (sum over its chunks).

    Returns:
        Document hits, best first; ties keep first-seen order; ``source`` kept from the first hit.
    """
    agg = parse_enum(Aggregation, how, "aggregation")
    scores: dict[str, float] = {}
    for hit in hits:
        doc = doc_of.get(hit.id, hit.id)
        if doc not in scores:
            scores[doc] = hit.score
        elif agg is Aggregation.MAX:
            scores[doc] = max(scores[doc], hit.score)
        else:
            scores[doc] += hit.score
    return _ranked(scores, hits[0].source if hits else "")


def best_rank_fusion(
    rankings: Sequence[Sequence[Hit]], weights: Sequence[float] | None = None, rrf_k: float = 60.0
) -> list[Hit]:
    """Fuse rankings of disjoint item sets (e.g. text chunks and images) by each id's best reciprocal rank.

    ``score(d) = max_i w_i / (rrf_k + rank_i(d))``; the summed reciprocal rank only breaks ties.
    Unlike ``reciprocal_rank_fusion``, an item ranked in two lists (a captioned figure in both a
    text and an image ranking) does not get about twice the score of one ranked in a single list,
    however weakly it matches.

    Args:
        rankings: hit lists, best first; ids unique within a list.
        weights: one weight >= 0 per list; ``None`` means 1.0 each.
        rrf_k: rank offset; larger values flatten the head of each list.

    Returns:
        All ids seen, best first; full ties keep first-seen order. ``source`` is ``"rrf"``.

    Raises:
        InvalidInputError: as for ``reciprocal_rank_fusion``.
    """
    weights = _weights(rankings, weights)
    best: dict[str, float] = {}
    total: dict[str, float] = {}
    for hits, weight in zip(rankings, weights):
        _check_unique(hits)
        for position, hit in enumerate(hits, start=1):
            score = weight / (rrf_k + position)
            best[hit.id] = max(best.get(hit.id, 0.0), score)
            total[hit.id] = total.get(hit.id, 0.0) + score
    # sorted() is stable: full ties keep first-seen order
    order = sorted(best, key=lambda i: (-best[i], -total[i]))
    return [Hit(id=i, score=best[i], rank=r + 1, source="rrf") for r, i in enumerate(order)]


def fuse(dense_hits: Sequence[Hit], bm25_hits: Sequence[Hit], config: FusionConfig) -> list[Hit]:
    """Fuse one query's dense and BM25 document rankings under ``config`` (method, weights, scaling).

    Returns:
        All ids of both lists, best first.
    """
    weights = [config.dense_weight, config.bm25_weight]
    if config.method is FusionMethod.RRF:
        return reciprocal_rank_fusion([dense_hits, bm25_hits], weights, config.rrf_k)
    return score_fusion([dense_hits, bm25_hits], weights, config.normalization)


def _weights(rankings: Sequence[Sequence[Hit]], weights: Sequence[float] | None) -> list[float]:
    if weights is None:
        return [1.0] * len(rankings)
    weights = list(weights)
    if len(weights) != len(rankings):
        raise InvalidInputError(f"got {len(weights)} weights for {len(rankings)} rankings; pass one weight per ranking")
    _check_weights(weights, InvalidInputError)
    return weights


def _check_weights(weights: Sequence[float], error: type[Exception]) -> None:
    if any(not (isinstance(w, (int, float)) and math.isfinite(w) and w >= 0) for w in weights):
        raise error(f"weights must be finite numbers >= 0; got {list(weights)}")
    if weights and not any(w > 0 for w in weights):
        raise error(f"at least one weight must be > 0; got {list(weights)}")


def _check_unique(hits: Sequence[Hit]) -> None:
    seen: set[str] = set()
    for hit in hits:
        if hit.id in seen:
            raise InvalidInputError(
                f"id {hit.id!r} appears twice in one ranking; aggregate chunk hits to documents "
                f"(aggregate_chunks) before fusing"
            )
        seen.add(hit.id)


def _normalise(hits: Sequence[Hit], how: Normalization) -> tuple[dict[str, float], float]:
    """Normalised score per id, and the score of an id absent from the list."""
    _check_unique(hits)
    if not hits:
        return {}, 0.0
    scores = [h.score for h in hits]
    if not all(math.isfinite(s) for s in scores):
        raise InvalidInputError(f"scores must be finite to normalise; got {scores[:5]}...")
    low, high = min(scores), max(scores)
    if high == low:
        # one hit, or all equal: every hit is as good as the best, and better than any document
        # the list did not return (taking the hits' own score as the floor would erase the list)
        return {h.id: 1.0 for h in hits}, 0.0
    if how is Normalization.MINMAX:
        return {h.id: (h.score - low) / (high - low) for h in hits}, 0.0
    mean = sum(scores) / len(scores)
    std = math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores))
    normalised = {h.id: (h.score - mean) / std for h in hits}
    return normalised, min(normalised.values())


def _ranked(scores: dict[str, float], source: str) -> list[Hit]:
    # sorted() is stable, so equal scores keep insertion (first-seen) order
    ordered = sorted(scores.items(), key=lambda item: -item[1])
    return [Hit(id=d, score=s, rank=r + 1, source=source) for r, (d, s) in enumerate(ordered)]


def search_documents(
    search: Callable[[int], list[list[Hit]]],
    size: int,
    k: int,
    doc_of: Mapping[str, str],
    how: Aggregation | str = Aggregation.MAX,
) -> list[list[Hit]]:
    """Top ``k`` documents per query from a chunk-level search, widening the search until enough.

    Args:
        search: ``n -> hits per query`` for the top ``n`` chunks (e.g. ``lambda n: index.search(q, n)``).
        size: number of chunks in the index (the widest search).
        k: documents wanted per query.
        doc_of: chunk id -> document id; ids missing from it are documents.
        how: chunk -> document aggregation.

    Returns:
        At most ``k`` document hits per query, best first (fewer when the index has fewer
        matching documents).
    """
    # Usually a few chunks per document: start at 2k and double while some query falls short.
    n = min(size, 2 * k) if doc_of else min(size, k)
    while True:
        raw = search(n)
        docs = [aggregate_chunks(hits, doc_of, how) for hits in raw]
        # short: fewer than k documents although the chunk list was full, so more may exist deeper
        if n >= size or not any(len(d) < k and len(h) == n for d, h in zip(docs, raw)):
            return [d[:k] for d in docs]
        n = min(size, 2 * n)
