"""Train a CLIPEncoder on image-caption pairs with the symmetric contrastive loss.

Owns a small explicit loop: preprocess every image and tokenise every caption once, shuffle
with a seeded generator, AdamW with warmup and cosine decay, CLIP's learnable temperature
(clamped to 100 as in the paper), and an epoch callback for evaluation. Captions that repeat
in a batch are not used as each other's negatives. Deliberately no data augmentation,
mixed precision, distributed training or checkpoint files: save the encoder afterwards with
``CLIPEncoder.save``. Holds all preprocessed images in memory (n x 3 x side x side float32).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from sbert_rag._deps import require
from sbert_rag.config import DType
from sbert_rag.errors import ConfigError, InvalidInputError
from sbert_rag.image.images import ImageInput, as_item_list, load_images
from sbert_rag.training.losses import clip_contrastive_loss
from sbert_rag.training.optim import lr_factor, param_groups

if TYPE_CHECKING:
    import torch

    from sbert_rag.image.clip_encoder import CLIPEncoder


@dataclass(frozen=True)
class CLIPTrainingConfig:
    """Options of :class:`CLIPTrainer`.

    Attributes:
        epochs: passes over the pairs.
        batch_size: pairs per step; also the number of in-batch negatives + 1.
        learning_rate: peak AdamW learning rate.
        weight_decay: AdamW weight decay on matrices (not on biases, norms, the temperature).
        warmup_steps: steps of linear warmup before the cosine decay to 0.
        max_logit_scale: upper bound of the learned inverse temperature (100 in CLIP).
        seed: seeds the shuffling.
    """

    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 5e-4
    weight_decay: float = 0.1
    warmup_steps: int = 100
    max_logit_scale: float = 100.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1; got {value!r}")
        warmup = self.warmup_steps
        if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
            raise ConfigError(f"warmup_steps must be an integer >= 0; got {self.warmup_steps!r}")
        for name in ("learning_rate", "max_logit_scale"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be > 0; got {getattr(self, name)!r}")
        if not self.weight_decay >= 0:
            raise ConfigError(f"weight_decay must be >= 0; got {self.weight_decay!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every option."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CLIPTrainingConfig:
        """Build from :meth:`to_dict` output; unknown keys raise ``ConfigError`` naming them."""
        allowed = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(allowed))
        if unknown:
            raise ConfigError(f"unknown CLIP training keys {unknown}; allowed keys are {allowed}")
        return cls(**data)


@dataclass(frozen=True)
class EpochStats:
    """What one epoch did.

    Attributes:
        epoch: 1-based epoch number.
        steps: optimiser steps so far, all epochs.
        loss: mean loss over the epoch's steps.
        logit_scale: the learned inverse temperature at the end of the epoch.
        seconds: wall time since ``fit`` started, preprocessing included.
    """

    epoch: int
    steps: int
    loss: float
    logit_scale: float
    seconds: float


class CLIPTrainer:
    """Fine-tune or train from scratch the CLIP model inside a :class:`CLIPEncoder`, in place.

    Example:
        >>> clip = CLIPEncoder.from_config(CLIPConfig.small(), seed=0)
        >>> history = CLIPTrainer(clip, CLIPTrainingConfig(epochs=5)).fit(images, captions)
        >>> clip.save("my-clip/")
    """

    def __init__(self, encoder: CLIPEncoder, config: CLIPTrainingConfig | None = None) -> None:
        """Wrap an encoder to train.

        Raises:
            ConfigError: the encoder does not compute in float32 (train in float32, then load
                the saved folder with another dtype).
        """
        if encoder.dtype is not DType.FLOAT32:
            raise ConfigError(
                f"CLIPTrainer trains in float32; build the encoder with dtype='float32', "
                f"not {encoder.dtype.value!r}"
            )
        self.encoder = encoder
        self.config = config or CLIPTrainingConfig()

    def fit(
        self,
        images: Iterable[ImageInput],
        captions: Sequence[str],
        *,
        on_epoch_end: Callable[[EpochStats], None] | None = None,
    ) -> list[EpochStats]:
        """Train on aligned (image, caption) pairs; the encoder is left in eval mode.

        Args:
            images: anything ``load_image`` accepts, one per caption.
            captions: non-blank strings of at most ``encoder.max_tokens`` tokens each.
            on_epoch_end: called after every epoch with its stats (e.g. to evaluate).

        Returns:
            One ``EpochStats`` per epoch.

        Raises:
            InvalidInputError: fewer than 2 pairs, lengths differ, an image is bad (named by
                index and path), or a caption is blank.
            InputTooLongError: a caption exceeds the context; shorten it (training on a
                truncated caption would teach the model a text it never sees whole).
        """
        start = time.perf_counter()
        items = as_item_list(images)
        if len(items) != len(captions):
            raise InvalidInputError(
                f"got {len(items)} images but {len(captions)} captions; pass one caption per image"
            )
        if len(items) < 2:
            raise InvalidInputError(f"contrastive training needs at least 2 pairs; got {len(items)}")
        pixels = self.encoder.preprocess(load_images(items).images)  # (n, 3, h, w)
        tokens = self.encoder.token_ids(list(captions), overflow="error")  # (n, context)
        groups = _group_ids(captions)
        return self._loop(pixels, tokens, groups, start, on_epoch_end)

    def _loop(
        self,
        pixels: torch.Tensor,
        tokens: torch.Tensor,
        groups: torch.Tensor,
        start: float,
        on_epoch_end: Callable[[EpochStats], None] | None,
    ) -> list[EpochStats]:
        torch = require("torch")
        cfg, model, device = self.config, self.encoder.model, self.encoder.device
        n = pixels.shape[0]
        batch = min(cfg.batch_size, n)
        per_epoch = n // batch  # the last partial batch is dropped: fewer negatives, noisier steps
        total = per_epoch * cfg.epochs
        param_groups = _param_groups(model, cfg.weight_decay)
        optimizer = torch.optim.AdamW(param_groups, lr=cfg.learning_rate, betas=(0.9, 0.98), eps=1e-6)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: _lr_factor(step, cfg.warmup_steps, total)
        )
        generator = torch.Generator().manual_seed(cfg.seed)
        max_log_scale = math.log(cfg.max_logit_scale)
        history: list[EpochStats] = []
        steps = 0
        model.train()
        try:
            for epoch in range(1, cfg.epochs + 1):
                order = torch.randperm(n, generator=generator)
                losses = []
                for b in range(per_epoch):
                    idx = order[b * batch:(b + 1) * batch]
                    image_emb = model.encode_image(pixels[idx].to(device))  # (batch, dim)
                    text_emb = model.encode_text(tokens[idx].to(device))  # (batch, dim)
                    scale = model.logit_scale.exp()
                    loss = clip_contrastive_loss(image_emb, text_emb, scale, group_ids=groups[idx])
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    schedule.step()
                    with torch.no_grad():
                        model.logit_scale.clamp_(0, max_log_scale)  # CLIP clips the temperature at 100
                    losses.append(float(loss.detach()))
                    steps += 1
                mean_loss = sum(losses) / len(losses)
                learned = float(model.logit_scale.detach().exp())
                stats = EpochStats(epoch, steps, mean_loss, learned, time.perf_counter() - start)
                history.append(stats)
                if on_epoch_end is not None:
                    model.eval()
                    on_epoch_end(stats)
                    model.train()
        finally:
            model.eval()
        return history


def _group_ids(captions: Sequence[str]) -> torch.Tensor:
    torch = require("torch")
    first: dict[str, int] = {}
    return torch.as_tensor([first.setdefault(c, len(first)) for c in captions], dtype=torch.long)


def _decays(name: str, param: Any) -> bool:
    # as open_clip's training: no decay on biases, norm gains, embeddings' scale and the temperature
    return not (param.ndim < 2 or "ln" in name or "bias" in name or "logit_scale" in name)


def _param_groups(model: Any, weight_decay: float) -> list[dict[str, Any]]:
    return param_groups([model], weight_decay, _decays)


def _lr_factor(step: int, warmup: int, total: int) -> float:
    return lr_factor(step, warmup, total, decay="cosine")
