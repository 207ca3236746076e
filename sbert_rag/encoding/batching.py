"""Length-sorted batch planning: which rows go through the model together.

Owns only index arithmetic: rows are sorted by token length (longest first, so a memory
problem shows on the first batch) and cut into batches of at most ``batch_size`` rows and, when
given, at most ``max_batch_tokens`` padded tokens. Sorting keeps padding small.
"""

from __future__ import annotations

from collections.abc import Sequence


def plan_batches(lengths: Sequence[int], batch_size: int, max_batch_tokens: int | None = None) -> list[list[int]]:
    """Group row indices into batches of similar length.

    Args:
        lengths: token length of each row.
        batch_size: most rows per batch.
        max_batch_tokens: most padded tokens (rows x longest row) per batch; None = no cap.
            A single row longer than the cap still gets a batch of its own.

    Returns:
        Lists of row indices; every index appears exactly once.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    width = 0
    for i in order:
        new_width = max(width, lengths[i])
        too_many = len(current) >= batch_size
        too_big = max_batch_tokens is not None and current and new_width * (len(current) + 1) > max_batch_tokens
        if current and (too_many or too_big):
            batches.append(current)
            current, new_width = [], lengths[i]
        current.append(i)
        width = new_width
    if current:
        batches.append(current)
    return batches
