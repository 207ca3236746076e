"""Retrieval evaluation: BEIR-layout loading and ranking metrics (no model, no torch)."""

from __future__ import annotations

from sbert_rag.evaluation.beir import Document, RetrievalSet, load_beir
from sbert_rag.evaluation.metrics import evaluate, mrr_at_k, ndcg_at_k, recall_at_k

__all__ = ["Document", "RetrievalSet", "evaluate", "load_beir", "mrr_at_k", "ndcg_at_k", "recall_at_k"]
