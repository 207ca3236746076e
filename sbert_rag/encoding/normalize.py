"""L2 normalisation of embedding matrices (numpy), refusing vectors that cannot be normalised.

Owns the numpy side only; the encoder normalises tensors with torch before leaving the device.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from sbert_rag.errors import InvalidInputError


def l2_normalize(vectors: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """Return float32 unit-length rows.

    Args:
        vectors: array of shape (n, dim).

    Returns:
        float32 array (n, dim) whose rows have L2 norm 1.

    Raises:
        InvalidInputError: a row is all zeros or holds NaN/inf; the message gives its index.
    """
    x = np.asarray(vectors, dtype=np.float32)
    if x.ndim != 2:
        raise InvalidInputError(f"expected a 2-D array (n, dim), got shape {x.shape}")
    finite = np.isfinite(x).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise InvalidInputError(f"row {bad} holds NaN or infinite values and cannot be normalised")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if (norms == 0).any():
        bad = int(np.flatnonzero(norms[:, 0] == 0)[0])
        raise InvalidInputError(f"row {bad} is all zeros and cannot be normalised")
    return (x / norms).astype(np.float32, copy=False)
