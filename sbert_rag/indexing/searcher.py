"""Searching a store: dense, BM25 or hybrid over the chunks, plus images through CLIP's text tower.

Owns one query against a store, through the one search path (``retrieval.sources.hybrid_search``).
Chunks are ranked densely (exact: the memory-mapped dense sidecar, every vector scored),
lexically (the BM25 sidecar) or both, fused with ``FusionConfig`` (min-max score fusion 0.5/0.5
by default). A sidecar that does not cover the stored records (an index run is going, or one
was killed) is rebuilt in memory; a search never writes. When the store holds images, a dense
or hybrid query also ranks them with CLIP's text tower, and the chunk and image rankings are
merged on one scale by ``score_fusion`` (each scaled to [0, 1]; the two lists hold different
items). Models run outside the store's access lock. Deliberately prints nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sbert_rag.errors import InvalidInputError
from sbert_rag.indexing.models import StoreModels
from sbert_rag.indexing.store import IndexStore
from sbert_rag.retrieval.fusion import FusionConfig, score_fusion
from sbert_rag.retrieval.sources import BM25Source, DenseSource, Source, hybrid_search
from sbert_rag.types import FloatMatrix, Hit

MODES = ("hybrid", "dense", "bm25")
SNIPPET_CHARS = 160


@dataclass(frozen=True)
class SearchHit:
    """One result.

    Attributes:
        rank: 1-based position.
        score: cosine (dense), BM25 score, fused score in [0, 1] (hybrid), or each ranking's
            score scaled to [0, 1] when chunks and images are merged; only comparable within
            one result list.
        kind: ``"text"`` or ``"image"``.
        file: path relative to the indexed folder.
        start: character offset of the chunk in the file's extracted text (0 for images).
        end: one past its last character (0 for images).
        text: the chunk's text (an image's path).
        title: the document title prepended to the chunk when it was embedded ("" if none).
        page: PDF page of the chunk's start (1-based), or None.
        id: the record id.
        source: which ranking produced the score (``dense``, ``bm25``, ``hybrid``, ``score``
            when text and image hits were merged).
        metadata: the record's other metadata (what ``Store.add_texts`` was given).
        path: where the record came from: the indexed file's full path (the store's folder
            joined with ``file``), or ``file`` itself for texts added without a folder.
    """

    rank: int
    score: float
    kind: str
    file: str
    start: int
    end: int
    text: str
    title: str = ""
    page: int | None = None
    id: str = ""
    source: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    path: str = ""

    @property
    def snippet(self) -> str:
        """The text on one line, cut to about 160 characters."""
        line = " ".join(self.text.split())
        return line if len(line) <= SNIPPET_CHARS else line[:SNIPPET_CHARS - 1].rstrip() + "\u2026"

    def to_dict(self) -> dict[str, object]:
        """JSON-plain form, with ``snippet``."""
        return {**asdict(self), "snippet": self.snippet}


def search_store(
    store: IndexStore, models: StoreModels, query: str, k: int = 10, mode: str = "hybrid",
    fusion: FusionConfig | None = None, where: Mapping[str, Any] | None = None,
) -> list[SearchHit]:
    """Search a store.

    Args:
        store: an opened store.
        models: its models (the text model loads for ``dense`` and ``hybrid``, CLIP when images
            are stored).
        query: the query text, not blank.
        k: results wanted, >= 1; fewer when the store holds fewer (or BM25 matches fewer).
        mode: ``"hybrid"``, ``"dense"`` or ``"bm25"`` (chunks only: images have no words).
        fusion: chunk-level fusion of the hybrid mode; None = the tuned defaults.
        where: a Chroma metadata filter; None = every record.

    Returns:
        Up to ``k`` hits, best first; empty for an empty store.

    Raises:
        InvalidInputError: the query is blank, ``k`` < 1, or ``mode`` is unknown.
    """
    ranked, snapshot = _rank(store, models, [query], k, mode, fusion, where)
    hits = ranked[0]
    return fetch_hits(store, [h.id for h in hits], hits, snapshot)


def rank_store(
    store: IndexStore, models: StoreModels, queries: Sequence[str], k: int = 10, mode: str = "hybrid",
    fusion: FusionConfig | None = None, where: Mapping[str, Any] | None = None, by: str = "chunk",
) -> list[list[Hit]]:
    """Ranked record ids (or files) for many queries at once: what ``search_store`` ranks.

    Args:
        store, models, k, mode, fusion, where: as for ``search_store``; every query is checked.
        queries: query texts.
        by: ``"chunk"`` (hits are record ids; chunks and images merged) or ``"file"`` (hits are
            the records' ``file`` values, each file scored by its best chunk in each ranking
            before fusion, as whole documents are; text only).

    Returns:
        One list of at most ``k`` hits per query, best first.
    """
    return _rank(store, models, queries, k, mode, fusion, where, by)[0]


def _rank(
    store: IndexStore, models: StoreModels, queries: Sequence[str], k: int, mode: str,
    fusion: FusionConfig | None, where: Mapping[str, Any] | None, by: str = "chunk",
) -> tuple[list[list[Hit]], dict[str, str]]:
    """``rank_store``, and the fingerprint of each kind's ranked records when they came from
    sidecars (``fetch_hits`` then reads their texts from the same moment)."""
    queries = list(queries)
    for query in queries:
        check_query(query, k, mode)
    if by not in ("chunk", "file"):
        raise InvalidInputError(f"by must be 'chunk' or 'file'; got {by!r}")
    fusion = fusion or FusionConfig()
    with store.session():
        text = store.indexes("text", save=False, bm25=mode != "dense", dense=mode != "bm25")
        images = (store.indexes("image", save=False, bm25=False)
                  if models.has_clip and mode != "bm25" and by == "chunk" else None)
        allowed = {kind: store.ids_where(kind, where) for kind in ("text", "image")} if where else {}
        doc_of = _files_of(store) if by == "file" else None
    snapshot = {kind: found.fingerprint for kind, found in (("text", text), ("image", images))
                if found is not None and found.fingerprint is not None}
    # models run outside the store's access lock, so an index run is held up only by Chroma calls
    dense = _filtered(DenseSource(models.text, text.dense), allowed.get("text")) if text.dense else None
    lexical = _filtered(BM25Source(text.bm25), allowed.get("text")) if text.bm25 else None
    texts = hybrid_search(dense, lexical, queries, k, fusion, doc_of) if dense or lexical else [[] for _ in queries]
    if images is None or images.dense is None:
        return texts, snapshot
    source = _filtered(DenseSource(_CLIPTexts(models.clip), images.dense), allowed.get("image"))
    pictures = source.search(queries, min(k, len(source))) if len(source) else [[] for _ in queries]
    return [score_fusion([t, p])[:k] if t and p else t or p for t, p in zip(texts, pictures)], snapshot


def _files_of(store: IndexStore) -> dict[str, str]:
    rows = store.read("text", ["metadatas"])
    return {rid: str(meta.get("file", rid)) for rid, meta in zip(rows.ids, rows.metadatas)}


def search_images(store: IndexStore, models: StoreModels, image: Any, k: int) -> list[SearchHit]:
    """The ``k`` stored images nearest to ``image`` by CLIP cosine (exact)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidInputError(f"k must be an integer >= 1; got {k!r}")
    with store.session():
        images = store.indexes("image", save=False, bm25=False)
    if images.dense is None:
        return []
    vector = models.clip.encode_images([image])  # (1, dim)
    hits = images.dense.search(vector, min(k, len(images.dense)))[0]
    snapshot = {"image": images.fingerprint} if images.fingerprint is not None else None
    return fetch_hits(store, [h.id for h in hits], hits, snapshot)


