"""Token-aware chunking of documents into passages that fit an encoder (no torch)."""

from __future__ import annotations

from sbert_rag.chunking.splitters import Chunker, ChunkerConfig, passage_text

__all__ = ["Chunker", "ChunkerConfig", "passage_text"]
