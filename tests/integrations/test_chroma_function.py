"""SbertRagEmbeddingFunction against Chroma 1.x's contract: registry, config round trip, reopen, refusal.

The function is defined in the core (``sbert_rag.chroma_function``) and re-exported by ``sbert_rag_chroma``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from sbert_rag_chroma import SbertRagEmbeddingFunction, open_collection

import sbert_rag
from sbert_rag import EncoderConfig

DOCS = ["the cat sits on the tree", "a dog runs in the house", "red bird with blue fish", "the big green car"]


def _client(path):  # noqa: ANN001, ANN202
    import chromadb
    from chromadb.config import Settings

    return chromadb.PersistentClient(str(path), settings=Settings(anonymized_telemetry=False))


def test_function_is_registered_under_its_own_name() -> None:
    import sbert_rag_chroma
    from chromadb.utils.embedding_functions import known_embedding_functions

    import sbert_rag.chroma_function as core

    # one class each, defined in the core and re-exported
    assert sbert_rag_chroma.SbertRagEmbeddingFunction is core.SbertRagEmbeddingFunction
    assert sbert_rag_chroma.SbertRagCLIPEmbeddingFunction is core.SbertRagCLIPEmbeddingFunction
    assert known_embedding_functions["sbert_rag_clip"] is core.SbertRagCLIPEmbeddingFunction
    assert known_embedding_functions[SbertRagEmbeddingFunction.name()] is SbertRagEmbeddingFunction
    assert SbertRagEmbeddingFunction.name() == "sbert_rag"
    ef = SbertRagEmbeddingFunction()  # no model is loaded for these
    assert ef.default_space() == "cosine" and set(ef.supported_spaces()) == {"cosine", "ip", "l2"}


def test_config_round_trip_gives_the_same_function(prompted_encoder) -> None:
    ef = SbertRagEmbeddingFunction(prompted_encoder)
    config = json.loads(json.dumps(ef.get_config()))  # JSON-plain
    assert config["query_prompt"] == "query " and config["passage_prompt"] == "passage "
    assert "device" not in config and "cpu" not in json.dumps(config)
    SbertRagEmbeddingFunction.validate_config(config)
    rebuilt = SbertRagEmbeddingFunction.build_from_config(config)
    assert rebuilt.get_config() == config and not rebuilt.is_legacy()
    np.testing.assert_allclose(rebuilt(DOCS), ef(DOCS), atol=1e-6)
    np.testing.assert_allclose(rebuilt.embed_query(DOCS[:1]), ef.embed_query(DOCS[:1]), atol=1e-6)
    assert not np.allclose(ef.embed_query(DOCS[:1]), ef(DOCS[:1]))  # queries get the query prompt
    # Chroma rebuilds the function on every add and query: the model is cached per config
    assert SbertRagEmbeddingFunction.build_from_config(config).encoder is rebuilt.encoder


def test_rebuilt_function_loads_its_model_on_first_use(tiny_encoder, tmp_path) -> None:
    config = {**SbertRagEmbeddingFunction(tiny_encoder).get_config(), "model": str(tmp_path / "moved")}
    ef = SbertRagEmbeddingFunction.build_from_config(config)  # Chroma calls this on every add and query
    assert ef.get_config() == config and not ef.is_legacy()  # nothing loaded yet
    with pytest.raises(sbert_rag.SbertRagError, match="moved"):
        ef(["the cat"])
    changed = {**SbertRagEmbeddingFunction(tiny_encoder).get_config(), "dim": 16}  # the folder changed since
    with pytest.raises(sbert_rag.ConfigError, match="dim: 16 -> 32"):
        SbertRagEmbeddingFunction.build_from_config(changed)(["the cat"])


def test_collection_queries_embed_with_the_query_prompt(prompted_encoder, chroma_client) -> None:
    ef = SbertRagEmbeddingFunction(prompted_encoder)
    col = chroma_client.create_collection("prompts", embedding_function=ef)
    assert col.configuration_json["hnsw"]["space"] == "cosine"
    col.add(ids=[str(i) for i in range(len(DOCS))], documents=DOCS)
    by_text = col.query(query_texts=["the cat"], n_results=4, include=["distances"])
    by_vector = col.query(
        query_embeddings=prompted_encoder.encode_queries(["the cat"]), n_results=4, include=["distances"]
    )
    assert by_text["ids"] == by_vector["ids"]
    np.testing.assert_allclose(by_text["distances"], by_vector["distances"], atol=1e-5)


def test_persisted_collection_reopens_in_a_new_process(tiny_bert_dir, chroma_path, run_python) -> None:
    from chromadb.api.client import SharedSystemClient

    from sbert_rag import TextEncoder

    encoder = TextEncoder.from_pretrained(
        tiny_bert_dir, pooling="mean", normalize=True, device="cpu", query_prompt="query "
    )
    col = _client(chroma_path).create_collection(
        "docs", embedding_function=SbertRagEmbeddingFunction(encoder)
    )
    col.add(ids=[str(i) for i in range(len(DOCS))], documents=DOCS)
    persisted = col.configuration_json["embedding_function"]
    assert persisted["type"] == "known" and persisted["name"] == "sbert_rag"
    expected = col.query(query_texts=["a dog in the house"], n_results=4, include=["distances"])
    SharedSystemClient.clear_system_cache()
    out = run_python(
        "import json, chromadb, sbert_rag_chroma\n"
        "from chromadb.config import Settings\n"
        f"client = chromadb.PersistentClient({str(chroma_path)!r}, Settings(anonymized_telemetry=False))\n"
        "col = client.get_collection('docs')\n"
        "r = col.query(query_texts=['a dog in the house'], n_results=4, include=['distances'])\n"
        "ef = col.configuration['embedding_function']\n"
        "out = {'ids': r['ids'], 'd': r['distances'], 'cls': type(ef).__name__, 'config': ef.get_config()}\n"
        "print(json.dumps(out))\n"
    )
    got = json.loads(out.strip().splitlines()[-1])
    assert got["cls"] == "SbertRagEmbeddingFunction" and got["config"] == persisted["config"]
    assert got["ids"] == expected["ids"]
    np.testing.assert_allclose(got["d"], expected["distances"], atol=1e-3)


def test_reopening_with_another_model_is_refused_naming_both(
    tiny_encoder, default_encoder, chroma_path
) -> None:
    client = _client(chroma_path)
    open_collection(client, "docs", SbertRagEmbeddingFunction(tiny_encoder)).add(
        ids=["1"], documents=["the cat"]
    )
    tiny_name = tiny_encoder.model_name
    with pytest.raises(sbert_rag.ConfigError) as err:
        open_collection(client, "docs", SbertRagEmbeddingFunction(default_encoder))
    assert tiny_name in str(err.value) and "packaged:all-MiniLM-L6-v2" in str(err.value)
    # the same model reopens; a collection made by another function is refused too
    assert open_collection(client, "docs", SbertRagEmbeddingFunction(tiny_encoder)).count() == 1
    client.create_collection("plain", embedding_function=None)
    with pytest.raises(sbert_rag.ConfigError, match="holds embedding function 'none', not 'sbert_rag'"):
        open_collection(client, "plain", SbertRagEmbeddingFunction(tiny_encoder))


def test_config_validation_names_the_problem(tiny_encoder) -> None:
    ef = SbertRagEmbeddingFunction(tiny_encoder)
    config = ef.get_config()
    with pytest.raises(sbert_rag.ConfigError, match="unknown keys \\['device'\\]"):
        SbertRagEmbeddingFunction.validate_config({**config, "device": "cuda"})
    with pytest.raises(sbert_rag.ConfigError, match="missing keys \\['dim'\\]"):
        SbertRagEmbeddingFunction.validate_config({k: v for k, v in config.items() if k != "dim"})
    with pytest.raises(sbert_rag.ConfigError, match="'dim' must be int"):
        SbertRagEmbeddingFunction.validate_config({**config, "dim": "32"})
    other = {**config, "model": "/models/other", "dim": 768}
    with pytest.raises(sbert_rag.ConfigError, match="/models/other"):
        ef.validate_config_update(config, other)


def test_blank_documents_are_refused_by_index(tiny_encoder) -> None:
    with pytest.raises(sbert_rag.InvalidInputError, match="1"):
        SbertRagEmbeddingFunction(tiny_encoder)(["the cat", ""])
    with pytest.raises(sbert_rag.ConfigError, match="not both"):
        SbertRagEmbeddingFunction(tiny_encoder, model_path="/models/x")


def test_function_loads_an_encoder_config(tiny_bert_dir, tiny_encoder) -> None:
    config = EncoderConfig(model=str(tiny_bert_dir), pooling=("mean",), normalize=True, device="cpu", dtype="float32")
    ef = SbertRagEmbeddingFunction(config=config)
    np.testing.assert_allclose(ef(DOCS), tiny_encoder.encode_passages(DOCS), atol=1e-5)
    assert ef.get_config() == SbertRagEmbeddingFunction(tiny_encoder).get_config()  # no device, no dtype
    # keywords are EncoderConfig fields (model_path is its ``model``), checked when given
    named = SbertRagEmbeddingFunction(
        model_path=str(tiny_bert_dir), pooling="mean", normalize=True, device="cpu", dtype="float32"
    )
    np.testing.assert_allclose(named(DOCS), ef(DOCS), atol=1e-6)
    with pytest.raises(sbert_rag.ConfigError, match="overflow must be one of"):
        SbertRagEmbeddingFunction(overflow="drop")
    with pytest.raises(sbert_rag.ConfigError, match=r"unknown EncoderConfig key\(s\) \['devices'\]"):
        SbertRagEmbeddingFunction(devices="cpu")
    with pytest.raises(sbert_rag.ConfigError, match=r"\['device'\], not both"):
        SbertRagEmbeddingFunction(tiny_encoder, device="cpu")


def test_a_query_passage_pair_folder_works_through_query_texts(pair_dir, tmp_path, monkeypatch) -> None:
    import sbert_rag.chroma_function as core

    pair = sbert_rag.load_encoder(EncoderConfig(model=str(pair_dir), device="cpu"))
    config = SbertRagEmbeddingFunction(pair).get_config()
    assert config["model"] == pair.model_name and config["query_prompt"] == "query "
    monkeypatch.setattr(core, "_cache", {})  # as in a new process: the rebuilt function loads the pair
    rebuilt = SbertRagEmbeddingFunction.build_from_config(json.loads(json.dumps(config)))
    assert isinstance(rebuilt.encoder, sbert_rag.DualEncoder)
    np.testing.assert_allclose(rebuilt(DOCS), pair.encode_passages(DOCS), atol=1e-5)
    np.testing.assert_allclose(rebuilt.embed_query(DOCS[:1]), pair.encode_queries(DOCS[:1]), atol=1e-5)
    # a store on the pair: its chunks collection embeds query_texts with the query tower
    from chromadb.api.client import SharedSystemClient

    store = sbert_rag.Store.open(tmp_path / "store", create=True, model=str(pair_dir), device="cpu")
    try:
        store.add_texts(DOCS)
        monkeypatch.setattr(core, "_cache", {})
        query = "a dog in the house"
        found = open_collection(store).query(query_texts=[query], n_results=len(DOCS))["ids"][0]
        assert found == [hit.id for hit in store.search(query, len(DOCS), mode="dense")]
    finally:
        SharedSystemClient.clear_system_cache()
