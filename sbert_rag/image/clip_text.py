"""CLIP text side helpers: open_clip's BPE tokenizer behind the core's tokenizer view, window pooling.

Owns the adapter that lets ``sbert_rag.encoding.tokenize.TokenizerView`` (the core's counting,
truncation, error and window logic) drive open_clip's ``SimpleTokenizer``, so CLIP texts follow
exactly the overflow policy of the text encoder, and the averaging of window rows. No model code.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from sbert_rag._deps import require
from sbert_rag.encoding.tokenize import TokenRows
from sbert_rag.image.clip_config import CLIPConfig


class BPETokenizer:
    """open_clip's ``SimpleTokenizer`` behind the slow-Hugging-Face-tokenizer call ``TokenizerView`` uses.

    Returns untruncated ids (``<start_of_text>`` text ``<end_of_text>``), so the overflow policy,
    not the tokenizer, decides what happens past the context. Immutable once built, so one
    instance per cleaning mode is shared (building one reads the 1.4 MB BPE file).
    """

    is_fast = False
    pad_token_id = 0

    def __init__(self, clean: str) -> None:
        self._bpe = require("open_clip").SimpleTokenizer(context_length=None, clean=clean)

    @staticmethod
    @functools.lru_cache(maxsize=4)
    def shared(clean: str) -> BPETokenizer:
        return BPETokenizer(clean)

    def __call__(
        self, texts: Sequence[str], add_special_tokens: bool = True, **_ignored: Any
    ) -> dict[str, list[list[int]]]:
        ids = [self._bpe.encode(t) for t in texts]
        if add_special_tokens:
            ids = [[self._bpe.sot_token_id, *x, self._bpe.eot_token_id] for x in ids]
        return {"input_ids": ids}

    def __deepcopy__(self, memo: dict[int, Any]) -> BPETokenizer:
        return self  # immutable and shared: copies of an encoder need not copy 49k-entry tables


def clean_mode(config: CLIPConfig) -> str:
    """The text cleaning the model was trained with (open_clip ``tokenizer_kwargs.clean``; ``lower``)."""
    kwargs = config.text_cfg.get("tokenizer_kwargs") or {}
    return str(kwargs.get("clean", "lower"))


def average_windows(out: np.ndarray, rows: TokenRows) -> np.ndarray:
    """Average the window rows of one text, weighted by their content tokens; identity otherwise."""
    if len(rows.rows) == rows.n_inputs:
        return out  # one row per text, already in order
    summed = np.zeros((rows.n_inputs, out.shape[1]), dtype=np.float64)
    np.add.at(summed, rows.owner, out * rows.weight[:, None])
    total = np.zeros(rows.n_inputs, dtype=np.float64)
    np.add.at(total, rows.owner, rows.weight)
    return (summed / total[:, None]).astype(np.float32)
