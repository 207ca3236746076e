"""SbertRagEmbeddings beyond the standard suites: routing, laziness, errors, CLIP images in Chroma."""

from __future__ import annotations

import base64
import uuid

import numpy as np
import pytest

import sbert_rag
from langchain_sbert_rag import SbertRagEmbeddings
from sbert_rag import EncoderConfig


def test_embeddings_route_queries_and_documents_to_their_prompts(prompted_encoder) -> None:
    emb = SbertRagEmbeddings(prompted_encoder)
    text = "the cat sits on the tree"
    query, doc = emb.embed_query(text), emb.embed_documents([text])[0]
    np.testing.assert_allclose(query, prompted_encoder.encode_queries([text])[0], atol=1e-6)
    np.testing.assert_allclose(doc, prompted_encoder.encode_passages([text])[0], atol=1e-6)
    assert not np.allclose(query, doc)  # the prompts differ, so must the vectors
    assert all(type(x) is float for x in query)


def test_embeddings_keep_order_and_handle_empty_list(tiny_encoder) -> None:
    emb = SbertRagEmbeddings(tiny_encoder)
    texts = ["red car", "blue bird", "small house"]
    forward, backward = emb.embed_documents(texts), emb.embed_documents(texts[::-1])
    np.testing.assert_allclose(forward, backward[::-1], atol=1e-5)
    assert emb.embed_documents([]) == []


def test_embeddings_refuse_blank_text_naming_its_index(tiny_encoder) -> None:
    emb = SbertRagEmbeddings(tiny_encoder)
    with pytest.raises(sbert_rag.InvalidInputError, match="1"):
        emb.embed_documents(["the dog", "   "])
    with pytest.raises(sbert_rag.InvalidInputError):
        emb.embed_query("")


def test_embeddings_load_lazily_from_a_folder(tmp_path) -> None:
    missing = SbertRagEmbeddings(model_path=str(tmp_path / "nowhere"))  # nothing is read yet
    with pytest.raises(sbert_rag.ModelLoadError, match="nowhere"):
        missing.embed_query("hello")


async def test_embeddings_async_twins_match_sync(tiny_encoder) -> None:
    emb = SbertRagEmbeddings(tiny_encoder)
    assert await emb.aembed_query("hello world") == emb.embed_query("hello world")
    assert await emb.aembed_documents(["a cat", "a dog"]) == emb.embed_documents(["a cat", "a dog"])


def test_embeddings_take_an_encoder_config_or_its_field_names(tiny_bert_dir, prompted_encoder) -> None:
    config = EncoderConfig(
        model=str(tiny_bert_dir), pooling=("mean",), normalize=True, device="cpu",
        query_prompt="query ", passage_prompt="passage ",
    )
    emb = SbertRagEmbeddings(config=config)
    assert emb.config == config and emb._encoder is None  # nothing loaded yet
    text = "the cat sits on the tree"
    np.testing.assert_allclose(emb.embed_query(text), prompted_encoder.encode_queries([text])[0], atol=1e-5)
    np.testing.assert_allclose(emb.embed_documents([text])[0], prompted_encoder.encode_passages([text])[0], atol=1e-5)
    # keywords are EncoderConfig fields (model_path is its ``model``), laid over config= in one place
    by_name = SbertRagEmbeddings(
        model_path=str(tiny_bert_dir), pooling="mean", normalize=True, device="cpu",
        query_prompt="query ", passage_prompt="passage ",
    )
    assert by_name.config == config and by_name.model_path == str(tiny_bert_dir)
    assert SbertRagEmbeddings(config=config, max_tokens=16).config == config.replace(max_tokens=16)
    assert SbertRagEmbeddings().config == EncoderConfig()  # the packaged default


def test_embeddings_load_a_query_passage_pair_folder(pair_dir) -> None:
    pair = sbert_rag.load_encoder(EncoderConfig(model=str(pair_dir), device="cpu"))
    emb = SbertRagEmbeddings(model_path=str(pair_dir), device="cpu")
    text = "a dog runs in the house"
    np.testing.assert_allclose(emb.embed_query(text), pair.encode_queries([text])[0], atol=1e-5)
    np.testing.assert_allclose(emb.embed_documents([text])[0], pair.encode_passages([text])[0], atol=1e-5)
    assert isinstance(emb.encoder, sbert_rag.DualEncoder)


def test_embeddings_refuse_conflicting_models(tiny_encoder, tiny_clip) -> None:
    with pytest.raises(sbert_rag.ConfigError, match="not both"):
        SbertRagEmbeddings(tiny_encoder, model_path="/models/x")
    with pytest.raises(sbert_rag.ConfigError, match=r"\['device'\], not both"):
        SbertRagEmbeddings(tiny_encoder, device="cpu")
    with pytest.raises(sbert_rag.ConfigError, match="one space"):
        SbertRagEmbeddings(tiny_encoder, clip=tiny_clip)
    with pytest.raises(sbert_rag.ConfigError, match=r"one space.*\['query_prompt'\]"):
        SbertRagEmbeddings(clip=tiny_clip, query_prompt="query ")
    with pytest.raises(sbert_rag.ConfigError, match="overflow"):
        SbertRagEmbeddings(overflow="drop")
    with pytest.raises(sbert_rag.ConfigError, match=r"unknown EncoderConfig key\(s\) \['devices'\]"):
        SbertRagEmbeddings(devices="cpu")


def test_embed_image_needs_clip(tiny_encoder, image_files) -> None:
    with pytest.raises(sbert_rag.ConfigError, match="CLIP"):
        SbertRagEmbeddings(tiny_encoder).embed_image([str(image_files["red"])])


async def test_embed_image_with_clip_folder(tiny_clip, tiny_clip_dir, image_files) -> None:
    emb = SbertRagEmbeddings(clip_path=str(tiny_clip_dir), device="cpu")
    uris = [str(image_files["red"]), str(image_files["blue"])]
    vectors = emb.embed_image(uris)
    np.testing.assert_allclose(vectors, tiny_clip.encode_images(uris), atol=1e-5)
    assert len(vectors[0]) == tiny_clip.dim and type(vectors[0][0]) is float
    assert await emb.aembed_image(uris) == vectors
    # texts go through CLIP's text tower, into the same space
    np.testing.assert_allclose(
        emb.embed_query("a red square"), tiny_clip.encode_texts(["a red square"])[0], atol=1e-5
    )
    with pytest.raises(sbert_rag.InvalidInputError, match="missing.png"):
        emb.embed_image([str(image_files["red"].parent / "missing.png")])


def test_langchain_chroma_images_round_trip(tiny_clip, image_files, chroma_client) -> None:
    from langchain_chroma import Chroma

    emb = SbertRagEmbeddings(clip=tiny_clip)
    store = Chroma(collection_name=f"img{uuid.uuid4().hex}", embedding_function=emb, client=chroma_client)
    uris = [str(p) for p in image_files.values()]
    store.add_images(uris, metadatas=[{"name": n} for n in image_files])
    for name, path in image_files.items():
        best = store.similarity_search_by_image(str(path), k=1)[0]
        assert best.metadata["name"] == name
        assert best.page_content == base64.b64encode(path.read_bytes()).decode()
    assert len(store.similarity_search("green stripes", k=2)) == 2  # text query in the CLIP space
