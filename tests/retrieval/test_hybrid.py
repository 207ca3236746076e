from __future__ import annotations

import re

import numpy as np
import pytest

from sbert_rag.errors import InvalidInputError
from sbert_rag.retrieval import BM25Config, DenseIndex, FusionConfig, HybridRetriever, search_documents
from sbert_rag.types import Encoder, Hit

VOCAB = ["cat", "dog", "fish", "bird", "pet", "ocean", "sky", "animal"]
# "animal" is a synonym the fake encoder maps onto every pet word: dense finds what BM25 cannot
SYNONYMS = {"animal": ["cat", "dog", "fish", "bird", "pet"]}


class FakeEncoder:
    """Bag of words over a fixed vocabulary plus a bias dimension (never a zero vector)."""

    dim = len(VOCAB) + 1

    def _encode(self, texts) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i, -1] = 0.1
            for word in re.findall(r"\w+", text.lower()):
                for w in SYNONYMS.get(word, [word]):
                    if w in VOCAB:
                        out[i, VOCAB.index(w)] += 1.0
        return out

    def encode_queries(self, texts) -> np.ndarray:
        return self._encode(list(texts))

    def encode_passages(self, texts) -> np.ndarray:
        return self._encode(list(texts))


CHUNKS = {  # chunk id -> (doc id, text)
    "d1#0": ("d1", "the cat sat"),
    "d1#1": ("d1", "the cat slept in the sun"),
    "d2#0": ("d2", "a dog barked at the sky"),
    "d3#0": ("d3", "fish swim in the ocean"),
    "d4#0": ("d4", "zebra crossing on the road"),
}


def _retriever(**fusion: object) -> HybridRetriever:
    ids = list(CHUNKS)
    return HybridRetriever.build(
        FakeEncoder(), ids, [t for _, t in CHUNKS.values()],
        doc_of={c: d for c, (d, _) in CHUNKS.items()},
        fusion=FusionConfig(**fusion), bm25_config=BM25Config(stemmer=None),
    )


def test_fake_encoder_is_an_encoder() -> None:
    assert isinstance(FakeEncoder(), Encoder)


@pytest.mark.parametrize("method", ["score", "rrf"])
def test_search_returns_documents_fused(method: str) -> None:
    retriever = _retriever(method=method)
    (hits,) = retriever.search(["cat"], k=3)
    assert hits[0].id == "d1" and all(h.source == "hybrid" for h in hits)
    assert len({h.id for h in hits}) == len(hits) <= 3
    assert all(not h.id.count("#") for h in hits)


def test_search_query_unknown_to_bm25_uses_dense_side() -> None:
    (hits,) = _retriever().search(["animal"], k=4)
    assert {h.id for h in hits[:3]} == {"d1", "d2", "d3"}


def test_search_weights_choose_the_side() -> None:
    # dense only: "zebra" is outside the fake vocabulary, so every document ties on the bias
    (bm25_only,) = _retriever(dense_weight=0.0, bm25_weight=1.0).search(["zebra road"], k=1)
    assert bm25_only[0].id == "d4"


def test_search_k_above_documents_names_the_count() -> None:
    with pytest.raises(InvalidInputError, match=r"k must be an integer in \[1, 4\] \(documents indexed\); got 5"):
        _retriever().search(["cat"], k=5)


def test_retriever_dimension_mismatch() -> None:
    retriever = _retriever()
    other = DenseIndex(3)
    other.add(["a"], [[1.0, 0.0, 0.0]])
    with pytest.raises(InvalidInputError, match="9-dim vectors but the dense index holds 3-dim"):
        HybridRetriever(FakeEncoder(), other, retriever.bm25)


def test_search_documents_widens_until_enough_documents() -> None:
    # ten chunks of one document first, then one chunk each of two more documents
    chunk_hits = [Hit(f"a#{i}", 1.0 - i / 100) for i in range(10)] + [Hit("b#0", 0.5), Hit("c#0", 0.4)]
    doc_of = {h.id: h.id.split("#")[0] for h in chunk_hits}
    calls = []

    def search(n: int) -> list[list[Hit]]:
        calls.append(n)
        return [chunk_hits[:n]]

    (docs,) = search_documents(search, len(chunk_hits), 3, doc_of)
    assert [d.id for d in docs] == ["a", "b", "c"]
    assert calls == [6, 12]
