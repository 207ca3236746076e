"""DualEncoder: separate query and passage models behind the one Encoder interface.

Owns routing only: queries go to the query encoder, passages to the passage encoder, each with
its own prompts, length and overflow policy. Checks once that both give vectors of one size.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sbert_rag.errors import ConfigError
from sbert_rag.types import Encoder, FloatMatrix, Role


class DualEncoder:
    """Untied query and passage towers (e.g. a small fast query model and a larger passage model).

    Args:
        query_encoder: encodes queries (its ``encode_queries`` is called).
        passage_encoder: encodes passages (its ``encode_passages`` is called).

    Raises:
        ConfigError: the two give vectors of different dimensions.
    """

    def __init__(self, query_encoder: Encoder, passage_encoder: Encoder) -> None:
        if query_encoder.dim != passage_encoder.dim:
            raise ConfigError(
                f"query encoder gives {query_encoder.dim}-dim vectors but passage encoder gives "
                f"{passage_encoder.dim}: a dual encoder needs one vector space (same dim, trained together)"
            )
        self.query_encoder = query_encoder
        self.passage_encoder = passage_encoder

    @property
    def dim(self) -> int:
        """Embedding dimension shared by both towers."""
        return self.query_encoder.dim

    @property
    def max_tokens(self) -> int:
        """Passage tower's token limit (what chunking must respect)."""
        return int(getattr(self.passage_encoder, "max_tokens"))

    def count_tokens(self, texts: list[str], role: Role | str = Role.PASSAGE) -> list[int]:
        """Token counts as the tower of ``role`` sees them."""
        tower = self.query_encoder if Role(role) is Role.QUERY else self.passage_encoder
        return tower.count_tokens(texts, role)  # type: ignore[attr-defined]

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Token spans by the passage tower's tokenizer."""
        return self.passage_encoder.token_offsets(text)  # type: ignore[attr-defined]

    def encode_queries(self, texts: Iterable[str], **options: Any) -> FloatMatrix:
        """Embed queries with the query tower; float32 (n, dim)."""
        return self.query_encoder.encode_queries(texts, **options)  # type: ignore[call-arg]

    def encode_passages(self, texts: Iterable[str], **options: Any) -> FloatMatrix:
        """Embed passages with the passage tower; float32 (n, dim)."""
        return self.passage_encoder.encode_passages(texts, **options)  # type: ignore[call-arg]

    def save(self, path: str, **options: Any) -> None:
        """Save both towers as sentence-transformers folders ``query/`` and ``passage/`` under ``path``."""
        from pathlib import Path

        root = Path(path)
        self.query_encoder.save(root / "query", **options)  # type: ignore[attr-defined]
        self.passage_encoder.save(root / "passage", **options)  # type: ignore[attr-defined]

    @classmethod
    def from_pretrained(cls, query_model: str, passage_model: str, **options: Any) -> DualEncoder:
        """Load two TextEncoders (same options) as one dual encoder."""
        from sbert_rag.encoding.text_encoder import TextEncoder

        return cls(TextEncoder.from_pretrained(query_model, **options), TextEncoder.from_pretrained(passage_model, **options))
