"""Ranked sources and the one hybrid path: any ranking of string ids, fused at one level.

Owns the ``Source`` protocol (``search(queries, n) -> hits per query`` plus ``len``), the two
sources every front end uses (``DenseSource``: exact dense search of query texts through an
``Encoder``; ``BM25Source``), and ``hybrid_search``: rank with each source deep enough to have
``depth`` documents, fold chunk hits into document hits, fuse the rankings under one
``FusionConfig``, cut to ``k``. The in-memory retriever, ``sbert-rag eval retrieval`` and the
persistent store all search through ``hybrid_search``, so a figure measured on one is what the
others give. Deliberately holds no index and no model code, and imports numpy only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from sbert_rag.retrieval.bm25 import BM25Index
from sbert_rag.retrieval.dense import DenseIndex
from sbert_rag.retrieval.fusion import FusionConfig, fuse, search_documents
from sbert_rag.types import Encoder, FloatMatrix, Hit


@runtime_checkable
class Source(Protocol):
    """A ranking of ids for query texts (dense, BM25, a vector database, ...)."""

    def __len__(self) -> int:
        """Number of ids the source can return (the widest search)."""
        ...

    def search(self, queries: Sequence[str], n: int) -> list[list[Hit]]:
        """Top ``n`` hits per query (1 <= n <= len), best first; fewer when fewer match."""
        ...


class DenseSource:
    """Exact dense search of query texts: the encoder embeds them, the index scores every row.

    Query vectors are embedded once per query list and reused when ``hybrid_search`` widens
    the search, so a deeper search costs no second forward pass.
    """

    def __init__(self, encoder: Encoder, index: DenseIndex, vectors: FloatMatrix | None = None) -> None:
        """Args:
            encoder: embeds queries; its vectors must match the index's.
            index: the passage vectors.
            vectors: the query vectors already embedded (for the queries of the next search).
        """
        self.encoder = encoder
        self.index = index
        self._cached: tuple[tuple[str, ...], FloatMatrix] | None = None
        self._given = vectors

    def __len__(self) -> int:
        return len(self.index)

    def embed(self, queries: Sequence[str]) -> FloatMatrix:
        """The query vectors, float32 (len(queries), dim), embedded once per query list."""
        key = tuple(queries)
        if self._given is not None:
            self._cached, self._given = (key, self._given), None
        if self._cached is None or self._cached[0] != key:
            self._cached = (key, self.encoder.encode_queries(list(queries)))
        return self._cached[1]

    def search(self, queries: Sequence[str], n: int) -> list[list[Hit]]:
        """Exact top ``n`` rows per query by the index's metric."""
        if not len(self.index):
            return [[] for _ in queries]
        return self.index.search(self.embed(queries), min(n, len(self.index)))


class BM25Source:
    """BM25 over a ``BM25Index``; a query sharing no term with the index gets no hits."""

    def __init__(self, index: BM25Index) -> None:
        """Args:
            index: a built BM25 index.
        """
        self.index = index

    def __len__(self) -> int:
        return len(self.index)

    def search(self, queries: Sequence[str], n: int) -> list[list[Hit]]:
        """Top ``n`` BM25 hits per query."""
        if not len(self.index):
            return [[] for _ in queries]
        return self.index.search(list(queries), min(n, len(self.index)), allow_no_match=True)


class RankedLists:
    """Rankings computed earlier, one list per query, replayed as a source (e.g. to try fusions)."""

    def __init__(self, rankings: Sequence[Sequence[Hit]]) -> None:
        """Args:
            rankings: one hit list per query, best first, in the order queries will be given.
        """
        self.rankings = [list(r) for r in rankings]
        self.size = max((len(r) for r in self.rankings), default=0)

    def __len__(self) -> int:
        return self.size

    def search(self, queries: Sequence[str], n: int) -> list[list[Hit]]:
        """The stored lists cut to ``n`` (queries are matched by position)."""
        return [hits[:n] for hits in self.rankings[:len(queries)]]


def hybrid_search(
    dense: Source | None,
    lexical: Source | None,
    queries: Sequence[str],
    k: int,
    fusion: FusionConfig | None = None,
    doc_of: Mapping[str, str] | None = None,
) -> list[list[Hit]]:
    """The one search path: each source ranked, chunk hits folded into documents, fused, cut to ``k``.

    With one source missing (None), its ranking is empty and the other one's order stands
    (``source`` is then ``"dense"`` or ``"bm25"``); with both, each is searched for
    ``max(k, fusion.depth)`` documents and fused by ``fuse`` (``source`` is ``"hybrid"``).

    Args:
        dense: a dense source, or None (BM25 only).
        lexical: a BM25 source, or None (dense only).
        queries: query texts (validated by the caller).
        k: documents (or chunks, without ``doc_of``) per query, >= 1.
        fusion: fusion options; None = the tuned defaults of ``FusionConfig``.
        doc_of: chunk id -> document id for the chunk -> document aggregation; None or empty
            means every id is a document (no aggregation).

    Returns:
        One list per query of at most ``k`` hits, best first.
    """
    fusion = fusion or FusionConfig()
    doc_of = doc_of or {}
    both = dense is not None and lexical is not None
    depth = max(k, fusion.depth) if both else k
    rankings = [
        search_documents(lambda n, s=source: s.search(queries, n), len(source), depth, doc_of, fusion.aggregation)
        if source is not None and len(source) else [[] for _ in queries]
        for source in (dense, lexical)
    ]
    if not both:
        return [d or b for d, b in zip(*rankings)]
    return [
        [Hit(h.id, h.score, h.rank, "hybrid") for h in fuse(d, b, fusion)[:k]]
        for d, b in zip(*rankings)
    ]
