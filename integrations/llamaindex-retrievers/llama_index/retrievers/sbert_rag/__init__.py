"""LlamaIndex retriever over an sbert_rag ``Store``: ``SbertRagRetriever`` (and ``hit_to_node``).

``llama_index`` and ``llama_index.retrievers`` are PEP 420 namespace packages (no ``__init__.py``),
shared with llama-index-core.
"""

from __future__ import annotations

from llama_index.retrievers.sbert_rag.base import SbertRagRetriever
from llama_index.retrievers.sbert_rag.nodes import hit_metadata, hit_to_node

__all__ = ["SbertRagRetriever", "hit_metadata", "hit_to_node"]
