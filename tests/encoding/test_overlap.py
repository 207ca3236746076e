"""The CUDA path that tokenises in a thread while the device runs: same vectors and report as one call.

Run on the CPU by calling the private method directly with small chunks (the public switch is
the device, and CI has no GPU).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import sbert_rag.encoding.text_encoder as text_encoder
from sbert_rag.config import OverflowPolicy
from sbert_rag.encoding.tokenize import TruncationWarning
from sbert_rag.errors import InputTooLongError

TEXTS = ["the cat sits", "a dog runs " * 40, "red house", "the big tree " * 3, "cat", "dog " * 70, "the house is red"]


@pytest.fixture
def enc(tiny_encoder, monkeypatch):
    monkeypatch.setattr(text_encoder, "_OVERLAP_TEXTS", 3)  # 7 texts: chunks of 3, 3, 1
    return tiny_encoder


def _overlapped(enc, policy: OverflowPolicy):
    return enc._encode_overlapped(list(TEXTS), "", policy, "passage", 0, 2, False)


@pytest.mark.parametrize("policy", [OverflowPolicy.WARN, OverflowPolicy.WINDOWS])
def test_overlapped_same_vectors_and_report(enc, policy: OverflowPolicy) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = _overlapped(enc, policy)
        want = enc.encode_with_report(TEXTS, overflow=policy, batch_size=2)
    np.testing.assert_allclose(got.embeddings, want.embeddings, atol=1e-5)
    assert got.report == want.report and enc.last_report == want.report
    if policy is OverflowPolicy.WARN:
        cut = [w.message for w in caught if issubclass(w.category, TruncationWarning)]
        assert len(cut) == 2 and cut[0].token_counts == cut[1].token_counts  # one per call, indices over the call
        assert set(cut[0].token_counts) == {1, 5}


def test_overlapped_error_names_index_in_call(enc) -> None:
    with pytest.raises(InputTooLongError) as info:
        _overlapped(enc, OverflowPolicy.ERROR)
    assert info.value.index == 1
    texts = ["cat"] * 4 + ["dog " * 70]
    with pytest.raises(InputTooLongError) as info:
        enc._encode_overlapped(texts, "", OverflowPolicy.ERROR, "passage", 0, 2, False)
    assert info.value.index == 4  # in the second chunk, counted over the call
