"""The batcher alone, with a fake ``run``: budgets, groups, order, a full queue, a failing batch, draining."""

from __future__ import annotations

import asyncio

import pytest

from sbert_rag.serve.batcher import Batcher, QueueFullError
from sbert_rag.serve.metrics import Metrics


def make(calls: list, **options) -> Batcher:
    def run(group, payloads):
        calls.append((group, [list(p) for p in payloads]))
        return [ValueError("bad") if "bad" in p else [f"{group}:{x}" for x in p] for p in payloads]

    settings = {"max_batch_tokens": 10, "max_queue": 8, "wait_s": 0.05, **options}
    return Batcher(run, metrics=Metrics(), **settings)


async def test_requests_merge_up_to_the_budget_by_group_in_order():
    calls: list = []
    batcher = make(calls)
    await batcher.start()
    futures = [batcher.submit("q", ["a", "b"], 4), batcher.submit("p", ["c"], 4), batcher.submit("q", ["d"], 4),
               batcher.submit("q", ["e"], 4), batcher.submit("q", ["big"] * 3, 30)]
    results = await asyncio.gather(*futures)
    await batcher.close()
    assert results == [["q:a", "q:b"], ["p:c"], ["q:d"], ["q:e"], ["q:big"] * 3]
    assert calls[0] == ("q", [["a", "b"], ["d"]])  # 8 tokens; a third request would pass 10
    assert [c[0] for c in calls] == ["q", "p", "q", "q"] and calls[-1] == ("q", [["big"] * 3])  # alone, over budget
    assert batcher.metrics.merged_batches == 1 and batcher.metrics.batches == 4


async def test_a_full_queue_refuses_and_a_failing_request_fails_alone():
    calls: list = []
    batcher = make(calls, max_queue=2)
    await batcher.start()
    ok, bad = batcher.submit("q", ["a"], 1), batcher.submit("q", ["bad"], 1)
    with pytest.raises(QueueFullError, match="the most is 2"):
        batcher.submit("q", ["c"], 1)
    assert await ok == ["q:a"]
    with pytest.raises(ValueError, match="bad"):
        await bad
    await batcher.close()
    with pytest.raises(QueueFullError):  # closed: refuses
        batcher.submit("q", ["d"], 1)


async def test_close_finishes_queued_requests():
    calls: list = []
    batcher = make(calls, wait_s=0.5)
    await batcher.start()
    futures = [batcher.submit("q", [str(i)], 1) for i in range(3)]
    await batcher.close()  # does not wait the 0.5 s: closing runs what is queued now
    assert [f.result() for f in futures] == [["q:0"], ["q:1"], ["q:2"]]
