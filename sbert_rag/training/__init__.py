"""Training: losses on embedding tensors, data and mining, towers, objectives and trainers.

Text encoders: ``Trainer`` over an objective (``RankingObjective``, ``PairObjective``,
``DistillObjective``) and a sampler; CLIP: ``CLIPTrainer`` on image-caption pairs.

Names resolve on first use (PEP 562), so importing this package does not load torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sbert_rag._lazy import lazy_exports

_LAZY: dict[str, str] = {
    "clip_contrastive_loss": "sbert_rag.training.losses",
    "multiple_negatives_ranking_loss": "sbert_rag.training.losses",
    "triplet_loss": "sbert_rag.training.losses",
    "contrastive_loss": "sbert_rag.training.losses",
    "cosent_loss": "sbert_rag.training.losses",
    "mse_distillation_loss": "sbert_rag.training.losses",
    "anchor_loss": "sbert_rag.training.losses",
    "cached_loss": "sbert_rag.training.gradcache",
    "CachedPart": "sbert_rag.training.gradcache",
    "RetrievalExample": "sbert_rag.training.data",
    "ScoredPair": "sbert_rag.training.data",
    "retrieval_examples": "sbert_rag.training.data",
    "load_sts_pairs": "sbert_rag.training.data",
    "read_texts": "sbert_rag.training.data",
    "check_no_duplicates": "sbert_rag.training.data",
    "NoDuplicatesBatchSampler": "sbert_rag.training.data",
    "ShuffledBatchSampler": "sbert_rag.training.data",
    "MiningConfig": "sbert_rag.training.mining",
    "mine_hard_negatives": "sbert_rag.training.mining",
    "dense_document_scores": "sbert_rag.training.mining",
    "Tower": "sbert_rag.training.towers",
    "TowerPair": "sbert_rag.training.towers",
    "inference_copy": "sbert_rag.training.towers",
    "RankingObjective": "sbert_rag.training.objectives",
    "PairObjective": "sbert_rag.training.objectives",
    "DistillObjective": "sbert_rag.training.objectives",
    "Trainer": "sbert_rag.training.trainer",
    "TrainingConfig": "sbert_rag.training.trainer",
    "TrainResult": "sbert_rag.training.trainer",
    "layer_subset_student": "sbert_rag.training.distill",
    "attach_projection": "sbert_rag.training.distill",
    "teacher_embeddings": "sbert_rag.training.distill",
    "CLIPTrainer": "sbert_rag.training.clip_trainer",
    "CLIPTrainingConfig": "sbert_rag.training.clip_trainer",
    "EpochStats": "sbert_rag.training.clip_trainer",
}

__all__ = list(_LAZY)

if TYPE_CHECKING:  # pragma: no cover
    from sbert_rag.training.clip_trainer import CLIPTrainer, CLIPTrainingConfig, EpochStats
    from sbert_rag.training.data import (
        NoDuplicatesBatchSampler,
        RetrievalExample,
        ScoredPair,
        ShuffledBatchSampler,
        check_no_duplicates,
        load_sts_pairs,
        read_texts,
        retrieval_examples,
    )
    from sbert_rag.training.distill import attach_projection, layer_subset_student, teacher_embeddings
    from sbert_rag.training.gradcache import CachedPart, cached_loss
    from sbert_rag.training.losses import (
        anchor_loss,
        clip_contrastive_loss,
        contrastive_loss,
        cosent_loss,
        mse_distillation_loss,
        multiple_negatives_ranking_loss,
        triplet_loss,
    )
    from sbert_rag.training.mining import MiningConfig, dense_document_scores, mine_hard_negatives
    from sbert_rag.training.objectives import DistillObjective, PairObjective, RankingObjective
    from sbert_rag.training.towers import Tower, TowerPair, inference_copy
    from sbert_rag.training.trainer import Trainer, TrainingConfig, TrainResult


__getattr__, __dir__ = lazy_exports('sbert_rag.training', _LAZY, globals())
