"""Semantic textual similarity evaluation: Spearman correlation of cosine scores with gold.

Owns reading the STS Benchmark tab-separated layout (score in column 5, sentences in 6 and 7,
1-based) and the rank correlation. Reaches models only through an ``encode`` callable.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from sbert_rag.errors import InvalidInputError


@dataclass(frozen=True)
class STSPairs:
    """Sentence pairs with gold similarity scores."""

    first: list[str]
    second: list[str]
    scores: npt.NDArray[np.float64]


def read_sts(path: str | Path) -> STSPairs:
    """Read an STS Benchmark file (tab-separated, no header, no quoting).

    Raises:
        InvalidInputError: the file is missing, a line has fewer than 7 columns, or a score is not
            a number; the message names the line.
    """
    p = Path(path)
    if not p.is_file():
        raise InvalidInputError(f"STS file {str(p)!r} does not exist")
    first: list[str] = []
    second: list[str] = []
    scores: list[float] = []
    with p.open(encoding="utf-8", newline="") as f:
        for lineno, row in enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE), start=1):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) < 7:
                raise InvalidInputError(
                    f"{str(p)!r} line {lineno}: expected at least 7 tab-separated columns (score in 5, "
                    f"sentences in 6 and 7), got {len(row)}"
                )
            try:
                scores.append(float(row[4]))
            except ValueError as err:
                raise InvalidInputError(f"{str(p)!r} line {lineno}: score {row[4]!r} is not a number") from err
            first.append(row[5])
            second.append(row[6])
    if not scores:
        raise InvalidInputError(f"STS file {str(p)!r} holds no pairs")
    return STSPairs(first, second, np.asarray(scores, dtype=np.float64))


def rankdata(x: Sequence[float] | npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Ranks 1..n with ties given their average rank (as scipy.stats.rankdata does)."""
    a = np.asarray(x, dtype=np.float64)
    order = np.argsort(a, kind="mergesort")
    sorted_a = a[order]
    ranks = np.empty(len(a), dtype=np.float64)
    i = 0
    while i < len(a):
        j = i
        while j + 1 < len(a) and sorted_a[j + 1] == sorted_a[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def spearman(x: Sequence[float] | npt.NDArray[np.float64], y: Sequence[float] | npt.NDArray[np.float64]) -> float:
    """Spearman rank correlation of two equally long sequences."""
    rx, ry = rankdata(x), rankdata(y)
    if len(rx) != len(ry) or len(rx) < 2:
        raise InvalidInputError(f"spearman needs two sequences of one length >= 2; got {len(rx)} and {len(ry)}")
    rx -= rx.mean()
    ry -= ry.mean()
    denom = float(np.sqrt((rx * rx).sum() * (ry * ry).sum()))
    return float((rx * ry).sum() / denom) if denom else 0.0


def evaluate_sts(pairs: STSPairs, encode: Callable[[list[str]], npt.NDArray[np.float32]]) -> dict[str, float | int]:
    """Spearman (x100, two decimals) of cosine similarity against the gold scores.

    Args:
        pairs: the pairs to score.
        encode: texts -> float32 (n, dim) vectors.

    Returns:
        ``{"spearman_cosine": float, "pairs": int}``.
    """
    a = np.asarray(encode(pairs.first), dtype=np.float64)
    b = np.asarray(encode(pairs.second), dtype=np.float64)
    na = np.linalg.norm(a, axis=1)
    nb = np.linalg.norm(b, axis=1)
    cos = (a * b).sum(axis=1) / np.maximum(na * nb, 1e-12)
    return {"spearman_cosine": round(100.0 * spearman(cos, pairs.scores), 2), "pairs": len(pairs.scores)}
