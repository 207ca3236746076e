"""CPU streams: each batch of one encode call on one core, several batches at once.

Owns running the independent forward passes of one call on worker threads whose torch ops are
single-threaded. On a few cores the matrix products of one batch split over every core wait on
each other at every op (attention of one row, a layer norm, a small product); with one stream per
core each core runs whole batches and never waits. Torch's intra-op thread count is one setting
per process, so it is lowered to 1 while streams run and restored after; a lock keeps two calls
from interleaving that change. Measured effect: docs/speed.md.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TypeVar

T = TypeVar("T")

_LOCK = threading.Lock()


def stream_count(threads: int, batches: int) -> int:
    """Streams for a call of ``batches`` batches when torch may use ``threads`` threads (1: none)."""
    return max(1, min(threads, batches))


def run_streams(jobs: Sequence[Callable[[], T]], streams: int, progress: Callable[[Iterable[int]], Iterable[int]] | None = None) -> list[T]:
    """Run ``jobs`` on ``streams`` threads with single-threaded torch ops; results in job order.

    Jobs start in order, so with length-sorted batches the streams finish close together.
    The first exception of a job is raised after every started job has ended.
    """
    import torch

    def run(job: Callable[[], T]) -> T:
        with torch.inference_mode():  # inference mode is per thread
            return job()

    with _LOCK:
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with ThreadPoolExecutor(max_workers=streams, thread_name_prefix="sbert_rag-stream") as pool:
                futures = [pool.submit(run, job) for job in jobs]
                done = as_completed(futures)
                for _ in progress(range(len(jobs))) if progress is not None else ():
                    next(done)  # one progress step per finished job
                return [f.result() for f in futures]
        finally:
            torch.set_num_threads(before)
