"""Chroma integration of sbert_rag: embedding functions, a model-checked opener and a hybrid store.

Importing this package registers ``sbert_rag`` and ``sbert_rag_clip`` with Chroma's embedding
function registry, so a collection persisted with one of them is rebuilt from its config in any
process that imports this package. Chroma has no entry points: a process that does not import it
can still query with ``query_embeddings``, but ``query_texts`` then fails with "Embedding function
sbert_rag not found".
"""

from __future__ import annotations

from sbert_rag_chroma.clip_function import SbertRagCLIPEmbeddingFunction
from sbert_rag_chroma.collection import open_collection
from sbert_rag_chroma.embedding_function import SbertRagEmbeddingFunction
from sbert_rag_chroma.store import ChromaHybridStore, SearchResult, content_id

__all__ = [
    "ChromaHybridStore",
    "SbertRagCLIPEmbeddingFunction",
    "SbertRagEmbeddingFunction",
    "SearchResult",
    "content_id",
    "open_collection",
]
