"""Contrastive losses on embedding tensors: the math only, no model calls.

Owns loss functions that take embeddings already computed by a model (so they are tested on
hand-built tensors) and return a scalar tensor to backpropagate: the symmetric InfoNCE loss CLIP
is trained with, multiple-negatives ranking (in-batch and hard negatives, optional symmetric
term), triplet, contrastive (labelled pairs), CoSENT (scored pairs) and MSE distillation.
Deliberately holds no model calls, optimiser or data code: the cached (GradCache) variant of
the ranking loss needs model calls and lives in ``gradcache.py``; the loops in ``trainer.py``
and ``clip_trainer.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sbert_rag._deps import require
from sbert_rag.errors import InvalidInputError

if TYPE_CHECKING:
    import torch
else:
    torch = require("torch")  # this module is only imported when a loss is used
F = torch.nn.functional


def clip_contrastive_loss(
    emb_a: torch.Tensor,
    emb_b: torch.Tensor,
    scale: float | torch.Tensor,
    *,
    group_ids: Sequence[int] | torch.Tensor | None = None,
) -> torch.Tensor:
    """Symmetric InfoNCE (CLIP) loss over a batch of aligned pairs, with in-batch negatives.

    Row ``i`` of ``emb_a`` and row ``i`` of ``emb_b`` are a positive pair (an image and its
    caption); every other row of the other side is a negative. Similarities are cosines times
    ``scale``; the loss is the mean of the cross-entropy of picking the right ``b`` for each
    ``a`` and the right ``a`` for each ``b``, so both directions of retrieval are trained.
    Minimising it pulls pairs together and pushes everything else in the batch apart.

    Inputs: two float tensors (batch, dim), any length (they are L2-normalised here). Rows with
    the same ``group_ids`` value (two images with the same caption) are not used as each
    other's negatives: a false negative would teach the model to separate identical meanings.

    Reference: Radford et al., "Learning Transferable Visual Models From Natural Language
    Supervision" (CLIP), 2021, section 2.3; InfoNCE from van den Oord et al., 2018. Relation
    to siblings: the one-directional half (``a`` -> ``b`` only) is the in-batch negatives
    loss of sentence-transformers' ``MultipleNegativesRankingLoss`` (with ``scale`` = 20).

    Args:
        emb_a: (batch, dim) embeddings of one side (e.g. images).
        emb_b: (batch, dim) embeddings of the other side (e.g. captions), row-aligned.
        scale: inverse temperature, > 0 (CLIP learns it: ``model.logit_scale.exp()``, at most 100).
        group_ids: optional (batch,) integers; equal ids mark rows that must not be negatives of
            each other.

    Returns:
        Scalar tensor, >= 0; ln(batch) for random embeddings, near 0 for well-separated pairs.

    Raises:
        InvalidInputError: the shapes differ or are not 2-D, the batch is empty, ``group_ids``
            has the wrong length, or ``scale`` is not > 0.

    Example:
        >>> img = model.encode_image(pixels); txt = model.encode_text(tokens)
        >>> loss = clip_contrastive_loss(img, txt, model.logit_scale.exp())
        >>> loss.backward()
    """
    if emb_a.ndim != 2 or emb_a.shape != emb_b.shape:
        raise InvalidInputError(
            f"expected two (batch, dim) tensors of the same shape; got {tuple(emb_a.shape)} and {tuple(emb_b.shape)}"
        )
    n = emb_a.shape[0]
    if n == 0:
        raise InvalidInputError("the batch is empty; the loss needs at least one pair")
    scale_t = _check_scale(scale, emb_a.device)
    logits = scale_t * cosine_matrix(emb_a, emb_b)  # (batch, batch): row i = a_i against every b
    if group_ids is not None:
        logits = logits.masked_fill(_same_group_mask(group_ids, n, emb_a.device), float("-inf"))
    target = torch.arange(n, device=emb_a.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def cosine_matrix(emb_a: torch.Tensor, emb_b: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of every row of ``emb_a`` with every row of ``emb_b``, in float32.

    Args:
        emb_a: (n, dim), any length (normalised here).
        emb_b: (m, dim).

    Returns:
        (n, m) float32 tensor in [-1, 1].
    """
    return F.normalize(emb_a.float(), dim=-1) @ F.normalize(emb_b.float(), dim=-1).T


