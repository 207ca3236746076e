"""A small on-disk cache of float32 matrices keyed by what produced them (model, texts, options).

Owns keying and storing expensive encodings that training reuses across runs: teacher
embeddings for distillation and corpus embeddings for hard-negative mining and evaluation.
One entry is a folder ``<cache_dir>/<key>/`` with ``vectors.npy`` and ``meta.json``. The key
hashes the model's weights (their values, in their precision), its options and the texts, so a retrained model or another corpus never hits a stale entry. Deliberately
no eviction and no locking: point it at a scratch folder (``/tmp/...``), never at the repo.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sbert_rag._deps import require
from sbert_rag.types import FloatMatrix

logger = logging.getLogger(__name__)


def model_fingerprint(encoder: Any) -> dict[str, Any]:
    """What identifies an encoder's vectors: its weights as they are now, precision, options.

    Hashes the module's tensors themselves (about a second for a 100M-parameter model), so an
    in-memory model being trained never matches the entry of the model it started from.

    Args:
        encoder: a ``TextEncoder`` (anything with ``module``, ``max_tokens``, ``prompts``, ``spec``).

    Returns:
        A JSON-safe dict; equal dicts mean the same vectors for the same texts.
    """
    torch = require("torch")
    digest = hashlib.sha256()
    for name, tensor in encoder.module.state_dict().items():
        flat = tensor.detach().to("cpu").contiguous().reshape(-1)
        digest.update(f"{name}:{flat.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return {
        "weights": digest.hexdigest(),
        "max_tokens": encoder.max_tokens,
        "normalize": bool(encoder.normalize),
        "prompts": [encoder.prompts.query, encoder.prompts.passage],
        "pooling": [m.value for m in encoder.spec.pooling],
        "include_prompt": bool(encoder.module.include_prompt),
        "vocab": len(encoder.tokenizer),
        "lower_case": bool(encoder.spec.do_lower_case),
    }


def cache_key(*parts: Any) -> str:
    """A short stable hash of JSON-serialisable parts (texts are hashed, not stored)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(json.dumps(part, sort_keys=True, ensure_ascii=False).encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()[:24]


def texts_digest(texts: Sequence[str]) -> str:
    """Hash of a list of texts, order included."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()


def cached_matrix(
    cache_dir: str | os.PathLike[str] | None,
    key: str,
    compute: Callable[[], tuple[FloatMatrix, dict[str, Any]]],
) -> tuple[FloatMatrix, dict[str, Any]]:
    """Return the cached (matrix, metadata) under ``key``, computing and storing it on a miss.

    Args:
        cache_dir: cache folder; None computes every time and stores nothing.
        key: from :func:`cache_key`.
        compute: returns a float32 matrix and JSON-safe metadata (e.g. row ids).

    Returns:
        The float32 matrix and its metadata.
    """
    if cache_dir is None:
        return compute()
    entry = Path(cache_dir) / key
    vectors, meta = entry / "vectors.npy", entry / "meta.json"
    if vectors.is_file() and meta.is_file():
        logger.info("cache hit %s", entry)
        return np.load(vectors), json.loads(meta.read_text(encoding="utf-8"))
    matrix, info = compute()
    entry.mkdir(parents=True, exist_ok=True)
    # write to temporary names, then rename: an interrupted run never leaves a half entry
    np.save(entry / "vectors.tmp.npy", np.asarray(matrix, dtype=np.float32))
    (entry / "meta.tmp.json").write_text(json.dumps(info), encoding="utf-8")
    os.replace(entry / "vectors.tmp.npy", vectors)
    os.replace(entry / "meta.tmp.json", meta)
    return matrix, info