def check_query(query: object, k: object, mode: object) -> None:
    """Refuse a blank query, ``k`` < 1 or an unknown mode, naming the value and what is allowed.

    Raises:
        InvalidInputError: as above.
    """
    if not isinstance(query, str) or not query.strip():
        raise InvalidInputError(f"the query is empty or blank: {query!r}; pass some words to search for")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidInputError(f"k must be an integer >= 1; got {k!r}")
    if mode not in MODES:
        raise InvalidInputError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")


class _CLIPTexts:
    """CLIP's text tower seen as the query side of an ``Encoder`` (images are the passages)."""

    def __init__(self, clip: Any) -> None:
        self.clip = clip
        self.dim = int(clip.dim)

    def encode_queries(self, texts: Sequence[str]) -> FloatMatrix:
        return self.clip.encode_texts(list(texts))

    def encode_passages(self, texts: Sequence[str]) -> FloatMatrix:  # pragma: no cover - protocol only
        raise InvalidInputError("images are embedded with CLIPEncoder.encode_images, not as text passages")


class _Filtered:
    """A source restricted to ``allowed`` ids: searched deeper until ``n`` allowed hits or the end."""

    def __init__(self, inner: Source, allowed: set[str]) -> None:
        self.inner = inner
        self.allowed = allowed

    def __len__(self) -> int:
        return min(len(self.inner), len(self.allowed))

    def search(self, queries: Sequence[str], n: int) -> list[list[Hit]]:
        size = len(self.inner)
        depth = min(size, max(n, 1) * 4)
        while True:
            raw = self.inner.search(queries, depth)
            kept = [[h for h in hits if h.id in self.allowed][:n] for hits in raw]
            if depth >= size or all(len(k) >= n or len(h) < depth for k, h in zip(kept, raw)):
                return kept
            depth = min(size, depth * 4)


