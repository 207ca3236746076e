"""Streaming encode: blocks equal the one-shot encode; the .npy writer gives a standard file."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from sbert_rag import TextEncoder
from sbert_rag.encoding.streaming import read_npy_shape
from sbert_rag.encoding.tokenize import TruncationWarning

WORDS = ["cat", "dog", "bird", "fish", "tree", "car", "house", "red", "blue"]


def _texts(n: int) -> list[str]:
    return [" ".join(WORDS[(i + j) % 9] for j in range(1 + i % 7)) for i in range(n)]


def test_encode_iter_matches_encode(tiny_encoder: TextEncoder) -> None:
    texts = _texts(23)
    blocks = list(tiny_encoder.encode_iter(iter(texts), chunk_size=5))
    assert [len(b) for b in blocks] == [5, 5, 5, 5, 3]
    np.testing.assert_allclose(np.concatenate(blocks), tiny_encoder.encode(texts), atol=1e-5)


def test_encode_to_npy_writes_standard_file(tiny_encoder: TextEncoder, tmp_path: Path) -> None:
    texts = _texts(11)
    out = tmp_path / "v.npy"
    assert tiny_encoder.encode_to_npy((t for t in texts), out, chunk_size=4, role="query") == 11
    assert read_npy_shape(out) == (11, 32)
    np.testing.assert_allclose(np.load(out), tiny_encoder.encode_queries(texts), atol=1e-5)
    np.testing.assert_allclose(np.load(out, mmap_mode="r")[3], tiny_encoder.encode_queries(texts)[3], atol=1e-5)
    assert not (tmp_path / "v.npy.partial").exists()


def test_stream_reports_truncation_once_with_global_indices(tiny_encoder: TextEncoder) -> None:
    texts = _texts(9)
    texts[7] = " ".join(["cat"] * 100)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        list(tiny_encoder.encode_iter(texts, chunk_size=3))
    msgs = [str(w.message) for w in caught if issubclass(w.category, TruncationWarning)]
    assert len(msgs) == 1 and "indices: 7" in msgs[0]


def test_stream_bad_item_names_its_block_index(tiny_encoder: TextEncoder) -> None:
    with pytest.raises(ValueError, match="input 3 is None"):
        list(tiny_encoder.encode_iter(["a cat", "a dog", "fish", None], chunk_size=3))
