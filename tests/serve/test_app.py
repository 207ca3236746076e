"""The app in-process (FastAPI's TestClient, no socket) over the tiny BERT: every route, status and message."""

from __future__ import annotations

import base64
import copy
import io

import numpy as np
import pytest

from sbert_rag.serve.app import Limits, create_app
from sbert_rag.serve.embedder import Embedder
from sbert_rag.serve.protocol import decode_base64_vectors

LONG = " ".join(["cat"] * 100)  # 102 tokens with [CLS] and [SEP]; the tiny model reads 64


def client_for(encoder, clip=None, store=None, **limits):
    from fastapi.testclient import TestClient

    return TestClient(create_app(Embedder(encoder, clip, text_id="tiny"), store, Limits(**limits)))


@pytest.fixture()
def warn_client(tiny_encoder):
    with client_for(tiny_encoder) as client:
        yield client


def embed(client, body, **headers):
    return client.post("/v1/embeddings", json=body, headers=headers)


def test_embeddings_match_encode_passages_and_queries(tiny_bert_dir):
    from sbert_rag import TextEncoder

    enc = TextEncoder.from_pretrained(tiny_bert_dir, pooling="mean", normalize=True, device="cpu", dtype="float32",
                                      query_prompt="query: ")
    texts = ["the cat sits on the tree", "a red car", "hello world"]
    with client_for(enc) as client:
        passages = embed(client, {"input": texts, "model": "tiny"}).json()
        queries = embed(client, {"input": texts, "input_type": "query", "encoding_format": "base64"}).json()
    got_p = np.array([d["embedding"] for d in passages["data"]], dtype=np.float32)
    np.testing.assert_allclose(got_p, enc.encode_passages(texts), atol=1e-6)
    np.testing.assert_allclose(decode_base64_vectors(queries), enc.encode_queries(texts), atol=1e-6)
    assert not np.allclose(got_p, decode_base64_vectors(queries))  # the query prompt applied
    assert passages["usage"] == {"prompt_tokens": sum(enc.count_tokens(texts)),
                                 "total_tokens": sum(enc.count_tokens(texts))}
    assert queries["usage"]["prompt_tokens"] == sum(enc.count_tokens(texts, "query"))
    assert [d["index"] for d in passages["data"]] == [0, 1, 2] and passages["model"] == "tiny"


def test_float_response_is_exactly_the_encoders_float32(tiny_encoder):
    texts = ["the cat sits on the tree", "a red car", "hello world", "zebra crossing at noon"]
    with client_for(tiny_encoder) as client:
        floats = embed(client, {"input": texts}).json()
        packed = embed(client, {"input": texts, "encoding_format": "base64"}).json()
    got = np.array([d["embedding"] for d in floats["data"]], dtype=np.float64).astype(np.float32)
    np.testing.assert_array_equal(got, decode_base64_vectors(packed))  # bit for bit, as base64 sends them
    np.testing.assert_array_equal(got, tiny_encoder.encode_passages(texts))


def test_overflow_warn_reports_truncated_inputs(warn_client, tiny_encoder):
    r = embed(warn_client, {"input": ["a cat", LONG, "a dog", LONG]})
    assert r.status_code == 200
    assert r.json()["sbert_rag"]["truncated"] == [1, 3] and r.json()["sbert_rag"]["max_tokens"] == 64
    assert r.headers["x-sbert-rag-truncated"] == "1,3"
    assert r.json()["usage"]["prompt_tokens"] == sum(tiny_encoder.count_tokens(["a cat", LONG, "a dog", LONG]))
    assert "x-sbert-rag-truncated" not in embed(warn_client, {"input": "a cat"}).headers


def test_overflow_windows_loses_nothing(tiny_encoder):
    tiny_encoder.overflow = tiny_encoder.overflow.__class__("windows")
    with client_for(tiny_encoder) as client:
        body = embed(client, {"input": ["a cat", LONG]}).json()
    assert body["sbert_rag"]["truncated"] == [] and body["sbert_rag"]["windowed"] == [1]
    np.testing.assert_allclose(np.array([d["embedding"] for d in body["data"]]),
                               tiny_encoder.encode_passages(["a cat", LONG]), atol=1e-6)


