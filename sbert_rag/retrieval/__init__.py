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
    search_documents,
)
from sbert_rag.retrieval.hybrid import HybridRetriever
from sbert_rag.retrieval.sources import BM25Source, DenseSource, RankedLists, Source, hybrid_search

__all__ = [
    "Aggregation", "BM25Config", "BM25Index", "BM25Source", "DenseIndex", "DenseSource", "RankedLists", "Source", "hybrid_search", "FusionConfig", "FusionMethod", "HybridRetriever",
    "Metric", "Normalization", "aggregate_chunks", "best_rank_fusion", "fuse", "reciprocal_rank_fusion", "score_fusion", "search_documents",
]
