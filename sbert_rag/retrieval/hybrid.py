"""Hybrid retrieval: an encoder, a dense index and a BM25 index, fused at document level.

Owns the in-memory assembly of the one query path (``sources.hybrid_search``): embed the queries,
search both indexes, fold chunk hits into document hits (explicit max or sum), fuse the two
document rankings with explicit weights, cut to ``k``.
Deliberately holds no model code (any ``Encoder`` will do), builds no index on its own beyond the
``build`` convenience, and imports numpy only (``bm25s`` lazily through ``BM25Index``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sbert_rag.errors import InvalidInputError
from sbert_rag.retrieval.bm25 import BM25Config, BM25Index
from sbert_rag.retrieval.dense import DenseIndex, Metric
from sbert_rag.retrieval.fusion import FusionConfig, search_documents
from sbert_rag.retrieval.sources import BM25Source, DenseSource, hybrid_search
from sbert_rag.types import Encoder, Hit

__all__ = ["HybridRetriever", "search_documents"]


class HybridRetriever:
    """Dense + BM25 retrieval fused into one document ranking.

    The two indexes may hold different units (e.g. dense over chunks, BM25 over whole documents):
    ``doc_of`` maps every chunk id to its document id, and ids missing from it are documents.

    Example:
        >>> retriever = HybridRetriever.build(encoder, chunk_ids, passages, doc_of=chunk_to_doc)
        >>> hits = retriever.search(["does x cause y?"], k=10)[0]   # document hits
    """

    def __init__(
        self,
        encoder: Encoder,
        dense: DenseIndex,
        bm25: BM25Index,
        fusion: FusionConfig | None = None,
        doc_of: Mapping[str, str] | None = None,
    ) -> None:
        """Assemble a retriever from built parts.

        Args:
            encoder: embeds queries; must match the vectors in ``dense``.
            dense: dense index of passages.
            bm25: BM25 index of passages or documents.
            fusion: fusion options; ``None`` means the tuned defaults of ``FusionConfig``.
            doc_of: chunk id -> document id; ``None`` means every id is a document.

        Raises:
            InvalidInputError: an index is empty or the encoder's dimension differs from the index's.
        """
        if len(dense) == 0 or len(bm25) == 0:
            raise InvalidInputError("both indexes must hold passages before building a HybridRetriever")
        if encoder.dim != dense.dim:
            raise InvalidInputError(
                f"the encoder makes {encoder.dim}-dim vectors but the dense index holds {dense.dim}-dim ones; "
                f"index with the same encoder"
            )
        self.encoder = encoder
        self.dense = dense
        self.bm25 = bm25
        self.fusion = fusion or FusionConfig()
        self.doc_of = dict(doc_of or {})
        docs = {self.doc_of.get(i, i) for i in dense.ids} | {self.doc_of.get(i, i) for i in bm25.ids}
        self.n_documents = len(docs)

    @classmethod
    def build(
        cls,
        encoder: Encoder,
        ids: Sequence[str],
        passages: Sequence[str],
        *,
        doc_of: Mapping[str, str] | None = None,
        fusion: FusionConfig | None = None,
        bm25_config: BM25Config | None = None,
        metric: Metric | str = Metric.COSINE,
    ) -> HybridRetriever:
        """Embed and index ``passages`` in both indexes.

        Args:
            encoder: embeds passages and, later, queries.
            ids: passage (chunk) ids, unique.
            passages: texts to index, e.g. ``Chunker.passage_text`` of each chunk.
            doc_of: chunk id -> document id, e.g. ``{c.chunk_id: c.doc_id for c in chunks}``.
            fusion: fusion options.
            bm25_config: BM25 tokenisation and scoring options.
            metric: dense similarity.

        Returns:
            A ready retriever.

        Raises:
            InvalidInputError: as ``DenseIndex.add`` and ``BM25Index.index``.
        """
        bm25 = BM25Index.from_texts(ids, passages, bm25_config)
        dense = DenseIndex(encoder.dim, metric)
        dense.add(ids, encoder.encode_passages(list(passages)))
        return cls(encoder, dense, bm25, fusion, doc_of)

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        """Return the top ``k`` documents per query.

        A query with no term known to BM25 is ranked by its dense side alone.

        Args:
            queries: query texts, not blank.
            k: documents per query, 1 <= k <= number of documents.

        Returns:
            One list per query of at most ``k`` document hits, best first, ``source="hybrid"``.

        Raises:
            InvalidInputError: ``k`` is out of range or a query is blank.
        """
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= self.n_documents:
            raise InvalidInputError(
                f"k must be an integer in [1, {self.n_documents}] (documents indexed); got {k!r}"
            )
        return hybrid_search(
            DenseSource(self.encoder, self.dense), BM25Source(self.bm25), list(queries), k, self.fusion, self.doc_of
        )
