"""Parity with sentence-transformers on the packaged all-MiniLM-L6-v2: 1,000 STS-B dev sentences.

max(1 - cosine) <= 1e-5 in fp32 for plain (unnormalised), query-prompted and normalised encodes,
and both directions of the folder format.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sbert_rag import TextEncoder

pytestmark = pytest.mark.quality

STS_DEV = Path(__file__).resolve().parents[3] / "shared" / "data" / "stsbenchmark" / "sts-dev.csv"


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    from sbert_rag.evaluation.sts import read_sts

    pairs = read_sts(STS_DEV)
    seen = list(dict.fromkeys(pairs.first + pairs.second))
    return seen[:1000]


@pytest.fixture(scope="module")
def st_model(default_model_dir: Path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(default_model_dir), device="cpu")


def _max_cos_gap(a: np.ndarray, b: np.ndarray) -> float:
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return float((1.0 - cos).max())


def test_parity_normalised(default_encoder: TextEncoder, st_model, sentences: list[str]) -> None:
    ours = default_encoder.encode(sentences)
    theirs = st_model.encode(sentences, convert_to_numpy=True)
    assert len(sentences) == 1000
    assert _max_cos_gap(ours, theirs) <= 1e-5
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, rtol=1e-5)


def test_parity_plain_unnormalised(default_model_dir: Path, st_model, sentences: list[str]) -> None:
    from sentence_transformers import SentenceTransformer

    ours = TextEncoder.from_pretrained(default_model_dir, normalize=False, device="cpu", dtype="float32").encode(sentences)
    no_norm = SentenceTransformer(modules=[st_model[0], st_model[1]], device="cpu")
    theirs = no_norm.encode(sentences, convert_to_numpy=True)
    assert _max_cos_gap(ours, theirs) <= 1e-5
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), np.linalg.norm(theirs, axis=1), rtol=1e-4)


def test_parity_query_prompted(default_model_dir: Path, st_model, sentences: list[str]) -> None:
    enc = TextEncoder.from_pretrained(default_model_dir, query_prompt="query: ", device="cpu", dtype="float32")
    ours = enc.encode_queries(sentences)
    theirs = st_model.encode(sentences, prompt="query: ", convert_to_numpy=True)
    assert _max_cos_gap(ours, theirs) <= 1e-5


def test_parity_through_saved_folders(default_encoder: TextEncoder, st_model, sentences: list[str], tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    sample = sentences[:200]
    reference = st_model.encode(sample, convert_to_numpy=True)
    for style in ("legacy", "v6"):
        ours_saved = default_encoder.save(tmp_path / f"ours_{style}", key_style=style)
        assert _max_cos_gap(SentenceTransformer(str(ours_saved), device="cpu").encode(sample), reference) <= 1e-5
    st_saved = tmp_path / "theirs"
    st_model.save(str(st_saved))
    assert _max_cos_gap(TextEncoder.from_pretrained(st_saved, device="cpu", dtype="float32").encode(sample), reference) <= 1e-5
