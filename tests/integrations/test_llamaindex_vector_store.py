"""SbertRagVectorStore: add/get/delete, query modes, alpha, filters, and VectorStoreIndex end to end.

One store per module: examples/corpus indexed by Store.add_folder, plus four nodes of two
documents added through the vector store, all with the packaged default model.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.llms import MockLLM
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)
from llama_index.embeddings.sbert_rag import SbertRagEmbedding
from llama_index.retrievers.sbert_rag import SbertRagRetriever
from llama_index.vector_stores.sbert_rag import SbertRagVectorStore, to_where

import sbert_rag

CORPUS = Path(__file__).resolve().parents[2] / "examples" / "corpus"
QUESTION = "how do I stop silent truncation"
FRUIT = {  # node id -> (document, text, metadata)
    "banana": ("fruit-doc", "Bananas are yellow fruit rich in potassium.", {"color": "yellow", "n": 1}),
    "apple": ("fruit-doc", "Apples are crisp red fruit that grow on trees.", {"color": "red", "n": 2}),
    "carrot": ("veg-doc", "Carrots are orange root vegetables.", {"color": "orange", "n": 3}),
    "spinach": ("veg-doc", "Spinach is a leafy vegetable.", {"color": "green", "n": 4, "x": {"k": "v"}}),
}


def node(node_id: str, doc: str, text: str, meta: dict, start: int | None = 0) -> TextNode:
    return TextNode(
        id_=node_id, text=text, metadata=dict(meta), start_char_idx=start,
        end_char_idx=None if start is None else start + len(text),
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=doc)},
    )


@pytest.fixture(scope="module")
def vs(tmp_path_factory: pytest.TempPathFactory) -> SbertRagVectorStore:
    store = SbertRagVectorStore(str(tmp_path_factory.mktemp("li_vector_store") / "store"))  # created on write
    store.client.add_folder(CORPUS)
    ids = store.add([node(i, *spec) for i, spec in FRUIT.items()])
    assert ids == list(FRUIT)
    return store


@pytest.fixture(scope="module")
def index(vs: SbertRagVectorStore) -> VectorStoreIndex:
    return VectorStoreIndex.from_vector_store(vs, embed_model=vs.embed_model())


def ids(nodes) -> list[str]:
    return [getattr(n, "node", n).node_id for n in nodes]


def search(vs: SbertRagVectorStore, **kwargs) -> list[str]:
    query = {"query_str": "fruit and vegetables", "similarity_top_k": 10, **kwargs}
    result = vs.query(VectorStoreQuery(**query))
    assert result.ids == ids(result.nodes) and len(result.similarities) == len(result.ids)
    return result.ids


def test_is_a_text_storing_vector_store_that_embeds_queries_itself(vs) -> None:
    assert BasePydanticVectorStore in SbertRagVectorStore.__mro__
    assert vs.stores_text and not vs.is_embedding_query
    assert isinstance(vs.client, sbert_rag.Store) and vs.path == str(vs.client.path)
    assert SbertRagVectorStore.class_name() == "SbertRagVectorStore"
    assert vs.to_dict()["path"] == vs.path
    embed = vs.embed_model()
    assert isinstance(embed, SbertRagEmbedding) and embed.encoder is vs.client.models.text  # no second copy


def test_added_nodes_come_back_as_added(vs) -> None:
    back = {n.node_id: n for n in vs.get_nodes(["spinach", "banana", "unknown"])}
    assert list(back) == ["spinach", "banana"]
    spinach = back["spinach"]
    assert spinach.get_content() == FRUIT["spinach"][1]
    assert spinach.metadata == {"color": "green", "n": 4, "x.k": "v"}  # nested dicts flattened
    assert spinach.ref_doc_id == "veg-doc"
    assert (spinach.start_char_idx, spinach.end_char_idx) == (0, len(FRUIT["spinach"][1]))
    stored = vs.client.get(["spinach"])[0].metadata
    assert stored["ref_doc_id"] == "veg-doc" and stored["node_id"] == "spinach"


def test_folder_records_come_back_as_the_retriever_builds_them(vs) -> None:
    result = vs.query(VectorStoreQuery(query_str=QUESTION, similarity_top_k=1))
    meta = result.nodes[0].metadata
    assert meta["file_name"] == "silent-truncation.md" and {"file_path", "start", "end", "title"} <= set(meta)


@pytest.mark.parametrize(
    ("mode", "store_mode"),
    [
        (VectorStoreQueryMode.DEFAULT, "dense"),
        (VectorStoreQueryMode.HYBRID, "hybrid"),
        (VectorStoreQueryMode.SPARSE, "bm25"),
        (VectorStoreQueryMode.TEXT_SEARCH, "bm25"),
    ],
)
def test_query_modes_are_store_modes(vs, mode, store_mode: str) -> None:
    result = vs.query(VectorStoreQuery(query_str=QUESTION, similarity_top_k=4, mode=mode))
    hits = vs.client.search(QUESTION, k=4, mode=store_mode)
    assert result.ids == [h.id for h in hits] and result.similarities == [h.score for h in hits]


def test_index_retriever_and_sbert_retriever_agree_with_the_store(vs, index) -> None:
    expected = [h.id for h in vs.client.search(QUESTION, k=4, mode="hybrid")]
    hybrid = index.as_retriever(vector_store_query_mode="hybrid", similarity_top_k=4).retrieve(QUESTION)
    assert ids(hybrid) == expected
    assert ids(SbertRagRetriever(vs.client, similarity_top_k=4).retrieve(QUESTION)) == expected
    dense = index.as_retriever(similarity_top_k=4).retrieve(QUESTION)
    assert ids(dense) == [h.id for h in vs.client.search(QUESTION, k=4, mode="dense")]
    assert dense[0].node.metadata["file_name"] == "silent-truncation.md"


def test_top_k_per_mode(vs) -> None:
    assert len(search(vs, similarity_top_k=2)) == 2
    assert len(search(vs, similarity_top_k=2, mode="hybrid", hybrid_top_k=3)) == 3
    assert len(search(vs, similarity_top_k=5, mode="sparse", sparse_top_k=1)) == 1


def test_alpha_is_the_dense_weight(vs) -> None:
    store = vs.client
    for alpha in (0.0, 0.3, 1.0):
        weighted = sbert_rag.Store(
            store.records, store.models, replace(store.fusion, dense_weight=alpha, bm25_weight=1 - alpha)
        )
        expected = weighted.search(QUESTION, k=5, mode="hybrid")
        query = VectorStoreQuery(query_str=QUESTION, similarity_top_k=5, mode="hybrid", alpha=alpha)
        result = vs.query(query)
        assert result.ids == [h.id for h in expected] and result.similarities == [h.score for h in expected]
    dense_order = [h.id for h in store.search(QUESTION, k=3, mode="dense")]
    assert search(vs, query_str=QUESTION, similarity_top_k=3, mode="hybrid", alpha=1.0) == dense_order
    assert store.fusion == sbert_rag.FusionConfig()  # the store's own fusion is untouched
    with pytest.raises(ValueError, match="between 0 and 1"):
        search(vs, mode="hybrid", alpha=1.5)


def f(key: str, value, op: FilterOperator = FilterOperator.EQ) -> MetadataFilter:
    return MetadataFilter(key=key, value=value, operator=op)


def all_of(*filters) -> MetadataFilters:
    return MetadataFilters(filters=list(filters))


def any_of(*filters) -> MetadataFilters:
    return MetadataFilters(filters=list(filters), condition=FilterCondition.OR)


GT, GTE, LT, LTE = FilterOperator.GT, FilterOperator.GTE, FilterOperator.LT, FilterOperator.LTE
NE, IN, NIN = FilterOperator.NE, FilterOperator.IN, FilterOperator.NIN


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (all_of(f("color", "red")), {"apple"}),
        (all_of(f("color", "red", NE), f("n", 0, GT)), {"banana", "carrot", "spinach"}),
        (all_of(f("n", 2, GTE), f("n", 3, LTE)), {"apple", "carrot"}),
        (all_of(f("n", 2, LT)), {"banana"}),
        (all_of(f("color", ["red", "green"], IN)), {"apple", "spinach"}),
        (all_of(f("color", ["red", "green"], NIN), f("n", 0, GT)), {"banana", "carrot"}),
        (any_of(f("color", "red"), f("n", 4)), {"apple", "spinach"}),
        # nested: veg-doc AND (orange OR n == 4)
        (all_of(f("ref_doc_id", "veg-doc"), any_of(f("color", "orange"), f("n", 4))), {"carrot", "spinach"}),
    ],
)
def test_filters(vs, filters: MetadataFilters, expected: set[str]) -> None:
    assert set(search(vs, filters=filters)) == expected
    assert set(search(vs, filters=filters, mode="hybrid")) == expected


def test_filters_through_the_index_and_doc_ids(vs, index) -> None:
    retriever = index.as_retriever(similarity_top_k=10, filters=all_of(f("n", 3, GTE)))
    assert set(ids(retriever.retrieve("vegetables"))) == {"carrot", "spinach"}
    assert set(search(vs, doc_ids=["fruit-doc"])) == {"banana", "apple"}
    assert set(search(vs, node_ids=["banana", "carrot"], doc_ids=["veg-doc"])) == {"carrot"}
    assert len(search(vs, doc_ids=[], node_ids=[])) == 10  # an empty list restricts nothing


def test_to_where_translation() -> None:
    where = {"$or": [{"a": {"$eq": 1}}, {"b": {"$in": ["x"]}}]}
    assert to_where(any_of(f("a", 1), f("b", ["x"], IN))) == where
    assert to_where(all_of(f("a", 1)), doc_ids=["d"]) == {
        "$and": [{"a": {"$eq": 1}}, {"ref_doc_id": {"$in": ["d"]}}]
    }
    assert to_where(None) is None and to_where(MetadataFilters(filters=[])) is None


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (MetadataFilters(filters=[f("tags", "x", FilterOperator.CONTAINS)]), "operator 'contains'.*EQ, NE"),
        (MetadataFilters(filters=[f("color", "red")], condition=FilterCondition.NOT), "condition 'not'"),
        (MetadataFilters(filters=[f("color", "red", FilterOperator.IN)]), "needs a list"),
        (MetadataFilters(filters=[f("color", ["red"])]), "needs one str"),
        (MetadataFilters(filters=[f("color", None)]), "has no value"),
    ],
)
def test_unsupported_filters_are_refused(vs, filters: MetadataFilters, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        search(vs, filters=filters)


def test_unsupported_queries_are_refused(vs) -> None:
    with pytest.raises(ValueError, match="no query_str"):
        vs.query(VectorStoreQuery(query_embedding=[0.0] * 384, similarity_top_k=2))
    with pytest.raises(ValueError, match="mode 'mmr'"):
        search(vs, mode=VectorStoreQueryMode.MMR)
    with pytest.raises(sbert_rag.InvalidInputError, match="k must be"):
        search(vs, similarity_top_k=0)


def test_delete_by_ref_doc_id_and_node_ids(vs) -> None:
    vs.add([node(f"tmp-{i}", "tmp-doc", f"Note number {i} about kumquats.", {"n": 10 + i}) for i in range(3)])
    assert set(search(vs, query_str="kumquats", doc_ids=["tmp-doc"])) == {"tmp-0", "tmp-1", "tmp-2"}
    vs.delete_nodes(["tmp-0"])
    vs.delete("tmp-doc")
    assert vs.get_nodes(["tmp-0", "tmp-1", "tmp-2"]) == []
    assert not {"tmp-0", "tmp-1", "tmp-2"} & set(search(vs, query_str="kumquats", mode="sparse"))
    assert len(vs.get_nodes(list(FRUIT))) == 4  # other documents are untouched
    with pytest.raises(ValueError, match="node_ids and/or filters"):
        vs.delete_nodes()
    with pytest.raises(NotImplementedError):
        vs.clear()


def test_get_and_delete_nodes_by_filter(vs) -> None:
    vs.add([node("plum", "plum-doc", "Plums are purple stone fruit.", {"color": "purple", "n": 7})])
    by_filter = MetadataFilters(filters=[f("color", "purple")])
    assert ids(vs.get_nodes(filters=by_filter)) == ["plum"]
    assert ids(vs.get_nodes(["plum", "apple"], filters=by_filter)) == ["plum"]
    vs.delete_nodes(filters=by_filter)
    assert vs.get_nodes(["plum"]) == []


def test_add_refuses_foreign_embeddings_and_metadata(vs) -> None:
    three_dims = node("odd", "odd-doc", "A node embedded by some other model.", {})
    three_dims.embedding = [0.1, 0.2, 0.3]
    with pytest.raises(ValueError, match=r"3 dimensions.*with 384.*embed_model=vs.embed_model\(\)"):
        vs.add([three_dims])
    same_dims = node("ok", "ok-doc", "A node embedded with the right size.", {})
    same_dims.embedding = [0.0] * 384  # only checked: the store embeds the text itself
    assert vs.add([same_dims]) == ["ok"]
    vs.delete("ok-doc")
    with pytest.raises(ValueError, match="'tags' holds list"):
        vs.add([node("tags", "d", "text", {"tags": ["a", "b"]})])
    with pytest.raises(ValueError, match="writes itself"):
        vs.add([node("nid", "d", "text", {"node_id": "x"})])
    with pytest.raises(sbert_rag.InvalidInputError, match="store's own key"):
        vs.add([node("title", "d", "text", {"format": "pdf"})])
    assert vs.get_nodes(["odd", "tags", "nid", "title"]) == []


def test_query_engine_with_mock_llm(index) -> None:
    for mode in ("default", "hybrid"):
        engine = index.as_query_engine(llm=MockLLM(), similarity_top_k=3, vector_store_query_mode=mode)
        response = engine.query(QUESTION)
        assert response.source_nodes[0].node.metadata["file_name"] == "silent-truncation.md"
        assert "silent truncation" in str(response).lower()  # MockLLM echoes the prompt with the sources


def test_insert_and_delete_a_document_through_the_index(vs, index) -> None:
    doc = Document(text="Lychees are sweet tropical fruit with rough pink skin.", metadata={"topic": "fruit"})
    index.insert(doc)  # LlamaIndex embeds with vs.embed_model(); the store re-embeds the text
    hit = index.as_retriever(similarity_top_k=1).retrieve("sweet tropical fruit with pink skin")[0]
    assert hit.node.ref_doc_id == doc.doc_id and hit.node.metadata == {"topic": "fruit"}
    index.delete_ref_doc(doc.doc_id)
    assert vs.get_nodes(filters=MetadataFilters(filters=[f("ref_doc_id", doc.doc_id)])) == []


async def test_async_twins(vs, index) -> None:
    query = VectorStoreQuery(query_str=QUESTION, similarity_top_k=3, mode="hybrid")
    assert (await vs.aquery(query)).ids == vs.query(query).ids
    nodes = await index.as_retriever(vector_store_query_mode="hybrid", similarity_top_k=3).aretrieve(QUESTION)
    assert ids(nodes) == vs.query(query).ids
    await vs.async_add([node("fig", "fig-doc", "Figs are soft sweet fruit.", {"n": 9})])
    assert ids(await vs.aget_nodes(["fig"])) == ["fig"]
    await vs.adelete("fig-doc")
    assert await vs.aget_nodes(["fig"]) == []


def test_opens_an_existing_folder_and_refuses_a_model_with_a_store(vs, tmp_path: Path) -> None:
    again = SbertRagVectorStore(vs.path, create=False)
    assert ids(again.get_nodes(["apple"])) == ["apple"]
    with pytest.raises(sbert_rag.ConfigError):
        SbertRagVectorStore(tmp_path / "none", create=False)
    with pytest.raises(sbert_rag.ConfigError, match="model="):
        SbertRagVectorStore(vs.client, model="packaged:all-MiniLM-L6-v2")
