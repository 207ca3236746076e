"""Pooling: token vectors of a padded batch -> one vector per text.

Owns the pure tensor math of the six sentence-transformers pooling modes, all exact under
padding (padded positions never contribute). Knows nothing about models or tokenizers. Batches
are right-padded (the encoder builds them that way); ``weightedmean`` and ``lasttoken`` also
accept left padding through the mask.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sbert_rag.config import PoolingMode, parse_pooling

if TYPE_CHECKING:
    import torch

# Guards the division of an all-padding row (a text whose every token was masked out).
_EPS = 1e-9


def parse_modes(pooling: object) -> tuple[PoolingMode, ...]:
    """Parse one mode or a sequence of modes (concatenated in the order given)."""
    if isinstance(pooling, (list, tuple)):
        if not pooling:
            raise ValueError("pooling needs at least one mode")
        return tuple(parse_pooling(p) for p in pooling)
    return (parse_pooling(pooling),)


def pool(
    hidden: torch.Tensor,
    mask: torch.Tensor,
    modes: Sequence[PoolingMode],
    *,
    exclude_first: int = 0,
) -> torch.Tensor:
    """Pool token vectors into text vectors.

    Args:
        hidden: token vectors, shape (batch, seq, hidden).
        mask: attention mask, shape (batch, seq), 1 for real tokens and 0 for padding.
        modes: pooling modes; several are concatenated along the last axis.
        exclude_first: number of leading tokens (a prompt, with its special prefix) to leave out
            of the pooling, as sentence-transformers does with ``include_prompt=False``.

    Returns:
        Tensor of shape (batch, hidden * len(modes)), in float32 when the input is half precision.
    """
    import torch

    pool_mask = mask
    if exclude_first:
        pool_mask = mask.clone()
        pool_mask[:, :exclude_first] = 0
    acc = torch.float32 if hidden.dtype in (torch.float16, torch.bfloat16) else hidden.dtype
    out = []
    for mode in modes:
        out.append(_pool_one(hidden, mask, pool_mask, mode, acc))
    return out[0] if len(out) == 1 else torch.cat(out, dim=-1)


def _pool_one(
    hidden: torch.Tensor, mask: torch.Tensor, pool_mask: torch.Tensor, mode: PoolingMode, acc: torch.dtype
) -> torch.Tensor:
    import torch

    if mode is PoolingMode.CLS:
        first = pool_mask.to(torch.int32).argmax(dim=1)  # first attended position, 0 when right-padded
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), first].to(acc)
    if mode is PoolingMode.MAX:
        filled = hidden.masked_fill(pool_mask.unsqueeze(-1) == 0, float("-inf"))
        return filled.max(dim=1).values.to(acc)  # (batch, hidden)
    if mode in (PoolingMode.MEAN, PoolingMode.MEAN_SQRT_LEN):
        m = pool_mask.unsqueeze(-1).to(hidden.dtype)  # (batch, seq, 1)
        summed = (hidden * m).sum(dim=1, dtype=acc)  # (batch, hidden)
        count = torch.clamp(pool_mask.sum(dim=1, dtype=acc).unsqueeze(-1), min=_EPS)
        return summed / (count if mode is PoolingMode.MEAN else torch.sqrt(count))
    if mode is PoolingMode.WEIGHTED_MEAN:
        seq = hidden.shape[1]
        # Position weights 1..seq counted from the first real token (left padding shifts them).
        weights = torch.arange(1, seq + 1, device=hidden.device, dtype=acc).view(1, -1)
        weights = weights - mask.to(torch.int32).argmax(dim=1).view(-1, 1).to(acc)
        w = (pool_mask.to(acc) * weights).unsqueeze(-1)  # (batch, seq, 1)
        summed = (hidden.to(acc) * w).sum(dim=1)
        return summed / torch.clamp(w.sum(dim=1), min=_EPS)
    if mode is PoolingMode.LAST_TOKEN:
        seq = hidden.shape[1]
        values, rev = mask.flip(1).max(dim=1)
        last = torch.where(values == 0, seq - 1, seq - 1 - rev)  # last attended position
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last].to(acc)
    raise AssertionError(f"unhandled pooling mode {mode}")  # parse_modes admits only the six above
