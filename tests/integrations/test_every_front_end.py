"""One store, five front ends, the same ranked ids.

A store built by ``sbert-rag index`` is searched from the command line, ``sbert_rag.Store``, the
LangChain retriever, the LlamaIndex retriever and the LlamaIndex vector store (through
``VectorStoreIndex``); each must return the same top-10 ids in the same order, in every mode it
offers, and refuse bad input with a named error. Each check runs on a store folder and on a
store kept by a Chroma server (``chroma run`` on loopback), which must rank alike.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_sbert_rag import SbertRagRetriever as LangChainRetriever
from llama_index.core import VectorStoreIndex
from llama_index.retrievers.sbert_rag import SbertRagRetriever as LlamaIndexRetriever
from llama_index.vector_stores.sbert_rag import SbertRagVectorStore

from sbert_rag import InvalidInputError, Store

ROOT = Path(__file__).resolve().parents[2]
QUERIES = ["how do I stop silent truncation", "waggle dance of honeybees", "capital of France", "zzyzx"]


@pytest.fixture(scope="module", params=["folder", "server"])
def store_path(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A store of the example corpus: a folder, or a collection on the Chroma server."""
    folder = tmp_path_factory.mktemp("every")
    location = str(folder / "store")
    with pytest.MonkeyPatch.context() as patch:
        if request.param == "server":
            location = f"http://127.0.0.1:{request.getfixturevalue('chroma_server')}/every"
            patch.setenv("SBERT_RAG_CACHE", str(folder / "cache"))  # also the CLI children's
        subprocess.run([sys.executable, "-m", "sbert_rag.cli", "index", str(ROOT / "examples" / "corpus"),
                        "--store", location, "--quiet"], check=True, capture_output=True, text=True)
        yield location


def _cli_ids(store: str, query: str, mode: str) -> list[str]:
    out = subprocess.run([sys.executable, "-m", "sbert_rag.cli", "search", query, "--store", str(store),
                          "--k", "10", "--mode", mode, "--json"], check=True, capture_output=True, text=True).stdout
    return [hit["id"] for hit in json.loads(out)]


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_same_top_ten_ids_from_every_front_end(store_path: str, mode: str) -> None:
    store = Store.open(store_path)
    langchain = LangChainRetriever(store=str(store_path), k=10, mode=mode)
    llamaindex = LlamaIndexRetriever.from_store(str(store_path), similarity_top_k=10, mode=mode)
    vector_store = SbertRagVectorStore(str(store_path), create=False)
    index = VectorStoreIndex.from_vector_store(vector_store, embed_model=vector_store.embed_model())
    query_mode = {"hybrid": "hybrid", "dense": "default", "bm25": "sparse"}[mode]
    vs_retriever = index.as_retriever(vector_store_query_mode=query_mode, similarity_top_k=10, sparse_top_k=10)
    for query in QUERIES:
        expected = [h.id for h in store.search(query, k=10, mode=mode)]
        if query in QUERIES[:2]:
            assert expected, (query, mode)
            # a child process per call (model load included): two queries per mode are enough
            assert _cli_ids(store_path, query, mode) == expected, (query, mode, "cli")
        assert [d.id for d in langchain.invoke(query)] == expected, (query, mode, "langchain")
        assert [n.node.node_id for n in llamaindex.retrieve(query)] == expected, (query, mode, "llamaindex")
        assert [n.node.node_id for n in vs_retriever.retrieve(query)] == expected, (query, mode, "vector store")


def test_bad_input_is_a_named_error_everywhere(store_path: str) -> None:
    with pytest.raises(InvalidInputError, match="k must be an integer >= 1"):
        Store.open(store_path).search("x", k=0)
    with pytest.raises(InvalidInputError, match="mode must be one of"):
        LangChainRetriever(store=str(store_path), k=3, mode="fuzzy").invoke("x")
    with pytest.raises(InvalidInputError, match="empty or blank"):
        LlamaIndexRetriever.from_store(str(store_path), similarity_top_k=3).retrieve("   ")
    result = subprocess.run([sys.executable, "-m", "sbert_rag.cli", "search", "x", "--store", str(store_path),
                             "--k", "0"], capture_output=True, text=True)
    assert result.returncode == 2 and "k must be an integer >= 1" in result.stderr
    assert "Traceback" not in result.stderr
