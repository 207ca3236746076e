"""Trainable text towers: texts -> differentiable embeddings, and tied or untied query/passage pairs.

Owns the training-time forward pass over a ``TextEncoder``'s module: each distinct text is
tokenised once (with the role's prompt) and remembered, rows longer than the training length
are cut with one warning per ``prepare`` call naming how many (never silently), rows are padded
exactly as ``TextEncoder`` pads them, and vectors are normalised when the model normalises.
``TowerPair`` holds a query and a passage tower that share one model (tied) or not (untied, a
dual encoder). Deliberately no loss and no optimiser code.
"""

from __future__ import annotations

import copy
import logging
import os
import warnings
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from sbert_rag._deps import require
from sbert_rag.config import check_positive_int
from sbert_rag.errors import ConfigError
from sbert_rag.types import Role

if TYPE_CHECKING:
    import torch

    from sbert_rag.encoding.text_encoder import TextEncoder

logger = logging.getLogger(__name__)


class TrainingTruncationWarning(UserWarning):
    """Training inputs were cut to the tower's ``max_tokens``."""


def pad_rows(rows: Sequence[Sequence[int]], pad_id: int, max_tokens: int, device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Pad token id rows into ``(input_ids, attention_mask)`` the way ``TextEncoder`` does.

    The width is the longest row rounded up to a multiple of 8 (fewer distinct shapes for the
    CPU's matrix library), capped at ``max_tokens``; padding is masked, so values are unchanged.

    Args:
        rows: token id lists, each at most ``max_tokens`` long, at least one.
        pad_id: the tokenizer's padding id.
        max_tokens: the model's limit (caps the rounding).
        device: torch device of the result.

    Returns:
        Two int64 tensors (batch, width).
    """
    torch = require("torch")
    width = max(len(r) for r in rows)
    width = max(width, min(-(-width // 8) * 8, max_tokens))
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for j, row in enumerate(rows):
        ids[j, : len(row)] = row
        mask[j, : len(row)] = 1
    return torch.from_numpy(ids).to(device), torch.from_numpy(mask).to(device)


class Tower:
    """One side (query or passage) of a model under training.

    Args:
        encoder: the ``TextEncoder`` whose module is trained (in place).
        role: which prompt to prepend (``Role.QUERY`` or ``Role.PASSAGE``).
        max_tokens: training length limit, prompt and special tokens included; None = the
            encoder's. Shorter than the model's limit trains faster; inputs beyond it are cut
            with a ``TrainingTruncationWarning``.

    Raises:
        ConfigError: ``max_tokens`` is not a positive integer or exceeds the encoder's limit.
    """

    def __init__(self, encoder: TextEncoder, role: Role | str, max_tokens: int | None = None) -> None:
        self.encoder = encoder
        self.role = Role(role)
        limit = encoder.max_tokens if max_tokens is None else check_positive_int(max_tokens, "max_tokens")
        if limit > encoder.max_tokens:
            raise ConfigError(
                f"training max_tokens={limit} exceeds the model's limit of {encoder.max_tokens}; use at most {encoder.max_tokens}"
            )
        view = encoder.tokens
        if limit <= view.n_prefix + view.n_suffix:
            raise ConfigError(f"max_tokens={limit} leaves no room for text next to the special tokens")
        self.max_tokens = limit
        self.prompt = encoder.prompts.for_role(self.role)
        self.exclude_first = view.n_prefix + view.prompt_tokens(self.prompt) if self.prompt else 0
        self._type_ids = "token_type_ids" in getattr(encoder.tokenizer, "model_input_names", ())
        self._rows: dict[str, list[int]] = {}
        self.truncated = 0  # distinct texts cut so far

    @property
    def module(self) -> Any:
        """The torch ``SentenceModule`` this tower trains."""
        return self.encoder.module

    def prepare(self, texts: Iterable[str], what: str | None = None) -> int:
        """Tokenise texts ahead of training; warns once if some are cut. Returns how many were cut."""
        new = list(dict.fromkeys(t for t in texts if t not in self._rows))
        if not new:
            return 0
        view = self.encoder.tokens
        cut = 0
        for text, row in zip(new, view.ids(new, self.prompt)):
            if len(row) > self.max_tokens:
                cut += 1
                keep = self.max_tokens - view.n_suffix
                row = row[:keep] + (row[len(row) - view.n_suffix:] if view.n_suffix else [])
            self._rows[text] = row
        self.truncated += cut
        if cut:
            name = what or f"{self.role.value}s"
            warnings.warn(
                f"{cut} of {len(new)} training {name} exceed max_tokens={self.max_tokens} and are cut to it for "
                f"training (the saved model still reads up to {self.encoder.max_tokens} tokens). Raise the "
                f"training max_tokens to keep more text.",
                TrainingTruncationWarning,
                stacklevel=2,
            )
        return cut

    def rows(self, texts: Sequence[str]) -> list[list[int]]:
        """Token id rows of ``texts`` (tokenising any not seen before)."""
        missing = [t for t in texts if t not in self._rows]
        if missing:
            self.prepare(missing)
        return [self._rows[t] for t in texts]

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """Differentiable embeddings (batch, dim) float32; unit rows when the model normalises."""
        return self.embed_rows(self.rows(texts))

    def embed_rows(self, rows: Sequence[Sequence[int]]) -> torch.Tensor:
        """Embeddings of token id rows; gradients flow when grad is enabled and the module trains."""
        torch = require("torch")
        ids, mask = pad_rows(rows, self.encoder.tokens.pad_id, self.max_tokens, self.encoder.device)
        type_ids = torch.zeros_like(ids) if self._type_ids else None
        out = self.module(ids, mask, type_ids, exclude_first=self.exclude_first).float()  # (batch, dim)
        return torch.nn.functional.normalize(out, dim=-1) if self.encoder.normalize else out


class TowerPair:
    """A query tower and a passage tower, tied (one model) or untied (two models, a dual encoder).

    Args:
        query: the query tower.
        passage: the passage tower; may wrap the same encoder as ``query`` (tied).
        freeze_passage: keep the passage model fixed (untied only): the corpus index built with
            the starting model stays valid, and training skips the passage backward pass.

    Raises:
        ConfigError: ``freeze_passage`` on a tied pair (it would freeze the query side too).
    """

    def __init__(self, query: Tower, passage: Tower, freeze_passage: bool = False) -> None:
        if freeze_passage and query.encoder is passage.encoder:
            raise ConfigError("freeze_passage needs untied towers: a tied model cannot be frozen on one side")
        self.query = query
        self.passage = passage
        self.freeze_passage = freeze_passage
        if freeze_passage:
            for param in passage.module.parameters():
                param.requires_grad_(False)

    @classmethod
    def from_encoder(
        cls,
        encoder: TextEncoder,
        *,
        untied: bool = False,
        freeze_passage: bool = False,
        max_query_tokens: int | None = None,
        max_passage_tokens: int | None = None,
    ) -> TowerPair:
        """Towers over one starting model: shared (tied) or a passage copy (untied).

        Args:
            encoder: the starting model; trained in place (the query side when untied).
            untied: give the passage side its own copy of the model.
            freeze_passage: see the class (untied only).
            max_query_tokens: query training length; None = the model's.
            max_passage_tokens: passage training length; None = the model's.
        """
        passage_encoder = copy.deepcopy(encoder) if untied else encoder
        return cls(
            Tower(encoder, Role.QUERY, max_query_tokens),
            Tower(passage_encoder, Role.PASSAGE, max_passage_tokens),
            freeze_passage=freeze_passage,
        )

    @property
    def tied(self) -> bool:
        """True when both towers share one model."""
        return self.query.encoder is self.passage.encoder

    def modules(self) -> list[Any]:
        """The distinct torch modules of the pair (one when tied)."""
        return [self.query.module] if self.tied else [self.query.module, self.passage.module]

    def trainable_modules(self) -> list[Any]:
        """The modules whose weights train (the passage module is left out when frozen)."""
        return [self.query.module] if self.tied or self.freeze_passage else self.modules()

    def as_encoder(self) -> Any:
        """The pair as an ``Encoder``: the ``TextEncoder`` when tied, else a ``DualEncoder``."""
        if self.tied:
            return self.query.encoder
        from sbert_rag.encoding.dual import DualEncoder

        return DualEncoder(self.query.encoder, self.passage.encoder)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save as one sentence-transformers folder (tied) or ``query/`` and ``passage/`` folders (untied)."""
        self.as_encoder().save(str(path))


def inference_copy(encoder: TextEncoder, dtype: str = "auto") -> TextEncoder:
    """A frozen copy of ``encoder`` in ``dtype``, as ``TextEncoder.from_pretrained`` of its saved folder gives.

    Training keeps float32 master weights; evaluating a copy cast the way loading casts gives
    the figures ``sbert-rag eval`` would give for the saved model, without saving and loading.

    Args:
        encoder: the model under training (left untouched).
        dtype: ``auto`` (bf16 where the hardware has it), ``float32``, ``bfloat16`` or ``float16``.
    """
    from sbert_rag.config import DType, parse_dtype
    from sbert_rag.encoding.hardware import auto_dtype

    torch = require("torch")
    dt = parse_dtype(dtype)
    if dt is DType.AUTO:
        dt = auto_dtype(encoder.device)
    copied = copy.deepcopy(encoder)
    copied.module.to(dtype=getattr(torch, dt.value)).eval()
    copied.dtype = dt
    return copied
