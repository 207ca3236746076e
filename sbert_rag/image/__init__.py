"""The image branch: image loading and validation, and CLIP encoders over open_clip.

Names resolve on first use (PEP 562), so importing this package loads neither torch nor PIL.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY: dict[str, str] = {
    "CLIPEncoder": "sbert_rag.image.clip_encoder",
    "ImageEncodeResult": "sbert_rag.image.clip_encoder",
    "CLIPConfig": "sbert_rag.image.clip_config",
    "ImageInput": "sbert_rag.image.images",
    "LoadedImages": "sbert_rag.image.images",
    "OnBadImage": "sbert_rag.image.images",
    "SkippedImage": "sbert_rag.image.images",
    "load_image": "sbert_rag.image.images",
    "load_images": "sbert_rag.image.images",
}

__all__ = list(_LAZY)

if TYPE_CHECKING:  # pragma: no cover
    from sbert_rag.image.clip_config import CLIPConfig
    from sbert_rag.image.clip_encoder import CLIPEncoder, ImageEncodeResult
    from sbert_rag.image.images import (
        ImageInput,
        LoadedImages,
        OnBadImage,
        SkippedImage,
        load_image,
        load_images,
    )


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sbert_rag.image' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