def test_overflow_error_names_index_length_limit_and_keeps_serving(tiny_encoder):
    tiny_encoder.overflow = tiny_encoder.overflow.__class__("error")
    with client_for(tiny_encoder) as client:
        r = embed(client, {"input": ["a cat", LONG]})
        assert r.status_code == 400
        err = r.json()["error"]
        assert err["param"] == "input[1]" and err["code"] == "input_too_long"
        assert "input[1] has 102 tokens" in err["message"] and "at most 64" in err["message"]
        assert embed(client, {"input": ["a cat"]}).status_code == 200


@pytest.mark.parametrize(("body", "status", "needle", "param"), [
    ({"input": [1, 2, 3]}, 400, "token ids", "input"),
    ({"input": [[1, 2], [3]]}, 400, "token ids", "input"),
    ({"input": []}, 400, "empty list", "input"),
    ({"input": ["a cat", "  "]}, 400, "input[1] is empty", "input[1]"),
    ({"input": ["a cat", 5]}, 422, "input[1] is a number", "input[1]"),
    ({"input": {"a": 1}}, 422, "input must be a string or a list", "input"),
    ({"model": "tiny"}, 400, "'input' is missing", "input"),
    ({"input": "a", "model": "text-embedding-3-small"}, 404, "not served here", "model"),
    ({"input": "a", "model": 3}, 422, "model must be a string", "model"),
    ({"input": "a", "encoding_format": "int8"}, 400, "encoding_format must be", "encoding_format"),
    ({"input": "a", "input_type": "question"}, 400, "input_type must be", "input_type"),
    ({"input": "a", "dimensions": 16}, 400, "never cuts vectors", "dimensions"),
    ({"input": "a", "dimensions": "16"}, 422, "dimensions must be a positive integer", "dimensions"),
    ({"input": "a", "truncate": True}, 400, "unknown field(s) 'truncate'", "truncate"),
    ({"input": [{"type": "image", "data": "aGk="}]}, 400, "embeds text only", "input[0]"),
])
def test_bad_embeddings_requests_are_refused_by_field(warn_client, body, status, needle, param):
    r = embed(warn_client, body)
    assert r.status_code == status, r.text
    assert needle in r.json()["error"]["message"] and r.json()["error"]["param"] == param
    assert embed(warn_client, {"input": "a cat"}).status_code == 200  # still serving


def test_dimensions_equal_to_the_models_is_accepted(warn_client):
    assert len(embed(warn_client, {"input": "a cat", "dimensions": 32}).json()["data"][0]["embedding"]) == 32


