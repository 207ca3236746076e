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

TEXTS = ["the cat", "a dog runs", "red bird", "blue fish", "big tree", "small car", "the house"]


def test_batches_reach_get_text_embeddings_whole(tiny_encoder) -> None:
    emb = SbertRagEmbedding(tiny_encoder, embed_batch_size=3)
    calls: list[int] = []
    real = tiny_encoder.encode_passages
    with (
        mock.patch.object(
            SbertRagEmbedding,
            "_get_text_embeddings",
            autospec=True,
            side_effect=SbertRagEmbedding._get_text_embeddings,
        ) as hook,
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


async def test_async_twins_match_sync_and_batch(tiny_encoder) -> None:
    emb = SbertRagEmbedding(tiny_encoder, embed_batch_size=4)
    assert await emb.aget_query_embedding("the dog") == emb.get_query_embedding("the dog")
    assert await emb.aget_text_embedding("the dog") == emb.get_text_embedding("the dog")
    with mock.patch.object(
        SbertRagEmbedding,
        "_aget_text_embeddings",
        autospec=True,
        side_effect=SbertRagEmbedding._aget_text_embeddings,
    ) as hook:
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
    assert data["model_path"] == data["model_name"] == str(encoder.spec.root)
    assert data["query_prompt"] == "query " and data["embed_batch_size"] == 5
    rebuilt = SbertRagEmbedding.from_dict(json.loads(json.dumps(data)))  # JSON-plain, as LlamaIndex stores it
    assert rebuilt.to_dict() == data
    np.testing.assert_allclose(
        rebuilt.get_query_embedding("the cat"), emb.get_query_embedding("the cat"), atol=1e-5
    )
    default = SbertRagEmbedding()
    assert default.model_name == "packaged:all-MiniLM-L6-v2" and default.model_path is None
    assert SbertRagEmbedding.from_dict(default.to_dict()).to_dict() == default.to_dict()


def test_invalid_settings_are_refused(tiny_encoder) -> None:
    with pytest.raises(ValidationError):
        SbertRagEmbedding(tiny_encoder, embed_batch_size=0)
    with pytest.raises(sbert_rag.ConfigError, match="not both"):
        SbertRagEmbedding(tiny_encoder, model_path="/models/x")
    with pytest.raises(sbert_rag.ConfigError, match="does not match"):
        SbertRagEmbedding(model_name="some-other-model")
    with pytest.raises(sbert_rag.InvalidInputError, match="1"):
        SbertRagEmbedding(tiny_encoder).get_text_embedding_batch(["the cat", " "])
