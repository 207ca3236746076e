"""Objectives: a batch of examples -> embeddings from the towers -> one loss from ``losses.py``.

Owns binding the data types of ``data.py`` to the towers and losses: ranking objectives
(multiple-negatives ranking, its GradCache variant, triplet) on ``RetrievalExample`` batches,
pair objectives (CoSENT, contrastive) on ``ScoredPair`` batches, and MSE distillation on texts
with precomputed teacher vectors. Each objective is a callable ``batch -> scalar loss`` that
the trainer backpropagates, plus ``prepare`` (tokenise everything once, up front) and
``modules`` (what to optimise). Deliberately no optimiser, schedule or loop.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from sbert_rag._deps import require
from sbert_rag.config import parse_enum
from sbert_rag.errors import ConfigError, InvalidInputError
import sbert_rag.training.losses as losses
from sbert_rag.training.data import RetrievalExample, ScoredPair, check_no_duplicates
from sbert_rag.training.gradcache import CachedPart, cached_loss
from sbert_rag.training.towers import Tower, TowerPair

if TYPE_CHECKING:
    import torch


class RankingLoss(str, enum.Enum):
    """Losses for (anchor, positive, negatives...) batches."""

    MNRL = "mnrl"  # multiple-negatives ranking: in-batch + hard negatives in one softmax
    CACHED_MNRL = "cached-mnrl"  # the same loss with GradCache (mini_batch_size rows per pass)
    TRIPLET = "triplet"  # one hard negative per anchor, cosine margin


class PairLoss(str, enum.Enum):
    """Losses for scored or labelled pairs."""

    COSENT = "cosent"  # rank pairs by gold score (STS)
    CONTRASTIVE = "contrastive"  # 0/1 labels, margin on cosine distance


class RankingObjective:
    """Multiple-negatives ranking (plain or cached) or triplet loss over a query/passage pair of towers.

    Args:
        towers: the query and passage towers (tied or untied).
        loss: ``"mnrl"``, ``"cached-mnrl"`` or ``"triplet"``.
        scale: inverse temperature of the ranking losses.
        symmetric: add the passage -> query term (ranking losses).
        margin: cosine margin of the triplet loss.
        mini_batch_size: rows per forward pass of ``cached-mnrl``.

    Raises:
        ConfigError: an unknown loss name.
    """

    def __init__(
        self,
        towers: TowerPair,
        *,
        loss: RankingLoss | str = RankingLoss.MNRL,
        scale: float = 20.0,
        symmetric: bool = False,
        margin: float = 0.25,
        mini_batch_size: int = 16,
    ) -> None:
        self.towers = towers
        self.loss = parse_enum(RankingLoss, loss, "loss")
        self.scale = scale
        self.symmetric = symmetric
        self.margin = margin
        self.mini_batch_size = mini_batch_size
        self._frozen: dict[str, Any] = {}  # passage text -> embedding, when the passage tower is frozen

    def modules(self) -> list[Any]:
        """Modules to optimise."""
        return self.towers.trainable_modules()

    def _frozen_passages(self, texts: Sequence[str]) -> torch.Tensor:
        # A frozen tower (eval mode, no grad) gives each text one vector for the whole run:
        # embed it once, so a query-only run costs a query forward and backward per step.
        torch = require("torch")
        missing = list(dict.fromkeys(t for t in texts if t not in self._frozen))
        tower = self.towers.passage
        with torch.no_grad():
            for start in range(0, len(missing), 64):
                chunk = missing[start:start + 64]
                for text, vector in zip(chunk, tower.embed(chunk)):
                    self._frozen[text] = vector
        return torch.stack([self._frozen[t] for t in texts])

    def prepare(self, examples: Sequence[RetrievalExample]) -> None:
        """Tokenise every query and passage once (warns once per side about cut inputs)."""
        self.towers.query.prepare((e.anchor for e in examples), "queries")
        self.towers.passage.prepare((p for e in examples for p in e.passages()), "passages")

    def __call__(self, batch: Sequence[RetrievalExample]) -> torch.Tensor:
        """The loss of one batch.

        Raises:
            InvalidInputError: a passage repeats in the batch (or an anchor, when symmetric);
                the rows disagree on the number of negatives; triplet rows lack a negative.
        """
        check_no_duplicates(batch, include_anchors=self.symmetric)
        k = len(batch[0].negatives)
        if any(len(e.negatives) != k for e in batch):
            raise InvalidInputError("every example of a batch needs the same number of hard negatives; re-mine with one N")
        if self.loss is RankingLoss.TRIPLET and k < 1:
            raise InvalidInputError("the triplet loss needs one hard negative per example; mine negatives first")
        q_rows = self.towers.query.rows([e.anchor for e in batch])
        if self.towers.freeze_passage:
            passages = self._frozen_passages([e.positive for e in batch] + [n for e in batch for n in e.negatives])
            if self.loss is RankingLoss.CACHED_MNRL:
                parts = [CachedPart(self.towers.query.embed_rows, q_rows)]
                return cached_loss(parts, lambda q: self._rank(q, passages, len(batch), k), self.mini_batch_size)
            return self._finish(self.towers.query.embed_rows(q_rows), passages, len(batch), k)
        p_rows = self.towers.passage.rows([e.positive for e in batch])
        n_rows = self.towers.passage.rows([n for e in batch for n in e.negatives])
        if self.loss is RankingLoss.CACHED_MNRL:
            parts = [CachedPart(self.towers.query.embed_rows, q_rows), CachedPart(self.towers.passage.embed_rows, p_rows + n_rows)]
            return cached_loss(parts, lambda q, p: self._rank(q, p, len(batch), k), self.mini_batch_size)
        anchors = self.towers.query.embed_rows(q_rows)  # (batch, dim)
        passages = self.towers.passage.embed_rows(p_rows + n_rows)  # (batch * (1 + k), dim)
        return self._finish(anchors, passages, len(batch), k)

    def _finish(self, anchors: torch.Tensor, passages: torch.Tensor, n: int, k: int) -> torch.Tensor:
        if self.loss is RankingLoss.TRIPLET:
            first_negative = passages[n:].reshape(n, k, -1)[:, 0]
            return losses.triplet_loss(anchors, passages[:n], first_negative, margin=self.margin)
        return self._rank(anchors, passages, n, k)

    def _rank(self, anchors: torch.Tensor, passages: torch.Tensor, n: int, k: int) -> torch.Tensor:
        negatives = passages[n:].reshape(n, k, -1) if k else None  # (batch, k, dim)
        return losses.multiple_negatives_ranking_loss(
            anchors, passages[:n], negatives, scale=self.scale, symmetric=self.symmetric
        )


class PairObjective:
    """CoSENT or contrastive loss on scored pairs, both texts through one tower.

    Args:
        tower: the model's tower (passage role: no query prompt).
        loss: ``"cosent"`` (graded scores) or ``"contrastive"`` (0/1 labels).
        scale: inverse temperature of CoSENT.
        margin: cosine-distance margin of the contrastive loss.
        anchor_weight: weight of ``losses.anchor_loss`` against the starting model's embeddings
            of the same texts (computed once in :meth:`prepare`); 0 = no stay-close term.
    """

    def __init__(
        self,
        tower: Tower,
        *,
        loss: PairLoss | str = PairLoss.COSENT,
        scale: float = 20.0,
        margin: float = 0.5,
        anchor_weight: float = 0.0,
    ) -> None:
        if not anchor_weight >= 0:
            raise ConfigError(f"anchor_weight must be >= 0; got {anchor_weight!r}")
        self.tower = tower
        self.loss = parse_enum(PairLoss, loss, "loss")
        self.scale = scale
        self.margin = margin
        self.anchor_weight = anchor_weight
        self._reference: dict[str, Any] = {}  # text -> the starting model's embedding

    def modules(self) -> list[Any]:
        """Modules to optimise."""
        return [self.tower.module]

    def prepare(self, pairs: Sequence[ScoredPair]) -> None:
        """Tokenise every text once; with an anchor weight, embed each with the starting model."""
        texts = list(dict.fromkeys(t for p in pairs for t in (p.first, p.second)))
        self.tower.prepare(texts, "sentences")
        if self.anchor_weight > 0:
            torch = require("torch")
            module = self.tower.module
            mode = module.training
            module.eval()
            with torch.no_grad():
                for start in range(0, len(texts), 128):
                    chunk = texts[start:start + 128]
                    self._reference.update(zip(chunk, self.tower.embed(chunk)))
            module.train(mode)

    def __call__(self, batch: Sequence[ScoredPair]) -> torch.Tensor:
        """The loss of one batch of pairs."""
        n = len(batch)
        texts = [p.first for p in batch] + [p.second for p in batch]
        emb = self.tower.embed(texts)  # (2 * batch, dim)
        scores = [p.score for p in batch]
        if self.loss is PairLoss.COSENT:
            value = losses.cosent_loss(emb[:n], emb[n:], scores, scale=self.scale)
        else:
            value = losses.contrastive_loss(emb[:n], emb[n:], scores, margin=self.margin)
        if self.anchor_weight > 0:
            missing = [t for t in texts if t not in self._reference]
            if missing:
                raise InvalidInputError(f"{len(missing)} texts were not prepared, e.g. {missing[0]!r}; call prepare(pairs) first")
            reference = require("torch").stack([self._reference[t] for t in texts]).to(emb.device)
            value = value + self.anchor_weight * losses.anchor_loss(emb, reference)
        return value


class DistillObjective:
    """MSE between the student's embeddings of texts and the teacher's precomputed ones.

    Batches are lists of row indices into ``texts`` / ``teacher_vectors``.

    Args:
        tower: the student's tower.
        texts: the training texts.
        teacher_vectors: float32 (len(texts), d_t), the teacher's embeddings of ``texts``.
        projection: optional trainable map to the teacher's dimension (not needed when the
            student already ends in one, e.g. after ``distill.attach_projection``).

    Raises:
        InvalidInputError: the counts of texts and vectors differ.
    """

    def __init__(
        self, tower: Tower, texts: Sequence[str], teacher_vectors: npt.NDArray[np.float32], projection: Any = None
    ) -> None:
        if len(texts) != len(teacher_vectors):
            raise InvalidInputError(f"got {len(texts)} texts but {len(teacher_vectors)} teacher vectors; one per text")
        torch = require("torch")
        self.tower = tower
        self.texts = list(texts)
        self.teacher = torch.as_tensor(np.asarray(teacher_vectors, dtype=np.float32))
        self.projection = projection

    def modules(self) -> list[Any]:
        """Modules to optimise (the student, and the projection when given)."""
        return [self.tower.module] + ([self.projection] if self.projection is not None else [])

    def prepare(self, batches: Any = None) -> None:
        """Tokenise every text once."""
        self.tower.prepare(self.texts, "texts")

    def __call__(self, batch: Sequence[int]) -> torch.Tensor:
        """The loss of one batch of text indices."""
        student = self.tower.embed([self.texts[i] for i in batch])  # (batch, d_s)
        teacher = self.teacher[list(batch)].to(student.device)  # (batch, d_t)
        return losses.mse_distillation_loss(student, teacher, projection=self.projection)
