"""Contrastive losses on hand-built embeddings: exact values, symmetry, masking, gradients, errors."""

from __future__ import annotations

import math

import pytest
import torch

from sbert_rag.errors import InvalidInputError
from sbert_rag.training.losses import clip_contrastive_loss


def test_clip_loss_two_orthogonal_pairs_matches_hand_value() -> None:
    eye = torch.eye(2)
    # each row: logits (s, 0) -> cross-entropy log(1 + e^-s), same in both directions
    for scale in (1.0, 5.0):
        expected = math.log1p(math.exp(-scale))
        assert clip_contrastive_loss(eye, eye, scale).item() == pytest.approx(expected, rel=1e-6)


def test_clip_loss_aligned_pairs_at_high_scale_is_near_zero_and_random_is_log_n() -> None:
    a = torch.eye(6)
    assert clip_contrastive_loss(a, 3 * a, 100.0).item() < 1e-6  # lengths do not matter: cosine
    b = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
    assert clip_contrastive_loss(b, b.flip(0), 1e-6).item() == pytest.approx(math.log(6), rel=1e-4)


def test_clip_loss_is_symmetric() -> None:
    gen = torch.Generator().manual_seed(1)
    a, b = torch.randn(5, 8, generator=gen), torch.randn(5, 8, generator=gen)
    assert clip_contrastive_loss(a, b, 10.0).item() == pytest.approx(clip_contrastive_loss(b, a, 10.0).item(), rel=1e-6)


def test_clip_loss_group_ids_stop_duplicates_being_negatives() -> None:
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # rows 0 and 1: the same caption
    plain = clip_contrastive_loss(a, a, 50.0).item()
    masked = clip_contrastive_loss(a, a, 50.0, group_ids=[0, 0, 1]).item()
    assert plain > 0.4  # rows 0 and 1 cannot tell each other apart: about ln 2 for each
    assert masked < 1e-6


def test_clip_loss_gradients_reach_both_sides_and_scale() -> None:
    a = torch.randn(4, 3, requires_grad=True)
    b = torch.randn(4, 3, requires_grad=True)
    log_scale = torch.tensor(2.0, requires_grad=True)
    clip_contrastive_loss(a, b, log_scale.exp()).backward()
    assert a.grad is not None and a.grad.abs().sum() > 0
    assert b.grad is not None and b.grad.abs().sum() > 0
    assert log_scale.grad is not None and log_scale.grad != 0


@pytest.mark.parametrize(
    ("a", "b", "scale", "groups", "message"),
    [
        (torch.zeros(2, 3), torch.zeros(3, 3), 1.0, None, "same shape"),
        (torch.zeros(3), torch.zeros(3), 1.0, None, "same shape"),
        (torch.zeros(0, 3), torch.zeros(0, 3), 1.0, None, "empty"),
        (torch.ones(2, 3), torch.ones(2, 3), 0.0, None, "scale"),
        (torch.ones(2, 3), torch.ones(2, 3), torch.ones(2), None, "scale"),
        (torch.ones(2, 3), torch.ones(2, 3), 1.0, [0, 1, 2], "group_ids"),
    ],
)
def test_clip_loss_rejects_bad_input(a, b, scale, groups, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        clip_contrastive_loss(a, b, scale, group_ids=groups)
