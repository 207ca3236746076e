"""LangChain integration of sbert_rag: ``SbertRagEmbeddings`` (texts, queries, CLIP images)."""

from __future__ import annotations

from langchain_sbert_rag.embeddings import SbertRagEmbeddings

__all__ = ["SbertRagEmbeddings"]
