"""sbert_rag: sentence embeddings for retrieval-augmented generation, done right.

Importing this package loads only the standard library and numpy; every public name below is
resolved on first use (PEP 562), so torch and transformers load only when an encoder is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sbert_rag._lazy import lazy_exports

from sbert_rag._version import __version__

# Public name -> module that defines it. Resolved lazily by __getattr__.
_LAZY: dict[str, str] = {
    # types and errors
    "Role": "sbert_rag.types",
    "Chunk": "sbert_rag.types",
    "Hit": "sbert_rag.types",
    "Encoder": "sbert_rag.types",
    "TokenCounter": "sbert_rag.types",
    "SbertRagError": "sbert_rag.errors",
    "InvalidInputError": "sbert_rag.errors",
    "InputTooLongError": "sbert_rag.errors",
    "ConfigError": "sbert_rag.errors",
    "MissingDependencyError": "sbert_rag.errors",
    "ModelLoadError": "sbert_rag.errors",
    "StoreLockedError": "sbert_rag.errors",
    "StoreUnavailableError": "sbert_rag.errors",
    # encoders
    "EncoderConfig": "sbert_rag.config",
    "TextEncoder": "sbert_rag.encoding.text_encoder",
    "DualEncoder": "sbert_rag.encoding.dual",
    "load_encoder": "sbert_rag.encoding.dual",
    "EncodeResult": "sbert_rag.encoding.report",
    "OverflowReport": "sbert_rag.encoding.report",
    "default_model_path": "sbert_rag.encoding.loading",
    # chunking and retrieval
    "Chunker": "sbert_rag.chunking.splitters",
    "ChunkerConfig": "sbert_rag.chunking.splitters",
    "passage_text": "sbert_rag.chunking.splitters",
    "DenseIndex": "sbert_rag.retrieval.dense",
    "BM25Index": "sbert_rag.retrieval.bm25",
    "BM25Config": "sbert_rag.retrieval.bm25",
    "FusionConfig": "sbert_rag.retrieval.fusion",
    "fuse": "sbert_rag.retrieval.fusion",
    "reciprocal_rank_fusion": "sbert_rag.retrieval.fusion",
    "score_fusion": "sbert_rag.retrieval.fusion",
    "HybridRetriever": "sbert_rag.retrieval.hybrid",
    "Store": "sbert_rag.indexing.engine",
    "SearchHit": "sbert_rag.indexing.engine",
    "load_beir": "sbert_rag.evaluation.beir",
    # image branch
    "CLIPEncoder": "sbert_rag.image.clip_encoder",
    "CLIPConfig": "sbert_rag.image.clip_config",
}

__all__ = ["__version__", *_LAZY]

if TYPE_CHECKING:  # pragma: no cover
    from sbert_rag.chunking.splitters import Chunker, ChunkerConfig, passage_text
    from sbert_rag.config import EncoderConfig
    from sbert_rag.evaluation.beir import load_beir
    from sbert_rag.image.clip_config import CLIPConfig
    from sbert_rag.image.clip_encoder import CLIPEncoder
    from sbert_rag.retrieval.bm25 import BM25Config, BM25Index
    from sbert_rag.retrieval.dense import DenseIndex
    from sbert_rag.retrieval.fusion import FusionConfig, fuse, reciprocal_rank_fusion, score_fusion
    from sbert_rag.retrieval.hybrid import HybridRetriever
    from sbert_rag.indexing.engine import SearchHit, Store
    from sbert_rag.encoding.dual import DualEncoder, load_encoder
    from sbert_rag.encoding.loading import default_model_path
    from sbert_rag.encoding.report import EncodeResult, OverflowReport
    from sbert_rag.encoding.text_encoder import TextEncoder
    from sbert_rag.errors import (
        ConfigError,
        InputTooLongError,
        InvalidInputError,
        MissingDependencyError,
        ModelLoadError,
        SbertRagError,
        StoreLockedError,
        StoreUnavailableError,
    )
    from sbert_rag.types import Chunk, Encoder, Hit, Role, TokenCounter


__getattr__, __dir__ = lazy_exports('sbert_rag', _LAZY, globals())
