"""Multimodal retrieval: chunks with text, images or both, searched by text or by image.

Names resolve on first use (PEP 562), so importing this package loads neither torch nor PIL.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY: dict[str, str] = {
    "MultimodalChunk": "sbert_rag.multimodal.chunks",
    "MultimodalIndex": "sbert_rag.multimodal.index",
    "AddReport": "sbert_rag.multimodal.index",
    "SkippedChunk": "sbert_rag.multimodal.index",
    "ImageTextEncoder": "sbert_rag.multimodal.index",
}

__all__ = list(_LAZY)

if TYPE_CHECKING:  # pragma: no cover
    from sbert_rag.multimodal.chunks import MultimodalChunk
    from sbert_rag.multimodal.index import AddReport, ImageTextEncoder, MultimodalIndex, SkippedChunk


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sbert_rag.multimodal' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
