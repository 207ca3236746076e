"""SbertRagRetriever: one Store.search per retrieval, nodes with LlamaIndex's reader metadata keys.

One store per module: examples/corpus indexed with the packaged default model.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import ImageNode, MetadataMode, TextNode
from llama_index.retrievers.sbert_rag import SbertRagRetriever, hit_to_node

import sbert_rag

CORPUS = Path(__file__).resolve().parents[2] / "examples" / "corpus"
QUESTION = "how do I stop silent truncation"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> sbert_rag.Store:
    opened = sbert_rag.Store.open(tmp_path_factory.mktemp("li_retriever") / "store", create=True)
    opened.add_folder(CORPUS)
    return opened


def test_is_a_llamaindex_retriever() -> None:
    assert BaseRetriever in SbertRagRetriever.__mro__


def test_nodes_carry_text_offsets_and_reader_metadata(store) -> None:
    nodes = SbertRagRetriever(store, similarity_top_k=3).retrieve(QUESTION)
    top = nodes[0].node
    assert isinstance(top, TextNode)
    meta = top.metadata
    assert meta["file_name"] == "silent-truncation.md"
    assert Path(meta["file_path"]) == CORPUS / "silent-truncation.md"
    assert meta["title"] == "Stopping silent truncation in embedding pipelines"
    assert (top.start_char_idx, top.end_char_idx) == (meta["start"], meta["end"])
    assert meta["end"] > meta["start"]
    assert "page" not in meta and "page_label" not in meta  # no PDF in the corpus
    hit = store.search(QUESTION, k=1)[0]
    assert top.node_id == hit.id and top.get_content() == hit.text
    # positions stay out of what the LLM reads; the file name and title stay in
    llm_text = top.get_content(metadata_mode=MetadataMode.LLM)
    assert "silent-truncation.md" in llm_text and "file_path" not in llm_text and "start:" not in llm_text


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_returns_exactly_what_the_store_returns(store, mode: str) -> None:
    for k in (1, 4):
        nodes = SbertRagRetriever(store, similarity_top_k=k, mode=mode).retrieve(QUESTION)
        hits = store.search(QUESTION, k=k, mode=mode)
        assert len(nodes) == k
        assert [n.node.node_id for n in nodes] == [h.id for h in hits]
        assert [n.score for n in nodes] == [h.score for h in hits]


def test_modes_reach_the_store(store) -> None:
    query = "honey bees waggle dance"
    by_mode = {m: SbertRagRetriever(store, 9, m).retrieve(query) for m in ("hybrid", "dense", "bm25")}
    assert len(by_mode["dense"]) == 9  # every chunk is scored densely
    assert len(by_mode["bm25"]) < 9  # BM25 only returns chunks sharing a word
    assert by_mode["hybrid"][0].score == pytest.approx(1.0)  # fused scores are scaled to [0, 1]
    assert by_mode["dense"][0].score < 1.0  # cosine
    assert all(n.node.metadata["file_name"] == "honeybee-dance.txt" for n in (v[0] for v in by_mode.values()))


def test_where_filter_and_from_store_with_a_folder(store) -> None:
    where = {"file": "git-bisect.md"}
    retriever = SbertRagRetriever.from_store(str(store.path), similarity_top_k=5, where=where)
    nodes = retriever.retrieve(QUESTION)
    assert nodes and {n.node.metadata["file_name"] for n in nodes} == {"git-bisect.md"}


def test_refusals(store, tmp_path: Path) -> None:
    with pytest.raises(sbert_rag.ConfigError):
        SbertRagRetriever(tmp_path / "no-store")
    with pytest.raises(sbert_rag.InvalidInputError, match="k must be"):
        SbertRagRetriever(store, similarity_top_k=0).retrieve(QUESTION)
    with pytest.raises(sbert_rag.InvalidInputError, match="mode must be"):
        SbertRagRetriever(store, mode="sparse").retrieve(QUESTION)


async def test_aretrieve_matches_retrieve(store) -> None:
    retriever = SbertRagRetriever(store, similarity_top_k=3)
    nodes = await retriever.aretrieve(QUESTION)
    assert [n.node.node_id for n in nodes] == [n.node.node_id for n in retriever.retrieve(QUESTION)]


def test_query_engine_over_the_retriever(store) -> None:
    engine = RetrieverQueryEngine.from_args(SbertRagRetriever(store, similarity_top_k=2), llm=MockLLM())
    response = engine.query(QUESTION)
    assert [s.node.metadata["file_name"] for s in response.source_nodes] == ["silent-truncation.md"] * 2


def test_pdf_pages_and_images_become_reader_style_nodes() -> None:
    page = sbert_rag.SearchHit(
        rank=1, score=0.5, kind="text", file="a.pdf", start=10, end=20, text="some text", page=3,
        id="p", metadata={"lang": "en"}, path="/docs/a.pdf",
    )
    node = hit_to_node(page)
    assert node.metadata == {
        "lang": "en", "file_path": "/docs/a.pdf", "file_name": "a.pdf", "start": 10, "end": 20,
        "page": 3, "page_label": "3",
    }
    image = sbert_rag.SearchHit(rank=1, score=0.5, kind="image", file="red.png", start=0, end=0,
                                text="red.png", id="i", path="/pics/red.png")
    node = hit_to_node(image)
    assert isinstance(node, ImageNode) and node.image_path == "/pics/red.png" and node.node_id == "i"
    plain = sbert_rag.SearchHit(rank=1, score=0.5, kind="text", file="", start=0, end=4, text="text", id="t")
    assert set(hit_to_node(plain).metadata) == {"start", "end"}  # no path: no file keys
