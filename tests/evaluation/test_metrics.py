from __future__ import annotations

import math

import pytest

from sbert_rag.errors import InvalidInputError
from sbert_rag.evaluation import evaluate, mrr_at_k, ndcg_at_k, recall_at_k


def test_ndcg_hand_computed_binary() -> None:
    # relevant at ranks 2 and 4; two relevant documents judged
    rel = {"a": 1, "b": 1}
    ranked = ["x", "a", "y", "b"]
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at_k(ranked, rel, 10) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(ranked, rel, 2) == pytest.approx((1 / math.log2(3)) / idcg)


def test_ndcg_graded_uses_linear_gain_and_all_judged_for_ideal() -> None:
    rel = {"a": 2, "b": 1, "c": 0}
    assert ndcg_at_k(["b", "a"], rel, 10) == pytest.approx((1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3)))
    # a relevant document beyond the cut-off still counts in the ideal DCG
    assert ndcg_at_k(["a"], {"a": 1, "z": 1}, 1) == 1.0
    assert ndcg_at_k(["x", "a"], {"a": 1, "z": 1}, 1) == 0.0


def test_ndcg_ignores_repeats() -> None:
    assert ndcg_at_k(["a", "a", "b"], {"b": 1}, 2) == pytest.approx(1 / math.log2(3))


def test_recall_and_mrr_hand_computed() -> None:
    rel = {"a": 1, "b": 1, "c": 1, "n": 0}
    ranked = ["n", "x", "b", "a"]
    assert recall_at_k(ranked, rel, 100) == pytest.approx(2 / 3)
    assert recall_at_k(ranked, rel, 3) == pytest.approx(1 / 3)
    assert mrr_at_k(ranked, rel, 10) == pytest.approx(1 / 3)  # "n" is judged 0: not relevant
    assert mrr_at_k(ranked, rel, 2) == 0.0


def test_evaluate_means_over_judged_queries_and_missing_run_scores_zero() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 0}}
    run = {"q1": ["a"], "q9": ["b"]}  # q2 missing from the run, q9 not judged, q3 has no relevant doc
    result = evaluate(run, qrels)
    assert result == {"ndcg@10": 0.5, "recall@100": 0.5, "mrr@10": 0.5, "queries": 2.0}


def test_evaluate_custom_cutoffs_and_errors() -> None:
    result = evaluate({"q": ["x", "a"]}, {"q": {"a": 1}}, ndcg_k=1, recall_k=1, mrr_k=5)
    assert result == {"ndcg@1": 0.0, "recall@1": 0.0, "mrr@5": 0.5, "queries": 1.0}
    with pytest.raises(InvalidInputError, match="no query with a relevant document"):
        evaluate({}, {"q": {"a": 0}})
    with pytest.raises(InvalidInputError, match="ndcg_k must be >= 1"):
        evaluate({}, {"q": {"a": 1}}, ndcg_k=0)
