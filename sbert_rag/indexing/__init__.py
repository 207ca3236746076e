"""Folder indexing into a persistent store: ``sbert-rag index``, ``search`` and ``info`` underneath.

A store is a folder with an embedded Chroma database, a BM25 sidecar, a manifest and a writer
lock (``store`` describes the layout). Runs are idempotent and resumable (``indexer``). Importing
this package loads only the standard library and numpy: chromadb, pypdf, torch and PIL load when
a store is opened, a PDF read or a model loaded.
"""

from __future__ import annotations

from sbert_rag.indexing.engine import Store
from sbert_rag.indexing.indexer import Indexer, IndexOptions, IndexReport, SkippedFile, prepare_store
from sbert_rag.indexing.lock import WriterLock
from sbert_rag.indexing.manifest import Manifest
from sbert_rag.indexing.models import ModelOptions, StoreModels
from sbert_rag.indexing.records import content_id, ids_fingerprint, read_collection
from sbert_rag.indexing.searcher import SearchHit, search_store
from sbert_rag.indexing.sidecar import load_sidecar, save_sidecar
from sbert_rag.indexing.store import IndexStore

__all__ = [
    "IndexOptions", "IndexReport", "IndexStore", "Indexer", "Manifest", "ModelOptions", "SearchHit", "SkippedFile",
    "Store", "StoreModels", "WriterLock", "content_id", "ids_fingerprint", "load_sidecar", "prepare_store", "read_collection",
    "save_sidecar", "search_store",
]
