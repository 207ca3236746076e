"""Light shared types: roles, chunks, hits and the protocols that retrieval code plugs into.

Owns the vocabulary every layer shares. Deliberately holds no behaviour beyond validation, and
imports only numpy, so retrieval and chunking can be tested with fakes and never load torch.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

FloatMatrix = npt.NDArray[np.float32]
"""A float32 matrix, shape (n, dim)."""


class Role(str, enum.Enum):
    """Which side of an asymmetric retrieval a text is on."""

    QUERY = "query"
    PASSAGE = "passage"


@dataclass(frozen=True)
class Chunk:
    """A piece of a document with its place in the source.

    Attributes:
        doc_id: id of the document the chunk comes from.
        text: the chunk's text, exactly ``source[start:end]`` (before any title is prepended).
        start: character offset of the chunk in the document text.
        end: character offset one past the chunk's last character.
        chunk_id: id unique within a corpus, by default ``"{doc_id}#{index}"``.
        title: the document title, if any.
        metadata: free user metadata, JSON-safe values.
    """

    doc_id: str
    text: str
    start: int
    end: int
    chunk_id: str = ""
    title: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    """One search result: an id and a score, higher is better.

    Attributes:
        id: chunk or document id.
        score: similarity or fused score; only comparable within one result list.
        rank: 1-based position in its result list.
        source: which retriever produced it (``"dense"``, ``"bm25"``, ``"hybrid"``, ...).
    """

    id: str
    score: float
    rank: int = 0
    source: str = ""


@runtime_checkable
class Encoder(Protocol):
    """Anything that turns queries and passages into float32 vectors of one dimension."""

    @property
    def dim(self) -> int:
        """Embedding dimension."""
        ...

    def encode_queries(self, texts: Iterable[str]) -> FloatMatrix:
        """Embed queries; returns float32 (n, dim)."""
        ...

    def encode_passages(self, texts: Iterable[str]) -> FloatMatrix:
        """Embed passages; returns float32 (n, dim)."""
        ...


@runtime_checkable
class TokenCounter(Protocol):
    """Counts and locates tokens the way an encoder's tokenizer does."""

    @property
    def max_tokens(self) -> int:
        """Most tokens the model reads, special tokens included."""
        ...

    def count_tokens(self, texts: Sequence[str], role: Role = Role.PASSAGE) -> list[int]:
        """Token count of each text as the model would see it (prompt and special tokens included)."""
        ...

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span of each content token of ``text`` (no special tokens, no prompt)."""
        ...
