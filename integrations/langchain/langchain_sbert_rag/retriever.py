"""LangChain retriever over an ``sbert_rag.Store``: hybrid (dense + BM25), dense or BM25 search.

Targets langchain-core 1.x (tested with 1.8.3 and langchain-tests 1.1.9). Owns the translation
from LangChain's retriever calls to one ``Store.search`` call and from ``SearchHit`` to
``Document`` (text, provenance metadata, ``Document.id`` = the record id). Deliberately holds no
search, fusion, filter or id logic: the store ranks, validates the query, ``k`` and the mode, and
its errors (``sbert_rag.InvalidInputError``, a ``ValueError``) pass through unchanged.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, PrivateAttr

import sbert_rag

if TYPE_CHECKING:
    from sbert_rag import SearchHit, Store

SEARCH_ARGS = ("k", "mode", "where")
"""Keyword arguments ``invoke`` accepts per call (they override the retriever's fields)."""
MODEL_OPTIONS = ("model", "clip", "device", "dtype", "batch_size", "fusion")
"""Fields passed to ``Store.open`` when set (None = the store's own default)."""


class SbertRagRetriever(BaseRetriever):
    """Retrieve chunks from an sbert_rag store (built by ``sbert-rag index`` or ``sbert_rag.Store``).

    Hybrid search by default: dense cosine and BM25 fused, exact and repeatable. Built from
    keyword arguments alone (a store folder path), or with :meth:`from_store` from an open
    ``sbert_rag.Store``. The store is opened on the first search, once, with the model it
    recorded.

    Each ``Document`` has ``page_content`` = the chunk text, ``id`` = the record id, and metadata:
    the record's own metadata (what ``Store.add_texts`` was given), then ``source`` (the indexed
    file's full path, or the ``source`` the texts were added with), ``file`` (path relative to the
    indexed folder), ``start``/``end`` (character offsets in the file's extracted text), ``page``
    (PDF page, only when known), ``chunk_id`` (the record id), ``score``, ``kind`` (``text`` or
    ``image``) and ``title`` (only when non-empty). These keys overwrite same-named record metadata.

    Example:
        >>> retriever = SbertRagRetriever(store=".sbert_rag", k=4)
        >>> docs = retriever.invoke("how do I stop silent truncation")
        >>> docs[0].metadata["file"], docs[0].metadata["start"], docs[0].metadata["score"]
        >>> retriever.invoke("RFC 5789", k=2, mode="bm25")   # per-call overrides

    Attributes:
        store: the store folder, or a store's URL on a Chroma server (``http://HOST:PORT/NAME``).
        k: chunks returned per query (fewer when the store holds fewer, or BM25 matches fewer).
        mode: ``"hybrid"``, ``"dense"`` or ``"bm25"``; checked by the store at search time.
        where: a Chroma metadata filter (e.g. ``{"file": "notes/a.md"}``); None = every record.
        model: text model to open the store with; None = the one the store recorded.
        clip: CLIP model folder; None = the store's, if any.
        device: torch device for the models; None = the store's default (``"auto"``).
        dtype: compute dtype of the text model; None = the store's default (``"auto"``).
        batch_size: texts per forward pass; None = the store's default.
        fusion: an ``sbert_rag.FusionConfig`` for hybrid mode; None = the tuned defaults.
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    store: str
    k: int = 4
    mode: str = "hybrid"
    where: dict[str, Any] | None = None
    model: str | None = None
    clip: str | None = None
    device: str | None = None
    dtype: str | None = None
    batch_size: int | None = None
    fusion: Any = None

    _store: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    def __init__(self, store: str | Path, **kwargs: Any) -> None:
        """Configure the retriever; the store is opened on the first search.

        Args:
            store: the store folder (it must hold a store).
            **kwargs: the other fields (``k``, ``mode``, ``where``, model options); unknown
                names are refused.
        """
        super().__init__(store=str(store), **kwargs)

    @classmethod
    def from_store(
        cls, store: Store | str | Path, k: int = 4, mode: str = "hybrid", **kwargs: Any
    ) -> SbertRagRetriever:
        """A retriever over an open ``sbert_rag.Store`` (used as is) or a store folder.

        Args:
            store: an open ``Store`` (shared: its models stay loaded) or a store folder.
            k: chunks returned per query.
            mode: ``"hybrid"``, ``"dense"`` or ``"bm25"``.
            **kwargs: ``where``, and for a folder the model options of the class.

        Raises:
            sbert_rag.ConfigError: model options were given with an open ``Store`` (it already
                has its models).
        """
        if isinstance(store, (str, Path)):
            return cls(store=store, k=k, mode=mode, **kwargs)
        options = sorted(set(kwargs) & set(MODEL_OPTIONS))
        if options:
            raise sbert_rag.ConfigError(
                f"model options {options} apply when opening a store folder; this Store is already "
                f"open with its models. Pass its path instead, or drop them"
            )
        retriever = cls(store=store.location, k=k, mode=mode, **kwargs)
        retriever._store = store
        return retriever

    @property
    def sbert_store(self) -> Store:
        """The ``sbert_rag.Store`` searched, opened on first access (thread-safe).

        Raises:
            sbert_rag.ConfigError: the folder holds no store, or a model option differs from
                what the store recorded.
        """
        with self._lock:
            if self._store is None:
                options = {
                    name: getattr(self, name) for name in MODEL_OPTIONS if getattr(self, name) is not None
                }
                self._store = sbert_rag.Store.open(self.store, **options)
            return self._store

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        """Search the store once; ``k``, ``mode`` and ``where`` may be given per call.

        Raises:
            TypeError: an unknown keyword argument.
            sbert_rag.InvalidInputError: the query is blank, ``k`` < 1 or ``mode`` is unknown.
        """
        return self._search(query, kwargs)

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        """Async :meth:`_get_relevant_documents`, run in a worker thread."""
        return await asyncio.to_thread(self._search, query, kwargs)

    def _search(self, query: str, overrides: dict[str, Any]) -> list[Document]:
        unknown = sorted(set(overrides) - set(SEARCH_ARGS))
        if unknown:
            raise TypeError(
                f"unknown search argument(s) {unknown}; SbertRagRetriever takes {list(SEARCH_ARGS)}"
            )
        args = {"k": self.k, "mode": self.mode, "where": self.where, **overrides}
        return [hit_document(hit) for hit in self.sbert_store.search(query, **args)]


def hit_document(hit: SearchHit) -> Document:
    """A ``SearchHit`` as a ``Document`` with the provenance metadata described in the class."""
    meta: dict[str, Any] = {
        **hit.metadata,
        "source": hit.path,
        "file": hit.file,
        "start": hit.start,
        "end": hit.end,
        "chunk_id": hit.id,
        "score": hit.score,
        "kind": hit.kind,
    }
    if hit.page is not None:
        meta["page"] = hit.page
    if hit.title:
        meta["title"] = hit.title
    return Document(page_content=hit.text, metadata=meta, id=hit.id)
