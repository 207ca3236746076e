"""MultimodalChunk: a piece of a document carrying text, an image, or both (a figure and its caption).

Owns the validation of one indexable item at construction. Holds the image as the user gave it
(path, bytes, PIL image, array); decoding happens when the chunk is indexed. No model code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sbert_rag.errors import InvalidInputError
from sbert_rag.image.images import ImageInput
from sbert_rag.types import Chunk


@dataclass(frozen=True)
class MultimodalChunk:
    """An indexable item with text, an image, or both.

    Attributes:
        chunk_id: id unique within an index; hits carry it.
        text: the text (a passage, or a figure's caption); None for an image alone.
        image: a file path, encoded bytes, binary file object, PIL image or numpy array; None
            for text alone.
        doc_id: id of the document the chunk comes from.
        metadata: free user metadata, JSON-safe values.

    Raises:
        InvalidInputError: ``chunk_id`` is empty or not a string, both ``text`` and ``image`` are
            None, or ``text`` is given but blank or not a string.

    Example:
        >>> MultimodalChunk("fig-3", text="Figure 3: loss curves", image="figures/fig3.png")
    """

    chunk_id: str
    text: str | None = None
    image: ImageInput | None = None
    doc_id: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.chunk_id, str) or not self.chunk_id:
            raise InvalidInputError(f"chunk_id must be a non-empty string; got {self.chunk_id!r}")
        if self.text is None and self.image is None:
            raise InvalidInputError(f"chunk {self.chunk_id!r} has neither text nor image; give it one")
        if self.text is not None and (not isinstance(self.text, str) or not self.text.strip()):
            raise InvalidInputError(
                f"chunk {self.chunk_id!r}: text must be a non-blank string or None (image only); "
                f"got {self.text!r}"
            )

    @property
    def has_text(self) -> bool:
        """Whether the chunk carries text."""
        return self.text is not None

    @property
    def has_image(self) -> bool:
        """Whether the chunk carries an image."""
        return self.image is not None

    @classmethod
    def from_chunk(cls, chunk: Chunk, image: ImageInput | None = None) -> MultimodalChunk:
        """Wrap a text ``Chunk`` (from the chunkers), optionally with the image it describes.

        The id is ``chunk.chunk_id``, or ``"{doc_id}@{start}"`` when the chunk has none.
        """
        chunk_id = chunk.chunk_id or f"{chunk.doc_id}@{chunk.start}"
        metadata = {**chunk.metadata, "start": chunk.start, "end": chunk.end}
        if chunk.title:
            metadata["title"] = chunk.title
        return cls(chunk_id=chunk_id, text=chunk.text, image=image, doc_id=chunk.doc_id, metadata=metadata)
