"""Multimodal retrieval: chunks with text, images or both, searched by text or by image.

Names resolve on first use (PEP 562), so importing this package loads neither torch nor PIL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sbert_rag._lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports('sbert_rag.multimodal', _LAZY, globals())
