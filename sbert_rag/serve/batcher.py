"""Dynamic batching: a bounded queue of requests and one worker that merges them into forward passes.

Owns the queue (``submit`` refuses with :class:`QueueFullError` when ``max_queue`` requests wait),
how a batch is formed (the oldest waiting request, then later ones of the same group, in arrival
order, up to a token budget; a short wait for more when the budget is not full), and the one
thread where the model runs, so the event loop never blocks on it. While a batch runs, new
requests queue, and the next batch takes them all: under load, batches grow by themselves.
Does not know what a group or a payload is: the embedder's ``run`` turns one group's payloads
into one result per payload.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from sbert_rag.serve.metrics import Metrics

RunBatch = Callable[[Hashable, list[Any]], list[Any]]
"""``run(group, payloads) -> results``: one result per payload, in order; a result that is an
exception instance fails that request only; an exception raised fails the whole batch."""


class QueueFullError(Exception):
    """``max_queue`` requests are already waiting; the app answers 429 with ``Retry-After``."""


@dataclass
class _Job:
    group: Hashable
    payload: Any
    cost: int
    future: asyncio.Future[Any]
    enqueued: float


class Batcher:
    """Merge concurrent requests of one group into batches of at most ``max_batch_tokens``.

    Args:
        run: what one batch does, called in the worker thread (see :data:`RunBatch`).
        max_batch_tokens: token budget of a batch; a single larger request runs alone.
        max_queue: most requests waiting (not counting the batch running).
        wait_s: how long the oldest request may wait for others to fill its batch (seconds).
        metrics: where batch sizes are counted.
    """

    def __init__(self, run: RunBatch, *, max_batch_tokens: int, max_queue: int, wait_s: float,
                 metrics: Metrics) -> None:
        self._run = run
        self.max_batch_tokens = max_batch_tokens
        self.max_queue = max_queue
        self.wait_s = wait_s
        self.metrics = metrics
        self._pending: collections.deque[_Job] = collections.deque()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    @property
    def depth(self) -> int:
        """Requests waiting for the model now."""
        return len(self._pending)

    async def start(self) -> None:
        """Start the worker (in the running event loop)."""
        self._wake = asyncio.Event()
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="sbert-rag-model")
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` in the model's thread, between batches (warm-up, one-off model calls)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def submit(self, group: Hashable, payload: Any, cost: int) -> asyncio.Future[Any]:
        """Queue one request; its future resolves to its own result.

        Raises:
            QueueFullError: ``max_queue`` requests wait already, or the batcher is closing.
        """
        if self._closing or self._wake is None or len(self._pending) >= self.max_queue:
            raise QueueFullError(f"{len(self._pending)} requests wait for the model (the most is {self.max_queue})")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append(_Job(group, payload, max(1, cost), future, loop.time()))
        self._wake.set()
        return future

    async def close(self) -> None:
        """Refuse new requests, finish every queued one, stop the worker thread."""
        self._closing = True
        if self._wake is not None:
            self._wake.set()
        if self._task is not None:
            await self._task
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    async def _loop(self) -> None:
        wake = self._wake
        if wake is None:  # start() sets it before it creates this task; a check that survives python -O
            raise RuntimeError("Batcher._loop runs only from start(), which creates the wake-up event first")
        loop = asyncio.get_running_loop()
        while True:
            while not self._pending:
                if self._closing:
                    return
                wake.clear()
                await wake.wait()
            first = self._pending[0]
            deadline = first.enqueued + self.wait_s
            while self._cost(first.group) < self.max_batch_tokens and not self._closing:
                left = deadline - loop.time()
                if left <= 0:
                    break
                wake.clear()
                try:
                    await asyncio.wait_for(wake.wait(), left)
                except asyncio.TimeoutError:
                    break
            jobs = self._take(first.group)
            if not jobs:
                continue
            self.metrics.batch(sum(_size(j.payload) for j in jobs), len(jobs))
            try:
                results = await loop.run_in_executor(self._executor, self._run, first.group, [j.payload for j in jobs])
            except Exception as err:  # noqa: BLE001 - handed to every waiting request, which answers with it
                results = [err] * len(jobs)
            for job, result in zip(jobs, results):
                if job.future.done():  # the client went away
                    continue
                if isinstance(result, BaseException):
                    job.future.set_exception(result)
                else:
                    job.future.set_result(result)

    def _cost(self, group: Hashable) -> int:
        return sum(j.cost for j in self._pending if j.group == group)

    def _take(self, group: Hashable) -> list[_Job]:
        taken: list[_Job] = []
        kept: collections.deque[_Job] = collections.deque()
        total = 0
        for job in self._pending:
            if job.future.done():  # cancelled while waiting: nothing to compute
                continue
            if job.group == group and (not taken or total + job.cost <= self.max_batch_tokens):
                taken.append(job)
                total += job.cost
            else:
                kept.append(job)
        self._pending = kept
        return taken


def _size(payload: Any) -> int:
    return len(payload) if hasattr(payload, "__len__") else 1
