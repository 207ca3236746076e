"""Dense, BM25 and hybrid retrieval over string ids, returning ``Hit`` lists (numpy only; bm25s lazily)."""

from __future__ import annotations

from sbert_rag.retrieval.bm25 import BM25Config, BM25Index
from sbert_rag.retrieval.dense import DenseIndex, Metric
from sbert_rag.retrieval.fusion import (
    Aggregation,
    FusionConfig,
    FusionMethod,
    Normalization,
    aggregate_chunks,
    best_rank_fusion,
    fuse,
    reciprocal_rank_fusion,
    score_fusion,
)
from sbert_rag.retrieval.hybrid import HybridRetriever, search_documents

__all__ = [
    "Aggregation", "BM25Config", "BM25Index", "DenseIndex", "FusionConfig", "FusionMethod", "HybridRetriever",
    "Metric", "Normalization", "aggregate_chunks", "best_rank_fusion", "fuse", "reciprocal_rank_fusion", "score_fusion", "search_documents",
]
