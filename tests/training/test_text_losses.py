"""The text losses on hand-built embeddings: hand values, near-zero when aligned, gradients, bad input."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from sbert_rag.errors import InvalidInputError  # noqa: E402
from sbert_rag.training.losses import (  # noqa: E402
    contrastive_loss,
    cosent_loss,
    mse_distillation_loss,
    multiple_negatives_ranking_loss,
    triplet_loss,
)


def _basis(n: int, dim: int = 8) -> torch.Tensor:
    return torch.eye(dim)[:n]


def test_mnrl_aligned_pairs_near_zero_and_uninformative_is_log_of_candidates() -> None:
    e = _basis(4)
    assert multiple_negatives_ranking_loss(e, e, scale=50.0).item() < 1e-6
    assert multiple_negatives_ranking_loss(e, 2 * e, scale=50.0, symmetric=True).item() < 1e-6  # cosine
    same = torch.ones(4, 8)  # every candidate equally similar: uniform softmax
    assert multiple_negatives_ranking_loss(same, same).item() == pytest.approx(math.log(4), rel=1e-5)
    negatives = torch.ones(4, 2, 8)  # 2 hard negatives per row: 4 + 8 candidates
    assert multiple_negatives_ranking_loss(same, same, negatives).item() == pytest.approx(math.log(12), rel=1e-5)


def test_mnrl_hard_negative_that_matches_the_anchor_costs() -> None:
    e = _basis(3)
    easy = torch.stack([-e, -e], dim=1)  # negatives opposite to every anchor
    hard = torch.stack([e, e], dim=1)  # negatives identical to the anchors
    assert multiple_negatives_ranking_loss(e, e, easy, scale=20.0).item() < 1e-6
    # each anchor ties its positive with its own two copies: log(3) at any scale
    assert multiple_negatives_ranking_loss(e, e, hard, scale=20.0).item() == pytest.approx(math.log(3), rel=1e-4)


def test_mnrl_group_ids_keep_shared_positives_out_of_the_negatives() -> None:
    q = torch.tensor([[1.0, 0.0], [1.0, 0.0]])  # two queries with the same relevant passage
    p = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    plain = multiple_negatives_ranking_loss(q, p, scale=20.0).item()
    grouped = multiple_negatives_ranking_loss(q, p, scale=20.0, group_ids=[7, 7]).item()
    assert plain == pytest.approx(math.log(2), rel=1e-5) and grouped < 1e-6


def test_triplet_zero_past_the_margin_and_hand_value_inside() -> None:
    e = _basis(2)
    assert triplet_loss(e, e, -e, margin=0.5).item() == 0.0
    # d(a, p) = 1 (orthogonal), d(a, n) = 1: loss = margin
    assert triplet_loss(e, e.flip(0), e.flip(0), margin=0.25).item() == pytest.approx(0.25)
    with pytest.raises(InvalidInputError, match="margin"):
        triplet_loss(e, e, e, margin=-1)


def test_contrastive_hand_values_and_label_check() -> None:
    e = _basis(2)
    assert contrastive_loss(e, e, [1, 1]).item() < 1e-12  # similar pairs at distance 0
    assert contrastive_loss(e, -e, [0, 0], margin=0.5).item() == 0.0  # dissimilar, far past the margin
    # orthogonal pair labelled similar: d = 1, cost d^2 / 2 = 0.5; labelled dissimilar with margin 1.5: 0.125
    assert contrastive_loss(e[:1], e[1:], [1]).item() == pytest.approx(0.5)
    assert contrastive_loss(e[:1], e[1:], [0], margin=1.5).item() == pytest.approx(0.125)
    with pytest.raises(InvalidInputError, match="0 .*or 1"):
        contrastive_loss(e, e, [0.5, 1])


def test_cosent_orders_by_gold_score() -> None:
    a = _basis(3)
    b = torch.stack([a[0], (a[1] + a[0]) / 2, -a[2]])  # cosines 1, ~0.71, -1
    right = cosent_loss(a, b, [5.0, 3.0, 0.0], scale=20.0).item()
    wrong = cosent_loss(a, b, [0.0, 3.0, 5.0], scale=20.0).item()
    assert right < 0.01 and wrong > 10.0  # exp(20 * (0.71 - 1)) ~ 0.003 vs ~ 20 * (1 + 1)
    assert cosent_loss(a, a, [1.0, 1.0, 1.0]).item() == 0.0  # no ordered pair: log(1 + 0)
    two = _basis(2)
    assert cosent_loss(two, two, [0.0, 1.0]).item() == pytest.approx(math.log(2), rel=1e-6)


def test_mse_distillation_and_projection() -> None:
    teacher = torch.randn(4, 6)
    assert mse_distillation_loss(teacher.clone(), teacher).item() == 0.0
    student = torch.randn(4, 3, requires_grad=True)
    with pytest.raises(InvalidInputError, match="projection from 3 to 6"):
        mse_distillation_loss(student, teacher)
    proj = torch.nn.Linear(3, 6)
    loss = mse_distillation_loss(student, teacher, projection=proj)
    loss.backward()
    assert student.grad is not None and proj.weight.grad is not None and teacher.grad is None


@pytest.mark.parametrize("loss", ["mnrl", "triplet", "contrastive", "cosent"])
def test_gradients_reach_both_inputs(loss: str) -> None:
    torch.manual_seed(0)
    a = torch.randn(4, 8, requires_grad=True)
    b = torch.randn(4, 8, requires_grad=True)
    value = {
        "mnrl": lambda: multiple_negatives_ranking_loss(a, b),
        "triplet": lambda: triplet_loss(a, b, b.flip(0), margin=2.0),
        "contrastive": lambda: contrastive_loss(a, b, [1, 0, 1, 0], margin=1.5),
        "cosent": lambda: cosent_loss(a, b, [0.0, 1.0, 2.0, 3.0]),
    }[loss]()
    value.backward()
    assert a.grad is not None and b.grad is not None
    assert float(a.grad.abs().sum()) > 0 and float(b.grad.abs().sum()) > 0


def test_shape_mismatch_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="same shape"):
        multiple_negatives_ranking_loss(torch.zeros(2, 4), torch.zeros(3, 4))
    with pytest.raises(InvalidInputError, match="one label or score per pair"):
        cosent_loss(torch.zeros(2, 4), torch.zeros(2, 4), [1.0])


def test_anchor_loss_zero_when_unmoved_and_squared_distance_otherwise() -> None:
    from sbert_rag.training.losses import anchor_loss

    ref = _basis(2)
    assert anchor_loss(ref.clone(), ref).item() == 0.0
    moved = ref.clone().requires_grad_(True)
    value = anchor_loss(moved.flip(0), ref)  # each row moved to the other basis vector: distance^2 = 2
    assert value.item() == pytest.approx(2.0)
    value.backward()
    assert moved.grad is not None and float(moved.grad.abs().sum()) > 0
