"""LlamaIndex vector store over an sbert_rag ``Store``: ``SbertRagVectorStore``.

``llama_index`` and ``llama_index.vector_stores`` are PEP 420 namespace packages (no ``__init__.py``),
shared with llama-index-core.
"""

from __future__ import annotations

from llama_index.vector_stores.sbert_rag.base import SbertRagVectorStore
from llama_index.vector_stores.sbert_rag.filters import to_where

__all__ = ["SbertRagVectorStore", "to_where"]
