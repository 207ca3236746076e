"""LlamaIndex integration of sbert_rag: ``SbertRagEmbedding`` (text), ``SbertRagMultiModalEmbedding`` (CLIP).

``llama_index`` and ``llama_index.embeddings`` are PEP 420 namespace packages (no ``__init__.py``),
shared with llama-index-core.
"""

from __future__ import annotations

from llama_index.embeddings.sbert_rag.base import SbertRagEmbedding
from llama_index.embeddings.sbert_rag.multi_modal import SbertRagMultiModalEmbedding

__all__ = ["SbertRagEmbedding", "SbertRagMultiModalEmbedding"]