def test_malformed_json_and_non_object_bodies(warn_client):
    r = warn_client.post("/v1/embeddings", content=b'{"input": ', headers={"content-type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]
    r = warn_client.post("/v1/embeddings", content=b'["a"]')
    assert r.status_code == 400 and "must be a JSON object" in r.json()["error"]["message"]


def test_limits_answer_413_naming_the_limit(tiny_encoder):
    with client_for(tiny_encoder, max_request_inputs=4, max_body_bytes=2000) as client:
        r = embed(client, {"input": ["a cat"] * 5})
        assert r.status_code == 413 and "at most 4 per request" in r.json()["error"]["message"]
        r = embed(client, {"input": ["a cat " * 400]})
        assert r.status_code == 413 and "at most 2000" in r.json()["error"]["message"]
        chunked = client.post("/v1/embeddings", content=iter([b'{"input": "', b"a" * 3000, b'"}']))
        assert chunked.status_code == 413 and "passes 2000 bytes" in chunked.json()["error"]["message"]
        assert embed(client, {"input": ["a cat"] * 4}).status_code == 200


def test_api_key_required_except_for_health(tiny_encoder):
    with client_for(tiny_encoder, api_key="s3cret") as client:
        assert client.get("/health").status_code == 200
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            r = client.get("/v1/models", headers=headers)
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
            assert "Authorization: Bearer" in r.json()["error"]["message"]
        assert embed(client, {"input": "a"}).status_code == 401
        assert client.get("/metrics").status_code == 401
        ok = {"Authorization": "Bearer s3cret"}
        assert client.get("/v1/models", headers=ok).json()["data"][0]["id"] == "tiny"
        assert embed(client, {"input": "a cat"}, **ok).status_code == 200


def test_models_health_and_metrics(warn_client):
    assert warn_client.get("/health").json()["status"] == "ready"
    model = warn_client.get("/v1/models").json()["data"][0]
    assert model["id"] == "tiny" and model["sbert_rag"] == {"dim": 32, "max_tokens": 64, "inputs": ["text"]}
    embed(warn_client, {"input": ["a cat", "a dog"]})
    text = warn_client.get("/metrics").text
    assert 'sbert_rag_requests_total{route="/v1/embeddings",status="200"} 1' in text
    assert 'sbert_rag_inputs_total{kind="text"} 2' in text and "sbert_rag_queue_depth 0" in text
    assert 'sbert_rag_request_seconds_bucket{route="/v1/embeddings",le="+Inf"} 1' in text


def test_search_goes_through_the_store(tmp_path, tiny_bert_dir, tiny_encoder):
    from sbert_rag import EncoderConfig, Store

    config = EncoderConfig(model=str(tiny_bert_dir), pooling=("mean",), device="cpu", dtype="float32")
    store = Store.open(tmp_path / "store", create=True, config=config)
    store.add_texts(["the cat sits on the tree", "a red car runs", "the bird eats a fish"],
                    metadatas=[{"source": f"doc{i}.txt"} for i in range(3)])
    with client_for(tiny_encoder, store=store) as client:
        r = client.post("/v1/search", json={"query": "a red car", "k": 2, "mode": "hybrid"})
        assert r.status_code == 200, r.text
        assert [h["id"] for h in r.json()["data"]] == [h.id for h in store.search("a red car", 2, "hybrid")]
        hit = r.json()["data"][0]
        assert {"text", "file", "start", "end", "score", "source"} <= set(hit)
        where = client.post("/v1/search", json={"query": "a cat", "k": 3, "mode": "bm25",
                                                "where": {"source": "doc2.txt"}}).json()["data"]
        assert {h["file"] for h in where} <= {"doc2.txt"}
        for body, status, needle in [({"query": "  "}, 400, "blank"), ({"query": "a", "k": 0}, 400, "k must be"),
                                     ({"query": "a", "mode": "fuzzy"}, 400, "mode must be"),
                                     ({"query": "a", "k": "3"}, 422, "k must be an integer"),
                                     ({"query": "a", "where": "x"}, 422, "where must be"), ({}, 400, "'query'")]:
            r = client.post("/v1/search", json=body)
            assert r.status_code == status and needle in r.json()["error"]["message"], r.text
        assert client.post("/v1/search", json={"query": "a cat"}).status_code == 200


def test_search_without_store_is_404(warn_client):
    r = warn_client.post("/v1/search", json={"query": "a cat"})
    assert r.status_code == 404 and "no store" in r.json()["error"]["message"]


def test_images_with_clip(tiny_encoder, tiny_clip):
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buf, format="PNG")
    data = base64.b64encode(buf.getvalue()).decode()
    clip = copy.deepcopy(tiny_clip)
    with client_for(tiny_encoder, clip) as client:
        assert [m["id"] for m in client.get("/v1/models").json()["data"]] == ["tiny", "clip"]
        body = {"model": "clip", "input": [{"type": "image", "data": data}, f"data:image/png;base64,{data}", "a cat"]}
        r = embed(client, body)
        assert r.status_code == 200, r.text
        got = np.array([d["embedding"] for d in r.json()["data"]], dtype=np.float32)
        want_image = tiny_clip.encode_images([buf.getvalue()])[0]
        np.testing.assert_allclose(got[0], want_image, atol=1e-5)
        np.testing.assert_allclose(got[1], want_image, atol=1e-5)
        np.testing.assert_allclose(got[2], tiny_clip.encode_texts(["a cat"])[0], atol=1e-5)
        for item, needle in [({"type": "image", "url": "http://example.com/a.png"}, "fetches nothing"),
                             ({"type": "image", "data": "https://example.com/a.png"}, "fetches nothing"),
                             ({"type": "image", "data": "%%%"}, "not valid base64"),
                             ({"type": "image", "data": base64.b64encode(b"not an image").decode()}, "cannot be decoded"),
                             ({"type": "video", "data": data}, "only object")]:
            r = embed(client, {"model": "clip", "input": [item]})
            assert r.status_code in (400, 422) and needle in r.json()["error"]["message"], r.text
        assert embed(client, {"model": "clip", "input": "/etc/passwd"}).status_code == 200  # a text, never a path
