"""``SbertRagRetriever``: LangChain's ``RetrieversIntegrationTests`` (unmodified), then the translation.

The standard suite runs on a store of five texts embedded by the tiny random BERT (built once per
module; each retriever the suite constructs opens it from its path). The rest checks what the
adapter promises on the example corpus indexed once per module with the packaged default model:
one ``Store.search`` call per query (same ids in the same order), provenance metadata and
``Document.id``, per-call ``k``/``mode``/``where``, errors passed through, laziness, async, and
``SbertRagVectorStore.as_retriever`` sharing the open store.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from langchain_core.retrievers import BaseRetriever
from langchain_sbert_rag import SbertRagRetriever, SbertRagVectorStore
from langchain_tests.integration_tests import RetrieversIntegrationTests

import sbert_rag

CORPUS = Path(__file__).resolve().parents[2] / "examples" / "corpus"
QUERY = "how do I stop silent truncation"
TINY_TEXTS = [  # words of the tiny test vocabulary (tests/conftest.py)
    "the cat sits on the tree",
    "a small dog runs in the house",
    "the blue bird eats a fish",
    "a big red car is green",
    "hello world this is a long text",
]


@pytest.fixture(scope="module")
def tiny_store_dir(tiny_bert_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of ``TINY_TEXTS`` embedded by the tiny BERT (saved as an sbert_rag model folder)."""
    from sbert_rag import Store, TextEncoder

    folder = tmp_path_factory.mktemp("lc_retriever")
    encoder = TextEncoder.from_pretrained(
        tiny_bert_dir, pooling="mean", normalize=True, device="cpu", dtype="float32"
    )
    model = encoder.save(folder / "model")
    store = Store.open(folder / "store", create=True, model=str(model), device="cpu")
    store.add_texts(
        TINY_TEXTS, metadatas=[{"source": f"note-{i}.txt", "n": i} for i in range(len(TINY_TEXTS))]
    )
    return folder / "store"


@pytest.fixture(scope="module")
def corpus_store(tmp_path_factory: pytest.TempPathFactory) -> sbert_rag.Store:
    """The example corpus indexed with the packaged default model (shared: do not write to it)."""
    root = tmp_path_factory.mktemp("lc_corpus")
    shutil.copytree(CORPUS, root / "corpus")
    store = sbert_rag.Store.open(root / "store", create=True, device="cpu", dtype="float32")
    store.add_folder(root / "corpus")
    return store


class TestSbertRagRetrieverStandard(RetrieversIntegrationTests):
    store_path: str = ""

    @pytest.fixture(scope="class", autouse=True)
    def _store(self, request: pytest.FixtureRequest, tiny_store_dir: Path) -> None:
        request.cls.store_path = str(tiny_store_dir)

    @property
    def retriever_constructor(self) -> type[BaseRetriever]:
        return SbertRagRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"store": type(self).store_path, "k": 2, "device": "cpu"}

    @property
    def retriever_query_example(self) -> str:
        return "the cat sits on the tree"


# ---------------------------------------------------------------- translation, on the packaged model
def test_retriever_returns_the_store_ranking_as_documents(corpus_store: sbert_rag.Store) -> None:
    retriever = SbertRagRetriever.from_store(corpus_store, k=3)
    docs = retriever.invoke(QUERY)
    hits = corpus_store.search(QUERY, k=3)  # the hybrid default
    assert [d.id for d in docs] == [h.id for h in hits]
    first, hit = docs[0], hits[0]
    assert first.metadata["file"] == "silent-truncation.md"
    assert Path(first.metadata["source"]) == corpus_store.path.parent / "corpus" / "silent-truncation.md"
    assert first.metadata["chunk_id"] == first.id == hit.id
    assert first.metadata["score"] == hit.score and first.metadata["kind"] == "text"
    assert first.metadata["title"] == hit.title != ""
    assert "page" not in first.metadata  # only PDF chunks have one
    text = Path(first.metadata["source"]).read_text(encoding="utf-8")
    assert text[first.metadata["start"] : first.metadata["end"]] == first.page_content


