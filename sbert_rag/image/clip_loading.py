"""Build, load and save open_clip CLIP models: from a config, a built-in name + tag or file, or a folder.

Owns everything that touches open_clip's factory and the on-disk format of a CLIP component:
a folder with ``config.json`` (``format_version``, ``component``, the :class:`CLIPConfig`) and
``model.safetensors``. Deliberately knows nothing about encoding; ``clip_encoder`` wraps what it
returns. Nothing downloads unless a pretrained *tag* is named, and then open_clip's usual
Hugging Face cache is tried first; a failure names the model and how to pass a local file.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sbert_rag._deps import require
from sbert_rag._version import __version__
from sbert_rag.errors import ConfigError, ModelLoadError
from sbert_rag.image.clip_config import BPE_VOCAB_SIZE, CLIPConfig

if TYPE_CHECKING:
    from torch import nn

FORMAT_VERSION = 1
COMPONENT = "clip_encoder"
CONFIG_FILE, WEIGHTS_FILE = "config.json", "model.safetensors"
_CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".npz")


def build_model(config: CLIPConfig, seed: int | None = None) -> nn.Module:
    """Instantiate an open_clip ``CLIP`` with random weights from ``config``, in eval mode, float32 on CPU.

    Args:
        config: the architecture.
        seed: seeds the initial weights (without touching torch's global random state); None =
            torch's current random state.

    Raises:
        ConfigError: a ``vision_cfg``/``text_cfg`` key is not an open_clip field, or the text
            vocabulary is smaller than the bundled BPE tokenizer's.
    """
    torch = require("torch")
    open_clip = require("open_clip")
    _check_keys(config.vision_cfg, open_clip.CLIPVisionCfg, "vision_cfg")
    _check_keys(config.text_cfg, open_clip.CLIPTextCfg, "text_cfg")
    vocab = int(config.text_cfg.get("vocab_size", BPE_VOCAB_SIZE))
    if vocab < BPE_VOCAB_SIZE:
        raise ConfigError(
            f"text_cfg['vocab_size']={vocab} is smaller than the bundled BPE tokenizer's {BPE_VOCAB_SIZE} "
            f"tokens, so some token ids would have no embedding; use vocab_size={BPE_VOCAB_SIZE}"
        )
    vision = open_clip.CLIPVisionCfg(**config.vision_cfg)
    text = open_clip.CLIPTextCfg(**config.text_cfg)
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        model = open_clip.CLIP(config.embed_dim, vision, text, quick_gelu=config.quick_gelu)
    return model.eval()


def from_open_clip(
    model_name: str, pretrained: str | os.PathLike[str] | None, cache_dir: str | None
) -> tuple[nn.Module, CLIPConfig]:
    """Build a built-in open_clip architecture, with weights from a tag, a checkpoint file, or random.

    Args:
        model_name: an ``open_clip.list_models()`` name, e.g. ``"ViT-B-32"``.
        pretrained: a tag of ``open_clip.list_pretrained_tags_by_model(model_name)`` (downloaded
            or read from the Hugging Face cache), a local checkpoint file (.pt, .pth, .bin,
            .safetensors), or None for random weights.
        cache_dir: where open_clip caches downloads; None = the Hugging Face default.

    Returns:
        The model (eval mode, float32, CPU) and its config.

    Raises:
        ConfigError: the name or tag is unknown (the message lists the tags), or the model is
            not a standard CLIP.
        ModelLoadError: the checkpoint file is missing or does not fit the architecture, or a
            tag's weights are neither cached nor downloadable.
    """
    open_clip = require("open_clip")
    model_cfg = open_clip.get_model_config(model_name)
    if model_cfg is None:
        raise ConfigError(
            f"unknown open_clip model {model_name!r}; open_clip.list_models() lists the built-in names "
            f"(e.g. 'ViT-B-32', 'ViT-B-16', 'ViT-L-14'); for your own architecture use "
            f"CLIPEncoder.from_config"
        )
    checkpoint: str | None = None
    preprocess: dict[str, Any] = {}
    if pretrained is not None:
        text = os.fspath(pretrained)
        looks_like_file = text.lower().endswith(_CHECKPOINT_SUFFIXES)
        if isinstance(pretrained, os.PathLike) or os.path.exists(text) or looks_like_file:
            if not os.path.isfile(text):
                raise ModelLoadError(f"checkpoint file {text!r} for {model_name!r} not found; check the path")
            checkpoint = text
        else:
            tags = open_clip.list_pretrained_tags_by_model(model_name)
            if text not in tags:
                raise ConfigError(
                    f"{text!r} is not a pretrained tag of {model_name!r} nor an existing file; tags: "
                    f"{tags or 'none'}"
                )
            tag_cfg = open_clip.get_pretrained_cfg(model_name, text)
            keys = ("mean", "std", "interpolation", "resize_mode")
            preprocess = {k: tag_cfg[k] for k in keys if k in tag_cfg}
            if tag_cfg.get("quick_gelu"):
                model_cfg = {**model_cfg, "quick_gelu": True}  # the weights were trained with QuickGELU
            checkpoint = _download(open_clip, tag_cfg, model_name, text, cache_dir)
    config = CLIPConfig.from_open_clip(model_cfg, preprocess)
    model = build_model(config)
    if checkpoint is not None:
        try:
            open_clip.load_checkpoint(model, checkpoint, strict=True)
        except (RuntimeError, OSError, KeyError, ValueError) as err:
            raise ModelLoadError(f"checkpoint {checkpoint!r} does not fit {model_name!r}: {err}") from err
    return model.eval(), config


def save_folder(model: nn.Module, config: CLIPConfig, folder: str | os.PathLike[str]) -> Path:
    """Write ``config.json`` and ``model.safetensors`` into ``folder`` (created if needed).

    Returns:
        The folder.
    """
    safetensors_torch = require("safetensors.torch")
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    meta = {"format_version": FORMAT_VERSION, "component": COMPONENT, "sbert_rag_version": __version__,
            "clip": config.to_dict()}
    (path / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    # save_model copes with tensors that share storage; weights go to disk as float32
    safetensors_torch.save_model(_float32_copy(model), str(path / WEIGHTS_FILE))
    return path


def load_folder(folder: str | os.PathLike[str]) -> tuple[nn.Module, CLIPConfig]:
    """Read a folder written by :func:`save_folder`.

    Returns:
        The model (eval mode, float32, CPU) and its config.

    Raises:
        ModelLoadError: the folder or a file is missing, ``config.json`` is not this component's
            or has an unknown ``format_version``, or the weights do not fit the config.
        ConfigError: the saved config is invalid.
    """
    safetensors_torch = require("safetensors.torch")
    path = Path(folder)
    if not path.is_dir():
        raise ModelLoadError(f"CLIP folder {str(path)!r} not found; pass the folder CLIPEncoder.save wrote")
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        if not (path / name).is_file():
            raise ModelLoadError(f"CLIP folder {str(path)!r} lacks {name}; it is not a saved CLIPEncoder")
    try:
        meta = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"{str(path / CONFIG_FILE)!r} is not readable JSON: {err}") from err
    if not isinstance(meta, dict) or meta.get("component") != COMPONENT:
        raise ModelLoadError(
            f"{str(path / CONFIG_FILE)!r} is not a CLIP encoder config (component != {COMPONENT!r})"
        )
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelLoadError(
            f"{str(path / CONFIG_FILE)!r} has format_version {meta.get('format_version')!r}; this sbert_rag "
            f"reads version {FORMAT_VERSION}; upgrade sbert_rag"
        )
    config = CLIPConfig.from_dict(meta.get("clip", {}))
    model = build_model(config)
    try:
        safetensors_torch.load_model(model, str(path / WEIGHTS_FILE), strict=True)
    except (RuntimeError, OSError, ValueError) as err:
        raise ModelLoadError(f"{str(path / WEIGHTS_FILE)!r} does not fit the saved config: {err}") from err
    return model.eval(), config


def _float32_copy(model: nn.Module) -> nn.Module:
    torch = require("torch")
    first = next(model.parameters())
    if first.dtype == torch.float32 and first.device.type == "cpu":
        return model
    return copy.deepcopy(model).to(device="cpu", dtype=torch.float32)


def _check_keys(values: Any, dataclass_type: type, name: str) -> None:
    allowed = {f.name for f in fields(dataclass_type)}
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ConfigError(f"{name} has keys open_clip does not know: {unknown}; allowed: {sorted(allowed)}")


def _download(
    open_clip: Any, tag_cfg: dict[str, Any], model_name: str, tag: str, cache_dir: str | None
) -> str:
    # open_clip reports a failed download as RuntimeError or an OSError subclass (huggingface_hub's
    # LocalEntryNotFoundError when offline); a blocked socket is a RuntimeError too
    try:
        target = open_clip.download_pretrained(tag_cfg, cache_dir=cache_dir)
    except (OSError, RuntimeError, ValueError) as err:
        raise ModelLoadError(
            f"weights of {model_name!r} / {tag!r} are not in the cache and could not be downloaded ({err}). "
            f"Download the checkpoint once elsewhere and pass its path: "
            f"CLIPEncoder.from_open_clip({model_name!r}, pretrained='/path/to/open_clip_model.safetensors')"
        ) from err
    if not target:
        raise ModelLoadError(
            f"open_clip has no download location for {model_name!r} / {tag!r}; pass a local checkpoint file"
        )
    return str(target)
