"""CLIPEncoder: images and texts into one CLIP space, batched, device-aware, normalised.

Owns encoding with an open_clip ``CLIP``: image loading and preprocessing per batch, the CLIP
text tokeniser under the same overflow policy as the core text encoder (CLIP reads 77 tokens;
open_clip's ``SimpleTokenizer`` would cut the rest silently), ``inference_mode``, device and
dtype, and L2-normalised float32 output. Building, loading and saving live in ``clip_loading``;
training in ``sbert_rag.training.clip_trainer``. The model is a plain open_clip ``CLIP``
(``encoder.model``), so open_clip code can use it too.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sbert_rag._deps import require
from sbert_rag.config import DType, OverflowPolicy, check_positive_int, parse_dtype, parse_overflow
from sbert_rag.encoding.normalize import l2_normalize
from sbert_rag.encoding.report import EncodeResult, OverflowReport
from sbert_rag.encoding.text_encoder import resolve_device
from sbert_rag.encoding.tokenize import TokenizerView
from sbert_rag.encoding.validate import validate_texts
from sbert_rag.errors import ConfigError
from sbert_rag.image import clip_loading
from sbert_rag.image.clip_config import CLIPConfig
from sbert_rag.image.clip_text import BPETokenizer, average_windows, clean_mode
from sbert_rag.image.images import (
    ImageInput,
    OnBadImage,
    SkippedImage,
    as_item_list,
    load_images,
    parse_on_bad_image,
)
from sbert_rag.types import FloatMatrix

if TYPE_CHECKING:
    import torch
    from PIL import Image
    from torch import nn


@dataclass(frozen=True)
class ImageEncodeResult:
    """Embeddings of the usable images of a call, and what was skipped.

    Attributes:
        embeddings: float32 (len(indices), dim), unit rows, in input order.
        indices: input index of each row.
        skipped: the items left out, with the reason.
    """

    embeddings: FloatMatrix
    indices: tuple[int, ...]
    skipped: tuple[SkippedImage, ...]


class CLIPEncoder:
    """Encode images and texts with an open_clip CLIP; float32 (n, dim) unit rows out.

    Build it with :meth:`from_config` (random weights, e.g. to train), :meth:`from_open_clip`
    (a built-in architecture with a pretrained tag or a local checkpoint) or :meth:`load`.

    Example:
        >>> clip = CLIPEncoder.from_open_clip("ViT-B-32", pretrained="/models/vit-b-32.safetensors")
        >>> images = clip.encode_images(["cat.png", open("dog.jpg", "rb").read()])   # (2, 512)
        >>> texts = clip.encode_texts(["a photo of a cat"])                         # (1, 512)
        >>> scores = texts @ images.T
    """

    def __init__(
        self,
        model: nn.Module,
        config: CLIPConfig,
        *,
        device: str | None = "auto",
        dtype: str | DType = "float32",
        overflow: str | OverflowPolicy = "warn",
        batch_size: int = 32,
        window_overlap_tokens: int = 16,
    ) -> None:
        """Wrap a built open_clip ``CLIP`` (prefer the ``from_*`` constructors).

        Args:
            model: an open_clip ``CLIP`` matching ``config``; moved to ``device`` and ``dtype``.
            config: its architecture and preprocessing.
            device: ``"auto"`` (cuda, mps, cpu) or a torch device string.
            dtype: ``float32``, ``bfloat16`` or ``float16`` compute precision; outputs are float32.
            overflow: texts longer than the context (77 tokens in CLIP): ``warn`` (truncate, one
                warning per call naming the inputs and the limit, facts in ``last_report``),
                ``error`` (raise ``InputTooLongError``) or ``windows`` (embed overlapping windows
                and average them).
            batch_size: images or texts per forward pass.
            window_overlap_tokens: tokens shared by consecutive windows under ``windows``.

        Raises:
            ConfigError: an option is invalid.
        """
        torch = require("torch")
        self.config = config
        self.device = resolve_device(device)
        self.dtype = parse_dtype(dtype)
        if self.dtype in (DType.AUTO, DType.INT8):
            raise ConfigError(f"dtype={self.dtype.value!r} is for text encoders; a CLIP model takes float32, bfloat16 or float16")
        self.overflow = parse_overflow(overflow)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.window_overlap_tokens = check_positive_int(window_overlap_tokens, "window_overlap_tokens")
        self.model = model.to(device=self.device, dtype=getattr(torch, self.dtype.value)).eval()
        self._tokens = TokenizerView(BPETokenizer.shared(clean_mode(config)), config.context_length)
        self._transform = _image_transform(config)
        self.last_report: OverflowReport | None = None  # facts of the latest encode_texts call

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_config(
        cls,
        config: CLIPConfig,
        *,
        seed: int | None = None,
        device: str | None = "auto",
        dtype: str | DType = "float32",
        overflow: str | OverflowPolicy = "warn",
        batch_size: int = 32,
        window_overlap_tokens: int = 16,
    ) -> CLIPEncoder:
        """A CLIP with random weights from ``config`` (to train, or in tests).

        Args:
            config: the architecture, e.g. ``CLIPConfig.small()``.
            seed: seeds the initial weights; None = torch's current random state.
            device, dtype, overflow, batch_size, window_overlap_tokens: as in the constructor.
        """
        model = clip_loading.build_model(config, seed)
        return cls(model, config, device=device, dtype=dtype, overflow=overflow, batch_size=batch_size,
                   window_overlap_tokens=window_overlap_tokens)

    @classmethod
    def from_open_clip(
        cls,
        model_name: str,
        pretrained: str | os.PathLike[str] | None = None,
        *,
        cache_dir: str | None = None,
        device: str | None = "auto",
        dtype: str | DType = "float32",
        overflow: str | OverflowPolicy = "warn",
        batch_size: int = 32,
        window_overlap_tokens: int = 16,
    ) -> CLIPEncoder:
        """A built-in open_clip architecture with weights from a tag, a local checkpoint, or random.

        Args:
            model_name: an ``open_clip.list_models()`` name, e.g. ``"ViT-B-32"``.
            pretrained: a local checkpoint file (.pt, .pth, .bin, .safetensors), a pretrained tag
                (e.g. ``"laion2b_s34b_b79k"``: read from the Hugging Face cache, else downloaded),
                or None for random weights.
            cache_dir: open_clip's download cache; None = the Hugging Face default.
            device, dtype, overflow, batch_size, window_overlap_tokens: as in the constructor.

        Raises:
            ConfigError: unknown name or tag, or not a standard CLIP architecture.
            ModelLoadError: the checkpoint is missing or does not fit, or the tag's weights are
                neither cached nor downloadable (the message says how to pass a local file).
        """
        model, config = clip_loading.from_open_clip(model_name, pretrained, cache_dir)
        return cls(model, config, device=device, dtype=dtype, overflow=overflow, batch_size=batch_size,
                   window_overlap_tokens=window_overlap_tokens)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        device: str | None = "auto",
        dtype: str | DType = "float32",
        overflow: str | OverflowPolicy = "warn",
        batch_size: int = 32,
        window_overlap_tokens: int = 16,
    ) -> CLIPEncoder:
        """Load a folder written by :meth:`save` (``config.json`` + ``model.safetensors``).

        Args:
            path: the folder.
            device, dtype, overflow, batch_size, window_overlap_tokens: as in the constructor.

        Raises:
            ModelLoadError: the folder or a file is missing or does not fit (named in the message).
        """
        model, config = clip_loading.load_folder(path)
        return cls(model, config, device=device, dtype=dtype, overflow=overflow, batch_size=batch_size,
                   window_overlap_tokens=window_overlap_tokens)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``config.json`` and float32 ``model.safetensors`` into the folder ``path``; returns it."""
        return clip_loading.save_folder(self.model, self.config, path)

    # ------------------------------------------------------------------ properties
    @property
    def dim(self) -> int:
        """Embedding dimension of the shared image-text space."""
        return self.config.embed_dim

    @property
    def max_tokens(self) -> int:
        """Most text tokens the model reads, start and end tokens included (77 in CLIP)."""
        return self.config.context_length

    def __repr__(self) -> str:
        return (
            f"CLIPEncoder(dim={self.dim}, image_size={self.config.image_size}, max_tokens={self.max_tokens}, "
            f"device={self.device!r}, dtype={self.dtype.value!r}, overflow={self.overflow.value!r})"
        )

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Token count of each text as CLIP sees it, start and end tokens included."""
        return [len(ids) for ids in self._tokens.ids(validate_texts(texts, "text"))]

    # ------------------------------------------------------------------ texts
    def encode_texts(
        self,
        texts: Iterable[str],
        *,
        overflow: str | OverflowPolicy | None = None,
        batch_size: int | None = None,
    ) -> FloatMatrix:
        """Embed texts into the CLIP space.

        Args:
            texts: a list or iterable of non-blank strings (not a bare string).
            overflow: overrides the encoder's overflow policy for this call.
            batch_size: overrides the encoder's batch size for this call.

        Returns:
            float32 (n, dim), unit rows, one per text in order; (0, dim) for no texts.

        Raises:
            InvalidInputError: a text is None, not a string, empty or blank (named by index).
            InputTooLongError: policy ``error`` and a text exceeds ``max_tokens``.
        """
        return self.encode_texts_with_report(texts, overflow=overflow, batch_size=batch_size).embeddings

    def encode_texts_with_report(
        self,
        texts: Iterable[str],
        *,
        overflow: str | OverflowPolicy | None = None,
        batch_size: int | None = None,
    ) -> EncodeResult:
        """Like :meth:`encode_texts`, returning the embeddings with the call's ``OverflowReport``."""
        torch = require("torch")
        items = validate_texts(texts, "text")
        policy = self.overflow if overflow is None else parse_overflow(overflow)
        size = self.batch_size if batch_size is None else check_positive_int(batch_size, "batch_size")
        overlap = self.window_overlap_tokens
        rows = self._tokens.prepare(items, policy=policy, window_overlap=overlap, what="text")
        self.last_report = rows.report
        if not items:
            return EncodeResult(embeddings=np.zeros((0, self.dim), dtype=np.float32), report=rows.report)
        parts = []
        with torch.inference_mode():
            for start in range(0, len(rows.rows), size):
                ids = self._pad(rows.rows[start:start + size]).to(self.device)  # (batch, context)
                parts.append(self.model.encode_text(ids).float().cpu())  # (batch, dim)
        vectors = average_windows(torch.cat(parts).numpy(), rows)
        return EncodeResult(embeddings=l2_normalize(vectors), report=rows.report)

    def token_ids(self, texts: Sequence[str], *, overflow: str | OverflowPolicy = "error") -> torch.Tensor:
        """Token id rows padded to the context, for training; one row per text (no windows).

        Raises:
            InvalidInputError: a text is blank or not a string.
            InputTooLongError: ``overflow="error"`` and a text is too long.
            ConfigError: ``overflow="windows"`` (a training pair needs one row per caption).
        """
        policy = parse_overflow(overflow)
        if policy is OverflowPolicy.WINDOWS:
            raise ConfigError("token_ids gives one row per text: use overflow 'error' or 'warn'")
        rows = self._tokens.prepare(validate_texts(texts, "text"), policy=policy, what="text")
        return self._pad(rows.rows)

    def _pad(self, rows: list[list[int]]) -> torch.Tensor:
        torch = require("torch")
        # CLIP's positional embedding and causal mask span the full context, so pad every row to it;
        # pooling takes the end token (the highest id), so padding with 0 changes nothing
        ids = torch.zeros((len(rows), self.max_tokens), dtype=torch.long)
        for j, row in enumerate(rows):
            ids[j, : len(row)] = torch.as_tensor(row, dtype=torch.long)
        return ids

    # ------------------------------------------------------------------ images
    def encode_images(self, images: Iterable[ImageInput], *, batch_size: int | None = None) -> FloatMatrix:
        """Embed images into the CLIP space.

        Args:
            images: a list or iterable of file paths, encoded bytes, binary file objects, PIL
                images or numpy arrays (see ``sbert_rag.image.load_image``); loaded one batch at
                a time, converted to RGB, resized and normalised as the model expects.
            batch_size: overrides the encoder's batch size for this call.

        Returns:
            float32 (n, dim), unit rows, one per image in order; (0, dim) for no images.

        Raises:
            InvalidInputError: an item is missing, unreadable, not an image, corrupt or of zero
                size (the message names its index and path); use
                :meth:`encode_images_with_report` to skip bad items instead.
        """
        return self._encode_images(images, OnBadImage.ERROR, batch_size).embeddings

    def encode_images_with_report(
        self,
        images: Iterable[ImageInput],
        *,
        on_bad_image: str | OnBadImage = "skip",
        batch_size: int | None = None,
    ) -> ImageEncodeResult:
        """Embed images, leaving bad items out and reporting them (``on_bad_image="skip"``).

        Returns:
            The embeddings of the usable images, their input indices, and the skipped items.

        Raises:
            InvalidInputError: ``on_bad_image="error"`` and an item is bad.
        """
        return self._encode_images(images, parse_on_bad_image(on_bad_image), batch_size)

    def preprocess(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """Resize, crop and normalise RGB images into model input, float32 (n, 3, height, width) on CPU."""
        torch = require("torch")
        height, width = self.config.image_size
        if not images:
            return torch.zeros((0, 3, height, width), dtype=torch.float32)
        return torch.stack([self._transform(image) for image in images])

    def _encode_images(
        self, images: Iterable[ImageInput], policy: OnBadImage, batch_size: int | None
    ) -> ImageEncodeResult:
        torch = require("torch")
        items = as_item_list(images)
        size = self.batch_size if batch_size is None else check_positive_int(batch_size, "batch_size")
        parts, indices, skipped = [], [], []
        dtype = getattr(torch, self.dtype.value)
        with torch.inference_mode():
            for start in range(0, len(items), size):
                loaded = load_images(items[start:start + size], policy, offset=start)
                indices.extend(loaded.indices)
                skipped.extend(loaded.skipped)
                if loaded.images:
                    pixels = self.preprocess(loaded.images).to(self.device, dtype)  # (b, 3, h, w)
                    parts.append(self.model.encode_image(pixels).float().cpu().numpy())  # (b, dim)
        vectors = np.concatenate(parts) if parts else np.zeros((0, self.dim), dtype=np.float32)
        embeddings = l2_normalize(vectors) if len(vectors) else vectors
        return ImageEncodeResult(embeddings=embeddings, indices=tuple(indices), skipped=tuple(skipped))


def _image_transform(config: CLIPConfig) -> Any:
    open_clip = require("open_clip")
    return open_clip.image_transform(
        config.image_size,
        is_train=False,
        mean=config.image_mean,
        std=config.image_std,
        resize_mode=config.resize_mode,
        interpolation=config.interpolation,
    )
