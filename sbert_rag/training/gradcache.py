"""GradCache: a contrastive loss over a large batch computed in small mini-batches of memory.

Owns the two-pass trick of Gao et al., "Scaling Deep Contrastive Learning Batch Size under
Memory Limited Setup" (2021): embed every mini-batch without a graph, compute the loss on those
embeddings and cache its gradient with respect to them, then, when the caller backpropagates,
re-embed each mini-batch with a graph and push the cached gradient through it. Peak memory is
one mini-batch's activations; the result equals the full-batch gradient because the dropout
random state of each mini-batch is replayed. The loss itself comes from ``losses.py``.
Deliberately knows nothing about towers or data; sentence-transformers ships the same idea as
``CachedMultipleNegativesRankingLoss``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sbert_rag._deps import require
from sbert_rag.config import check_positive_int

if TYPE_CHECKING:
    import torch

Rows = Sequence[Sequence[int]]


@dataclass(frozen=True)
class CachedPart:
    """One group of inputs to embed: e.g. the anchors, the positives or the negatives.

    Attributes:
        embed: token rows -> (n, dim) embeddings (a ``Tower.embed_rows``).
        rows: the group's token rows.
        trainable: False for a frozen tower (embedded once, no second pass).
    """

    embed: Callable[[Rows], Any]
    rows: Rows
    trainable: bool = True


class _RandomState:
    """The CPU (and CUDA) generator states before a forward pass, to replay its dropout."""

    def __init__(self) -> None:
        torch = require("torch")
        self.cpu = torch.get_rng_state()
        self.cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None

    @contextlib.contextmanager
    def replayed(self) -> Iterator[None]:
        torch = require("torch")
        devices = list(range(len(self.cuda))) if self.cuda is not None else []
        with torch.random.fork_rng(devices=devices):
            torch.set_rng_state(self.cpu)
            if self.cuda is not None:
                torch.cuda.set_rng_state_all(self.cuda)
            yield


def cached_loss(
    parts: Sequence[CachedPart],
    loss_fn: Callable[..., torch.Tensor],
    mini_batch_size: int,
) -> torch.Tensor:
    """Compute ``loss_fn(*embeddings)`` over all parts with GradCache; backward works as usual.

    Args:
        parts: the groups to embed, in the order ``loss_fn`` takes them.
        loss_fn: embeddings of each part -> scalar loss (e.g. a lambda around
            ``multiple_negatives_ranking_loss``).
        mini_batch_size: rows embedded per forward pass; bounds activation memory.

    Returns:
        The loss as a scalar tensor; calling ``.backward()`` on it (or on a multiple, e.g. for
        gradient accumulation) fills the parameters' gradients of the trainable parts exactly as
        a full-batch backward would (up to float rounding).

    Example:
        >>> parts = [CachedPart(q.embed_rows, q_rows), CachedPart(p.embed_rows, p_rows)]
        >>> loss = cached_loss(parts, lambda a, b: multiple_negatives_ranking_loss(a, b), 8)
        >>> loss.backward()
    """
    torch = require("torch")
    size = check_positive_int(mini_batch_size, "mini_batch_size")
    autocast = _autocast_settings()
    reps: list[torch.Tensor] = []
    states: list[list[_RandomState]] = []
    with torch.no_grad():
        for part in parts:
            chunks, part_states = [], []
            for start in range(0, len(part.rows), size):
                part_states.append(_RandomState())
                chunks.append(part.embed(part.rows[start:start + size]))
            reps.append(torch.cat(chunks).detach().requires_grad_(part.trainable))
            states.append(part_states)
    with torch.enable_grad():
        loss = loss_fn(*reps)
        trainable = [r for r, p in zip(reps, parts) if p.trainable]
        grads = torch.autograd.grad(loss, trainable) if trainable else []
    cached = iter(grads)
    part_grads = [next(cached) if p.trainable else None for p in parts]
    out = loss.detach().requires_grad_()

    def replay(grad_output: torch.Tensor) -> None:
        # Runs inside the caller's backward: re-embed each mini-batch with a graph (same dropout,
        # same autocast as the first pass) and push the cached gradient, scaled like the loss was.
        with torch.enable_grad(), _autocast(autocast):
            for part, part_states, grad in zip(parts, states, part_grads):
                if grad is None:
                    continue
                for i, start in enumerate(range(0, len(part.rows), size)):
                    with part_states[i].replayed():
                        emb = part.embed(part.rows[start:start + size])  # (mini, dim)
                    surrogate = (emb * grad[start:start + size]).sum() * grad_output
                    surrogate.backward()

    out.register_hook(replay)
    return out


def _autocast_settings() -> list[tuple[str, Any]]:
    torch = require("torch")
    found = []
    for device in ("cpu", "cuda"):
        if torch.is_autocast_enabled(device):
            found.append((device, torch.get_autocast_dtype(device)))
    return found


@contextlib.contextmanager
def _autocast(settings: list[tuple[str, Any]]) -> Iterator[None]:
    torch = require("torch")
    with contextlib.ExitStack() as stack:
        for device, dtype in settings:
            stack.enter_context(torch.autocast(device_type=device, dtype=dtype))
        yield
