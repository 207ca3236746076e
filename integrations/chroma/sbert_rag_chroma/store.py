"""A Chroma collection with a BM25 sidecar: content-hash upserts and dense, BM25 or hybrid search.

Owns the glue between a Chroma collection (dense vectors, texts, metadata; embedded or over HTTP)
and sbert_rag's ``BM25Index`` and fusion: record ids are content hashes, so adding the same
passage twice stores it once; the BM25 index is rebuilt from the collection's texts when this
store has changed it (or when its size no longer matches) and, given a folder, saved there with
a fingerprint of the ids it covers. Deliberately holds no scoring or fusion arithmetic
(``sbert_rag.retrieval``), no embedding code (the embedding function), and neither the id scheme
nor the sidecar format, which it shares with ``sbert-rag index`` (``sbert_rag.indexing``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection

import sbert_rag
from sbert_rag import BM25Config, BM25Index, FusionConfig, fuse, passage_text
from sbert_rag.indexing import content_id, load_sidecar, read_collection, save_sidecar
from sbert_rag_chroma.collection import open_collection
from sbert_rag_chroma.embedding_function import SbertRagEmbeddingFunction

Mode = Literal["hybrid", "dense", "bm25"]

__all__ = ["ChromaHybridStore", "SearchResult", "content_id"]


@dataclass(frozen=True)
class SearchResult:
    """One hit with its stored text and metadata.

    Attributes:
        id: record id (content hash).
        score: cosine similarity (dense), BM25 score, or fused score (hybrid); higher is better.
        rank: 1-based position.
        source: ``"dense"``, ``"bm25"`` or the fusion method (``"score"``/``"rrf"``).
        text: the stored passage.
        metadata: the stored metadata (``doc_id``, ``chunk_id``, offsets for chunks).
    """

    id: str
    score: float
    rank: int
    source: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


class ChromaHybridStore:
    """A persisted Chroma collection searched densely, lexically (BM25) or both.

    The BM25 sidecar is rebuilt lazily, at the first search after this store added or deleted
    records, or when the collection's size differs from the sidecar's (another client wrote to
    it); after another client replaced records without changing the count, call ``rebuild_bm25``.

    Example:
        >>> store = ChromaHybridStore.open(chromadb.PersistentClient("db"), "docs", bm25_dir="db/docs-bm25")
        >>> store.add_texts(["Paris is the capital of France.", "Bees dance to share directions."])
        >>> store.search("capital of France", k=1)[0].text
        'Paris is the capital of France.'
    """

    def __init__(
        self,
        collection: Collection,
        embedding_function: SbertRagEmbeddingFunction,
        *,
        bm25_dir: str | Path | None = None,
        bm25_config: BM25Config | None = None,
        fusion: FusionConfig | None = None,
    ) -> None:
        """Wrap a collection opened with ``embedding_function`` (prefer :meth:`open`, which checks the model).

        Args:
            collection: the Chroma collection.
            embedding_function: the function that embeds its passages and queries.
            bm25_dir: folder for the BM25 sidecar; None keeps it in memory (rebuilt per process).
            bm25_config: BM25 tokenisation and scoring; None = sbert_rag's defaults.
            fusion: hybrid fusion options; None = sbert_rag's tuned defaults.
        """
        self.collection = collection
        self.embedding_function = embedding_function
        self.bm25_dir = None if bm25_dir is None else Path(bm25_dir)
        self.bm25_config = bm25_config or BM25Config()
        self.fusion = fusion or FusionConfig()
        self._bm25: BM25Index | None = None
        self._dirty = True

    @classmethod
    def open(
        cls,
        client: ClientAPI,
        name: str,
        embedding_function: SbertRagEmbeddingFunction | None = None,
        *,
        bm25_dir: str | Path | None = None,
        bm25_config: BM25Config | None = None,
        fusion: FusionConfig | None = None,
        create: bool = True,
    ) -> ChromaHybridStore:
        """Open (or create) collection ``name``; see :func:`open_collection` for the model check.

        Raises:
            sbert_rag.ConfigError: the collection was embedded with another model (both named).
        """
        ef = embedding_function if embedding_function is not None else SbertRagEmbeddingFunction()
        collection = open_collection(client, name, ef, create=create)
        return cls(collection, ef, bm25_dir=bm25_dir, bm25_config=bm25_config, fusion=fusion)

    def __len__(self) -> int:
        return self.collection.count()

    # ------------------------------------------------------------------ writing
    def add_texts(
        self, texts: Sequence[str], metadatas: Sequence[dict[str, Any] | None] | None = None
    ) -> list[str]:
        """Store passages under their content hash; a passage already stored is not embedded again.

        Args:
            texts: non-blank passages.
            metadatas: one metadata dict (Chroma scalar values) or None per text; replaces the
                stored metadata of passages already present.

        Returns:
            The id of each text, in order (equal texts get equal ids).

        Raises:
            sbert_rag.InvalidInputError: a text is blank or not a string, or the lengths differ.
        """
        texts = list(texts)
        metas = list(metadatas) if metadatas is not None else [None] * len(texts)
        if len(metas) != len(texts):
            raise sbert_rag.InvalidInputError(
                f"got {len(texts)} texts but {len(metas)} metadatas; pass one per text"
            )
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise sbert_rag.InvalidInputError(f"text {i} is empty, blank or not a string: {text!r}")
        return self._upsert([content_id(t) for t in texts], texts, metas)

    def add_chunks(self, chunks: Sequence[sbert_rag.Chunk], *, include_title: bool = True) -> list[str]:
        """Store chunks under the hash of their document id and passage text.

        The stored text is ``passage_text(chunk, include_title)``; the metadata holds ``doc_id``,
        ``chunk_id``, ``start``, ``end``, ``title`` (when set) and the chunk's own metadata.

        Returns:
            The id of each chunk, in order.

        Raises:
            sbert_rag.InvalidInputError: a chunk's passage is blank.
        """
        texts, ids, metas = [], [], []
        for i, chunk in enumerate(chunks):
            text = passage_text(chunk, include_title)
            if not text.strip():
                raise sbert_rag.InvalidInputError(
                    f"chunk {i} ({chunk.chunk_id or chunk.doc_id!r}) has no text"
                )
            meta = {
                "doc_id": chunk.doc_id,
                "chunk_id": chunk.chunk_id,
                "start": chunk.start,
                "end": chunk.end,
            }
            if chunk.title:
                meta["title"] = chunk.title
            texts.append(text)
            ids.append(content_id(text, chunk.doc_id))
            metas.append({**chunk.metadata, **meta})
        return self._upsert(ids, texts, metas)

    def delete(self, ids: Sequence[str]) -> None:
        """Delete records by id (missing ids are ignored, as in Chroma)."""
        if ids:
            self.collection.delete(ids=list(ids))
            self._dirty = True

    def _upsert(self, ids: list[str], texts: list[str], metas: list[dict[str, Any] | None]) -> list[str]:
        first = {rid: i for i, rid in reversed(list(enumerate(ids)))}  # first position of each id
        unique = sorted(first.values())
        present = (
            set(self.collection.get(ids=[ids[i] for i in unique], include=[])["ids"]) if unique else set()
        )
        new = [i for i in unique if ids[i] not in present]
        if new:
            vectors = np.stack(self.embedding_function([texts[i] for i in new]))  # (n_new, dim)
            self.collection.upsert(
                ids=[ids[i] for i in new],
                embeddings=vectors,
                documents=[texts[i] for i in new],
                metadatas=[metas[i] or None for i in new],  # Chroma refuses empty dicts
            )
            self._dirty = True
        update = [i for i in unique if ids[i] in present and metas[i]]
        if update:
            self.collection.update(ids=[ids[i] for i in update], metadatas=[metas[i] for i in update])
        return ids

    # ------------------------------------------------------------------ searching
    def search(self, query: str, k: int = 5, *, mode: Mode = "hybrid") -> list[SearchResult]:
        """Return the best ``k`` passages for ``query``.

        Args:
            query: query text, not blank.
            k: results wanted, >= 1; clamped to the number of records.
            mode: ``"hybrid"`` (dense and BM25 fused by ``self.fusion``), ``"dense"`` or ``"bm25"``.
                BM25 gives no hits for a query none of whose terms is indexed.

        Returns:
            Up to ``k`` results, best first; empty for an empty collection.

        Raises:
            sbert_rag.InvalidInputError: the query is blank, ``k`` < 1, or ``mode`` is unknown.
        """
        if not isinstance(query, str) or not query.strip():
            raise sbert_rag.InvalidInputError(f"query is empty, blank or not a string: {query!r}")
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise sbert_rag.InvalidInputError(f"k must be an integer >= 1; got {k!r}")
        if mode not in ("hybrid", "dense", "bm25"):
            raise sbert_rag.InvalidInputError(f"mode must be 'hybrid', 'dense' or 'bm25'; got {mode!r}")
        n = self.collection.count()
        if n == 0:
            return []
        k = min(k, n)
        depth = min(n, max(k, self.fusion.depth))
        dense = self._dense(query, depth if mode == "hybrid" else k) if mode != "bm25" else []
        lexical = self._lexical(query, depth if mode == "hybrid" else k) if mode != "dense" else []
        hits = fuse(dense, lexical, self.fusion)[:k] if mode == "hybrid" else (dense or lexical)
        if not hits:
            return []
        got = self.collection.get(ids=[h.id for h in hits], include=["documents", "metadatas"])
        stored = {
            rid: (doc, meta)
            for rid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        }
        return [
            SearchResult(
                h.id, float(h.score), r, h.source, stored[h.id][0] or "", dict(stored[h.id][1] or {})
            )
            for r, h in enumerate(hits, start=1)
        ]

    def _dense(self, query: str, k: int) -> list[sbert_rag.Hit]:
        vector = np.stack(self.embedding_function.embed_query([query]))  # (1, dim)
        res = self.collection.query(query_embeddings=vector, n_results=k, include=["distances"])
        hnsw = (self.collection.configuration_json or {}).get("hnsw") or {}
        # Chroma returns distances; turn them into similarities (1 - d is the cosine in "cosine" space)
        as_score = (lambda d: 1.0 - d) if hnsw.get("space", "cosine") == "cosine" else (lambda d: -d)
        return [
            sbert_rag.Hit(rid, as_score(float(d)), r, "dense")
            for r, (rid, d) in enumerate(zip(res["ids"][0], res["distances"][0], strict=True), start=1)
        ]

    def _lexical(self, query: str, k: int) -> list[sbert_rag.Hit]:
        index = self._sidecar()
        return index.search([query], min(k, len(index)), allow_no_match=True)[0]

    # ------------------------------------------------------------------ BM25 sidecar
    def rebuild_bm25(self) -> BM25Index:
        """Rebuild the BM25 sidecar from the collection's texts (and save it when ``bm25_dir`` is set)."""
        rows = read_collection(self.collection, ["documents"])
        index = BM25Index.from_texts(rows.ids, rows.documents, self.bm25_config)
        if self.bm25_dir is not None:
            save_sidecar(index, self.bm25_dir)
        self._bm25, self._dirty = index, False
        return index

    def _sidecar(self) -> BM25Index:
        count = self.collection.count()
        if self._bm25 is not None and not self._dirty and len(self._bm25) == count:
            return self._bm25
        if self.bm25_dir is not None:
            index = load_sidecar(self.bm25_dir, read_collection(self.collection).ids, self.bm25_config)
            if index is not None:
                self._bm25, self._dirty = index, False
                return index
        return self.rebuild_bm25()
