"""LangChain integration of sbert_rag (targets langchain-core 1.x, tested with 1.8.3).

``SbertRagEmbeddings`` (texts, queries, CLIP images), ``SbertRagRetriever`` (hybrid, dense or BM25
search over an ``sbert_rag.Store``) and ``SbertRagVectorStore`` (a LangChain vector store over the
same store).
"""

from __future__ import annotations

from langchain_sbert_rag.embeddings import SbertRagEmbeddings
from langchain_sbert_rag.retriever import SbertRagRetriever
from langchain_sbert_rag.vectorstore import SbertRagVectorStore

__all__ = ["SbertRagEmbeddings", "SbertRagRetriever", "SbertRagVectorStore"]