def multiple_negatives_ranking_loss(
    anchors: torch.Tensor,
    positives: torch.Tensor,
    negatives: torch.Tensor | None = None,
    *,
    scale: float = 20.0,
    symmetric: bool = False,
    group_ids: Sequence[int] | torch.Tensor | None = None,
) -> torch.Tensor:
    """Multiple-negatives ranking loss: each anchor must pick its positive among all candidates.

    For anchor ``i`` (a query) the candidates are every positive in the batch (row ``i`` is
    right, the others are in-batch negatives) and every hard negative of every row. The loss is
    the cross-entropy of the softmax over ``scale * cosine`` picking the right positive, which
    lifts the anchor-positive similarity above all others. With ``symmetric=True`` a second
    term asks each positive to pick its anchor among the batch's anchors (passage -> query),
    averaged with the first.

    Inputs: ``anchors`` and ``positives`` (batch, dim), row-aligned pairs; optional
    ``negatives`` (batch, k, dim), k hard negatives per row (the same k for every row).
    Rows sharing a ``group_ids`` value (two queries with one relevant passage) are not used as
    each other's in-batch negatives; better still, build batches without repeated texts
    (``data.NoDuplicatesBatchSampler``).

    Reference: Henderson et al., "Efficient Natural Language Response Suggestion for Smart
    Reply", 2017 (section 4.4); Karpukhin et al., "Dense Passage Retrieval", 2020 (in-batch plus
    BM25 hard negatives). Relation to siblings: sentence-transformers'
    ``MultipleNegativesRankingLoss`` (same default scale 20 = temperature 0.05); with
    ``symmetric=True`` and no negatives it equals :func:`clip_contrastive_loss` at the same
    scale; :func:`triplet_loss` uses one negative with a margin instead of a softmax; the cached
    variant in ``gradcache.py`` computes this loss for batches larger than memory allows.

    Args:
        anchors: (batch, dim) anchor embeddings (queries).
        positives: (batch, dim) positive embeddings (relevant passages), row-aligned.
        negatives: (batch, k, dim) hard negatives, or None for in-batch negatives only.
        scale: inverse temperature, > 0.
        symmetric: also train positive -> anchor retrieval (in-batch anchors as candidates).
        group_ids: optional (batch,) integers; equal ids mark rows whose positives must not
            be negatives of each other.

    Returns:
        Scalar float32 tensor >= 0; about ln(batch * (1 + k)) for random embeddings, near 0 when
        every anchor is much closer to its positive than to anything else.

    Raises:
        InvalidInputError: shapes do not match, the batch is empty, ``scale`` is not > 0, or
            ``group_ids`` has the wrong length.

    Example:
        >>> q, p, n = towers.query(qs), towers.passage(ps), towers.passage(negs).view(len(qs), 1, -1)
        >>> multiple_negatives_ranking_loss(q, p, n, scale=20.0).backward()
    """
    n = _check_pairs(anchors, positives)
    scale_t = _check_scale(scale, anchors.device)
    candidates = positives
    if negatives is not None:
        if negatives.ndim != 3 or negatives.shape[0] != n or negatives.shape[2] != anchors.shape[1]:
            raise InvalidInputError(
                f"negatives must be (batch={n}, k, dim={anchors.shape[1]}); got {tuple(negatives.shape)}"
            )
        candidates = torch.cat([positives, negatives.reshape(-1, negatives.shape[2])])  # (batch * (1 + k), dim)
    logits = scale_t * cosine_matrix(anchors, candidates)  # (batch, batch * (1 + k))
    same = None
    if group_ids is not None:
        same = _same_group_mask(group_ids, n, anchors.device)  # (batch, batch)
        pad = torch.zeros((n, candidates.shape[0] - n), dtype=torch.bool, device=anchors.device)
        logits = logits.masked_fill(torch.cat([same, pad], dim=1), float("-inf"))
    target = torch.arange(n, device=anchors.device)
    loss = F.cross_entropy(logits, target)
    if symmetric:
        back = logits[:, :n].T  # (batch, batch): positive j against every anchor
        loss = (loss + F.cross_entropy(back, target)) / 2
    return loss


def triplet_loss(
    anchors: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor, *, margin: float = 0.25
) -> torch.Tensor:
    """Triplet loss with cosine distance: the negative must be ``margin`` farther than the positive.

    Optimises ``mean(max(0, d(a, p) - d(a, n) + margin))`` with ``d = 1 - cosine``: zero once
    every anchor is closer to its positive than to its negative by the margin.

    Inputs: three row-aligned (batch, dim) tensors (anchor, positive, negative).

    Reference: Schroff et al., "FaceNet", 2015; for sentences, Reimers and Gurevych,
    "Sentence-BERT", 2019. Relation to siblings: sentence-transformers' ``TripletLoss`` with
    the cosine distance (its default is Euclidean with margin 5); uses one negative per
    anchor, where :func:`multiple_negatives_ranking_loss` uses them all in a softmax.

    Args:
        anchors: (batch, dim).
        positives: (batch, dim).
        negatives: (batch, dim).
        margin: required gap between the distances, in cosine units, >= 0.

    Returns:
        Scalar float32 tensor >= 0.

    Raises:
        InvalidInputError: shapes differ, the batch is empty, or the margin is negative.
    """
    _check_pairs(anchors, positives)
    _check_pairs(anchors, negatives)
    if not margin >= 0:
        raise InvalidInputError(f"margin must be >= 0; got {margin!r}")
    d_pos = 1 - F.cosine_similarity(anchors.float(), positives.float(), dim=-1)  # (batch,)
    d_neg = 1 - F.cosine_similarity(anchors.float(), negatives.float(), dim=-1)
    return F.relu(d_pos - d_neg + margin).mean()


