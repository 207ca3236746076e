"""CLIPConfig: the architecture and image preprocessing of an open_clip CLIP model, as JSON.

Owns the frozen description that ``CLIPEncoder`` builds a model from and saves next to its
weights. The architecture fields are open_clip's own model-config JSON (``embed_dim``,
``vision_cfg``, ``text_cfg``, ``quick_gelu``, as in open_clip ``src/open_clip/model_configs/
ViT-B-32.json``, read into its ``CLIPVisionCfg``/``CLIPTextCfg`` dataclasses), so a built-in
open_clip architecture maps onto it one to one. Field names inside ``vision_cfg``/``text_cfg``
are checked against open_clip's dataclasses when the model is built (open_clip is not imported
here). Covers the standard ``CLIP`` class with its own text tower and the bundled BPE
tokenizer; Hugging Face text towers (``hf_model_name``), custom-text and CoCa models are refused.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from sbert_rag.config import check_positive_int
from sbert_rag.errors import ConfigError

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)  # the per-channel pixel statistics CLIP was trained with
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
# open_clip's bundled bpe_simple_vocab_16e6: 256 bytes + 256 end-of-word bytes + 48,894 merges + 2 specials
BPE_VOCAB_SIZE = 49408
_INTERPOLATIONS = ("bicubic", "bilinear")
_RESIZE_MODES = ("shortest", "longest", "squash")
# text_cfg keys that need another tokenizer or a Hugging Face text tower
_UNSUPPORTED_TEXT_KEYS = ("hf_model_name", "hf_tokenizer_name", "tokenizer_mode")


@dataclass(frozen=True)
class CLIPConfig:
    """Architecture and preprocessing of a CLIP model.

    Attributes:
        embed_dim: dimension of the shared image-text embedding space.
        vision_cfg: open_clip ``CLIPVisionCfg`` fields (``image_size``, ``patch_size``, ``width``,
            ``layers``, ``head_width``, ...); missing fields take open_clip's defaults.
        text_cfg: open_clip ``CLIPTextCfg`` fields (``context_length``, ``vocab_size``, ``width``,
            ``heads``, ``layers``, ...); missing fields take open_clip's defaults.
        quick_gelu: use QuickGELU activations (OpenAI's original weights need it).
        image_mean: per-channel mean subtracted from pixels in [0, 1].
        image_std: per-channel standard deviation pixels are divided by.
        interpolation: resize filter, ``"bicubic"`` or ``"bilinear"``.
        resize_mode: ``"shortest"`` (resize the short side, centre crop), ``"longest"`` (resize
            the long side, pad) or ``"squash"`` (resize both sides, ignoring the aspect ratio).

    Example:
        >>> config = CLIPConfig.small(image_size=32, patch_size=16)   # what tests build
        >>> config.context_length
        77
    """

    embed_dim: int
    vision_cfg: Mapping[str, Any]
    text_cfg: Mapping[str, Any]
    quick_gelu: bool = False
    image_mean: tuple[float, float, float] = OPENAI_MEAN
    image_std: tuple[float, float, float] = OPENAI_STD
    interpolation: str = "bicubic"
    resize_mode: str = "shortest"

    def __post_init__(self) -> None:
        check_positive_int(self.embed_dim, "embed_dim")
        for name in ("vision_cfg", "text_cfg"):
            value = getattr(self, name)
            if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
                raise ConfigError(f"{name} must map open_clip field names to values; got {value!r}")
            try:
                json.dumps(dict(value))
            except (TypeError, ValueError) as err:
                raise ConfigError(f"{name} must hold JSON values only (saved as config.json): {err}") from err
            object.__setattr__(self, name, copy.deepcopy(dict(value)))
        for key in _UNSUPPORTED_TEXT_KEYS:
            if self.text_cfg.get(key):
                raise ConfigError(
                    f"text_cfg[{key!r}] is set: CLIPEncoder supports CLIP's own text tower with the bundled "
                    f"BPE tokenizer only; pick an open_clip model without a Hugging Face text tower"
                )
        if not isinstance(self.quick_gelu, bool):
            raise ConfigError(f"quick_gelu must be true or false; got {self.quick_gelu!r}")
        object.__setattr__(self, "image_mean", _three_floats(self.image_mean, "image_mean", positive=False))
        object.__setattr__(self, "image_std", _three_floats(self.image_std, "image_std", positive=True))
        if self.interpolation not in _INTERPOLATIONS:
            raise ConfigError(f"interpolation must be one of {_INTERPOLATIONS}; got {self.interpolation!r}")
        if self.resize_mode not in _RESIZE_MODES:
            raise ConfigError(f"resize_mode must be one of {_RESIZE_MODES}; got {self.resize_mode!r}")
        if self.context_length < 3:
            raise ConfigError(
                f"text_cfg['context_length'] must be >= 3 (start token, text, end token); "
                f"got {self.context_length}"
            )

    @classmethod
    def small(
        cls,
        *,
        embed_dim: int = 32,
        image_size: int = 32,
        patch_size: int = 16,
        vision_width: int = 32,
        vision_layers: int = 1,
        head_width: int = 16,
        text_width: int = 32,
        text_heads: int = 2,
        text_layers: int = 1,
        context_length: int = 77,
    ) -> CLIPConfig:
        """A small vision + text transformer with random weights, as tests and the synthetic example use.

        Args:
            embed_dim: shared embedding dimension.
            image_size: input side in pixels; a multiple of ``patch_size``.
            patch_size: side of a square patch in pixels.
            vision_width: vision transformer width; a multiple of ``head_width``.
            vision_layers: vision transformer blocks.
            head_width: width of one vision attention head.
            text_width: text transformer width; a multiple of ``text_heads``.
            text_heads: text attention heads.
            text_layers: text transformer blocks.
            context_length: text tokens read, start and end tokens included (77 in every CLIP).

        Raises:
            ConfigError: a size is not a positive integer or the widths do not divide.
        """
        for name, value in locals().items():
            if name != "cls":
                check_positive_int(value, name)
        if image_size % patch_size:
            raise ConfigError(f"image_size={image_size} must be a multiple of patch_size={patch_size}")
        if vision_width % head_width or text_width % text_heads:
            raise ConfigError(
                f"vision_width={vision_width} must be a multiple of head_width={head_width} and "
                f"text_width={text_width} a multiple of text_heads={text_heads}"
            )
        vision = {"image_size": image_size, "patch_size": patch_size, "width": vision_width,
                  "layers": vision_layers, "head_width": head_width}
        text = {"context_length": context_length, "vocab_size": BPE_VOCAB_SIZE, "width": text_width,
                "heads": text_heads, "layers": text_layers}
        return cls(embed_dim=embed_dim, vision_cfg=vision, text_cfg=text)

    @property
    def image_size(self) -> tuple[int, int]:
        """Model input (height, width) in pixels (open_clip's default 224 when unset)."""
        size = self.vision_cfg.get("image_size", 224)
        return (int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1]))

    @property
    def context_length(self) -> int:
        """Most text tokens the model reads, start and end tokens included."""
        return int(self.text_cfg.get("context_length", 77))

    def model_cfg(self) -> dict[str, Any]:
        """The open_clip model-config dict (``embed_dim``, ``vision_cfg``, ``text_cfg``, ``quick_gelu``)."""
        return {"embed_dim": self.embed_dim, "vision_cfg": copy.deepcopy(dict(self.vision_cfg)),
                "text_cfg": copy.deepcopy(dict(self.text_cfg)), "quick_gelu": self.quick_gelu}

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict that :meth:`from_dict` turns back into an equal config."""
        out = self.model_cfg()
        out.update(image_mean=list(self.image_mean), image_std=list(self.image_std),
                   interpolation=self.interpolation, resize_mode=self.resize_mode)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CLIPConfig:
        """Build from :meth:`to_dict` output.

        Raises:
            ConfigError: a key is unknown (named, with the allowed keys) or ``embed_dim``,
                ``vision_cfg`` or ``text_cfg`` is missing, or a value is invalid.
        """
        allowed = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(allowed))
        if unknown:
            raise ConfigError(f"unknown CLIP config keys {unknown}; allowed keys are {allowed}")
        missing = [k for k in ("embed_dim", "vision_cfg", "text_cfg") if k not in data]
        if missing:
            raise ConfigError(f"CLIP config lacks {missing}; it needs embed_dim, vision_cfg and text_cfg")
        values = dict(data)
        for key in ("image_mean", "image_std"):
            if key in values and isinstance(values[key], list):
                values[key] = tuple(values[key])
        return cls(**values)

    @classmethod
    def from_open_clip(
        cls, model_cfg: Mapping[str, Any], preprocess_cfg: Mapping[str, Any] | None = None
    ) -> CLIPConfig:
        """Build from an open_clip model-config dict and, optionally, its preprocessing config.

        Args:
            model_cfg: e.g. ``open_clip.get_model_config("ViT-B-32")``.
            preprocess_cfg: open_clip ``PreprocessCfg`` fields (``mean``, ``std``,
                ``interpolation``, ``resize_mode``); None = CLIP's defaults.

        Raises:
            ConfigError: the model is not a standard CLIP (custom text tower, CoCa, or another
                constructor option); the message names the key.
        """
        unsupported = sorted(set(model_cfg) - {"embed_dim", "vision_cfg", "text_cfg", "quick_gelu"})
        if unsupported:
            raise ConfigError(
                f"this open_clip model sets {unsupported}: CLIPEncoder supports the standard CLIP class "
                f"(CLIP text tower, bundled BPE tokenizer) only"
            )
        pre = dict(preprocess_cfg or {})
        return cls(
            embed_dim=model_cfg["embed_dim"],
            vision_cfg=model_cfg["vision_cfg"],
            text_cfg=model_cfg["text_cfg"],
            quick_gelu=bool(model_cfg.get("quick_gelu", False)),
            image_mean=tuple(pre.get("mean", OPENAI_MEAN)),
            image_std=tuple(pre.get("std", OPENAI_STD)),
            interpolation=pre.get("interpolation", "bicubic"),
            resize_mode=pre.get("resize_mode", "shortest"),
        )


def _three_floats(value: object, name: str, *, positive: bool) -> tuple[float, float, float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = (value,) * 3  # open_clip accepts one number for all channels
    if not isinstance(value, (tuple, list)) or len(value) != 3 or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
    ):
        raise ConfigError(f"{name} must be 3 numbers (one per RGB channel); got {value!r}")
    if positive and not all(v > 0 for v in value):
        raise ConfigError(f"{name} must be > 0 in every channel; got {value!r}")
    return (float(value[0]), float(value[1]), float(value[2]))
