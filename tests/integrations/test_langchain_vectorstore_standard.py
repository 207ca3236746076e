"""LangChain's ``VectorStoreIntegrationTests``, unmodified, on ``SbertRagVectorStore``.

Each test gets a fresh store folder in ``tmp_path`` embedding with the tiny random BERT of
tests/conftest.py (saved once as an sbert_rag model folder, no prompts). The suite's
``get_embeddings()`` fake is not used: the store embeds with its own model, and the suite only
needs identical texts to embed identically (so a text is its own nearest neighbour). After the
suite: cosine scores, the ``embeddings`` property, mixed given and missing ids, refused input,
``from_texts`` and a store indexed from a folder.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_sbert_rag import SbertRagVectorStore
from langchain_tests.integration_tests import VectorStoreIntegrationTests

import sbert_rag


@pytest.fixture(scope="module")
def tiny_model_dir(tiny_bert_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny BERT as a sentence-transformers folder (mean pooling, normalised, dim 32)."""
    from sbert_rag import TextEncoder

    encoder = TextEncoder.from_pretrained(
        tiny_bert_dir, pooling="mean", normalize=True, device="cpu", dtype="float32"
    )
    return Path(encoder.save(tmp_path_factory.mktemp("lc_vs_model") / "tiny"))


class TestSbertRagVectorStore(VectorStoreIntegrationTests):
    @pytest.fixture()
    def vectorstore(self, tiny_model_dir: Path, tmp_path: Path) -> Iterator[SbertRagVectorStore]:  # type: ignore[override]
        yield SbertRagVectorStore(tmp_path / "store", model=str(tiny_model_dir), device="cpu")


# ---------------------------------------------------------------- beyond the suite
@pytest.fixture()
def vectorstore(tiny_model_dir: Path, tmp_path: Path) -> SbertRagVectorStore:
    return SbertRagVectorStore(tmp_path / "store", model=str(tiny_model_dir), device="cpu")


TEXTS = ["the cat sits on the tree", "a small dog runs in the house", "the blue bird eats a fish"]


def test_scores_are_cosines_and_relevance_is_in_unit_range(vectorstore: SbertRagVectorStore) -> None:
    vectorstore.add_texts(TEXTS, [{"topic": "cat"}, {"topic": "dog"}, {"topic": "bird"}])
    scored = vectorstore.similarity_search_with_score("a small dog runs in the house", k=3)
    assert scored[0][0].page_content == TEXTS[1] and scored[0][1] == pytest.approx(1.0, abs=1e-5)
    model = vectorstore.store.models.text
    query = model.encode_queries(["a small dog runs in the house"])[0]
    for doc, score in scored:
        assert score == pytest.approx(float(model.encode_passages([doc.page_content])[0] @ query), abs=1e-5)
    relevance = vectorstore.similarity_search_with_relevance_scores("a small dog", k=3)
    assert all(0.0 <= r <= 1.0 for _, r in relevance)
    assert [d.metadata for d in vectorstore.similarity_search("a cat", k=3, filter={"topic": "bird"})] == [
        {"topic": "bird"}
    ]


def test_embeddings_property_is_the_store_model(vectorstore: SbertRagVectorStore) -> None:
    emb = vectorstore.embeddings
    assert emb is vectorstore.embeddings
    expected = vectorstore.store.models.text.encode_queries(["the cat"])[0]
    assert emb.embed_query("the cat") == pytest.approx(expected.tolist(), abs=1e-6)


def test_add_documents_with_some_ids_uses_content_ids_for_the_others(
    vectorstore: SbertRagVectorStore,
) -> None:
    from langchain_core.documents import Document

    ids = vectorstore.add_documents(
        [Document(page_content=TEXTS[0], id="cat"), Document(page_content=TEXTS[1])]
    )
    assert ids[0] == "cat" and ids[1]
    again = vectorstore.add_documents(
        [Document(page_content=TEXTS[2], id="bird"), Document(page_content=TEXTS[1])]
    )
    assert again[1] == ids[1]  # the same text gets the same content id: stored once
    assert sorted(d.id for d in vectorstore.get_by_ids([*ids, "bird"])) == sorted([*ids, "bird"])


def test_bad_input_is_refused_not_dropped(vectorstore: SbertRagVectorStore) -> None:
    with pytest.raises(sbert_rag.InvalidInputError, match="values must be str, int, float or bool"):
        vectorstore.add_texts(["the cat"], [{"tags": ["a", "b"]}])
    with pytest.raises(sbert_rag.InvalidInputError, match="store's own key"):
        vectorstore.add_texts(["the cat"], [{"chunk": 3}])
    with pytest.raises(sbert_rag.InvalidInputError, match="'page' an integer"):
        vectorstore.add_texts(["the cat"], [{"page": "3"}])
    with pytest.raises(ValueError, match="needs the ids"):
        vectorstore.delete()
    with pytest.raises(NotImplementedError, match="no search by a raw vector"):
        vectorstore.similarity_search_by_vector([0.0] * 32)
    with pytest.raises(TypeError, match="fetch_k"):
        vectorstore.similarity_search("the cat", k=1, fetch_k=3)
    with pytest.raises(sbert_rag.InvalidInputError, match="empty or blank"):
        vectorstore.similarity_search(" ")


def test_from_texts_in_a_temporary_folder_and_embedding_checks(tiny_model_dir: Path, tmp_path: Path) -> None:
    from langchain_core.embeddings import DeterministicFakeEmbedding
    from langchain_sbert_rag import SbertRagEmbeddings

    vs = SbertRagVectorStore.from_texts(
        TEXTS, metadatas=[{"n": i} for i in range(3)], model=str(tiny_model_dir), device="cpu"
    )
    try:
        assert vs.store.path.name.startswith("sbert-rag-langchain-")
        assert vs.similarity_search(TEXTS[2], k=1)[0].metadata == {"n": 2}
    finally:
        shutil.rmtree(vs.store.path)
    named = SbertRagVectorStore.from_texts(
        TEXTS[:1],
        SbertRagEmbeddings(model_path=str(tiny_model_dir)),
        store_path=tmp_path / "named",
        device="cpu",
    )
    assert named.store.info()["dims"] == 32  # the embedding named the tiny model
    with pytest.raises(sbert_rag.ConfigError, match="DeterministicFakeEmbedding"):
        SbertRagVectorStore.from_texts(
            TEXTS, DeterministicFakeEmbedding(size=6), store_path=tmp_path / "fake"
        )
    with pytest.raises(sbert_rag.ConfigError, match="no sbert-rag store"):
        SbertRagVectorStore(tmp_path / "absent", create=False)


def test_a_folder_indexed_store_gives_sources(tiny_model_dir: Path, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "pets.txt").write_text(
        "the cat sits on the tree. a small dog runs in the house.\n", encoding="utf-8"
    )
    store = sbert_rag.Store.open(tmp_path / "store", create=True, model=str(tiny_model_dir), device="cpu")
    store.add_folder(docs)
    found = SbertRagVectorStore(store).similarity_search("the cat", k=1)[0]
    assert found.metadata == {"source": str(docs.resolve() / "pets.txt")}
    with pytest.raises(sbert_rag.ConfigError, match="already open"):
        SbertRagVectorStore(store, device="cpu")
