"""What happened to over-long inputs in one encode call, and the result type that carries it.

Owns plain data only; the tokenisation step fills it and the encoder returns it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class OverflowReport:
    """Facts about inputs longer than the model reads, for one encode call.

    Attributes:
        limit: most tokens the model reads (prompt and special tokens included).
        policy: the overflow policy in force (``warn``, ``error`` or ``windows``).
        token_counts: token count of every input, in input order.
        truncated: indices of inputs that were cut to ``limit`` (policy ``warn``).
        windowed: index -> number of windows, for inputs split into windows (policy ``windows``).
    """

    limit: int
    policy: str
    token_counts: tuple[int, ...] = ()
    truncated: tuple[int, ...] = ()
    windowed: dict[int, int] = field(default_factory=dict)

    @property
    def overflowed(self) -> tuple[int, ...]:
        """Indices of every input longer than ``limit``, whatever was done with it."""
        return tuple(i for i, n in enumerate(self.token_counts) if n > self.limit)

    @property
    def tokens_lost(self) -> int:
        """Tokens dropped by truncation in this call (0 unless the policy is ``warn``)."""
        return sum(self.token_counts[i] - self.limit for i in self.truncated)


@dataclass(frozen=True)
class EncodeResult:
    """Embeddings with the overflow report of the call that made them.

    Attributes:
        embeddings: float32 array (n, dim), one row per input, in input order.
        report: what happened to over-long inputs.
    """

    embeddings: npt.NDArray[np.float32]
    report: OverflowReport
