"""The image branch: image loading and validation, and CLIP encoders over open_clip.

Names resolve on first use (PEP 562), so importing this package loads neither torch nor PIL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sbert_rag._lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports('sbert_rag.image', _LAZY, globals())