def test_retriever_call_arguments_override_fields(corpus_store: sbert_rag.Store) -> None:
    retriever = SbertRagRetriever.from_store(corpus_store, k=4)
    assert len(retriever.invoke(QUERY, k=1)) == 1
    bm25 = retriever.invoke("RFC 5789 truncation", mode="bm25", k=2)
    assert [d.id for d in bm25] == [
        h.id for h in corpus_store.search("RFC 5789 truncation", k=2, mode="bm25")
    ]
    only = retriever.invoke(QUERY, where={"file": "git-bisect.md"})
    assert only and {d.metadata["file"] for d in only} == {"git-bisect.md"}
    dense = SbertRagRetriever.from_store(corpus_store, k=2, mode="dense").invoke(QUERY)
    assert [d.metadata["score"] for d in dense] == [
        h.score for h in corpus_store.search(QUERY, k=2, mode="dense")
    ]


async def test_retriever_async_matches_sync(corpus_store: sbert_rag.Store) -> None:
    retriever = SbertRagRetriever.from_store(corpus_store, k=3)
    assert await retriever.ainvoke(QUERY, k=2) == retriever.invoke(QUERY, k=2)


def test_retriever_errors_pass_through(corpus_store: sbert_rag.Store) -> None:
    retriever = SbertRagRetriever.from_store(corpus_store)
    with pytest.raises(sbert_rag.InvalidInputError, match="empty or blank"):
        retriever.invoke("   ")
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        retriever.invoke(QUERY, k=0)
    with pytest.raises(sbert_rag.InvalidInputError, match="mode must be one of"):
        SbertRagRetriever.from_store(corpus_store, mode="fuzzy").invoke(QUERY)
    with pytest.raises(TypeError, match="fetch_k"):
        retriever.invoke(QUERY, fetch_k=20)


# ---------------------------------------------------------------- construction, on the tiny model
def test_retriever_opens_its_store_lazily_and_once(tiny_store_dir: Path, tmp_path: Path) -> None:
    missing = SbertRagRetriever(store=tmp_path / "nothing-here")  # nothing is opened yet
    with pytest.raises(sbert_rag.ConfigError, match="no sbert-rag store"):
        missing.invoke("the cat")
    retriever = SbertRagRetriever(store=str(tiny_store_dir), k=1, device="cpu")
    first = retriever.invoke("the blue bird eats a fish")
    assert retriever.sbert_store is retriever.sbert_store
    assert first[0].page_content == "the blue bird eats a fish"
    # records added as texts: their metadata, with ``source`` as given
    assert first[0].metadata["n"] == 2 and first[0].metadata["source"] == "note-2.txt"
    assert first[0].metadata["file"] == "note-2.txt" and first[0].metadata["start"] == 0


def test_from_store_refuses_model_options_with_an_open_store(tiny_store_dir: Path) -> None:
    store = sbert_rag.Store.open(tiny_store_dir, device="cpu")
    with pytest.raises(sbert_rag.ConfigError, match="already open"):
        SbertRagRetriever.from_store(store, device="cpu")
    by_path = SbertRagRetriever.from_store(tiny_store_dir, k=2, device="cpu")
    assert by_path.store == str(tiny_store_dir) and len(by_path.invoke("the cat")) == 2
    with pytest.raises(Exception, match="extra"):  # pydantic: unknown fields are refused
        SbertRagRetriever(store=str(tiny_store_dir), top_k=3)


def test_vectorstore_as_retriever_shares_the_store_and_searches_hybrid(tiny_store_dir: Path) -> None:
    vectorstore = SbertRagVectorStore(tiny_store_dir, create=False, device="cpu")
    retriever = vectorstore.as_retriever(search_kwargs={"k": 3})
    assert isinstance(retriever, SbertRagRetriever)
    assert retriever.sbert_store is vectorstore.store and retriever.mode == "hybrid" and retriever.k == 3
    query = "the small dog"
    assert [d.id for d in retriever.invoke(query)] == [h.id for h in vectorstore.store.search(query, k=3)]
    filtered = vectorstore.as_retriever(search_kwargs={"filter": {"source": "note-4.txt"}}).invoke(query)
    assert [d.metadata["source"] for d in filtered] == ["note-4.txt"]
    assert vectorstore.as_retriever(search_type="similarity").mode == "dense"
    assert vectorstore.as_retriever(search_kwargs={"mode": "bm25"}).mode == "bm25"
    with pytest.raises(ValueError, match="mmr"):
        vectorstore.as_retriever(search_type="mmr")
    with pytest.raises(ValueError, match="fetch_k"):
        vectorstore.as_retriever(search_kwargs={"fetch_k": 10})
