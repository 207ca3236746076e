"""LlamaIndex ``BaseRetriever`` over an sbert_rag ``Store``.

Targets llama-index-core 0.13-0.14 (tested with 0.14.25). Owns translating one LlamaIndex
retrieval into one ``Store.search`` call (the store embeds the query with the model and query
prompt it recorded, and fuses dense and BM25 rankings itself) and the hits back into
``NodeWithScore``. Deliberately holds no search, fusion or model logic; the async twin runs
the sync call in a worker thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from os import PathLike
from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import NodeWithScore, QueryBundle
from llama_index.retrievers.sbert_rag.nodes import hit_to_node

import sbert_rag


class SbertRagRetriever(BaseRetriever):
    """Retrieve chunks from an sbert_rag store: exact hybrid (dense + BM25), dense or BM25 search.

    Each retrieval is one ``store.search(query, k=similarity_top_k, mode=mode, where=where)``, so
    it returns exactly what the store (and the ``sbert-rag search`` command) returns, best first,
    the same on every run. Nodes are ``TextNode``s with ``id_`` = the record id, the chunk text,
    ``start_char_idx``/``end_char_idx`` = its offsets in the file's text, and metadata
    ``file_path``, ``file_name``, ``start``, ``end``, ``page``/``page_label`` (PDF chunks),
    ``title`` (when set) and the record's own metadata (``hit_metadata``). A stored image comes
    back as an ``ImageNode``.

    Example:
        >>> retriever = SbertRagRetriever(".sbert_rag", similarity_top_k=4)
        >>> for hit in retriever.retrieve("how do I stop silent truncation"):
        ...     print(hit.score, hit.node.metadata["file_name"])

    Attributes:
        store: the ``sbert_rag.Store`` searched.
        similarity_top_k: results per query (fewer when the store holds fewer, or BM25 matches fewer).
        mode: ``"hybrid"``, ``"dense"`` or ``"bm25"``.
        where: a Chroma metadata filter on the records (e.g. ``{"file": "a.md"}``), or None.
    """

    def __init__(
        self,
        store: sbert_rag.Store | str | PathLike[str],
        similarity_top_k: int = 4,
        mode: str = "hybrid",
        where: Mapping[str, Any] | None = None,
        *,
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
    ) -> None:
        """Wrap a store, or open the store folder ``store`` (it must exist).

        Args:
            store: an opened ``sbert_rag.Store`` or a store folder.
            similarity_top_k: results per query, >= 1.
            mode: ``"hybrid"`` (dense and BM25 fused by the store's ``fusion``), ``"dense"`` or ``"bm25"``.
            where: a Chroma metadata filter applied to every query; None = every record.
            callback_manager: LlamaIndex callbacks.
            verbose: LlamaIndex's verbose flag.

        Raises:
            sbert_rag.ConfigError: ``store`` is a folder that holds no store.
            sbert_rag.InvalidInputError: ``similarity_top_k`` < 1 or ``mode`` is unknown (when
                retrieving: the store checks its own arguments).
        """
        super().__init__(callback_manager=callback_manager, verbose=verbose)
        self.store = store if isinstance(store, sbert_rag.Store) else sbert_rag.Store.open(store)
        self.similarity_top_k = similarity_top_k
        self.mode = mode
        self.where = dict(where) if where is not None else None
        self._lock = threading.Lock()  # one Store is not safe to use from several threads at once

    @classmethod
    def from_store(
        cls,
        store: sbert_rag.Store | str | PathLike[str],
        similarity_top_k: int = 4,
        mode: str = "hybrid",
        where: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> SbertRagRetriever:
        """The same as the constructor (``store`` is a ``Store`` or a store folder)."""
        return cls(store, similarity_top_k, mode, where, **kwargs)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        with self._lock:
            hits = self.store.search(
                query_bundle.query_str, k=self.similarity_top_k, mode=self.mode, where=self.where
            )
        return [NodeWithScore(node=hit_to_node(hit), score=hit.score) for hit in hits]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return await asyncio.to_thread(self._retrieve, query_bundle)
