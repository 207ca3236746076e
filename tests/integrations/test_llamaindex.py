"""SbertRagEmbedding in LlamaIndex: batching, query/text routing, callbacks, async, serialization."""

from __future__ import annotations

import json
from unittest import mock

import numpy as np
import pytest
from llama_index.core.bridge.pydantic import ValidationError
from llama_index.core.callbacks import CallbackManager, CBEventType, LlamaDebugHandler

import sbert_rag
from llama_index.embeddings.sbert_rag import SbertRagEmbedding
from sbert_rag import EncoderConfig

TEXTS = ["the cat", "a dog runs", "red bird", "blue fish", "big tree", "small car", "the house"]


def test_batches_reach_get_text_embeddings_whole(tiny_encoder, spy_on) -> None:
    emb = SbertRagEmbedding(tiny_encoder, embed_batch_size=3)
    calls: list[int] = []
    real = tiny_encoder.encode_passages
    with (
        spy_on(SbertRagEmbedding, "_get_text_embeddings") as hook,
        mock.patch.object(
            tiny_encoder, "encode_passages", side_effect=lambda t: calls.append(len(t)) or real(t)
        ),
    ):
        vectors = emb.get_text_embedding_batch(TEXTS)
    assert [len(c.args[1]) for c in hook.call_args_list] == [3, 3, 1]
    assert calls == [3, 3, 1]  # one encoder call per LlamaIndex batch
    np.testing.assert_allclose(vectors, tiny_encoder.encode_passages(TEXTS), atol=1e-5)


def test_queries_and_texts_use_their_prompts(prompted_encoder) -> None:
    emb = SbertRagEmbedding(prompted_encoder)
    text = "hello world"
    query, passage = emb.get_query_embedding(text), emb.get_text_embedding(text)
    np.testing.assert_allclose(query, prompted_encoder.encode_queries([text])[0], atol=1e-6)
    np.testing.assert_allclose(passage, prompted_encoder.encode_passages([text])[0], atol=1e-6)
    assert not np.allclose(query, passage)
    assert all(type(x) is float for x in query)


async def test_async_twins_match_sync_and_batch(tiny_encoder, spy_on) -> None:
    emb = SbertRagEmbedding(tiny_encoder, embed_batch_size=4)
    assert await emb.aget_query_embedding("the dog") == emb.get_query_embedding("the dog")
    assert await emb.aget_text_embedding("the dog") == emb.get_text_embedding("the dog")
    with spy_on(SbertRagEmbedding, "_aget_text_embeddings") as hook:
        vectors = await emb.aget_text_embedding_batch(TEXTS)
    assert sorted(len(c.args[1]) for c in hook.call_args_list) == [3, 4]
    np.testing.assert_allclose(vectors, emb.get_text_embedding_batch(TEXTS), atol=1e-6)


def test_callbacks_record_one_embedding_event_per_batch(tiny_encoder) -> None:
    debug = LlamaDebugHandler()
    emb = SbertRagEmbedding(tiny_encoder, embed_batch_size=3, callback_manager=CallbackManager([debug]))
    emb.get_text_embedding_batch(TEXTS)
    assert len(debug.get_event_pairs(CBEventType.EMBEDDING)) == 3


def test_serialization_round_trip(tiny_encoder, tmp_path) -> None:
    from sbert_rag import TextEncoder

    folder = tiny_encoder.save(tmp_path / "st")  # a sentence-transformers folder: pooling saved with it
    encoder = TextEncoder.from_pretrained(folder, device="cpu", query_prompt="query ")
    emb = SbertRagEmbedding(encoder, embed_batch_size=5)
    data = emb.to_dict()
    assert data["class_name"] == "SbertRagEmbedding"
    # the built encoder's vector settings and overflow policy, JSON-plain; no device
    assert data["config"] == {**EncoderConfig().to_dict(), **encoder.config.vector_settings(), "overflow": "warn"}
    assert data["config"]["model"] == data["model_name"] == str(encoder.spec.root)
    assert data["config"]["query_prompt"] == "query " and data["embed_batch_size"] == 5
    rebuilt = SbertRagEmbedding.from_dict(json.loads(json.dumps(data)))  # JSON-plain, as LlamaIndex stores it
    assert rebuilt.to_dict() == data
    np.testing.assert_allclose(
        rebuilt.get_query_embedding("the cat"), emb.get_query_embedding("the cat"), atol=1e-5
    )
    default = SbertRagEmbedding()
    assert default.model_name == "packaged:all-MiniLM-L6-v2" and default.config == EncoderConfig()
    assert SbertRagEmbedding.from_dict(default.to_dict()).to_dict() == default.to_dict()


