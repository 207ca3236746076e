from __future__ import annotations

import math

import pytest

from sbert_rag.errors import ConfigError, InvalidInputError
from sbert_rag.retrieval import FusionConfig, aggregate_chunks, reciprocal_rank_fusion, score_fusion
from sbert_rag.types import Hit


def _hits(*pairs: tuple[str, float]) -> list[Hit]:
    return [Hit(id=d, score=s, rank=i + 1) for i, (d, s) in enumerate(pairs)]


DENSE = _hits(("x", 0.9), ("y", 0.5), ("z", 0.1))
BM25 = _hits(("y", 10.0), ("w", 4.0))


def _ids_scores(hits: list[Hit]) -> list[tuple[str, float]]:
    return [(h.id, round(h.score, 6)) for h in hits]


def test_rrf_hand_computed() -> None:
    fused = reciprocal_rank_fusion([DENSE, BM25])
    expected = {"y": 1 / 62 + 1 / 61, "x": 1 / 61, "w": 1 / 62, "z": 1 / 63}
    assert [h.id for h in fused] == ["y", "x", "w", "z"]
    assert all(h.score == pytest.approx(expected[h.id]) for h in fused)
    assert [h.rank for h in fused] == [1, 2, 3, 4] and fused[0].source == "rrf"


def test_rrf_weights_and_k() -> None:
    fused = reciprocal_rank_fusion([DENSE, BM25], weights=[3.0, 1.0], rrf_k=0)
    # x: 3/1 = 3; y: 3/2 + 1/1 = 2.5; z: 3/3 = 1; w: 1/2
    assert _ids_scores(fused) == [("x", 3.0), ("y", 2.5), ("z", 1.0), ("w", 0.5)]


def test_rrf_uses_list_position_not_hit_rank() -> None:
    shuffled = [Hit("a", 1.0, rank=9), Hit("b", 0.5, rank=1)]
    assert [h.id for h in reciprocal_rank_fusion([shuffled])] == ["a", "b"]


def test_score_fusion_minmax_hand_computed() -> None:
    # dense -> x 1, y .5, z 0; bm25 -> y 1, w 0; a missing id takes the list's floor (0)
    fused = score_fusion([DENSE, BM25], weights=[0.5, 0.5])
    assert _ids_scores(fused) == [("y", 0.75), ("x", 0.5), ("z", 0.0), ("w", 0.0)]
    assert fused[0].source == "score"
    fused = score_fusion([DENSE, BM25], weights=[0.8, 0.2])
    assert _ids_scores(fused) == [("x", 0.8), ("y", 0.6), ("z", 0.0), ("w", 0.0)]


def test_score_fusion_zscore_hand_computed() -> None:
    std = math.sqrt(0.32 / 3)
    fused = score_fusion([DENSE, BM25], normalization="zscore")
    expected = [("y", 1.0), ("x", 0.4 / std - 1), ("z", -0.4 / std - 1), ("w", -0.4 / std - 1)]
    assert [h.id for h in fused] == [e[0] for e in expected]
    assert [h.score for h in fused] == pytest.approx([e[1] for e in expected])


def test_score_fusion_single_hit_and_empty_list() -> None:
    fused = score_fusion([_hits(("a", 3.0)), []], weights=[1.0, 1.0])
    assert _ids_scores(fused) == [("a", 1.0)]


def test_fusion_errors() -> None:
    with pytest.raises(InvalidInputError, match="got 1 weights for 2 rankings"):
        reciprocal_rank_fusion([DENSE, BM25], weights=[1.0])
    with pytest.raises(InvalidInputError, match="at least one weight must be > 0"):
        score_fusion([DENSE, BM25], weights=[0.0, 0.0])
    with pytest.raises(InvalidInputError, match=">= 0"):
        score_fusion([DENSE, BM25], weights=[-1.0, 1.0])
    with pytest.raises(InvalidInputError, match="'x' appears twice in one ranking; aggregate"):
        reciprocal_rank_fusion([_hits(("x", 1.0), ("x", 0.5))])
    with pytest.raises(InvalidInputError, match="finite"):
        score_fusion([_hits(("x", float("nan")))])
    with pytest.raises(ConfigError, match="normalization must be one of 'minmax', 'zscore'"):
        score_fusion([DENSE], normalization="l2")


def test_aggregate_chunks_max_and_sum() -> None:
    hits = _hits(("c1", 0.9), ("c2", 0.8), ("c3", 0.7), ("d3", 0.1))
    doc_of = {"c1": "d1", "c2": "d2", "c3": "d1"}
    assert _ids_scores(aggregate_chunks(hits, doc_of, "max")) == [("d1", 0.9), ("d2", 0.8), ("d3", 0.1)]
    assert _ids_scores(aggregate_chunks(hits, doc_of, "sum")) == [("d1", 1.6), ("d2", 0.8), ("d3", 0.1)]
    assert aggregate_chunks([], doc_of) == []


def test_fusion_config_validation() -> None:
    config = FusionConfig(method="rrf", aggregation="sum")
    assert config.method.value == "rrf" and config.aggregation.value == "sum"
    with pytest.raises(ConfigError, match="method must be one of 'rrf', 'score'"):
        FusionConfig(method="borda")
    with pytest.raises(ConfigError, match="at least one weight"):
        FusionConfig(dense_weight=0.0, bm25_weight=0.0)
    with pytest.raises(ConfigError, match="depth must be"):
        FusionConfig(depth=0)


@pytest.mark.parametrize("normalization", ["minmax", "zscore"])
def test_score_fusion_lone_hit_keeps_its_weight(normalization: str) -> None:
    # BM25 found the query word in one chunk only: that chunk must rise above dense-only ones
    dense = _hits(("a", 0.62), ("b", 0.60), ("lone", 0.58), ("c", 0.2))
    fused = score_fusion([dense, _hits(("lone", 7.3))], weights=[0.5, 0.5], normalization=normalization)
    assert fused[0].id == "lone"
    # absent from the dense list too, it still beats every document BM25 did not return, but one
    fused = score_fusion([dense[:2], _hits(("lone", 7.3))], weights=[0.5, 0.5], normalization=normalization)
    assert {h.id for h in fused[:2]} == {"a", "lone"}


def test_score_fusion_all_tied_list_and_no_hit_list() -> None:
    dense = _hits(("a", 0.9), ("b", 0.5), ("c", 0.1))
    tied = _hits(("c", 2.0), ("b", 2.0))
    fused = score_fusion([dense, tied], weights=[0.5, 0.5])
    # b: .25 + .5, c: 0 + .5, a: .5 + 0 -> b first; a and c tie and keep first-seen order
    assert _ids_scores(fused) == [("b", 0.75), ("a", 0.5), ("c", 0.5)]
    # no BM25 hit: the dense order stands
    assert [h.id for h in score_fusion([dense, []], weights=[0.5, 0.5])] == ["a", "b", "c"]
    assert score_fusion([[], []]) == []


def test_score_fusion_is_repeatable() -> None:
    dense = _hits(*[(f"d{i}", 1.0 - i / 50) for i in range(40)])
    lexical = _hits(*[(f"d{i}", 10.0 - i % 7) for i in range(0, 40, 3)])
    first = score_fusion([dense, lexical])
    assert all(score_fusion([dense, lexical]) == first for _ in range(20))
