"""Ranking metrics as BEIR reports them: nDCG@k, recall@k, MRR@k, averaged over judged queries.

Owns the arithmetic on one ranked list of ids against graded judgments, and the mean over a run.
Conventions follow trec_eval/pytrec_eval, which BEIR calls: nDCG uses linear gains (the judged
score) and ``1 / log2(rank + 1)`` discounts, and its ideal ranking takes all judged documents;
recall and MRR count a document as relevant when its score is > 0; recall divides by the number of
relevant documents (not by ``min(k, relevant)``). A judged query missing from the run scores 0.
A judged document no run can return (absent from the searched corpus, such as a blank one that
``load_beir`` skipped) still counts as relevant: it stays in the ideal ranking and in recall's
denominator. Queries with no relevant judgment are skipped. Deliberately computes no statistics or
significance tests, and never sees a model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from sbert_rag.errors import InvalidInputError

Qrels = Mapping[str, Mapping[str, int]]
"""query id -> {document id: graded relevance}."""

Run = Mapping[str, Sequence[str]]
"""query id -> document ids, best first."""


def ndcg_at_k(ranked: Sequence[str], relevance: Mapping[str, int], k: int) -> float:
    """nDCG@k of one ranking: DCG of the top ``k`` over the DCG of the ideal top ``k``.

    Args:
        ranked: document ids, best first; repeats after the first are ignored.
        relevance: graded judgments of this query; unjudged ids count as 0.
        k: cut-off.

    Returns:
        A value in [0, 1]; 0 when no document is relevant.
    """
    ideal = sorted((g for g in relevance.values() if g > 0), reverse=True)[:k]
    if not ideal:
        return 0.0
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    dcg = sum(max(relevance.get(d, 0), 0) / math.log2(i + 2) for i, d in enumerate(_dedup(ranked)[:k]))
    return dcg / idcg


def recall_at_k(ranked: Sequence[str], relevance: Mapping[str, int], k: int) -> float:
    """Share of the relevant documents (score > 0) found in the top ``k``; 0 when none is relevant."""
    relevant = {d for d, g in relevance.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(_dedup(ranked)[:k])) / len(relevant)


def mrr_at_k(ranked: Sequence[str], relevance: Mapping[str, int], k: int) -> float:
    """1 / rank of the first relevant document (score > 0) within the top ``k``, else 0."""
    for i, d in enumerate(_dedup(ranked)[:k]):
        if relevance.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def evaluate(run: Run, qrels: Qrels, *, ndcg_k: int = 10, recall_k: int = 100, mrr_k: int = 10) -> dict[str, float]:
    """Mean nDCG, recall and MRR over the judged queries.

    Args:
        run: ranked document ids per query id; queries not judged in ``qrels`` are ignored.
        qrels: judgments; only queries with at least one relevant document (score > 0) count.
        ndcg_k: nDCG cut-off.
        recall_k: recall cut-off.
        mrr_k: MRR cut-off.

    Returns:
        ``{"ndcg@10": ..., "recall@100": ..., "mrr@10": ...}`` (keys follow the cut-offs) as
        fractions in [0, 1], plus ``"queries"``: how many queries were averaged.

    Raises:
        InvalidInputError: a cut-off is below 1, or no query has a relevant judgment.
    """
    for name, value in (("ndcg_k", ndcg_k), ("recall_k", recall_k), ("mrr_k", mrr_k)):
        if value < 1:
            raise InvalidInputError(f"{name} must be >= 1; got {value}")
    judged = [q for q, rel in qrels.items() if any(g > 0 for g in rel.values())]
    if not judged:
        raise InvalidInputError("qrels hold no query with a relevant document (score > 0); nothing to evaluate")
    totals = {f"ndcg@{ndcg_k}": 0.0, f"recall@{recall_k}": 0.0, f"mrr@{mrr_k}": 0.0}
    for qid in judged:
        ranked, rel = run.get(qid, ()), qrels[qid]
        totals[f"ndcg@{ndcg_k}"] += ndcg_at_k(ranked, rel, ndcg_k)
        totals[f"recall@{recall_k}"] += recall_at_k(ranked, rel, recall_k)
        totals[f"mrr@{mrr_k}"] += mrr_at_k(ranked, rel, mrr_k)
    result = {name: total / len(judged) for name, total in totals.items()}
    result["queries"] = float(len(judged))
    return result


def _dedup(ranked: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(ranked))