def _filtered(source: Source, allowed: set[str] | None) -> Source:
    return source if allowed is None else _Filtered(source, allowed)


def fetch_hits(
    store: IndexStore, ids: list[str], ranked: Sequence[Hit] | None = None, snapshot: Mapping[str, str] | None = None,
) -> list[SearchHit]:
    """Attach stored text and metadata to ranked ids; ids no longer stored are dropped.

    Args:
        store: the store.
        ids: record ids (text or image), best first.
        ranked: their hits (scores and sources); None = stored records looked up by id (score 0).
        snapshot: per kind, the fingerprint the ranking's sidecars carried: their records
            table is read without checking again whether the store is at rest.
    """
    snapshot = snapshot or {}
    stored: dict[str, tuple[str, dict[str, Any]]] = {}
    for kind in ("text", "image"):
        wanted = [i for i in ids if i not in stored]
        table = None
        if wanted:
            table = store.records_at(kind, snapshot[kind]) if kind in snapshot else store.records_at_rest(kind)
        if table is not None:
            stored.update(table.fetch(wanted))
        elif wanted:
            with store.session():
                stored.update(store.fetch(kind, wanted))
    root = store.manifest.root if store.manifest is not None else ""
    out: list[SearchHit] = []
    for i, rid in enumerate(ids):
        if rid not in stored:
            continue
        text, meta = stored[rid]
        hit = ranked[i] if ranked is not None else Hit(rid, 0.0)
        page = meta.pop("page", None)
        own = {key: meta.pop(key) for key in _OWN_KEYS if key in meta}
        file = str(own.get("file", ""))
        path = str(Path(root) / file) if root and file and "file_hash" in own else file
        out.append(SearchHit(
            rank=len(out) + 1, score=float(hit.score), kind=str(own.get("kind", "text")),
            file=file, start=int(own.get("start", 0)), end=int(own.get("end", 0)),
            text=text, title=str(own.get("title", "")), page=int(page) if page is not None else None,
            id=rid, source=hit.source, metadata=meta, path=path,
        ))
    return out


_OWN_KEYS = ("file", "file_hash", "kind", "format", "start", "end", "chunk", "chunks", "title")
