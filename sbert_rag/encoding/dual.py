"""DualEncoder: separate query and passage models behind the one Encoder interface.

Owns routing only: queries go to the query encoder, passages to the passage encoder, each with
its own prompts, length and overflow policy. Checks once that both give vectors of one size. Also
owns the folder layout of a saved pair (``query/`` and ``passage/``) and ``load_encoder``, which
opens either kind of model folder, so every ``--model`` option accepts both.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sbert_rag.config import EncoderConfig
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
        self.model_name = ""  # the pair's folder, when loaded from one

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

    def _tower(self, role: Role | str | None) -> Any:
        return self.query_encoder if role is not None and Role(role) is Role.QUERY else self.passage_encoder

    def encode(self, texts: Iterable[str], *, role: Role | str | None = None, **options: Any) -> FloatMatrix:
        """Embed with the tower of ``role``: queries by the query tower, anything else (passages,
        symmetric tasks such as STS: ``role=None``) by the passage tower; float32 (n, dim)."""
        return self._tower(role).encode(texts, role=role, **options)  # type: ignore[no-any-return]

    def encode_with_report(self, texts: Iterable[str], *, role: Role | str | None = None, **options: Any) -> Any:
        """Like :meth:`encode`, with the tower's overflow report (an ``EncodeResult``)."""
        return self._tower(role).encode_with_report(texts, role=role, **options)

    def save(self, path: str | os.PathLike[str], **options: Any) -> None:
        """Save both towers as sentence-transformers folders ``query/`` and ``passage/`` under ``path``."""
        root = Path(path)
        self.query_encoder.save(root / "query", **options)  # type: ignore[attr-defined]
        self.passage_encoder.save(root / "passage", **options)  # type: ignore[attr-defined]

    @classmethod
    def from_pretrained(cls, query_model: str, passage_model: str, **options: Any) -> DualEncoder:
        """Load two TextEncoders (same options) as one dual encoder."""
        from sbert_rag.encoding.text_encoder import TextEncoder

        return cls(TextEncoder.from_pretrained(query_model, **options), TextEncoder.from_pretrained(passage_model, **options))

    @classmethod
    def load(cls, path: str | os.PathLike[str], **options: Any) -> DualEncoder:
        """Load a pair saved by :meth:`save` (``path/query`` and ``path/passage``); options as TextEncoder's."""
        if not is_dual_folder(path):
            raise ConfigError(f"{str(path)!r} has no query/ and passage/ model folders; save a DualEncoder there first")
        pair = cls.from_pretrained(str(Path(path) / "query"), str(Path(path) / "passage"), **options)
        pair.model_name = str(Path(path).resolve())
        return pair

    @property
    def config(self) -> EncoderConfig:
        """The passage tower's settings, with the query tower's query prompt and the pair's folder as ``model``."""
        passage = self.passage_encoder.config  # type: ignore[attr-defined]
        query = self.query_encoder.config  # type: ignore[attr-defined]
        name = self.model_name or f"{query.model}+{passage.model}"
        return passage.replace(model=name, query_prompt=query.query_prompt)


def is_dual_folder(path: str | os.PathLike[str] | None) -> bool:
    """True for a folder holding a saved query/passage pair (``query/`` and ``passage/`` model folders)."""
    if path is None:
        return False
    root = Path(path)
    return all((root / side / "config.json").is_file() for side in ("query", "passage"))


def load_encoder(model: EncoderConfig | str | os.PathLike[str] | None, **options: Any) -> Any:
    """Open a model folder of either kind: a query/passage pair as a ``DualEncoder``, else a ``TextEncoder``.

    Args:
        model: an ``EncoderConfig`` (then no options), a sentence-transformers or Hugging Face
            folder, a folder saved by ``DualEncoder.save`` (what ``sbert-rag train retrieval``
            writes for untied towers), a Hub id, or None for the packaged default model.
        **options: ``TextEncoder.from_pretrained`` options, applied to both towers of a pair.
    """
    if isinstance(model, EncoderConfig):
        if options:
            raise ConfigError(f"pass options inside the EncoderConfig, not beside it; got {sorted(options)}")
        from sbert_rag.encoding.identity import model_argument

        model, options = model_argument(model.model), model.load_options()
    if is_dual_folder(model):
        return DualEncoder.load(model, **options)  # type: ignore[arg-type]
    from sbert_rag.encoding.text_encoder import TextEncoder

    return TextEncoder.from_pretrained(model, **options)
