"""LangChain ``VectorStore`` over an ``sbert_rag.Store``: the store embeds, ranks and persists.

Targets langchain-core 1.x (tested with 1.8.3 and langchain-tests 1.1.9, whose
``VectorStoreIntegrationTests`` it passes). Owns the translation of LangChain's vector-store calls
to ``Store.add_texts``/``delete``/``get``/``search`` and of ``SearchHit`` to ``Document``.
Deliberately holds no embedding, search, filter or id logic: the store embeds texts with the
model it recorded (an ``Embeddings`` object cannot replace it), ``similarity_search`` is the
store's exact dense search, and ``as_retriever`` gives an ``SbertRagRetriever`` (hybrid by default)
over the same open store. Searching by a raw vector is not offered (``Store`` has no such call).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

import sbert_rag
from langchain_sbert_rag.embeddings import SbertRagEmbeddings
from langchain_sbert_rag.retriever import SbertRagRetriever

if TYPE_CHECKING:
    from sbert_rag import FusionConfig, SearchHit, Store

SIMILARITY_MODE = "dense"
"""The store mode behind ``similarity_search``: LangChain's similarity is embedding similarity."""


class SbertRagVectorStore(VectorStore):
    """An sbert_rag store as a LangChain vector store (persistent, exact cosine search).

    Texts are embedded as passages and queries as queries by the store's own model (the packaged
    all-MiniLM-L6-v2 unless the store was built with another), and indexed for BM25 too, so
    ``as_retriever()`` searches hybrid by default. A folder built by ``sbert-rag index`` opens as
    is; ``similarity_search`` then returns its chunks with ``source`` set to the file path.

    Documents round-trip: ``page_content``, ``metadata`` (values str, int, float or bool; None
    values are not stored) and ``id``. The store's own metadata keys (``file``, ``kind``,
    ``start``, ``end``, ``title``, ``page``, ...; ``sbert_rag.indexing.engine.RESERVED_KEYS``)
    are refused in metadata; rename them first.

    With a CLIP model the store also holds images, and a dense search ranks them too; text and
    image scores are then each scaled to [0, 1] before they are merged, so scores are no longer
    cosines.

    Example:
        >>> store = SbertRagVectorStore("my-store")              # created on first write
        >>> store.add_documents([Document(page_content="Paris is the capital of France.")])
        >>> store.similarity_search_with_score("capital of France?", k=1)
        >>> store.as_retriever(search_kwargs={"k": 4}).invoke("capital of France?")   # hybrid
    """

    def __init__(
        self,
        store: Store | str | Path,
        *,
        create: bool = True,
        embedding: Embeddings | None = None,
        model: str | None = None,
        clip: str | None = None,
        device: str | None = None,
        dtype: str | None = None,
        batch_size: int | None = None,
        fusion: FusionConfig | None = None,
    ) -> None:
        """Open (or, with ``create``, prepare) a store folder, or wrap an open ``Store``.

        Args:
            store: a store folder, or an open ``sbert_rag.Store`` (used as is, shared).
            create: allow a folder that holds no store yet (it is created, and the store is
                written by the first ``add_texts``); False = the folder must hold a store.
            embedding: None, or a text-model ``SbertRagEmbeddings`` naming the model of a new
                store (its ``model_path``, or its encoder's folder; the packaged default when it
                names none). Accepted because LangChain's ``from_texts``/``from_documents`` pass
                one; the store loads that model itself, with the settings saved in its folder, and
                always embeds with the model it recorded.
            model: text model folder, Hub id or ``packaged:all-MiniLM-L6-v2``; None = the one the
                store recorded (for a new store, the embedding's model or the packaged default).
            clip: CLIP model folder (``CLIPEncoder.save``); None = the store's, if any.
            device: torch device; None = the store's default (``"auto"``).
            dtype: text model compute dtype; None = the store's default (``"auto"``).
            batch_size: texts per forward pass; None = the store's default.
            fusion: hybrid fusion options for ``as_retriever``; None = the tuned defaults.

        Raises:
            sbert_rag.ConfigError: ``embedding`` is another kind of ``Embeddings`` (the store
                cannot use its vectors) or names another model than ``model``; options were
                given with an open ``Store``; the folder holds no store and ``create`` is False;
                or a model differs from the one the store recorded.
        """
        model = _embedding_model(embedding, model)
        options = {
            name: value
            for name, value in {
                "model": model,
                "clip": clip,
                "device": device,
                "dtype": dtype,
                "batch_size": batch_size,
                "fusion": fusion,
            }.items()
            if value is not None
        }
        if isinstance(store, (str, Path)):
            if create:
                # an empty folder is a valid empty store: searches return nothing until a write
                Path(store).expanduser().mkdir(parents=True, exist_ok=True)
            self._store = sbert_rag.Store.open(store, create=create, **options)
        elif options:
            raise sbert_rag.ConfigError(
                f"options {sorted(options)} apply when opening a store folder; this Store is already "
                f"open with its models. Pass its path instead, or drop them"
            )
        else:
            self._store = store
        self._embeddings: SbertRagEmbeddings | None = None

    @property
    def store(self) -> Store:
        """The ``sbert_rag.Store`` behind this vector store."""
        return self._store

    @property
    def embeddings(self) -> SbertRagEmbeddings:
        """``SbertRagEmbeddings`` over the store's text model (loaded on first access, then kept)."""
        if self._embeddings is None:
            self._embeddings = SbertRagEmbeddings(self._store.models.text)
        return self._embeddings

    # ------------------------------------------------------------------ writing
    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Embed and store texts, one record each (the caller chunks); a stored id is overwritten.

        Args:
            texts: non-blank texts.
            metadatas: one dict per text of str, int, float or bool values (None values are not
                stored), or None.
            ids: one id per text; an entry None (``add_documents`` passes ``Document.id``, which may
                be None) or ``ids`` None = the store's content id (the same text twice is stored once).

        Returns:
            The ids, in order.

        Raises:
            TypeError: an unknown keyword argument.
            sbert_rag.InvalidInputError: a text is blank; lengths differ; an id is empty or
                repeats; a metadata key is one of the store's own, or a value is not a scalar
                (a list, dict or object is refused, not dropped).
            sbert_rag.StoreLockedError: another process is writing the store.
        """
        _no_extra(kwargs, "add_texts")
        texts = list(texts)
        ids = list(ids) if ids is not None else None
        lengths_differ = (
            ids is not None
            and len(ids) != len(texts)
            or (metadatas is not None and len(metadatas) != len(texts))
        )
        if ids is None or None not in ids or lengths_differ:
            return self._store.add_texts(texts, metadatas, ids)  # the store checks every input
        # some ids given, some not: the store's content ids for the others, in a second write
        metas = list(metadatas) if metadatas is not None else [None] * len(texts)
        given = [i for i, rid in enumerate(ids) if rid is not None]
        missing = [i for i, rid in enumerate(ids) if rid is None]
        out: list[str] = list(ids)
        content = self._store.add_texts([texts[i] for i in missing], [metas[i] for i in missing])
        for i, rid in zip(missing, content, strict=True):
            out[i] = rid
        self._store.add_texts([texts[i] for i in given], [metas[i] for i in given], [ids[i] for i in given])
        return out

    async def aadd_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Async :meth:`add_texts`, run in a worker thread."""
        return await asyncio.to_thread(self.add_texts, list(texts), metadatas, ids=ids, **kwargs)

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        """Delete records by id; ids not stored are ignored.

        Returns:
            True.

        Raises:
            ValueError: ``ids`` is None: deleting everything is not supported (as in
                langchain-chroma); delete the store folder instead.
            TypeError: an unknown keyword argument.
            sbert_rag.StoreLockedError: another process is writing the store.
        """
        _no_extra(kwargs, "delete")
        if ids is None:
            raise ValueError(
                "delete() needs the ids to delete; deleting every record is not supported. "
                "Delete the store folder to start over"
            )
        self._store.delete(list(ids))
        return True

    async def adelete(self, ids: list[str] | None = None, **kwargs: Any) -> bool:
        """Async :meth:`delete`, run in a worker thread."""
        return await asyncio.to_thread(self.delete, ids, **kwargs)

    # ------------------------------------------------------------------ reading
    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Stored documents by id, in the order given; unknown ids are left out."""
        return [_document(hit) for hit in self._store.get(list(ids))]

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Async :meth:`get_by_ids`, run in a worker thread."""
        return await asyncio.to_thread(self.get_by_ids, ids)

    def similarity_search(
        self, query: str, k: int = 4, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[Document]:
        """The ``k`` documents nearest to ``query`` by cosine (exact dense search).

        Args:
            query: the query text, not blank.
            k: documents wanted, >= 1; fewer when the store holds fewer.
            filter: a Chroma metadata filter (e.g. ``{"topic": "bees"}``); None = every record.

        Raises:
            TypeError: an unknown keyword argument.
            sbert_rag.InvalidInputError: the query is blank or ``k`` < 1.
        """
        return [doc for doc, _ in self.similarity_search_with_score(query, k, filter, **kwargs)]

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Like :meth:`similarity_search`, with each document's cosine similarity (higher is closer)."""
        _no_extra(kwargs, "similarity_search")
        hits = self._store.search(query, k=k, mode=SIMILARITY_MODE, where=filter)
        return [(_document(hit), hit.score) for hit in hits]

    async def asimilarity_search(
        self, query: str, k: int = 4, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[Document]:
        """Async :meth:`similarity_search`, run in a worker thread."""
        return await asyncio.to_thread(self.similarity_search, query, k, filter, **kwargs)

    async def asimilarity_search_with_score(
        self, query: str, k: int = 4, filter: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Async :meth:`similarity_search_with_score`, run in a worker thread."""
        return await asyncio.to_thread(self.similarity_search_with_score, query, k, filter, **kwargs)

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, **kwargs: Any
    ) -> list[Document]:
        """Not supported: the store searches by query text only.

        Raises:
            NotImplementedError: always; use :meth:`similarity_search` with the query text.
        """
        raise NotImplementedError(
            "SbertRagVectorStore searches by query text (embedded by the store's own model with its "
            "query prompt); sbert_rag.Store offers no search by a raw vector. Use similarity_search(query)"
        )

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        """Cosine in [-1, 1] -> relevance in [0, 1]: ``(cosine + 1) / 2``, clipped against rounding."""
        return _cosine_relevance

    def as_retriever(self, **kwargs: Any) -> SbertRagRetriever:  # type: ignore[override]
        """An ``SbertRagRetriever`` over this same open store, hybrid by default.

        Args:
            **kwargs: ``search_kwargs`` (``k``, ``mode``, ``where`` or its LangChain name
                ``filter``), ``search_type`` (``"similarity"`` = ``mode="dense"``, or a mode name),
                ``tags`` and ``metadata`` (LangChain tracing).

        Raises:
            ValueError: an unsupported ``search_type`` (``mmr``, ``similarity_score_threshold``) or
                search argument, or ``where`` and ``filter`` both given.
        """
        search = dict(kwargs.pop("search_kwargs", None) or {})
        search_type = kwargs.pop("search_type", None)
        extra = sorted(set(kwargs) - {"tags", "metadata"})
        unknown = sorted(set(search) - {"k", "mode", "where", "filter"})
        if extra or unknown:
            raise ValueError(
                f"unsupported as_retriever argument(s) {extra + unknown}; pass search_kwargs with k, mode, "
                f"where (or filter), and optionally search_type, tags, metadata"
            )
        if "filter" in search:
            if "where" in search:
                raise ValueError("pass the metadata filter as search_kwargs 'where' or 'filter', not both")
            search["where"] = search.pop("filter")
        if search_type is not None:
            if search_type not in ("similarity", "hybrid", "dense", "bm25"):
                raise ValueError(
                    f"search_type {search_type!r} is not supported; use 'similarity' (dense), 'hybrid', "
                    f"'dense' or 'bm25' (the default is hybrid)"
                )
            search.setdefault("mode", SIMILARITY_MODE if search_type == "similarity" else search_type)
        tags = kwargs.pop("tags", None) or [type(self).__name__]
        return SbertRagRetriever.from_store(self._store, tags=tags, **search, **kwargs)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings | None = None,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        store_path: str | Path | None = None,
        **kwargs: Any,
    ) -> SbertRagVectorStore:
        """A store holding ``texts``.

        Args:
            texts: non-blank texts (one record each).
            embedding: None or an ``SbertRagEmbeddings`` built by path (see ``__init__``).
            metadatas: one dict of scalar values per text, or None.
            ids: one id per text, or None (content ids).
            store_path: the store folder (an existing store is added to); None = a new temporary
                folder (``tempfile.mkdtemp``), which is NOT deleted afterwards: remove
                ``vectorstore.store.path`` when done.
            **kwargs: the options of ``__init__`` (``model``, ``device``, ...).
        """
        folder = store_path if store_path is not None else tempfile.mkdtemp(prefix="sbert-rag-langchain-")
        vectorstore = cls(folder, create=True, embedding=embedding, **kwargs)
        vectorstore.add_texts(texts, metadatas, ids=ids)
        return vectorstore


def _document(hit: SearchHit) -> Document:
    """The record as it was added; chunks indexed from files also get ``source`` (their path)."""
    meta = dict(hit.metadata)
    if hit.path and "source" not in meta:
        meta["source"] = hit.path
    return Document(page_content=hit.text, metadata=meta, id=hit.id)


def _cosine_relevance(cosine: float) -> float:
    return min(1.0, max(0.0, (cosine + 1.0) / 2.0))


def _no_extra(kwargs: dict[str, Any], method: str) -> None:
    if kwargs:
        raise TypeError(f"SbertRagVectorStore.{method} got unknown keyword argument(s) {sorted(kwargs)}")


def _embedding_model(embedding: Embeddings | None, model: str | None) -> str | None:
    """The model a new store gets from ``embedding``, checked against ``model``."""
    if embedding is None:
        return model
    if not isinstance(embedding, SbertRagEmbeddings) or embedding.has_clip:
        raise sbert_rag.ConfigError(
            f"SbertRagVectorStore embeds with its store's own text model, so it cannot use the vectors of "
            f"{type(embedding).__name__}{' with CLIP' if isinstance(embedding, SbertRagEmbeddings) else ''}; "
            f"pass embedding=None (and model='folder' for another model), or an SbertRagEmbeddings text model"
        )
    # the model by name: its path, the loaded encoder's name (folder or packaged), or None = packaged
    loaded = embedding._encoder
    named = embedding.model_path or (getattr(loaded, "model_name", None) if loaded is not None else None)
    if loaded is not None and named is None:
        raise sbert_rag.ConfigError(
            f"cannot tell which model folder the embedding's {type(loaded).__name__} was loaded from; "
            f"pass model='folder' (or SbertRagEmbeddings(model_path='folder')) instead"
        )
    if model is not None and named is not None and model != named:
        raise sbert_rag.ConfigError(f"model={model!r} and the embedding's model {named!r} differ; pass one")
    return model if model is not None else named
