"""LlamaIndex ``BasePydanticVectorStore`` over an sbert_rag ``Store``.

Targets llama-index-core 0.13-0.14 (tested with 0.14.25). Owns translating LlamaIndex's vector
store calls into ``Store`` calls: ``add`` -> ``add_texts`` (the store embeds passages with the
model it recorded), ``query`` -> one ``search`` (it embeds the query itself, with the model's
query prompt: ``is_embedding_query`` is False, so LlamaIndex never embeds queries for it),
``delete`` -> ``delete`` of a document's records; ``MetadataFilters`` become a Chroma ``where``
(``filters``). Deliberately holds no search, fusion or model logic; async twins run the sync
calls in a worker thread.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace
from os import PathLike
from typing import Any

from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.schema import BaseNode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from llama_index.embeddings.sbert_rag import SbertRagEmbedding
from llama_index.vector_stores.sbert_rag.filters import REF_DOC_ID, to_where
from llama_index.vector_stores.sbert_rag.records import hit_node, record_metadata

import sbert_rag

_MODES = {
    VectorStoreQueryMode.DEFAULT: "dense",
    VectorStoreQueryMode.HYBRID: "hybrid",
    VectorStoreQueryMode.SPARSE: "bm25",
    VectorStoreQueryMode.TEXT_SEARCH: "bm25",
}


class SbertRagVectorStore(BasePydanticVectorStore):
    """An sbert_rag store as a LlamaIndex vector store: it keeps the text and embeds with its own model.

    The store records its model; it embeds every added node (as a passage) and every query (as a
    query, with the model's prompts) itself. So the embeddings LlamaIndex computes are not
    stored: ``add`` only checks their dimension against the store's, to catch an index built
    with another model. Build the index with the store's own model, which also shares the loaded
    model instead of loading a second copy::

        vs = SbertRagVectorStore(".sbert_rag")
        index = VectorStoreIndex.from_vector_store(vs, embed_model=vs.embed_model())
        retriever = index.as_retriever(vector_store_query_mode="hybrid", similarity_top_k=4, alpha=0.5)

    Query modes: ``default`` -> dense, ``hybrid`` -> hybrid (``alpha`` = dense weight, ``1 - alpha``
    the BM25 weight; None = the store's ``fusion``), ``sparse`` and ``text_search`` -> BM25. Filters:
    EQ, NE, GT, GTE, LT, LTE, IN, NIN under AND/OR (nested); ``doc_ids`` and ``node_ids`` restrict
    the records too (an empty list restricts nothing, as LlamaIndex passes one).

    Nodes come back as they were added (text, flattened metadata, source document, offsets);
    records written by ``Store.add_folder`` come back as ``SbertRagRetriever`` returns them
    (``file_path``, ``file_name``, ``page_label``, ...). Node metadata must not use the store's own
    keys (``file``, ``title``, ``page``, ``start``, ``end``, ...): ``add`` refuses them.

    Attributes:
        path: the store folder.
    """

    stores_text: bool = True
    is_embedding_query: bool = False
    flat_metadata: bool = True
    path: str = Field(description="The sbert_rag store folder.")

    _store: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    def __init__(
        self,
        store: sbert_rag.Store | str | PathLike[str],
        *,
        create: bool = True,
        model: str | None = None,
        device: str = "auto",
    ) -> None:
        """Wrap an opened store, or open the store folder ``store``.

        Args:
            store: an opened ``sbert_rag.Store`` (used as is) or a store folder.
            create: allow a folder that holds no store yet (the first ``add`` creates it).
            model: text model of a new store (folder, Hub id or ``packaged:all-MiniLM-L6-v2``);
                None = the one the store recorded, or the packaged default for a new store.
            device: torch device for the model, or ``"auto"``.

        Raises:
            sbert_rag.ConfigError: the folder holds no store and ``create`` is False, ``model``
                differs from the store's, or ``model`` is given with an opened store.
        """
        if isinstance(store, sbert_rag.Store):
            if model is not None:
                raise sbert_rag.ConfigError("model= applies to a store folder; an opened Store has its model")
            opened = store
        else:
            opened = sbert_rag.Store.open(store, create=create, model=model, device=device)
        super().__init__(path=str(opened.path))
        self._store = opened

    @classmethod
    def class_name(cls) -> str:
        """Name LlamaIndex stores in ``to_dict`` output."""
        return "SbertRagVectorStore"

    @property
    def client(self) -> sbert_rag.Store:
        """The ``sbert_rag.Store``."""
        return self._store

    def embed_model(self, embed_batch_size: int = 32) -> SbertRagEmbedding:
        """A LlamaIndex embedding over the store's own text model (loads it): pass it to the index."""
        return SbertRagEmbedding(self._store.models.text, embed_batch_size=embed_batch_size)

    # ------------------------------------------------------------------ writing
    def add(self, nodes: list[BaseNode], **add_kwargs: Any) -> list[str]:
        """Store nodes (id = ``node.node_id``, text = ``node.get_content()``); a stored id is replaced.

        Raises:
            ValueError: a node's embedding has another dimension than the store's model, or its
                metadata holds a non-scalar or a key the store writes itself.
            sbert_rag.InvalidInputError: a node's text is blank.
        """
        if not nodes:
            return []
        texts = [node.get_content() for node in nodes]
        metas = [record_metadata(node) for node in nodes]
        with self._lock:
            self._check_dims(nodes)
            return self._store.add_texts(texts, metas, [node.node_id for node in nodes])

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete every record of the document ``ref_doc_id``."""
        with self._lock:
            self._store.delete(sorted(self._ids_where({REF_DOC_ID: ref_doc_id})))

    def delete_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None, **delete_kwargs: Any,
    ) -> None:
        """Delete records by id and/or filter (both: those matching both).

        Raises:
            ValueError: neither is given (nothing is deleted implicitly), or a filter is unsupported.
        """
        with self._lock:
            self._store.delete(self._select(node_ids, filters))

    def clear(self) -> None:
        """Not offered: clear the store with ``Store.delete`` or remove its folder."""
        raise NotImplementedError(
            "SbertRagVectorStore does not clear a whole store; delete documents with delete(ref_doc_id) "
            "or delete_nodes(...), or remove the store folder"
        )

    # ------------------------------------------------------------------ reading
    def get_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None,
    ) -> list[BaseNode]:
        """Stored nodes by id (in the order given) and/or filter.

        Raises:
            ValueError: neither is given, or a filter is unsupported.
        """
        with self._lock:
            return [hit_node(hit) for hit in self._store.get(self._select(node_ids, filters))]

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """One ``Store.search`` of ``query.query_str`` (``query.query_embedding`` is not used).

        Raises:
            ValueError: no ``query_str``, an unsupported mode or filter, or ``alpha`` outside [0, 1].
            sbert_rag.InvalidInputError: the store refuses the query (e.g. ``similarity_top_k`` < 1).
        """
        text = query.query_str
        if text is None or not text.strip():
            raise ValueError(
                "SbertRagVectorStore searches by text and embeds the query with its own model; the query "
                f"has no query_str ({text!r}). Query through a retriever or query engine, or set query_str"
            )
        mode = _MODES.get(query.mode)
        if mode is None:
            raise ValueError(
                f"query mode {query.mode.value!r} is not supported by SbertRagVectorStore; use one of "
                f"{', '.join(m.value for m in _MODES)}"
            )
        k = {"hybrid": query.hybrid_top_k, "bm25": query.sparse_top_k}.get(mode) or query.similarity_top_k
        where = to_where(query.filters, query.doc_ids or None, query.node_ids or None)
        with self._lock:
            store = self._store if mode != "hybrid" or query.alpha is None else self._weighted(query.alpha)
            hits = store.search(text, k=k, mode=mode, where=where)
        return VectorStoreQueryResult(
            nodes=[hit_node(hit) for hit in hits],
            similarities=[hit.score for hit in hits],
            ids=[hit.id for hit in hits],
        )

    # ------------------------------------------------------------------ async twins
    async def async_add(self, nodes: list[BaseNode], **kwargs: Any) -> list[str]:
        return await asyncio.to_thread(self.add, nodes, **kwargs)

    async def adelete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        await asyncio.to_thread(self.delete, ref_doc_id, **delete_kwargs)

    async def adelete_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None, **delete_kwargs: Any,
    ) -> None:
        await asyncio.to_thread(self.delete_nodes, node_ids, filters, **delete_kwargs)

    async def aget_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None,
    ) -> list[BaseNode]:
        return await asyncio.to_thread(self.get_nodes, node_ids, filters)

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        return await asyncio.to_thread(self.query, query, **kwargs)

    # ------------------------------------------------------------------ internals
    def _weighted(self, alpha: float) -> sbert_rag.Store:
        """The store seen with dense weight ``alpha`` and BM25 weight ``1 - alpha`` (models shared)."""
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha is the dense weight of hybrid search, between 0 and 1; got {alpha!r}")
        fusion = replace(self._store.fusion, dense_weight=float(alpha), bm25_weight=1.0 - float(alpha))
        return sbert_rag.Store(self._store.records, self._store.models, fusion)

    def _check_dims(self, nodes: list[BaseNode]) -> None:
        given = [node for node in nodes if node.embedding is not None]
        if not given:
            return
        manifest = self._store.records.manifest
        dim = int(manifest.dim) if manifest is not None else int(self._store.models.text.dim)
        for node in given:
            if len(node.embedding) != dim:
                raise ValueError(
                    f"node {node.node_id!r} was embedded with {len(node.embedding)} dimensions, but the "
                    f"store at {self.path!r} embeds with {dim} (model {self._store.models.model_name!r}): "
                    f"the index uses another embed model. Build it with "
                    f"VectorStoreIndex.from_vector_store(vs, embed_model=vs.embed_model())"
                )

    def _ids_where(self, where: dict[str, Any]) -> set[str]:
        # Store has no public "ids matching a filter" call yet; IndexStore.ids_where is the one query
        return self._store.records.ids_where("text", where) | self._store.records.ids_where("image", where)

    def _select(self, node_ids: list[str] | None, filters: MetadataFilters | None) -> list[str]:
        where = to_where(filters)
        if node_ids is None and where is None:
            raise ValueError(
                "pass node_ids and/or filters; SbertRagVectorStore never selects every record implicitly"
            )
        if where is None:
            return [str(i) for i in node_ids or []]
        matching = self._ids_where(where)
        return [str(i) for i in node_ids if str(i) in matching] if node_ids is not None else sorted(matching)