def test_a_plain_hugging_face_folder_round_trips_with_its_pooling(tiny_bert_dir, tiny_encoder) -> None:
    config = EncoderConfig(
        model=str(tiny_bert_dir), pooling=("mean",), normalize=True, device="cpu", dtype="float32"
    )
    emb = SbertRagEmbedding(config=config)
    assert emb.config == config and emb.model_name == str(tiny_bert_dir) and emb._encoder is None
    rebuilt = SbertRagEmbedding.from_dict(json.loads(emb.to_json()))
    assert rebuilt.config == config
    np.testing.assert_allclose(rebuilt.get_text_embedding("the cat"), tiny_encoder.encode_passages(["the cat"])[0],
                               atol=1e-5)


def test_keywords_are_encoder_config_fields(tiny_bert_dir) -> None:
    emb = SbertRagEmbedding(model_path=str(tiny_bert_dir), pooling="mean", device="cpu", query_prompt="q ")
    assert emb.config == EncoderConfig(model=str(tiny_bert_dir), pooling=("mean",), device="cpu", query_prompt="q ")
    base = EncoderConfig(device="cpu")
    assert SbertRagEmbedding(config=base, overflow="error").config == base.replace(overflow="error")
    # what older versions wrote in to_dict (one field per setting) still loads
    old = {"class_name": "SbertRagEmbedding", "model_name": str(tiny_bert_dir), "embed_batch_size": 8,
           "num_workers": None, "embeddings_cache": None, "model_path": str(tiny_bert_dir), "device": "auto",
           "overflow": "warn", "query_prompt": "q ", "passage_prompt": None}
    assert SbertRagEmbedding.from_dict(old).config == EncoderConfig(model=str(tiny_bert_dir), query_prompt="q ")


def test_a_query_passage_pair_folder_loads_and_round_trips(pair_dir) -> None:
    pair = sbert_rag.load_encoder(EncoderConfig(model=str(pair_dir), device="cpu"))
    emb = SbertRagEmbedding(config=EncoderConfig(model=str(pair_dir), device="cpu"))
    np.testing.assert_allclose(emb.get_query_embedding("the cat"), pair.encode_queries(["the cat"])[0], atol=1e-5)
    np.testing.assert_allclose(emb.get_text_embedding("the cat"), pair.encode_passages(["the cat"])[0], atol=1e-5)
    built = SbertRagEmbedding(pair)  # records the pair's folder and settings
    assert built.config.model == pair.model_name and built.config.query_prompt == "query "
    rebuilt = SbertRagEmbedding.from_dict(json.loads(built.to_json()))
    np.testing.assert_allclose(rebuilt.get_query_embedding("the cat"), emb.get_query_embedding("the cat"), atol=1e-5)


def test_invalid_settings_are_refused(tiny_encoder) -> None:
    with pytest.raises(ValidationError):
        SbertRagEmbedding(tiny_encoder, embed_batch_size=0)
    with pytest.raises(sbert_rag.ConfigError, match="not both"):
        SbertRagEmbedding(tiny_encoder, model_path="/models/x")
    with pytest.raises(sbert_rag.ConfigError, match=r"\['overflow'\], not both"):
        SbertRagEmbedding(tiny_encoder, overflow="error")
    with pytest.raises(sbert_rag.ConfigError, match=r"unknown EncoderConfig key\(s\) \['pooling_mode'\]"):
        SbertRagEmbedding(pooling_mode="mean")
    with pytest.raises(sbert_rag.ConfigError, match="overflow"):
        SbertRagEmbedding(overflow="drop")
    with pytest.raises(sbert_rag.ConfigError, match="does not match"):
        SbertRagEmbedding(model_name="some-other-model")
    with pytest.raises(sbert_rag.InvalidInputError, match="1"):
        SbertRagEmbedding(tiny_encoder).get_text_embedding_batch(["the cat", " "])
