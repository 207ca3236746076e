"""Chroma integration of sbert_rag: the embedding functions and a model-checked collection opener.

The functions are defined in the core (``sbert_rag.chroma_function``), which the store uses to
record them in its collections' configuration, and are re-exported here. Importing this package
(or that module) registers ``sbert_rag`` and ``sbert_rag_clip`` with Chroma's embedding function
registry, so a collection persisted with one of them is rebuilt from its config in this process.
Chroma has no entry points: a process that imports neither can still query with
``query_embeddings``, but ``query_texts`` then fails inside Chroma with "Embedding function
sbert_rag not found".
"""

from __future__ import annotations

from sbert_rag.chroma_function import SbertRagCLIPEmbeddingFunction, SbertRagEmbeddingFunction
from sbert_rag_chroma.collection import open_collection

__all__ = ["SbertRagCLIPEmbeddingFunction", "SbertRagEmbeddingFunction", "open_collection"]
