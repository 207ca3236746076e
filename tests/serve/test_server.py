"""``sbert-rag serve`` as a process on 127.0.0.1: real OpenAI-compatible clients, concurrency, 429, SIGTERM."""

from __future__ import annotations

import concurrent.futures
import re
import signal
import time

import httpx
import numpy as np
import pytest

MODEL = "all-MiniLM-L6-v2"
TEXTS = ["Paris is the capital of France.", "how do I stop silent truncation", "A man is playing a guitar.",
         "The cat sits on the mat while the dog sleeps.", "Embeddings map sentences to vectors."]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_openai_client_gets_in_process_vectors(minilm_server, default_encoder):
    import openai

    client = openai.OpenAI(base_url=f"{minilm_server.url}/v1", api_key=minilm_server.api_key, max_retries=0)
    assert [m.id for m in client.models.list()] == [MODEL]
    want_p = default_encoder.encode_passages(TEXTS)
    got = client.embeddings.create(input=TEXTS, model=MODEL)  # the client asks for base64 by default
    assert cosines([d.embedding for d in got.data], want_p).min() >= 0.9999
    assert got.usage.prompt_tokens == sum(default_encoder.count_tokens(TEXTS))
    floats = client.embeddings.create(input=TEXTS[0], model=MODEL, encoding_format="float")
    assert cosines([floats.data[0].embedding], want_p[:1]).min() >= 0.9999
    packed = client.embeddings.create(input=TEXTS[0], model=MODEL)  # the same one input, as base64
    assert np.array_equal(np.array(floats.data[0].embedding, dtype=np.float32),
                          np.array(packed.data[0].embedding, dtype=np.float32))  # JSON numbers lose no bit
    queries = client.embeddings.create(input=TEXTS, model=MODEL, extra_body={"input_type": "query"})
    assert cosines([d.embedding for d in queries.data], default_encoder.encode_queries(TEXTS)).min() >= 0.9999


def test_langchain_and_llamaindex_get_in_process_vectors(minilm_server, default_encoder):
    from langchain_openai import OpenAIEmbeddings
    from llama_index.embeddings.openai import OpenAIEmbedding

    lc = OpenAIEmbeddings(base_url=f"{minilm_server.url}/v1", api_key=minilm_server.api_key, model=MODEL,
                          check_embedding_ctx_length=False, max_retries=0)
    assert cosines(lc.embed_documents(TEXTS), default_encoder.encode_passages(TEXTS)).min() >= 0.9999
    assert cosines([lc.embed_query(TEXTS[1])], default_encoder.encode_queries(TEXTS[1:2])).min() >= 0.9999
    li = OpenAIEmbedding(api_base=f"{minilm_server.url}/v1", api_key=minilm_server.api_key, model_name=MODEL, max_retries=0)
    assert cosines(li.get_text_embedding_batch(TEXTS), default_encoder.encode_passages(TEXTS)).min() >= 0.9999
    assert cosines([li.get_query_embedding(TEXTS[1])], default_encoder.encode_queries(TEXTS[1:2])).min() >= 0.9999


def test_errors_through_the_openai_client_then_still_serving(minilm_server):
    import openai

    client = openai.OpenAI(base_url=f"{minilm_server.url}/v1", api_key=minilm_server.api_key, max_retries=0)
    cases = [
        (openai.OpenAI(base_url=f"{minilm_server.url}/v1", api_key="wrong", max_retries=0), {"input": "a"},
         openai.AuthenticationError, "wrong API key"),
        (client, {"input": ["a"] * 101}, openai.APIStatusError, "at most 100 per request"),
        (client, {"input": ["x" * 2000] * 600}, openai.APIStatusError, "at most 1048576"),
        (client, {"input": [[101, 2023, 102]]}, openai.BadRequestError, "token ids"),
        (client, {"input": "a", "dimensions": 64}, openai.BadRequestError, "never cuts vectors"),
    ]
    for who, body, error, needle in cases:
        with pytest.raises(error, match=needle) as info:
            who.embeddings.create(model=MODEL, **body)
        assert info.value.status_code in (400, 401, 413)
    with pytest.raises(openai.NotFoundError, match="not served here"):
        client.embeddings.create(model="text-embedding-3-small", input="a")
    assert len(client.embeddings.create(model=MODEL, input="still here").data) == 1
    assert httpx.get(f"{minilm_server.url}/health").status_code == 200  # no key needed


def test_64_concurrent_requests_get_their_own_rows_and_batches_merge(minilm_server, default_encoder):
    pool = [f"sentence number {i} about {w}" for i, w in enumerate(("cats", "cars", "rivers", "music") * 10)]
    rng = np.random.default_rng(0)
    requests = [[pool[j] for j in rng.choice(len(pool), size=int(rng.integers(1, 17)))] for _ in range(64)]
    want = dict(zip(pool, default_encoder.encode_passages(pool)))
    headers = {"Authorization": f"Bearer {minilm_server.api_key}"}

    def send(texts: list[str]) -> np.ndarray:
        r = httpx.post(f"{minilm_server.url}/v1/embeddings", json={"input": texts, "model": MODEL},
                       headers=headers, timeout=120)
        assert r.status_code == 200, r.text
        return np.array([d["embedding"] for d in r.json()["data"]], dtype=np.float32)

    with concurrent.futures.ThreadPoolExecutor(64) as ex:
        results = list(ex.map(send, requests))
    for texts, got in zip(requests, results):
        assert got.shape == (len(texts), 384)
        assert cosines(got, np.stack([want[t] for t in texts])).min() >= 0.9999
    metrics = httpx.get(f"{minilm_server.url}/metrics", headers=headers).text
    merged = int(re.search(r"^sbert_rag_merged_batches_total (\d+)", metrics, re.M).group(1))
    batches = int(re.search(r"^sbert_rag_batches_total (\d+)", metrics, re.M).group(1))
    assert merged >= 1 and batches < 64, metrics  # some forward passes served several requests


def test_tiny_server_error_policy_queue_full_and_sigterm_drain(tiny_server):
    server = tiny_server
    assert f"http://127.0.0.1:{server.port}" in server.log_text()  # binds this machine only by default
    url = f"{server.url}/v1/embeddings"
    r = httpx.post(url, json={"input": ["a cat", " ".join(["dog"] * 80)]})
    assert r.status_code == 400 and "input[1] has 82 tokens" in r.json()["error"]["message"]
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        first = ex.submit(httpx.post, url, json={"input": ["a cat"]}, timeout=30)
        time.sleep(0.12)  # the first waits 300 ms in the queue (room for one) for company
        second = httpx.post(url, json={"input": ["a dog"]}, timeout=30)
        assert second.status_code == 429 and second.headers["retry-after"] == "1"
        assert "busy" in second.json()["error"]["message"]
        assert first.result().status_code == 200
        in_flight = ex.submit(httpx.post, url, json={"input": ["the bird eats"]}, timeout=30)
        time.sleep(0.12)
        server.proc.send_signal(signal.SIGTERM)  # while that request waits for its batch
        r = in_flight.result()
        assert r.status_code == 200 and len(r.json()["data"]) == 1
    assert server.proc.wait(timeout=30) == 0
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.url}/health", timeout=2)
    assert "Traceback" not in server.log_text()
