"""CPU streams: batches of one call run at once, one torch thread each, with the same vectors."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from sbert_rag import TextEncoder
from sbert_rag.encoding.streams import run_streams, stream_count

TEXTS = [("word " * n).strip() for n in (1, 3, 5, 8, 13, 21, 2, 34, 4, 55, 6, 7)]


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_streams_give_the_sequential_vectors(tiny_bert_dir, two_threads) -> None:
    enc = TextEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu", dtype="float32", packed=True, batch_size=2)
    assert enc._streams(6) == 2  # two torch threads: two streams
    streamed = enc.encode(TEXTS)
    enc.cpu_streams = 1
    assert enc._streams(6) == 1
    sequential = enc.encode(TEXTS)
    np.testing.assert_allclose(streamed, sequential, atol=1e-6)
    assert torch.get_num_threads() == 2  # restored


def test_streams_run_jobs_at_once_on_one_thread_each(two_threads) -> None:
    seen: list[tuple[int, bool]] = []
    barrier = threading.Barrier(2, timeout=10)

    def job(i: int):
        def run() -> int:
            barrier.wait()  # both jobs are running at the same time, or this times out
            seen.append((torch.get_num_threads(), torch.is_inference_mode_enabled()))
            return i * 10
        return run

    assert run_streams([job(0), job(1)], 2) == [0, 10]
    assert seen == [(1, True), (1, True)]
    assert torch.get_num_threads() == 2


def test_a_failing_batch_raises_and_restores_threads(two_threads) -> None:
    def bad() -> None:
        raise ValueError("batch 1 failed")

    with pytest.raises(ValueError, match="batch 1 failed"):
        run_streams([lambda: 1, bad, lambda: 3], 2)
    assert torch.get_num_threads() == 2


def test_stream_count_and_where_streams_do_not_apply(tiny_bert_dir, two_threads) -> None:
    assert stream_count(2, 1) == 1 and stream_count(2, 9) == 2 and stream_count(8, 3) == 3
    masked = TextEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu", dtype="float32", packed=False)
    assert masked._streams(9) == 1  # the Hugging Face forward runs batches one after another
    packed = TextEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu", dtype="float32", packed=True)
    packed.cpu_streams = 4
    assert packed._streams(9) == 4 and packed._streams(1) == 1
    bf16 = TextEncoder.from_pretrained(tiny_bert_dir, pooling="mean", device="cpu", dtype="bfloat16", packed=True)
    assert bf16._streams(9) == 1  # bf16 keeps the one-stream path measured for it
