"""Optimiser pieces shared by the trainers: weight-decay parameter groups and learning-rate shapes.

Owns two small pure helpers: which parameters get weight decay, and the learning-rate factor
at a step (linear warmup, then linear or cosine decay to 0). Deliberately no optimiser state.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from sbert_rag.errors import ConfigError


def matrices_only(name: str, param: Any) -> bool:
    """Default decay rule: decay weight matrices, not biases or norm gains (1-D parameters)."""
    return param.ndim >= 2


def param_groups(
    modules: Iterable[Any], weight_decay: float, decays: Callable[[str, Any], bool] = matrices_only
) -> list[dict[str, Any]]:
    """AdamW parameter groups over the trainable parameters of ``modules`` (each counted once).

    Args:
        modules: torch modules.
        weight_decay: decay of the parameters for which ``decays(name, param)`` is true.
        decays: the rule; default decays matrices only (as BERT and sentence-transformers do).

    Returns:
        ``[{"params": decayed, "weight_decay": weight_decay}, {"params": others, "weight_decay": 0.0}]``.
    """
    decay, plain, seen = [], [], set()
    for module in modules:
        for name, param in module.named_parameters():
            if not param.requires_grad or id(param) in seen:
                continue
            seen.add(id(param))
            (decay if decays(name, param) else plain).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]


def lr_factor(step: int, warmup: int, total: int, decay: str = "linear") -> float:
    """Learning-rate multiplier at optimiser step ``step`` (0-based).

    Linear warmup over ``warmup`` steps ((step + 1) / warmup, so the first step already moves),
    then ``"linear"`` or ``"cosine"`` decay to 0 at ``total``.

    Raises:
        ConfigError: an unknown decay shape.
    """
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    if decay == "linear":
        return 1.0 - progress
    if decay == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    raise ConfigError(f"decay must be 'linear' or 'cosine'; got {decay!r}")
