"""MultimodalIndex: text and image chunks in one in-memory index, searched by text or by image.

Owns routing: chunk text goes through a sentence encoder (the ``Encoder`` protocol's
``encode_passages``/``encode_queries``) into a text space, chunk images through CLIP into an
image space; a text query searches both (the sentence encoder over texts, CLIP's text tower over
images) and the two rankings are fused by reciprocal rank; an image query searches the images.
Every search returns ``Hit`` lists. Vectors live in two exact ``DenseIndex`` objects.
Deliberately no persistence and no approximate search here.

Why ``best_rank_fusion`` and not the summed reciprocal-rank fusion (both in
``sbert_rag.retrieval.fusion``): in hybrid text search every passage is in both rankings, but
here the text ranking holds text chunks and the image ranking image chunks, so a sum would give
every captioned figure two terms and about double its score however weakly it matches. Each
chunk therefore takes its best weighted reciprocal rank over the two spaces; being ranked in
both only breaks ties.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from sbert_rag.encoding.validate import validate_texts
from sbert_rag.errors import ConfigError, InvalidInputError
from sbert_rag.image.images import (
    ImageInput,
    OnBadImage,
    as_item_list,
    load_image,
    load_images,
    parse_on_bad_image,
)
from sbert_rag.multimodal.chunks import MultimodalChunk
from sbert_rag.retrieval.dense import DenseIndex
from sbert_rag.retrieval.fusion import best_rank_fusion
from sbert_rag.types import Encoder, FloatMatrix, Hit


class ImageTextEncoder(Protocol):
    """What the index needs from CLIP (``CLIPEncoder`` is one): images and texts into one space."""

    @property
    def dim(self) -> int:
        """Embedding dimension."""
        ...

    def encode_images(self, images: Sequence[Any]) -> FloatMatrix:
        """Embed RGB PIL images (the index loads and validates them first); float32 (n, dim)."""
        ...

    def encode_texts(self, texts: Sequence[str]) -> FloatMatrix:
        """Embed texts into the image space; float32 (n, dim)."""
        ...


@dataclass(frozen=True)
class SkippedChunk:
    """A chunk left out of an ``add`` under ``on_bad_image="skip"``.

    Attributes:
        chunk_id: its id.
        index: its position in the ``add`` call.
        reason: why its image could not be used.
    """

    chunk_id: str
    index: int
    reason: str


@dataclass(frozen=True)
class AddReport:
    """What an ``add`` call stored and what it left out.

    Attributes:
        added: ids of the chunks stored, in input order.
        skipped: chunks left out because their image was bad (whole chunk, text included).
    """

    added: tuple[str, ...]
    skipped: tuple[SkippedChunk, ...]


class MultimodalIndex:
    """Exact search over text chunks, image chunks and chunks with both.

    Args:
        text_encoder: embeds chunk texts and text queries (e.g. ``TextEncoder``); None if only
            images are indexed.
        image_encoder: embeds chunk images, and text queries against them (e.g.
            ``CLIPEncoder``); None if only texts are indexed.
        text_weight: weight of the text ranking in the fusion, >= 0.
        image_weight: weight of the image ranking in the fusion, >= 0.
        rrf_k: rank offset of reciprocal-rank fusion (60 in Cormack et al. 2009).
        depth: hits taken from each space before fusing (at least ``k``).

    Example:
        >>> index = MultimodalIndex(TextEncoder.from_pretrained(), CLIPEncoder.load("clip/"))
        >>> index.add([MultimodalChunk("p1", text="Cats purr."), MultimodalChunk("f1", image="cat.png")])
        >>> index.search("a cat", k=2)   # fused hits from both spaces
    """

    def __init__(
        self,
        text_encoder: Encoder | None = None,
        image_encoder: ImageTextEncoder | None = None,
        *,
        text_weight: float = 1.0,
        image_weight: float = 1.0,
        rrf_k: float = 60.0,
        depth: int = 100,
    ) -> None:
        if text_encoder is None and image_encoder is None:
            raise ConfigError("pass a text_encoder, an image_encoder, or both")
        for name, value in (("text_weight", text_weight), ("image_weight", image_weight), ("rrf_k", rrf_k)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ConfigError(f"{name} must be a number >= 0; got {value!r}")
        if text_weight == 0 and image_weight == 0:
            raise ConfigError("text_weight and image_weight cannot both be 0")
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise ConfigError(f"depth must be an integer >= 1; got {depth!r}")
        self.text_encoder = text_encoder
        self.image_encoder = image_encoder
        self.weights = (float(text_weight), float(image_weight))
        self.rrf_k = float(rrf_k)
        self.depth = depth
        self._texts = DenseIndex(text_encoder.dim) if text_encoder is not None else None
        self._images = DenseIndex(image_encoder.dim) if image_encoder is not None else None
        self._chunks: dict[str, MultimodalChunk] = {}

    def __len__(self) -> int:
        return len(self._chunks)

    def __contains__(self, chunk_id: object) -> bool:
        return chunk_id in self._chunks

    def get(self, chunk_id: str) -> MultimodalChunk:
        """The stored chunk with this id.

        Raises:
            KeyError: no such chunk.
        """
        return self._chunks[chunk_id]

    @property
    def ids(self) -> tuple[str, ...]:
        """Chunk ids in insertion order."""
        return tuple(self._chunks)

    # ------------------------------------------------------------------ adding
    def add(self, chunks: Iterable[MultimodalChunk], *, on_bad_image: str = "error") -> AddReport:
        """Embed and store chunks: texts in the text space, images in the image space.

        All-or-nothing: everything is loaded and embedded before anything is stored, so a
        failed call leaves the index as it was.

        Args:
            chunks: ``MultimodalChunk`` objects with ids new to the index.
            on_bad_image: ``"error"`` (raise on the first unusable image) or ``"skip"`` (leave
                the whole chunk out, caption included, and report it).

        Returns:
            The ids stored and the chunks skipped.

        Raises:
            InvalidInputError: an item is not a ``MultimodalChunk``, an id repeats or is already
                stored, a chunk has text (image) but the index has no text (image) encoder, or
                under ``"error"`` an image is bad (the message names the chunk and the path).
        """
        policy = parse_on_bad_image(on_bad_image)
        items = self._check_new(chunks)
        images, image_ids, bad = [], [], {}
        for i, chunk in enumerate(items):
            if not chunk.has_image:
                continue
            try:
                images.append(load_image(chunk.image, i))
            except InvalidInputError as err:
                if policy is OnBadImage.ERROR:
                    raise InvalidInputError(f"chunk {chunk.chunk_id!r}: {err}") from err
                bad[chunk.chunk_id] = str(err)
                continue
            image_ids.append(chunk.chunk_id)
        keep = [c for c in items if c.chunk_id not in bad]
        text_chunks = [c for c in keep if c.has_text]
        text_vectors = image_vectors = None
        if text_chunks:
            texts = [c.text for c in text_chunks]
            text_vectors = self._encode(self.text_encoder.encode_passages, texts, self._texts)
        if image_ids:
            image_vectors = self._encode(self.image_encoder.encode_images, images, self._images)
        # everything is validated and embedded: only now change state
        if text_vectors is not None:
            self._texts.add([c.chunk_id for c in text_chunks], text_vectors)
        if image_vectors is not None:
            self._images.add(image_ids, image_vectors)
        for chunk in keep:
            self._chunks[chunk.chunk_id] = chunk
        skipped = tuple(
            SkippedChunk(c.chunk_id, i, bad[c.chunk_id]) for i, c in enumerate(items) if c.chunk_id in bad
        )
        return AddReport(added=tuple(c.chunk_id for c in keep), skipped=skipped)

    def _check_new(self, chunks: Iterable[MultimodalChunk]) -> list[MultimodalChunk]:
        items = list(chunks)
        seen: dict[str, int] = {}
        for i, chunk in enumerate(items):
            if not isinstance(chunk, MultimodalChunk):
                raise InvalidInputError(
                    f"item {i} is a {type(chunk).__name__}; wrap it: MultimodalChunk(id, text=..., image=...)"
                )
            if chunk.chunk_id in self._chunks or chunk.chunk_id in seen:
                stored = chunk.chunk_id in self._chunks
                where = "is already in the index" if stored else f"repeats item {seen[chunk.chunk_id]}"
                raise InvalidInputError(f"chunk id {chunk.chunk_id!r} at item {i} {where}; ids must differ")
            seen[chunk.chunk_id] = i
            if chunk.has_text and self.text_encoder is None:
                raise InvalidInputError(f"chunk {chunk.chunk_id!r} has text but no text_encoder is set")
            if chunk.has_image and self.image_encoder is None:
                raise InvalidInputError(f"chunk {chunk.chunk_id!r} has an image but no image_encoder is set")
        return items

    @staticmethod
    def _encode(fn: Any, inputs: list[Any], space: DenseIndex) -> FloatMatrix:
        vectors = np.asarray(fn(inputs), dtype=np.float32)
        if vectors.shape != (len(inputs), space.dim):
            expected = (len(inputs), space.dim)
            raise InvalidInputError(f"the encoder returned shape {vectors.shape}; expected {expected}")
        return vectors

    # ------------------------------------------------------------------ searching
    def search(self, query: str, k: int = 10) -> list[Hit]:
        """Search text and image chunks with a text query; see :meth:`search_batch`."""
        return self.search_batch([query], k)[0]

    def search_batch(self, queries: Sequence[str], k: int = 10) -> list[list[Hit]]:
        """Search with text queries: texts by the sentence encoder, images by CLIP text, fused.

        When only one space holds chunks, its ranking is returned as is (cosine scores, source
        ``"text"`` or ``"image"``); otherwise the rankings (``depth`` hits each) are fused: a
        chunk scores ``max(weight / (rrf_k + rank))`` over the spaces it is ranked in (source
        ``"rrf"``), and a chunk ranked in both wins ties (module docstring says why not a sum).

        Args:
            queries: non-blank strings.
            k: hits per query, 1 <= k <= len(self).

        Returns:
            One list of ``k`` hits per query, best first.

        Raises:
            InvalidInputError: a query is blank, the index is empty, or ``k`` is out of range.
        """
        items = validate_texts(queries, "query")
        self._check_k(k, len(self), "chunks")
        rankings: list[list[list[Hit]]] = []
        if self._texts is not None and len(self._texts):
            vectors = self.text_encoder.encode_queries(items)
            rankings.append(self._ranked(self._texts, vectors, k, "text"))
        if self._images is not None and len(self._images):
            vectors = self.image_encoder.encode_texts(items)
            rankings.append(self._ranked(self._images, vectors, k, "image"))
        if len(rankings) == 1:
            return [hits[:k] for hits in rankings[0]]
        return [best_rank_fusion([t, i], self.weights, self.rrf_k)[:k] for t, i in zip(*rankings)]

    def search_by_image(self, image: ImageInput, k: int = 10) -> list[Hit]:
        """Search the image chunks with an image; see :meth:`search_by_images`."""
        return self.search_by_images([image], k)[0]

    def search_by_images(self, images: Iterable[ImageInput], k: int = 10) -> list[list[Hit]]:
        """Search the image chunks with query images (CLIP image-to-image cosine).

        Args:
            images: anything ``load_image`` accepts.
            k: hits per query, 1 <= k <= number of image chunks.

        Returns:
            One list of ``k`` hits per image, best first, source ``"image"``.

        Raises:
            InvalidInputError: a query image is bad (named by index), no image chunks are
                stored, or ``k`` is out of range.
        """
        if self._images is None:
            raise InvalidInputError("this index has no image_encoder, so it cannot search by image")
        self._check_k(k, len(self._images), "image chunks")
        loaded = load_images(as_item_list(images))
        if not loaded.images:
            return []
        vectors = self.image_encoder.encode_images(loaded.images)
        return [hits[:k] for hits in self._ranked(self._images, vectors, k, "image")]

    def _ranked(self, space: DenseIndex, vectors: FloatMatrix, k: int, source: str) -> list[list[Hit]]:
        depth = min(len(space), max(k, self.depth))
        results = space.search(vectors, depth)
        return [[dataclasses.replace(h, source=source) for h in hits] for hits in results]

    @staticmethod
    def _check_k(k: int, n: int, what: str) -> None:
        if n == 0:
            raise InvalidInputError(f"the index holds no {what}; add some before searching")
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n:
            raise InvalidInputError(f"k must be an integer in [1, {n}] ({n} {what} indexed); got {k!r}")

