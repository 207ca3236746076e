"""Exact dense search: a float32 matrix of passage vectors, scored blockwise, saved as plain files.

Owns storing passage embeddings under string ids and finding the exact top-k for each query by
cosine or dot product, in blocks so memory stays bounded (never an n_queries x n_passages matrix
for a large corpus). Deliberately does not embed text (hand it vectors from any ``Encoder``), does
no approximate search, and imports numpy only.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from sbert_rag.config import parse_enum
from sbert_rag.errors import ConfigError, InvalidInputError, ModelLoadError
from sbert_rag.types import FloatMatrix, Hit

FORMAT_VERSION = 1
_CONFIG, _IDS, _VECTORS = "config.json", "ids.json", "vectors.npy"


class Metric(str, enum.Enum):
    """Similarity between a query and a passage vector."""

    COSINE = "cosine"  # vectors are L2-normalised on the way in; score in [-1, 1]
    DOT = "dot"  # raw inner product; vectors stored as given


class DenseIndex:
    """Exact top-k search over passage vectors.

    Example:
        >>> index = DenseIndex(dim=encoder.dim, metric="cosine")
        >>> index.add(ids, encoder.encode_passages(texts))
        >>> hits = index.search(encoder.encode_queries(["what is x?"]), k=10)[0]
    """

    def __init__(self, dim: int, metric: Metric | str = Metric.COSINE) -> None:
        """Create an empty index.

        Args:
            dim: vector dimension.
            metric: ``"cosine"`` (normalises vectors and queries) or ``"dot"``.

        Raises:
            ConfigError: ``dim`` is not a positive integer or ``metric`` is unknown.
        """
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ConfigError(f"dim must be an integer >= 1; got {dim!r}")
        self.dim = dim
        self.metric = parse_enum(Metric, metric, "metric")
        self._ids: list[str] = []
        self._positions: dict[str, int] = {}
        self._blocks: list[FloatMatrix] = []
        self._matrix: FloatMatrix = np.zeros((0, dim), dtype=np.float32)

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def ids(self) -> tuple[str, ...]:
        """Passage ids in insertion order (row order of ``vectors``)."""
        return tuple(self._ids)

    @property
    def vectors(self) -> FloatMatrix:
        """Stored vectors, float32 (len(self), dim); unit length under cosine. Do not modify."""
        if self._blocks:
            self._matrix = np.concatenate([self._matrix, *self._blocks])
            self._blocks = []
        return self._matrix

    def add(self, ids: Sequence[str], vectors: npt.ArrayLike) -> None:
        """Add passages.

        Args:
            ids: one non-empty string id per row, new to the index and unique.
            vectors: shape (len(ids), dim), finite values; non-zero rows under cosine.

        Raises:
            InvalidInputError: an id is empty, repeats, or is already indexed; the shape is
                wrong; a value is not finite; a vector is zero under cosine.
        """
        ids = list(ids)
        matrix = _as_matrix(vectors, self.dim, "vectors")
        if matrix.shape[0] != len(ids):
            raise InvalidInputError(f"got {len(ids)} ids but {matrix.shape[0]} vectors; pass one id per row")
        new: dict[str, int] = {}
        for i, pid in enumerate(ids):
            if not isinstance(pid, str) or not pid:
                raise InvalidInputError(f"id at index {i} must be a non-empty string, got {pid!r}")
            if pid in self._positions or pid in new:
                where = "is already in the index" if pid in self._positions else f"repeats index {new[pid]}"
                raise InvalidInputError(f"id {pid!r} at index {i} {where}; ids must be unique")
            new[pid] = i
        if self.metric is Metric.COSINE:
            matrix = _normalize(matrix, "vector")
        # validated: only now change state, so a failed add leaves the index as it was
        for pid in ids:
            self._positions[pid] = len(self._ids)
            self._ids.append(pid)
        self._blocks.append(matrix)

    def search(
        self, queries: npt.ArrayLike, k: int, *, block_size: int = 65536, query_batch: int = 256
    ) -> list[list[Hit]]:
        """Return the exact top ``k`` passages for each query vector.

        Args:
            queries: query vectors, shape (n_queries, dim).
            k: hits per query, 1 <= k <= len(self).
            block_size: passages scored at once; memory is about ``query_batch * block_size * 4``
                bytes.
            query_batch: queries scored at once.

        Returns:
            One list per query of ``k`` hits, best first; ties keep insertion order.

        Raises:
            InvalidInputError: the index is empty, ``k`` is out of range, or the queries have the
                wrong shape or non-finite values.
        """
        n = len(self)
        if n == 0:
            raise InvalidInputError("the index is empty; add passages with add(ids, vectors) before searching")
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n:
            raise InvalidInputError(
                f"k must be an integer in [1, {n}] (the index holds {n} passages); got {k!r}. "
                f"Pass k <= {n} or add more passages."
            )
        if block_size < 1 or query_batch < 1:
            raise ConfigError(f"block_size and query_batch must be >= 1; got {block_size}, {query_batch}")
        q = _as_matrix(queries, self.dim, "queries")
        if self.metric is Metric.COSINE:
            q = _normalize(q, "query")
        matrix = self.vectors
        results: list[list[Hit]] = []
        for qs in range(0, q.shape[0], query_batch):
            scores, rows = _top_k_blockwise(q[qs:qs + query_batch], matrix, k, block_size)
            for s_row, i_row in zip(scores, rows):
                results.append([
                    Hit(id=self._ids[i], score=float(s), rank=r + 1, source="dense")
                    for r, (s, i) in enumerate(zip(s_row, i_row))
                ])
        return results

    def save(self, folder: str | Path) -> Path:
        """Write ``config.json``, ``ids.json`` and ``vectors.npy`` into ``folder`` (created if needed).

        Returns:
            The folder.
        """
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        config = {"format_version": FORMAT_VERSION, "component": "DenseIndex", "dim": self.dim,
                  "metric": self.metric.value, "size": len(self)}
        (path / _CONFIG).write_text(json.dumps(config, indent=2), encoding="utf-8")
        (path / _IDS).write_text(json.dumps(self._ids), encoding="utf-8")
        np.save(path / _VECTORS, self.vectors, allow_pickle=False)
        return path

    @classmethod
    def load(cls, folder: str | Path, *, mmap: bool = False) -> DenseIndex:
        """Load an index written by ``save``.

        Args:
            folder: the folder ``save`` wrote.
            mmap: map ``vectors.npy`` read-only instead of reading it: opening costs nothing
                whatever the size, and the OS page cache holds the matrix once for every process
                that searches it. Adding to a mapped index copies it into memory first.

        Raises:
            ModelLoadError: a file is missing, or the files disagree with each other.
        """
        path = Path(folder)
        for name in (_CONFIG, _IDS, _VECTORS):
            if not (path / name).is_file():
                raise ModelLoadError(f"{path} is not a saved DenseIndex: {name} is missing")
        config = json.loads((path / _CONFIG).read_text(encoding="utf-8"))
        if config.get("component") != "DenseIndex" or config.get("format_version") != FORMAT_VERSION:
            raise ModelLoadError(
                f"{path / _CONFIG} describes {config.get('component')!r} format "
                f"{config.get('format_version')!r}, expected DenseIndex format {FORMAT_VERSION}"
            )
        ids = json.loads((path / _IDS).read_text(encoding="utf-8"))
        vectors = np.load(path / _VECTORS, allow_pickle=False, mmap_mode="r" if mmap else None)
        if vectors.shape != (len(ids), config["dim"]):
            raise ModelLoadError(
                f"{path}: vectors.npy has shape {vectors.shape} but ids.json has {len(ids)} ids and "
                f"dim is {config['dim']}; the folder is corrupt, save the index again"
            )
        index = cls(config["dim"], config["metric"])
        index._ids = list(ids)
        index._positions = {pid: i for i, pid in enumerate(ids)}
        index._matrix = vectors.astype(np.float32, copy=False)
        return index


def _as_matrix(values: npt.ArrayLike, dim: int, what: str) -> FloatMatrix:
    matrix = np.asarray(values, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[1] != dim:
        raise InvalidInputError(
            f"{what} must have shape (n, {dim}); got {matrix.shape}. Reshape a single vector with v[None, :]"
        )
    bad = np.flatnonzero(~np.isfinite(matrix).all(axis=1))
    if bad.size:
        raise InvalidInputError(f"{what} row {int(bad[0])} has NaN or infinite values ({bad.size} such rows)")
    return matrix


def _normalize(matrix: FloatMatrix, what: str) -> FloatMatrix:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    zero = np.flatnonzero(norms[:, 0] == 0)
    if zero.size:
        raise InvalidInputError(
            f"{what} {int(zero[0])} is all zeros and has no direction under cosine; "
            f"remove it or use metric='dot'"
        )
    return (matrix / norms).astype(np.float32, copy=False)


def _top_k_blockwise(
    queries: FloatMatrix, matrix: FloatMatrix, k: int, block_size: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Exact top-k rows of ``matrix`` per query, keeping a running (n_q, k) best list per block."""
    n_q = queries.shape[0]
    best_s = np.empty((n_q, 0), dtype=np.float32)
    best_i = np.empty((n_q, 0), dtype=np.int64)
    for start in range(0, matrix.shape[0], block_size):
        scores = queries @ matrix[start:start + block_size].T  # (n_q, block)
        take = min(k, scores.shape[1])
        part = np.argpartition(-scores, take - 1, axis=1)[:, :take]
        best_s = np.concatenate([best_s, np.take_along_axis(scores, part, axis=1)], axis=1)
        best_i = np.concatenate([best_i, part + start], axis=1)
        if best_s.shape[1] > k:
            keep = np.argpartition(-best_s, k - 1, axis=1)[:, :k]
            best_s = np.take_along_axis(best_s, keep, axis=1)
            best_i = np.take_along_axis(best_i, keep, axis=1)
    # final order: score descending, then row (insertion order) ascending
    order = np.lexsort((best_i, -best_s), axis=1)
    return np.take_along_axis(best_s, order, axis=1), np.take_along_axis(best_i, order, axis=1)