def contrastive_loss(
    emb_a: torch.Tensor, emb_b: torch.Tensor, labels: Sequence[float] | torch.Tensor, *, margin: float = 0.5
) -> torch.Tensor:
    """Contrastive loss on labelled pairs: pull similar pairs together, push dissimilar ones apart.

    With ``d = 1 - cosine``, a pair labelled 1 costs ``d**2 / 2`` and a pair labelled 0 costs
    ``max(0, margin - d)**2 / 2``: dissimilar pairs stop pushing once they are ``margin`` apart.

    Inputs: two row-aligned (batch, dim) tensors and one label per row, 1 (similar) or 0.

    Reference: Hadsell, Chopra and LeCun, "Dimensionality Reduction by Learning an Invariant
    Mapping", CVPR 2006. Relation to siblings: sentence-transformers' ``ContrastiveLoss``
    (cosine distance, margin 0.5); :func:`cosent_loss` uses graded scores instead of 0/1.

    Args:
        emb_a: (batch, dim).
        emb_b: (batch, dim).
        labels: (batch,) values in {0, 1}.
        margin: distance beyond which a dissimilar pair costs nothing, > 0.

    Returns:
        Scalar float32 tensor >= 0.

    Raises:
        InvalidInputError: shapes differ, a label is not 0 or 1, or the margin is not > 0.
    """
    n = _check_pairs(emb_a, emb_b)
    y = _check_targets(labels, n, emb_a.device)
    if not bool(((y == 0) | (y == 1)).all()):
        raise InvalidInputError("contrastive_loss labels must be 0 (dissimilar) or 1 (similar)")
    if not margin > 0:
        raise InvalidInputError(f"margin must be > 0; got {margin!r}")
    d = 1 - F.cosine_similarity(emb_a.float(), emb_b.float(), dim=-1)  # (batch,)
    return 0.5 * (y * d.pow(2) + (1 - y) * F.relu(margin - d).pow(2)).mean()


def cosent_loss(
    emb_a: torch.Tensor, emb_b: torch.Tensor, scores: Sequence[float] | torch.Tensor, *, scale: float = 20.0
) -> torch.Tensor:
    """CoSENT: rank the pairs' cosines in the order of their gold scores.

    For every two pairs ``(i, j)`` of the batch with gold ``score_i < score_j`` the loss
    penalises ``cos_i > cos_j``: ``log(1 + sum exp(scale * (cos_i - cos_j)))`` over those
    ordered pairs. Only the order of the gold scores matters, which is what Spearman measures,
    so it suits STS-style data (scores 0-5) directly.

    Inputs: two row-aligned (batch, dim) tensors and one gold score per row (any scale).

    Reference: Su Jianlin, "CoSENT: A more efficient sentence vector scheme than
    Sentence-BERT", 2022 (kexue.fm/archives/8847). Relation to siblings: sentence-transformers'
    ``CoSENTLoss`` (same default scale 20); :func:`contrastive_loss` needs binary labels.

    Args:
        emb_a: (batch, dim).
        emb_b: (batch, dim).
        scores: (batch,) gold similarity scores.
        scale: inverse temperature, > 0.

    Returns:
        Scalar float32 tensor >= 0; log(2) ~ 0.69 for a batch of 2 pairs with equal cosines.

    Raises:
        InvalidInputError: shapes differ, the batch is empty, or ``scale`` is not > 0.
    """
    n = _check_pairs(emb_a, emb_b)
    gold = _check_targets(scores, n, emb_a.device)
    scale_t = _check_scale(scale, emb_a.device)
    cos = F.cosine_similarity(emb_a.float(), emb_b.float(), dim=-1) * scale_t  # (batch,)
    diff = cos[:, None] - cos[None, :]  # (batch, batch): cos_i - cos_j
    wrong_order = gold[:, None] < gold[None, :]  # pairs where i should score below j
    diff = diff.masked_fill(~wrong_order, float("-inf"))
    zero = torch.zeros(1, device=emb_a.device)  # the "1 +" term of log(1 + sum exp)
    return torch.logsumexp(torch.cat([zero, diff.reshape(-1)]), dim=0)


