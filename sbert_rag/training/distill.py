"""Distillation helpers: a student from a subset of the teacher's layers, teacher targets, speed.

Owns building a smaller student by keeping some transformer layers of the teacher (as
DistilBERT and sentence-transformers' model-distillation example do: the student starts from
the teacher's own weights, so little training recovers most of the quality), attaching a
projection when the student's dimension differs from the teacher's, computing (and caching)
the teacher's embeddings of the training texts, and timing both encoders on the same texts.
The MSE loss is ``losses.mse_distillation_loss``; the loop is ``trainer.py``.
"""

from __future__ import annotations

import copy
import os
import time
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from sbert_rag._deps import require
from sbert_rag.errors import ConfigError
from sbert_rag.training.cache import cache_key, cached_matrix, model_fingerprint, texts_digest

if TYPE_CHECKING:
    from sbert_rag.encoding.text_encoder import TextEncoder


def spread_layers(n_teacher: int, n_student: int) -> list[int]:
    """``n_student`` layer indices spread evenly over ``n_teacher`` layers, first and last kept.

    Example: 6 -> 3 gives [0, 2, 5]; 12 -> 4 gives [0, 4, 7, 11].

    Raises:
        ConfigError: ``n_student`` is not in [1, n_teacher].
    """
    if isinstance(n_student, bool) or not isinstance(n_student, int) or not 1 <= n_student <= n_teacher:
        raise ConfigError(f"the student needs between 1 and {n_teacher} layers; got {n_student!r}")
    if n_student == 1:
        return [n_teacher - 1]
    return sorted({round(i * (n_teacher - 1) / (n_student - 1)) for i in range(n_student)})


def layer_subset_student(teacher: TextEncoder, layers: int | Sequence[int]) -> TextEncoder:
    """A copy of ``teacher`` keeping only some of its transformer layers (the teacher is untouched).

    Args:
        teacher: a BERT-style ``TextEncoder`` (``transformer.encoder.layer`` list).
        layers: how many layers to keep (spread with :func:`spread_layers`), or their indices.

    Returns:
        A new ``TextEncoder`` with the same tokenizer, pooling, prompts and limits.

    Raises:
        ConfigError: the model has no ``encoder.layer`` list, or an index is out of range or
            repeats.
    """
    torch = require("torch")
    encoder = getattr(teacher.module.transformer, "encoder", None)
    stack = getattr(encoder, "layer", None)
    if not isinstance(stack, torch.nn.ModuleList):
        raise ConfigError("layer_subset_student needs a BERT-style model (transformer.encoder.layer); train a smaller model instead")
    n = len(stack)
    keep = spread_layers(n, layers) if isinstance(layers, int) else list(layers)
    if not keep or len(set(keep)) != len(keep) or any(not 0 <= i < n for i in keep):
        raise ConfigError(f"layer indices must be distinct and in [0, {n}); got {keep}")
    student = copy.deepcopy(teacher)
    transformer = student.module.transformer
    transformer.encoder.layer = torch.nn.ModuleList([transformer.encoder.layer[i] for i in sorted(keep)])
    transformer.config.num_hidden_layers = len(keep)
    for position, layer in enumerate(transformer.encoder.layer):
        attention = getattr(getattr(layer, "attention", None), "self", None)
        if attention is not None and hasattr(attention, "layer_idx"):
            attention.layer_idx = position  # cache slots follow the new order
    return student


def attach_projection(student: TextEncoder, dim: int) -> Any:
    """Append a trainable linear map to ``dim`` dimensions, saved as a sentence-transformers Dense stage.

    Use it when the student's embedding size differs from the teacher's; initialised to the
    identity where the sizes allow.

    Returns:
        The new stage (already part of ``student.module``).
    """
    from sbert_rag.encoding.module import DenseStage

    torch = require("torch")
    stage = DenseStage(student.dim, dim, bias=True, activation="torch.nn.modules.linear.Identity")
    with torch.no_grad():
        stage.linear.weight.zero_()
        k = min(student.dim, dim)
        stage.linear.weight[:k, :k] = torch.eye(k)
        stage.linear.bias.zero_()
    stage.to(device=student.device, dtype=next(student.module.parameters()).dtype)
    student.module.dense.append(stage)
    return stage


def teacher_embeddings(
    teacher: Any, texts: Sequence[str], cache_dir: str | os.PathLike[str] | None = None
) -> npt.NDArray[np.float32]:
    """The teacher's passage embeddings of ``texts``, float32 (n, dim), cached when ``cache_dir`` is given."""
    key = cache_key("teacher", model_fingerprint(teacher), texts_digest(texts))

    def compute() -> tuple[npt.NDArray[np.float32], dict[str, Any]]:
        return teacher.encode_passages(list(texts)), {"n": len(texts)}

    vectors, _ = cached_matrix(cache_dir, key, compute)
    return vectors


def encode_seconds(encoders: Sequence[Any], texts: Sequence[str], repeats: int = 3) -> list[float]:
    """Best-of-``repeats`` wall time of ``encode_passages(texts)`` for each encoder, interleaved.

    Interleaving (A, B, A, B, ...) and taking each one's minimum makes the ratio fair on a
    machine whose load changes during the measurement.
    """
    best = [float("inf")] * len(encoders)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for enc in encoders:
            enc.encode_passages(list(texts[:64]))  # warm-up: kernel builds, allocator
        for _ in range(repeats):
            for i, enc in enumerate(encoders):
                start = time.perf_counter()
                enc.encode_passages(list(texts))
                best[i] = min(best[i], time.perf_counter() - start)
    return best
