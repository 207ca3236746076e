"""Chroma 1.x multimodal ``EmbeddingFunction`` over an sbert_rag ``CLIPEncoder``, named ``sbert_rag_clip``.

Targets chromadb 1.x (tested with 1.5.9). Owns sorting Chroma's mixed inputs (``str`` documents
and HxWxC numpy images, as ``chromadb.api.types.is_image`` defines them) into CLIP's text and
image towers and putting the vectors back in input order: n inputs give n vectors, and an item
that is neither text nor image is an error, never skipped (Chroma's builtin ``open_clip``
function drops such items). The config names the folder saved by ``CLIPEncoder.save``; no device.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import numpy as np
from chromadb.api.types import Embeddable, EmbeddingFunction, Embeddings, Space, is_document, is_image
from chromadb.utils.embedding_functions import register_embedding_function

import sbert_rag

NAME = "sbert_rag_clip"
_OVERFLOWS = ("warn", "error", "windows")
CONFIG_KEYS: dict[str, type] = {"clip_folder": str, "dim": int, "overflow": str}

_cache: dict[str, Any] = {}
_cache_lock = threading.Lock()


def _load(folder: str, overflow: str, device: str) -> Any:
    key = json.dumps([folder, overflow])
    with _cache_lock:
        if key not in _cache:
            from sbert_rag import CLIPEncoder

            _cache[key] = CLIPEncoder.load(folder, device=device, overflow=overflow)
        return _cache[key]


def _as_pixels(image: np.ndarray) -> np.ndarray:
    # Chroma's own tests hand images over as int64; sbert_rag reads 8-bit pixels as uint8, so cast
    # signed integer arrays whose values fit and leave everything else to sbert_rag's checks
    if image.dtype.kind == "i" and image.size and 0 <= image.min() and image.max() <= 255:
        return image.astype(np.uint8)
    return image


@register_embedding_function
class SbertRagCLIPEmbeddingFunction(EmbeddingFunction[Embeddable]):
    """Embed Chroma documents and images into one CLIP space.

    Example:
        >>> ef = SbertRagCLIPEmbeddingFunction("/models/my-clip")      # saved by CLIPEncoder.save
        >>> col = client.create_collection("media", embedding_function=ef, data_loader=ImageLoader())
        >>> col.add(ids=["cat"], uris=["cat.png"]); col.query(query_texts=["a cat"])
    """

    def __init__(
        self, clip_folder: str, *, clip: Any = None, device: str = "auto", overflow: str = "warn"
    ) -> None:
        """Configure the function.

        Args:
            clip_folder: folder written by ``CLIPEncoder.save``; persisted, so keep it in place.
            clip: the ``CLIPEncoder`` already loaded from ``clip_folder`` (avoids a second load).
            device: torch device here; never persisted.
            overflow: texts longer than CLIP's 77 tokens: ``"warn"``, ``"error"`` or ``"windows"``.

        Raises:
            sbert_rag.ConfigError: ``overflow`` is unknown.
        """
        if overflow not in _OVERFLOWS:
            raise sbert_rag.ConfigError(f"overflow must be one of {_OVERFLOWS}; got {overflow!r}")
        self.clip_folder = str(clip_folder)
        self.overflow = overflow
        self._device = device
        if clip is not None:
            with _cache_lock:
                _cache.setdefault(json.dumps([self.clip_folder, overflow]), clip)

    @property
    def clip(self) -> Any:
        """The ``CLIPEncoder``, loaded on first access (cached per process by folder and policy)."""
        return _load(self.clip_folder, self.overflow, self._device)

    def __call__(self, input: Embeddable) -> Embeddings:  # noqa: A002 - Chroma checks the name
        """Embed documents (``str``) and images (HxWxC arrays), one float32 vector per item, in order.

        Raises:
            sbert_rag.InvalidInputError: an item is neither, or a text is blank, or an image is bad
                (named by index).
        """
        items = list(input)
        texts = [i for i, x in enumerate(items) if is_document(x)]
        images = [i for i, x in enumerate(items) if not is_document(x) and is_image(x)]
        if len(texts) + len(images) != len(items):
            bad = sorted(set(range(len(items))) - set(texts) - set(images))[0]
            raise sbert_rag.InvalidInputError(
                f"item {bad} is a {type(items[bad]).__name__}: pass documents as str and images as "
                f"(height, width, channels) numpy arrays"
            )
        out = np.zeros((len(items), self.clip.dim), dtype=np.float32)
        if texts:
            out[texts] = self.clip.encode_texts([items[i] for i in texts])
        if images:
            out[images] = self.clip.encode_images([_as_pixels(items[i]) for i in images])
        return list(out)

    def embed_query(self, input: Embeddable) -> Embeddings:  # noqa: A002
        """Embed query texts or images (CLIP has no query prompt)."""
        return self(input)

    @staticmethod
    def name() -> str:
        """Registry name persisted with collections."""
        return NAME

    def get_config(self) -> dict[str, Any]:
        """JSON-plain config: the CLIP folder, its dimension (loads the model) and the overflow policy."""
        return {"clip_folder": self.clip_folder, "dim": int(self.clip.dim), "overflow": self.overflow}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> SbertRagCLIPEmbeddingFunction:
        """Rebuild from ``get_config`` output (device ``"auto"``).

        Raises:
            sbert_rag.ConfigError: the config is invalid or the model's dimension changed.
        """
        SbertRagCLIPEmbeddingFunction.validate_config(config)
        ef = SbertRagCLIPEmbeddingFunction(config["clip_folder"], overflow=config["overflow"])
        if ef.clip.dim != config["dim"]:
            raise sbert_rag.ConfigError(
                f"the CLIP model in {config['clip_folder']!r} makes {ef.clip.dim}-dim vectors but the "
                f"collection holds {config['dim']}-dim ones"
            )
        return ef

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        """Check keys and value types.

        Raises:
            sbert_rag.ConfigError: a key is unknown or missing, or a value is invalid.
        """
        if not isinstance(config, dict) or set(config) != set(CONFIG_KEYS):
            raise sbert_rag.ConfigError(
                f"an {NAME} config must have exactly the keys {sorted(CONFIG_KEYS)}; got {config!r}"
            )
        for key, kind in CONFIG_KEYS.items():
            if not isinstance(config[key], kind) or isinstance(config[key], bool):
                raise sbert_rag.ConfigError(
                    f"{NAME} config {key!r} must be {kind.__name__}; got {config[key]!r}"
                )
        if config["overflow"] not in _OVERFLOWS:
            raise sbert_rag.ConfigError(
                f"{NAME} config overflow must be one of {_OVERFLOWS}; got {config['overflow']!r}"
            )

    def validate_config_update(self, old_config: dict[str, Any], new_config: dict[str, Any]) -> None:
        """Refuse another CLIP model or dimension.

        Raises:
            sbert_rag.ConfigError: the folder or dimension changes; the message names both.
        """
        if (old_config.get("clip_folder"), old_config.get("dim")) != (
            new_config.get("clip_folder"),
            new_config.get("dim"),
        ):
            raise sbert_rag.ConfigError(
                f"this collection was embedded with CLIP {old_config.get('clip_folder')!r} "
                f"(dim {old_config.get('dim')}); "
                f"refusing {new_config.get('clip_folder')!r} (dim {new_config.get('dim')})"
            )

    def default_space(self) -> Space:
        """Cosine: CLIP vectors are unit length."""
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        """All three Chroma spaces rank unit vectors alike."""
        return ["cosine", "ip", "l2"]