def anchor_loss(current: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Mean squared distance of embeddings from their reference (a stay-close term).

    ``mean_i ||current_i - reference_i||^2``: added with a weight to a task loss, it keeps a
    fine-tuned model's vectors near the starting model's for the same texts, so a small dataset
    (e.g. STS-B's 5,749 pairs) refines the space instead of overwriting what the model learned
    from far more data. A function-space form of L2-SP (Li et al., "Explicit Inductive Bias for
    Transfer Learning with Convolutional Networks", ICML 2018), which anchors the weights instead.
    Relation to siblings: :func:`mse_distillation_loss` averages over dimensions as well (the
    same quantity divided by ``dim``) and serves a student learning a teacher.

    Args:
        current: (batch, dim) embeddings of the model being trained.
        reference: (batch, dim) embeddings of the same texts by the starting model (detached here).

    Returns:
        Scalar float32 tensor >= 0; 0 when the model has not moved.

    Raises:
        InvalidInputError: the shapes differ or the batch is empty.
    """
    _check_pairs(current, reference)
    return (current.float() - reference.detach().float()).pow(2).sum(dim=-1).mean()


def mse_distillation_loss(
    student: torch.Tensor,
    teacher: torch.Tensor,
    *,
    projection: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Mean squared error between student and teacher embeddings (knowledge distillation).

    Trains the student to reproduce the teacher's vectors for the same texts, so it can
    replace the teacher in an index built with either. When the dimensions differ, pass a
    trainable ``projection`` (student dim -> teacher dim, e.g. ``torch.nn.Linear``) and keep
    it as part of the student (``distill.attach_projection`` adds it as a Dense stage).

    Inputs: student (batch, d_s) and teacher (batch, d_t) embeddings of the same texts; the
    teacher's carry no gradient.

    Reference: Reimers and Gurevych, "Making Monolingual Sentence Embeddings Multilingual using
    Knowledge Distillation", EMNLP 2020. Relation to siblings: sentence-transformers'
    ``MSELoss``; unlike the ranking losses it needs no pairs, only texts and the teacher.

    Args:
        student: (batch, d_s) student embeddings.
        teacher: (batch, d_t) teacher embeddings (detached here).
        projection: maps (batch, d_s) -> (batch, d_t); required when d_s != d_t.

    Returns:
        Scalar float32 tensor >= 0.

    Raises:
        InvalidInputError: the batch sizes differ or are 0, or the dimensions differ after
            the projection (or without one).
    """
    if student.ndim != 2 or teacher.ndim != 2 or student.shape[0] != teacher.shape[0] or student.shape[0] == 0:
        raise InvalidInputError(
            f"expected student (batch, d_s) and teacher (batch, d_t) with one non-empty batch; got "
            f"{tuple(student.shape)} and {tuple(teacher.shape)}"
        )
    out = projection(student) if projection is not None else student
    if out.shape != teacher.shape:
        raise InvalidInputError(
            f"student embeddings are {tuple(out.shape)} but the teacher's are {tuple(teacher.shape)}; pass a "
            f"projection from {student.shape[1]} to {teacher.shape[1]} dimensions"
        )
    return F.mse_loss(out.float(), teacher.detach().float())


def _check_pairs(emb_a: torch.Tensor, emb_b: torch.Tensor) -> int:
    if emb_a.ndim != 2 or emb_a.shape != emb_b.shape:
        raise InvalidInputError(
            f"expected two (batch, dim) tensors of the same shape; got {tuple(emb_a.shape)} and {tuple(emb_b.shape)}"
        )
    if emb_a.shape[0] == 0:
        raise InvalidInputError("the batch is empty; the loss needs at least one pair")
    return int(emb_a.shape[0])


def _check_scale(scale: float | torch.Tensor, device: torch.device) -> torch.Tensor:
    scale_t = torch.as_tensor(scale, dtype=torch.float32, device=device)
    if scale_t.numel() != 1 or not bool(scale_t.detach().reshape(()) > 0):
        raise InvalidInputError(f"scale must be one number > 0; got {scale!r}")
    return scale_t.reshape(())


def _check_targets(values: Sequence[float] | torch.Tensor, n: int, device: torch.device) -> torch.Tensor:
    y = torch.as_tensor(values, dtype=torch.float32, device=device)
    if y.shape != (n,):
        raise InvalidInputError(f"expected one label or score per pair ({n}); got shape {tuple(y.shape)}")
    if not bool(torch.isfinite(y).all()):
        raise InvalidInputError("labels or scores must be finite numbers")
    return y


def _same_group_mask(group_ids: Sequence[int] | torch.Tensor, n: int, device: torch.device) -> torch.Tensor:
    groups = torch.as_tensor(group_ids, device=device)
    if groups.shape != (n,):
        raise InvalidInputError(f"group_ids must have one id per row ({n}); got shape {tuple(groups.shape)}")
    same = groups[:, None] == groups[None, :]  # (batch, batch)
    # the diagonal (the positive) is always kept; -inf elsewhere removes the pair from the softmax
    same.fill_diagonal_(False)
    return same
