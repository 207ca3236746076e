"""Searching a store: dense, BM25 or hybrid over the chunks, plus images through CLIP's text tower.

Owns one query against a store. Chunks are ranked densely (Chroma, cosine), lexically (the BM25
sidecar, rebuilt in memory when it does not cover the stored chunks, e.g. while an index run is
going or after one was killed; a search never writes records or the sidecar) or both, fused with
``FusionConfig`` (min-max score fusion 0.5/0.5 by default). When the store holds images, a
dense or hybrid query also ranks them with CLIP's text tower, and the chunk and image rankings
are merged by ``best_rank_fusion`` (the two lists hold different items). Queries are embedded
outside the store's access lock. Deliberately prints nothing (``sbert_rag.commands.search``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sbert_rag.errors import InvalidInputError
from sbert_rag.indexing.models import StoreModels
from sbert_rag.indexing.store import IndexStore
from sbert_rag.retrieval.fusion import FusionConfig, best_rank_fusion, fuse
from sbert_rag.types import FloatMatrix, Hit

MODES = ("hybrid", "dense", "bm25")
SNIPPET_CHARS = 160


@dataclass(frozen=True)
class SearchHit:
    """One result.

    Attributes:
        rank: 1-based position.
        score: cosine (dense), BM25 score, fused score (hybrid) or best reciprocal rank (when
            chunks and images are merged); only comparable within one result list.
        kind: ``"text"`` or ``"image"``.
        file: path relative to the indexed folder.
        start: character offset of the chunk in the file's extracted text (0 for images).
        end: one past its last character (0 for images).
        text: the chunk's text (an image's path).
        title: the document title prepended to the chunk when it was embedded ("" if none).
        page: PDF page of the chunk's start (1-based), or None.
        id: the record id.
        source: which ranking produced the score (``dense``, ``bm25``, ``score``, ``rrf``).
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
    fusion: FusionConfig | None = None,
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

    Returns:
        Up to ``k`` hits, best first; empty for an empty store.

    Raises:
        InvalidInputError: the query is blank, ``k`` < 1, or ``mode`` is unknown.
    """
    if not isinstance(query, str) or not query.strip():
        raise InvalidInputError(f"the query is empty or blank: {query!r}; pass some words to search for")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidInputError(f"k must be an integer >= 1; got {k!r}")
    if mode not in MODES:
        raise InvalidInputError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    fusion = fusion or FusionConfig()
    depth = max(k, fusion.depth)
    with store.session():
        has_texts, has_images = store.count("text") > 0, models.has_clip and store.count("image") > 0
    # models run outside the store's access lock, so an index run is held up only by Chroma calls
    text_vector = models.text.encode_queries([query]) if has_texts and mode != "bm25" else None
    image_vector = models.clip.encode_texts([query]) if has_images and mode != "bm25" else None
    with store.session():
        texts = _text_hits(store, query, text_vector, depth, mode, fusion) if has_texts else []
        images = store.query("image", image_vector, depth) if image_vector is not None else []
        hits = best_rank_fusion([texts, images]) if texts and images else texts or images
        return _resolve(store, hits[:k], {h.id for h in images})


def _text_hits(
    store: IndexStore, query: str, vector: FloatMatrix | None, depth: int, mode: str, fusion: FusionConfig
) -> list[Hit]:
    dense = store.query("text", vector, depth) if vector is not None else []
    lexical: list[Hit] = []
    if mode != "dense":
        index = store.bm25(save=False)
        if index is not None:
            lexical = index.search([query], min(depth, len(index)), allow_no_match=True)[0]
    if mode == "hybrid":
        return fuse(dense, lexical, fusion) if dense or lexical else []
    return dense or lexical


def _resolve(store: IndexStore, hits: list[Hit], image_ids: set[str]) -> list[SearchHit]:
    """Attach stored text and metadata; hits deleted since they were ranked are dropped."""
    stored = {
        **store.fetch("text", [h.id for h in hits if h.id not in image_ids]),
        **store.fetch("image", [h.id for h in hits if h.id in image_ids]),
    }
    out: list[SearchHit] = []
    for hit in hits:
        if hit.id not in stored:
            continue
        text, meta = stored[hit.id]
        page = meta.get("page")
        out.append(SearchHit(
            rank=len(out) + 1, score=float(hit.score), kind=str(meta.get("kind", "text")),
            file=str(meta.get("file", "")), start=int(meta.get("start", 0)), end=int(meta.get("end", 0)),
            text=text, title=str(meta.get("title", "")), page=int(page) if page is not None else None,
            id=hit.id, source=hit.source,
        ))
    return out
