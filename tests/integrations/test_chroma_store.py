"""ChromaHybridStore: content-hash upserts, dense / BM25 / hybrid search, the persisted BM25 sidecar."""

from __future__ import annotations

from unittest import mock

import pytest

import sbert_rag
from sbert_rag import Chunk
from sbert_rag_chroma import ChromaHybridStore, SbertRagEmbeddingFunction, content_id

CORPUS = [
    "the cat sits on the tree",
    "a dog runs in the house",
    "red bird with blue fish",
    "the big green car",
    "small house with a blue car",
]


def _client(path):  # noqa: ANN001, ANN202
    import chromadb
    from chromadb.config import Settings

    return chromadb.PersistentClient(str(path), settings=Settings(anonymized_telemetry=False))


def test_upserts_are_keyed_by_content_hash(tiny_encoder, chroma_client) -> None:
    store = ChromaHybridStore.open(chroma_client, "docs", SbertRagEmbeddingFunction(tiny_encoder))
    ids = store.add_texts([CORPUS[0], CORPUS[1], CORPUS[0]], metadatas=[{"n": 1}, None, {"n": 1}])
    assert ids[0] == ids[2] == content_id(CORPUS[0]) and len(store) == 2
    with mock.patch.object(tiny_encoder, "encode_passages", wraps=tiny_encoder.encode_passages) as spy:
        assert store.add_texts([CORPUS[0]]) == [ids[0]]
    assert spy.call_count == 0 and len(store) == 2  # already stored: not embedded again
    chunk = Chunk(
        doc_id="d1",
        text="the red car",
        start=0,
        end=11,
        chunk_id="d1#0",
        title="cars",
        metadata={"lang": "en"},
    )
    first, again = store.add_chunks([chunk]), store.add_chunks([chunk])
    assert first == again == [content_id("cars the red car", "d1")] and len(store) == 3
    other_doc = store.add_chunks(
        [Chunk(doc_id="d2", text="the red car", start=0, end=11, chunk_id="d2#0", title="cars")]
    )
    assert other_doc != first and len(store) == 4  # the same text in another document is its own record
    stored = store.collection.get(ids=first, include=["documents", "metadatas"])
    assert stored["documents"] == ["cars the red car"]
    assert stored["metadatas"][0] == {
        "doc_id": "d1",
        "chunk_id": "d1#0",
        "start": 0,
        "end": 11,
        "title": "cars",
        "lang": "en",
    }
    with pytest.raises(sbert_rag.InvalidInputError, match="text 1"):
        store.add_texts(["fine", "  "])


def test_search_modes(tiny_encoder, chroma_client) -> None:
    store = ChromaHybridStore.open(chroma_client, "docs", SbertRagEmbeddingFunction(tiny_encoder))
    assert store.search("bird", k=3) == []  # empty collection
    store.add_texts(CORPUS)
    lexical = store.search("bird", k=3, mode="bm25")
    assert [r.text for r in lexical] == [CORPUS[2]] and lexical[
        0
    ].source == "bm25"  # only one doc has the term
    dense = store.search(CORPUS[3], k=2, mode="dense")
    assert dense[0].text == CORPUS[3] and dense[0].score == pytest.approx(1.0, abs=1e-3)
    hybrid = store.search("bird", k=50)  # k is clamped to the collection size
    assert len(hybrid) == len(CORPUS) and hybrid[0].text == CORPUS[2]
    assert [r.rank for r in hybrid] == list(range(1, len(CORPUS) + 1))
    for bad in ({"query": " "}, {"query": "x", "k": 0}, {"query": "x", "mode": "sparse"}):
        with pytest.raises(sbert_rag.InvalidInputError):
            store.search(**bad)


def test_bm25_sidecar_is_persisted_and_follows_changes(tiny_encoder, chroma_path, tmp_path) -> None:
    ef = SbertRagEmbeddingFunction(tiny_encoder)
    sidecar = tmp_path / "bm25"
    store = ChromaHybridStore.open(_client(chroma_path), "docs", ef, bm25_dir=sidecar)
    store.add_texts(CORPUS)
    assert store.search("bird", k=1, mode="bm25")[0].text == CORPUS[2]
    assert (sidecar / "fingerprint.json").exists()
    reopened = ChromaHybridStore.open(_client(chroma_path), "docs", ef, bm25_dir=sidecar)
    with mock.patch("sbert_rag_chroma.store.BM25Index.from_texts", side_effect=AssertionError("rebuilt")):
        assert reopened.search("bird", k=1, mode="bm25")[0].text == CORPUS[2]  # loaded, not rebuilt
    reopened.add_texts(["a yellow submarine"])
    assert reopened.search("submarine", k=1, mode="bm25")[0].text == "a yellow submarine"
    # a write through another client changes the count, so the first store rebuilds too
    assert store.search("submarine", k=1, mode="bm25")[0].text == "a yellow submarine"
    reopened.delete([content_id("a yellow submarine")])
    assert reopened.search("submarine", k=1, mode="bm25") == []


def test_open_refuses_a_collection_of_another_model(tiny_encoder, prompted_encoder, chroma_client) -> None:
    ChromaHybridStore.open(chroma_client, "docs", SbertRagEmbeddingFunction(tiny_encoder)).add_texts(
        CORPUS[:1]
    )
    with pytest.raises(sbert_rag.ConfigError, match="query_prompt: '' -> 'query '"):
        ChromaHybridStore.open(chroma_client, "docs", SbertRagEmbeddingFunction(prompted_encoder))
